"""Small JSON-tree helpers shared by the patch modules (private)."""

from __future__ import annotations

from typing import Any

__all__ = ["json_equal", "strip_nulls"]


def json_equal(a: Any, b: Any) -> bool:
    """Compare two JSON values as JSON does: ``1 == 1.0`` but ``true != 1``.

    >>> json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]}), json_equal(True, 1)
    (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    if a is None:
        return b is None
    return type(a) is type(b) and bool(a == b)


def strip_nulls(value: Any) -> Any:
    """Return a copy of ``value`` with every ``null`` map value removed (recursively)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value
