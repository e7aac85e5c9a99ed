"""JSON merge patch (RFC 7386, ``application/merge-patch+json``).

Maps merge recursively, a ``null`` patch value deletes the key, and any non-map patch
value (lists included) replaces the target wholesale::

    json_merge_patch({"a": 1, "b": {"c": 2}}, {"a": None, "b": {"d": 3}})
    == {"b": {"c": 2, "d": 3}}
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.objects import deep_copy
from suanli.apimachinery.patch._json import json_equal

__all__ = ["create_merge_patch", "json_merge_patch"]


def json_merge_patch(target: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``target``; returns a new tree, inputs untouched."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = deep_copy(target) if isinstance(target, dict) else {}
    _merge_into(result, patch)
    return result


def _merge_into(result: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            if not isinstance(current, dict):
                current = {}
                result[key] = current
            _merge_into(current, value)
        else:
            result[key] = deep_copy(value)


def create_merge_patch(original: Any, modified: Any) -> Any:
    """Return the merge patch that turns ``original`` into ``modified``.

    Keys missing from ``modified`` become ``null``; nested maps are diffed; anything
    else that differs is sent whole. ``json_merge_patch(a, create_merge_patch(a, b)) == b``
    holds whenever ``b`` contains no ``null`` map values (merge patch cannot express them).
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return deep_copy(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = deep_copy(value)
            continue
        old = original[key]
        if json_equal(old, value):
            continue
        if isinstance(old, dict) and isinstance(value, dict):
            patch[key] = create_merge_patch(old, value)
        else:
            patch[key] = deep_copy(value)
    return patch
