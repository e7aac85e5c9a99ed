"""Plain-dict Kubernetes objects and helpers shared by every layer.

Objects are JSON-compatible ``dict`` trees (:data:`Obj`). Objects handed out by the
store are *shared and must be treated as read-only*; call :func:`deep_copy` before
mutating one. :func:`deep_copy` is specialised for JSON trees and is several times
faster than :func:`copy.deepcopy`.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Obj",
    "deep_copy",
    "format_time",
    "get_path",
    "labels_of",
    "meta",
    "name_of",
    "namespace_of",
    "now_rfc3339",
    "parse_time",
]

Obj = dict[str, Any]


def deep_copy(value: Any) -> Any:
    """Copy a JSON tree (dicts, lists, scalars); scalars are shared.

    Dict and list subclasses come back as plain dicts and lists; anything else (tuples
    included) is shared, not copied.
    """
    cls = value.__class__
    if cls is dict or (cls is not list and isinstance(value, dict)):
        return _copy_dict(value)
    if cls is list or isinstance(value, list):
        return _copy_list(value)
    return value


_CONTAINERS = (dict, list)


def _copy_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    # exact-class tests first: they are much cheaper than isinstance on the common path
    return {
        k: _copy_dict(v) if v.__class__ is dict else _copy_list(v) if v.__class__ is list
        else deep_copy(v) if isinstance(v, _CONTAINERS) else v
        for k, v in d.items()
    }


def _copy_list(seq: list[Any]) -> list[Any]:
    return [
        _copy_dict(v) if v.__class__ is dict else _copy_list(v) if v.__class__ is list
        else deep_copy(v) if isinstance(v, _CONTAINERS) else v
        for v in seq
    ]


def meta(obj: Obj) -> Obj:
    """Return ``obj["metadata"]``, creating an empty one if missing."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def name_of(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return str(m.get("name") or "")


def namespace_of(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return str(m.get("namespace") or "")


def labels_of(obj: Obj) -> dict[str, str]:
    m = obj.get("metadata") or {}
    labels = m.get("labels")
    return labels if isinstance(labels, dict) else {}


def get_path(obj: Any, dotted: str) -> Any:
    """Follow a dotted path (``spec.nodeName``); ``None`` when any step is missing."""
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def format_time(dt: datetime) -> str:
    """RFC 3339 with second precision and ``Z``, as Kubernetes writes timestamps."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_last_second: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """The current time as :func:`format_time` renders it; formatted at most once per second.

    ``time.time()`` reads the same clock as ``datetime.now``; the text only changes when
    the whole second does, so the last rendering is reused (e.g. ``"2024-05-01T12:00:07Z"``
    for any instant in that second).
    """
    global _last_second
    second = math.floor(time.time())
    cached = _last_second
    if cached[0] == second:
        return cached[1]
    text = format_time(datetime.fromtimestamp(second, UTC))
    _last_second = (second, text)
    return text


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset, optional fraction)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
