"""Storage layer: the revisioned object store (see :mod:`suanli.storage.store`)."""

from suanli.storage.store import (
    AlreadyExistsError,
    ConflictError,
    EventType,
    ExpiredError,
    ListResult,
    NotFoundError,
    Store,
    StoredObject,
    StoreError,
    Watcher,
    WatchEvent,
)

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "EventType",
    "ExpiredError",
    "ListResult",
    "NotFoundError",
    "Store",
    "StoreError",
    "StoredObject",
    "WatchEvent",
    "Watcher",
]
