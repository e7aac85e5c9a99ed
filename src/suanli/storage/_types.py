"""Value types and errors of the store (re-exported by :mod:`suanli.storage.store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from suanli.apimachinery.objects import Obj

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "EventType",
    "ExpiredError",
    "ListResult",
    "NotFoundError",
    "StoreError",
    "StoredObject",
    "WatchEvent",
]

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class StoreError(Exception):
    """Base class of store failures."""


class AlreadyExistsError(StoreError):
    """Create of a key that exists."""


class NotFoundError(StoreError):
    """Update/delete of a key that does not exist."""


class ConflictError(StoreError):
    """``expected_rv`` did not match the stored object's revision."""


class ExpiredError(StoreError):
    """A watch resume point (or list continue revision) is older than the retained window."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    rv: int
    obj: Obj
    raw: bytes


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    rv: int
    obj: StoredObject
    prev: StoredObject | None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[StoredObject]
    revision: int
    remaining: int  # items after this page (0 when complete)
