"""Watch semantics shared by HTTP and in-process clients.

:class:`WatchSession` turns a store subscription into the event sequence a Kubernetes
client expects:

* ``resourceVersion`` unset or ``"0"`` (or ``sendInitialEvents=true``): synthetic
  ``ADDED`` for every matching object, then live events. With ``sendInitialEvents`` a
  ``BOOKMARK`` annotated ``k8s.io/initial-events-end: "true"`` marks the end of the
  initial state (WatchList, used by ``kubectl wait`` and ``delete --wait``).
* ``resourceVersion=N``: events strictly after N; if they are no longer retained, one
  ``ERROR`` event carrying a 410 ``Expired`` Status, then the stream ends.
* Selectors apply to transitions: an object that starts matching arrives as ``ADDED``,
  one that stops matching as ``DELETED``.
* ``BOOKMARK`` events every ``bookmark_interval`` seconds when asked for and idle.

Events come one by one (:meth:`WatchSession.events`) or in batches of what is already
queued (:meth:`WatchSession.batches`, used by HTTP to write a burst in one chunk).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import FieldSelector, LabelSelector
from suanli.kinds.registry import ResourceType
from suanli.storage import ExpiredError, Store, StoredObject, Watcher, WatchEvent

__all__ = ["Emitted", "WatchSession", "open_watch"]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
DEFAULT_TIMEOUT = 1800.0
BATCH_LIMIT = 64  # events per batch: bounds one HTTP write (~100 KiB of pods) and a client's line splitting


@dataclass(frozen=True, slots=True)
class Emitted:
    """One event to send: ``obj`` for object events, ``rv`` for bookmarks, ``error`` for ERROR."""

    type: str
    obj: StoredObject | None = None
    rv: int = 0
    initial_end: bool = False
    error: Obj | None = None

    def bookmark_object(self, rt: ResourceType) -> Obj:
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if self.initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


class WatchSession:
    """An open watch; iterate :meth:`events`, then :meth:`close`."""

    def __init__(self, rt: ResourceType, watcher: Watcher | None, initial: list[StoredObject],
                 start_rv: int, matcher: Callable[[Obj], bool] | None, *, send_initial_end: bool,
                 allow_bookmarks: bool, timeout: float, bookmark_interval: float,
                 expired: ApiError | None = None) -> None:
        self.rt = rt
        self._watcher = watcher
        self._initial = initial
        self._start_rv = start_rv
        self._match = matcher
        self._send_initial_end = send_initial_end
        self._allow_bookmarks = allow_bookmarks
        self._deadline = time.monotonic() + timeout
        self._bookmark_interval = bookmark_interval
        self._expired = expired
        self._closed = False

    def close(self) -> None:
        self._closed = True
        if self._watcher is not None:
            self._watcher.close()

    async def events(self) -> AsyncIterator[Emitted]:
        """The events one by one (see :meth:`batches`, which this flattens)."""
        async for batch in self.batches():
            for ev in batch:
                if self._closed:
                    return
                yield ev

    async def batches(self, limit: int = BATCH_LIMIT) -> AsyncIterator[list[Emitted]]:
        """The events in non-empty lists of at most ``limit``: each list holds the event that ended a
        wait plus the ones already queued behind it, so a burst of commits costs one wake-up and, over
        HTTP, one write. Order and content are exactly those of the one-by-one sequence."""
        if self._expired is not None:
            yield [Emitted("ERROR", error=self._expired.status())]
            return
        initial = self._initial
        for start in range(0, len(initial), limit):
            yield [Emitted("ADDED", so) for so in initial[start:start + limit]]
        if self._send_initial_end:
            yield [Emitted("BOOKMARK", rv=self._start_rv, initial_end=True)]
        watcher = self._watcher
        assert watcher is not None
        translate = self._translate
        next_bookmark = time.monotonic() + self._bookmark_interval
        while not self._closed:
            now = time.monotonic()
            if now >= self._deadline:
                return
            wait = min(self._deadline, next_bookmark) - now
            try:
                ev = await watcher.next(timeout=max(wait, 0.0))
            except ExpiredError:
                err = ApiError.gone("The resourceVersion for the provided watch is too old.")
                yield [Emitted("ERROR", error=err.status())]
                return
            if ev is None:
                if watcher_closed(watcher):
                    return
                if time.monotonic() >= next_bookmark:
                    # advance even when bookmarks are off, or the wait above drops to 0 and spins
                    next_bookmark = time.monotonic() + self._bookmark_interval
                    rv = watcher.idle_revision() if self._allow_bookmarks else None
                    if rv is not None:
                        yield [Emitted("BOOKMARK", rv=rv)]
                continue
            batch: list[Emitted] = []
            out = translate(ev)
            if out is not None:
                batch.append(out)
            while len(batch) < limit:
                try:  # timeout 0: pops a queued event or returns None at once, never suspends
                    queued = await watcher.next(timeout=0)
                except ExpiredError:  # raised again by the next wait above, after this batch
                    break
                if queued is None:
                    break
                out = translate(queued)
                if out is not None:
                    batch.append(out)
            if batch:
                yield batch

    def _translate(self, ev: WatchEvent) -> Emitted | None:
        """The event a store event becomes for this watch's selectors (None: not shown)."""
        match = self._match
        if match is None:
            return Emitted(ev.type, ev.obj)
        now_match = match(ev.obj.obj)
        if ev.type == "ADDED":
            return Emitted("ADDED", ev.obj) if now_match else None
        if ev.type == "DELETED":
            return Emitted("DELETED", ev.obj) if now_match else None
        was = ev.prev is not None and match(ev.prev.obj)
        if now_match:
            return Emitted("MODIFIED" if was else "ADDED", ev.obj)
        return Emitted("DELETED", ev.obj) if was else None


