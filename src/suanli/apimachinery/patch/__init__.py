"""Kubernetes patch types as pure functions on JSON trees.

* :func:`json_merge_patch` / :func:`create_merge_patch` - RFC 7386.
* :func:`apply_json_patch` - RFC 6902 (400 malformed, 413 > 10 000 ops, 422 failed op).
* :func:`strategic_merge_patch` / :func:`create_strategic_merge_patch` - strategic merge
  patch driven by :mod:`.patchmeta` (kind keys: ``"Pod"`` for core, ``"apps/Deployment"``).
* :func:`server_side_apply` / :func:`record_update` / :func:`fields_of` - server-side
  apply with ``managedFields``.

No function mutates its inputs.
"""

from suanli.apimachinery.patch.apply import fields_of, managed_fields_of, record_update, server_side_apply
from suanli.apimachinery.patch.fieldpath import FieldPath, field_paths, from_fields_v1, to_fields_v1
from suanli.apimachinery.patch.jsonpatch import MAX_OPERATIONS, apply_json_patch, validate_json_patch
from suanli.apimachinery.patch.merge import create_merge_patch, json_merge_patch
from suanli.apimachinery.patch.patchmeta import (
    Entry,
    ListMeta,
    ListStrategy,
    kind_key,
    kind_key_of,
    list_map_keys,
    list_meta_from_schema,
    register,
    strategy_for,
)
from suanli.apimachinery.patch.strategic import create_strategic_merge_patch, strategic_merge_patch

__all__ = [
    "MAX_OPERATIONS",
    "Entry",
    "FieldPath",
    "ListMeta",
    "ListStrategy",
    "apply_json_patch",
    "create_merge_patch",
    "create_strategic_merge_patch",
    "field_paths",
    "fields_of",
    "from_fields_v1",
    "json_merge_patch",
    "kind_key",
    "kind_key_of",
    "list_map_keys",
    "list_meta_from_schema",
    "managed_fields_of",
    "record_update",
    "register",
    "server_side_apply",
    "strategic_merge_patch",
    "strategy_for",
    "to_fields_v1",
    "validate_json_patch",
]
