"""Schema-driven normalisation of written objects: defaulting, pruning, validation.

:meth:`SchemaSupport.normalize` is the one place where a written object is defaulted
and checked. Built-in kinds use upstream defaulting and semantic validation; custom
resources use their CRD's structural schema (prune unknown fields, apply ``default``s,
validate). Unknown fields follow the request's ``fieldValidation``: ``Strict`` → 400,
``Warn`` → a warning, ``Ignore`` → silently dropped.
"""

from __future__ import annotations

import re
from typing import Any

from suanli.apimachinery import schema as structural
from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.patch import ListMeta, list_meta_from_schema
from suanli.apiserver.context import RequestContext
from suanli.kinds.builtin import resolve_ref
from suanli.kinds.registry import Registry, ResourceType

__all__ = ["SchemaSupport", "validate_object_meta"]

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_MAX_ANNOTATIONS_BYTES = 256 * 1024


def _qualified_name_errors(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character")
    return None


def validate_object_meta(meta: Any, *, check_name: bool = True) -> list[Cause]:
    """Generic ObjectMeta checks shared by every kind (labels, annotations, finalizers, name type)."""
    causes: list[Cause] = []
    if not isinstance(meta, dict):
        return [Cause("metadata", "Invalid value: must be an object")]
    name = meta.get("name")
    if check_name and isinstance(name, str) and (len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)):
        causes.append(Cause("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                            "consist of lower case alphanumeric characters, '-' or '.', and must start and "
                            "end with an alphanumeric character"))
    for field, value in (("labels", meta.get("labels")), ("annotations", meta.get("annotations"))):
        if value is None:
            continue
        if not isinstance(value, dict):
            causes.append(Cause(f"metadata.{field}", "Invalid value: must be a map of string to string"))
            continue
        for k, v in value.items():
            err = _qualified_name_errors(str(k))
            if err:
                causes.append(Cause(f"metadata.{field}", f'Invalid value: "{k}": {err}'))
            if not isinstance(v, str):
                causes.append(Cause(f"metadata.{field}.{k}", "Invalid value: must be a string"))
            elif field == "labels" and v and (len(v) > 63 or not _LABEL_NAME.match(v)):
                causes.append(Cause("metadata.labels", f'Invalid value: "{v}": a valid label must be an '
                                    "empty string or consist of alphanumeric characters, '-', '_' or '.', "
                                    "and must start and end with an alphanumeric character"))
        if field == "annotations" and isinstance(value, dict):
            size = sum(len(str(k)) + len(str(v)) for k, v in value.items())
            if size > _MAX_ANNOTATIONS_BYTES:
                causes.append(Cause("metadata.annotations", f"Too long: must have at most "
                                    f"{_MAX_ANNOTATIONS_BYTES} bytes"))
    fins = meta.get("finalizers")
    if fins is not None and (not isinstance(fins, list) or not all(isinstance(f, str) for f in fins)):
        causes.append(Cause("metadata.finalizers", "Invalid value: must be a list of strings"))
    owners = meta.get("ownerReferences")
    if owners is not None:
        if not isinstance(owners, list):
            causes.append(Cause("metadata.ownerReferences", "Invalid value: must be a list"))
        else:
            for i, ref in enumerate(owners):
                for req in ("apiVersion", "kind", "name", "uid"):
                    if not isinstance(ref, dict) or not ref.get(req):
                        causes.append(Cause(f"metadata.ownerReferences[{i}].{req}", "Required value",
                                            "FieldValueRequired"))
    return causes


class SchemaSupport:
    """Defaulting, pruning and validation for every served kind."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._list_meta: dict[int, tuple[Any, ListMeta | None]] = {}
        self._nodes: dict[int, tuple[ResourceType, Any, structural.SchemaNode]] = {}

    def _node(self, rt: ResourceType, schema: Any) -> structural.SchemaNode:
        """``rt``'s compiled schema (as :func:`~suanli.apimachinery.schema.compile_schema`
        gives it), remembered per resource type while its schema object stays the same."""
        hit = self._nodes.get(id(rt))
        if hit is not None and hit[0] is rt and hit[1] is schema:
            return hit[2]
        node = structural.compile_schema(schema, resolve_ref if rt.builtin else None)
        self._nodes[id(rt)] = (rt, schema, node)
        return node

    def list_meta(self, rt: ResourceType) -> ListMeta | None:
        """List merge metadata for server-side apply of custom resources (from their schema)."""
        if rt.builtin or rt.schema is None:
            return None
        hit = self._list_meta.get(id(rt))
        if hit is not None and hit[0] is rt.schema:
            return hit[1]
        meta = list_meta_from_schema(rt.schema)
        self._list_meta[id(rt)] = (rt.schema, meta)
        return meta

    def normalize(self, rt: ResourceType, obj: Obj, old: Obj | None, ctx: RequestContext) -> None:
        """Default and validate ``obj`` in place (``old`` is the stored object on update).

        On update the kind's strategy (``rt.strategy``) prepares ``obj`` from ``old`` and
        validates the transition (immutable fields). Raises ApiError 400 for unknown fields
        under Strict validation and 422 for invalid values, naming the field.
        """
        schema = rt.schema
        name = str((obj.get("metadata") or {}).get("name") or "")
        node = self._node(rt, schema) if schema is not None else None
        if node is not None and not rt.preserve_unknown_fields:
            unknown = structural.prune_in_place(obj, node)
            if unknown:
                self._unknown(unknown, ctx)
        if rt.builtin:
            rt.strategy.default(obj)
        elif node is not None:
            defaulted = structural.apply_defaults(obj, node)
            if defaulted is not obj:
                obj.clear()
                obj.update(defaulted)
        causes = validate_object_meta(obj.get("metadata"), check_name=not rt.strategy.own_name_rules)
        if node is not None:
            causes.extend(structural.validate(obj, node))
        if rt.builtin:
            type_errors = [c for c in causes if "must be of type" in c.message]
            if type_errors:
                # upstream decodes built-ins into Go structs: a wrong JSON type is a 400, not a 422
                first = type_errors[0]
                raise ApiError.bad_request(
                    f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                    f"json: cannot unmarshal into field {first.field}: {first.message}",
                    causes=type_errors)
            if old is not None:
                rt.strategy.prepare_for_update(old, obj)
            if not causes:
                causes.extend(rt.strategy.validate(obj))
                if old is not None:
                    causes.extend(rt.strategy.validate_update(old, obj).items)
        if causes:
            raise ApiError.invalid(rt.kind, name, causes, rt.group)

    @staticmethod
    def _unknown(paths: list[str], ctx: RequestContext) -> None:
        if ctx.field_validation == "Strict":
            text = ", ".join(f'unknown field "{p}"' for p in paths)
            raise ApiError.bad_request(f"strict decoding error: {text}")
        if ctx.field_validation == "Warn":
            ctx.warnings.extend(f'unknown field "{p}"' for p in paths)
