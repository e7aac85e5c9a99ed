"""Plain-dict Kubernetes objects and helpers shared by every layer.

Objects are JSON-compatible ``dict`` trees (:data:`Obj`). Objects handed out by the
store are *shared and must be treated as read-only*; call :func:`deep_copy` before
mutating one. :func:`deep_copy` is specialised for JSON trees and is several times
faster than :func:`copy.deepcopy`.
"""

from __future__ import annotations

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
    """Copy a JSON tree (dicts, lists, scalars); scalars are shared."""
    if isinstance(value, dict):
        return {k: deep_copy(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) if isinstance(v, dict | list) else v for v in value]
    return value


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


def now_rfc3339() -> str:
    return format_time(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset, optional fraction)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
