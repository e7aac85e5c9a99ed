"""List + watch + local cache with indexes, for one resource type (client-go reflector + indexer).

:meth:`Informer.run` loops until :meth:`Informer.stop`:

1. **List** in pages of ``page_size`` (following ``continue``; a 410 on a later page
   restarts the list unpaged) and *replace* the cache: handlers see ``on_add`` for new
   keys, ``on_update`` for keys whose ``resourceVersion`` changed and ``on_delete`` for
   keys that vanished. A re-list therefore converges seamlessly.
2. **Watch** from the list's ``resourceVersion`` with bookmarks and apply events in order.
   A watch that ends cleanly (server ``timeoutSeconds``) is resumed from the last seen
   ``resourceVersion``; ``ApiError(410)``, any other error or a dropped stream triggers a
   re-list. The first failure in a row re-lists at once; further consecutive failures
   (including watches that end without delivering any event) back off on the clock
   (0.8 s, 1.6 s, … capped at 30 s). Receiving a watch event resets the count.

The cache holds the objects exactly as the client returned them (shared with a
LocalClient's store): treat them as read-only. Handlers are synchronous, called in
event order (and in registration order), and must not block; an exception in a handler
is logged and ignored. One informer may serve many consumers (see
:mod:`suanli.runtime.informer_factory`): handlers and indexers can be added at any time
(:meth:`Informer.add_handler`, :meth:`Informer.add_indexers`) and handlers removed
(:meth:`Informer.remove_handler`).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock

__all__ = ["HandlerRegistration", "IndexFunc", "Informer", "object_key"]

log = logging.getLogger(__name__)

IndexFunc = Callable[[Obj], list[str]]
AddFunc = Callable[[Obj], None]
UpdateFunc = Callable[[Obj, Obj], None]
DeleteFunc = Callable[[Obj], None]

NAMESPACE_INDEX = "namespace"


def object_key(obj: Obj) -> str:
    """Cache key: ``namespace/name``, or ``name`` for cluster-scoped objects."""
    m = obj.get("metadata") or {}
    ns, name = m.get("namespace") or "", m.get("name") or ""
    return f"{ns}/{name}" if ns else str(name)


def _rv(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return str(m.get("resourceVersion") or "")


class HandlerRegistration:
    """Opaque handle returned by :meth:`Informer.add_handler`; pass it to :meth:`Informer.remove_handler`."""

    __slots__ = ("on_add", "on_delete", "on_update")

    def __init__(self, on_add: AddFunc | None, on_update: UpdateFunc | None, on_delete: DeleteFunc | None):
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete


class Informer:
    """A self-healing local mirror of ``gvr`` objects (optionally in one namespace / selected).

    ``indexers`` map an index name to a function returning the index values of an
    object; a ``namespace`` index is always present. ``resync_period`` (seconds) calls
    ``on_update(obj, obj)`` for every cached object periodically.
    """

    def __init__(
        self,
        client: Client,
        gvr: GVR,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        indexers: dict[str, IndexFunc] | None = None,
        resync_period: float | None = None,
        clock: Clock | None = None,
        page_size: int = 500,
        watch_timeout_seconds: int | None = 300,
        backoff_base: float = 0.8,
        backoff_cap: float = 30.0,
    ) -> None:
        self.client = client
        self.gvr = gvr
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.page_size = page_size
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock: Clock = clock or RealClock()
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: _namespace_index}
        self._items: dict[str, Obj] = {}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        # Per index other than the namespace one: (function, index, key -> its non-empty values for the
        # cached object), so an update compares against the stored values instead of recomputing them.
        self._value_indexes: builtins.list[tuple[str, IndexFunc, dict[str, set[str]], dict[str, builtins.list[str]]]] \
            = []
        self._handlers: builtins.list[HandlerRegistration] = []
        self._stop = asyncio.Event()
        self.synced = asyncio.Event()
        self.last_resource_version = ""
        self.failures = 0
        self.lists = 0
        if indexers:
            self.add_indexers(indexers)

    # -- reading the cache ---------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first list has been applied."""
        return self.synced.is_set()

    async def wait_synced(self) -> None:
        await self.synced.wait()

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        """Cached objects, all or those in ``namespace`` (``""`` selects cluster-scoped ones)."""
        if namespace is None:
            return builtins.list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def keys(self) -> builtins.list[str]:
        return builtins.list(self._items)

    def by_index(self, index_name: str, value: str) -> builtins.list[Obj]:
        """Objects whose ``index_name`` function returned ``value``, in key order.

        Raises KeyError for an unknown index name.
        """
        keys = self._indices[index_name].get(value)
        if not keys:
            return []
        items = self._items
        return [items[k] for k in sorted(keys)]

    def index_values(self, index_name: str) -> builtins.list[str]:
        return builtins.list(self._indices[index_name])

    def __len__(self) -> int:
        return len(self._items)

    # -- handlers ------------------------------------------------------------------------------

    def add_handler(self, on_add: AddFunc | None = None, on_update: UpdateFunc | None = None,
                    on_delete: DeleteFunc | None = None) -> HandlerRegistration:
        """Register callbacks; objects already cached are delivered to ``on_add`` at once."""
        h = HandlerRegistration(on_add, on_update, on_delete)
        self._handlers.append(h)
        if on_add is not None:
            for obj in builtins.list(self._items.values()):
                self._call(on_add, obj)
        return h

    def remove_handler(self, registration: HandlerRegistration) -> None:
        """Stop delivering events to a registration (no delete events are synthesised); idempotent."""
        with contextlib.suppress(ValueError):
            self._handlers.remove(registration)

    @property
    def handler_count(self) -> int:
        return len(self._handlers)

    # -- indexers ------------------------------------------------------------------------------

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add indexes, indexing the objects already cached.

        Re-adding a name with the *same* function is a no-op, so consumers sharing an
        informer may each declare what they use. Raises ValueError (adding nothing) if a
        name is already registered with a different function.
        """
        for name, fn in indexers.items():
            current = self._indexers.get(name)
            if current is not None and current is not fn:
                raise ValueError(f"informer {self.gvr}: indexer {name!r} already registered with another function")
        for name, fn in indexers.items():
            if name in self._indexers:
                continue
            self._indexers[name] = fn
            idx: dict[str, set[str]] = {}
            self._indices[name] = idx
            stored: dict[str, builtins.list[str]] = {}
            self._value_indexes.append((name, fn, idx, stored))
            for key, obj in self._items.items():
                values = self._index_values(name, fn, obj)
                if values:
                    stored[key] = values
                for value in values:
                    idx.setdefault(value, set()).add(key)

    def indexer_names(self) -> builtins.list[str]:
        return builtins.list(self._indexers)

    # -- running -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to return (any open watch is closed)."""
        self._stop.set()

    async def run(self) -> None:
        """List and watch until :meth:`stop`; never raises for API or transport errors."""
        tasks = {asyncio.ensure_future(self._list_watch_loop())}
        if self.resync_period:
            tasks.add(asyncio.ensure_future(self._resync_loop(self.resync_period)))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({*tasks, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (*tasks, stopper):
                t.cancel()
            for t in (*tasks, stopper):
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        for t in tasks:  # surface programming errors rather than hiding them
            if not t.cancelled() and (exc := t.exception()) is not None:
                raise exc

    async def _list_watch_loop(self) -> None:
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    await self._list_and_replace()
                    need_list = False
                if not await self._watch_once():
                    self.failures += 1  # a watch that ends without any event: do not spin
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                self.failures += 1
                need_list = True
                log.log(logging.DEBUG if exc.code == 410 else logging.WARNING,
                        "informer %s: %s; re-listing", self.gvr, exc)
            except Exception as exc:  # dropped stream, decode error, …
                self.failures += 1
                need_list = True
                log.warning("informer %s: %s: %s; re-listing", self.gvr, type(exc).__name__, exc)
            if self.failures > 1:
                await self._clock.sleep(min(self.backoff_base * 2 ** (self.failures - 2), self.backoff_cap))

    async def _list_and_replace(self) -> None:
        items: builtins.list[Obj] = []
        token: str | None = None
        list_rv = ""
        limit: int | None = self.page_size
        while True:
            try:
                page = await self.client.list(self.gvr, self.namespace, label_selector=self.label_selector,
                                              field_selector=self.field_selector, limit=limit,
                                              continue_token=token)
            except ApiError as exc:
                if exc.code == 410 and token:  # continue token expired: one consistent unpaged list
                    items, token, list_rv, limit = [], None, "", None
                    continue
                raise
            meta: dict[str, Any] = page.get("metadata") or {}
            list_rv = list_rv or str(meta.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            token = meta.get("continue") or None
            if not token:
                break
        self.lists += 1
        self._replace(items, list_rv)

    async def _watch_once(self) -> bool:
        """Consume one watch stream; True if it delivered at least one event."""
        stream: AsyncIterator[dict[str, Any]] = self.client.watch(
            self.gvr, self.namespace, resource_version=self.last_resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector,
            timeout_seconds=self.watch_timeout_seconds, allow_bookmarks=True)
        received = False
        try:
            async for event in stream:
                self._apply(event)
                received = True
                self.failures = 0
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return received

    async def _resync_loop(self, period: float) -> None:
        while True:
            await self._clock.sleep(period)
            for obj in builtins.list(self._items.values()):
                for h in self._handlers:
                    if h.on_update is not None:
                        self._call(h.on_update, obj, obj)

    # -- applying changes ----------------------------------------------------------------------

    def _replace(self, items: builtins.list[Obj], resource_version: str) -> None:
        seen: set[str] = set()
        for obj in items:
            key = object_key(obj)
            seen.add(key)
            old = self._items.get(key)
            if old is None:
                self._store(key, obj, None)
                self._notify_add(obj)
            elif old is not obj and _rv(old) != _rv(obj):
                self._store(key, obj, old)
                self._notify_update(old, obj)
            else:
                self._store(key, obj, old)
        for key in [k for k in self._items if k not in seen]:
            old = self._items.pop(key)
            self._unindex(key, old)
            self._notify_delete(old)
        self.last_resource_version = resource_version
        self.synced.set()

    def _apply(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            return
        if etype == "ERROR":  # clients normally raise instead of yielding these
            raise ApiError(int(obj.get("code") or 500), str(obj.get("reason") or "InternalError"),
                           str(obj.get("message") or "watch error"))
        meta = obj.get("metadata") or {}
        if etype == "ADDED" or etype == "MODIFIED":
            ns, name = meta.get("namespace") or "", meta.get("name") or ""
            key = f"{ns}/{name}" if ns else str(name)
            old = self._items.get(key)
            self._store(key, obj, old)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        elif etype == "DELETED":
            key = object_key(obj)
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
                self._notify_delete(obj)
        elif etype != "BOOKMARK":
            log.warning("informer %s: ignoring watch event of type %r", self.gvr, etype)
            return
        rv = meta.get("resourceVersion")
        if rv:
            self.last_resource_version = str(rv)

    def _store(self, key: str, obj: Obj, old: Obj | None) -> None:
        """Cache ``obj`` under ``key`` (replacing ``old``) and update every index.

        The namespace index only changes when a key appears (a key fixes its namespace); other
        indexes compare the new values with those stored for the key, so an object's index
        functions run once per change, never on the old object again.
        """
        self._items[key] = obj
        if old is obj:
            return
        if old is None:
            ns_values = self._index_values(NAMESPACE_INDEX, self._indexers[NAMESPACE_INDEX], obj)
            ns_idx = self._indices[NAMESPACE_INDEX]
            for value in ns_values:
                keys = ns_idx.get(value)
                if keys is None:
                    ns_idx[value] = {key}
                else:
                    keys.add(key)
        for name, fn, idx, stored in self._value_indexes:
            try:
                new_values = fn(obj)
            except Exception:
                log.exception("indexer %r failed", name)
                new_values = []
            old_values = stored.get(key) if old is not None else None
            if old_values is None:
                if not new_values:
                    continue
            elif old_values == new_values:
                continue
            else:
                for value in old_values:
                    keys = idx.get(value)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del idx[value]
            if new_values:
                stored[key] = new_values
                for value in new_values:
                    idx.setdefault(value, set()).add(key)
            else:
                del stored[key]

    def _unindex(self, key: str, obj: Obj) -> None:
        ns_idx = self._indices[NAMESPACE_INDEX]
        for value in self._index_values(NAMESPACE_INDEX, self._indexers[NAMESPACE_INDEX], obj):
            keys = ns_idx.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del ns_idx[value]
        for _name, _fn, idx, stored in self._value_indexes:
            for value in stored.pop(key, ()):
                keys = idx.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del idx[value]

    @staticmethod
    def _index_values(name: str, fn: IndexFunc, obj: Obj) -> builtins.list[str]:
        try:
            return fn(obj)
        except Exception:
            log.exception("indexer %r failed", name)
            return []

    # The notify loops inline :meth:`_call` (one frame less per handler and event).

    def _notify_add(self, obj: Obj) -> None:
        for h in self._handlers:
            fn = h.on_add
            if fn is not None:
                try:
                    fn(obj)
                except Exception:
                    log.exception("informer handler %r failed", fn)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            fn = h.on_update
            if fn is not None:
                try:
                    fn(old, new)
                except Exception:
                    log.exception("informer handler %r failed", fn)

    def _notify_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            fn = h.on_delete
            if fn is not None:
                try:
                    fn(obj)
                except Exception:
                    log.exception("informer handler %r failed", fn)

    @staticmethod
    def _call(fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("informer handler %r failed", fn)


def _namespace_index(obj: Obj) -> builtins.list[str]:
    m = obj.get("metadata") or {}
    return [str(m.get("namespace") or "")]