def watcher_closed(watcher: Watcher) -> bool:
    return bool(getattr(watcher, "closed", False))


def open_watch(store: Store, rt: ResourceType, namespace: str, *, resource_version: str,
               label_selector: LabelSelector | None, field_selector: FieldSelector | None,
               send_initial_events: bool | None, resource_version_match: str = "",
               allow_bookmarks: bool = True, timeout: float | None = None,
               bookmark_interval: float = 30.0) -> WatchSession:
    """Open a watch atomically with its initial state (no ``await`` between list and subscribe)."""
    if send_initial_events is not None:
        if resource_version_match != "NotOlderThan":
            raise ApiError.invalid("ListOptions", "", [_cause(
                "resourceVersionMatch", "Forbidden: sendInitialEvents requires setting resourceVersionMatch "
                "to NotOlderThan")])
        if send_initial_events and not allow_bookmarks:
            raise ApiError.invalid("ListOptions", "", [_cause(
                "allowWatchBookmarks", "Forbidden: sendInitialEvents requires allowWatchBookmarks=true")])
    elif resource_version_match:
        raise ApiError.invalid("ListOptions", "", [_cause(
            "resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden for watch unless "
            "sendInitialEvents is provided")])
    matcher: Callable[[Obj], bool] | None = None
    if label_selector is not None or field_selector is not None:
        def matcher(o: Obj) -> bool:
            if label_selector is not None and not label_selector.matches(
                    (o.get("metadata") or {}).get("labels") or {}):
                return False
            return field_selector is None or field_selector.matches(o)
    ns = namespace if rt.namespaced and namespace else None
    t = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    want_initial = bool(send_initial_events) or (send_initial_events is None and resource_version in ("", "0"))
    if want_initial or resource_version in ("", "0"):
        initial: list[StoredObject] = []
        if want_initial:
            res = store.list(rt.storage_key, ns, predicate=matcher)
            initial, start = res.items, res.revision
        else:
            start = store.revision
        watcher = store.watch(rt.storage_key, since_rv=start, namespace=ns)
        return WatchSession(rt, watcher, initial, start, matcher, send_initial_end=bool(send_initial_events),
                            allow_bookmarks=allow_bookmarks, timeout=t, bookmark_interval=bookmark_interval)
    try:
        since = int(resource_version)
    except ValueError:
        raise ApiError.bad_request(f"resourceVersion: Invalid value: {resource_version!r}") from None
    if since > store.revision:
        raise ApiError(504, "Timeout", f"Too large resource version: {since}, current resource version: "
                       f"{store.revision}", retry_after_seconds=1)
    try:
        watcher = store.watch(rt.storage_key, since_rv=since, namespace=ns)
    except ExpiredError:
        err = ApiError.gone(f"too old resource version: {since} ({store.revision})")
        return WatchSession(rt, None, [], since, matcher, send_initial_end=False, allow_bookmarks=False,
                            timeout=t, bookmark_interval=bookmark_interval, expired=err)
    return WatchSession(rt, watcher, [], since, matcher, send_initial_end=False,
                        allow_bookmarks=allow_bookmarks, timeout=t, bookmark_interval=bookmark_interval)


def _cause(field: str, message: str) -> Any:
    from suanli.apimachinery.errors import Cause

    return Cause(field, message)
