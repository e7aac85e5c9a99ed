"""Per-bucket event windows and watcher queues (event-loop side only, not thread-safe)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

import orjson

from suanli.storage._types import EventType, ExpiredError, StoredObject, WatchEvent

__all__ = ["EventWindow", "Watcher"]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Watcher:
    """A subscription to one bucket. Iterate it; call :meth:`close` when done.

    Yields only events with ``rv > since_rv`` (and, if a namespace was given, only that
    namespace's). ``idle_revision()`` returns a revision safe for a BOOKMARK: every event
    up to it has been yielded or filtered out, i.e. the watcher's queue is empty and it is
    the store's committed revision; it returns ``None`` while events are queued.
    If the watcher falls too far behind (queue over its limit) it is closed and the
    iterator raises :class:`ExpiredError`.

    One consumer at a time: concurrent :meth:`next` calls on the same watcher are not
    supported. After :meth:`close` (or :meth:`Store.drop_bucket_watchers`) queued events
    are discarded, :meth:`next` returns ``None`` and ``async for`` ends.
    """

    __slots__ = ("_committed", "_expired", "_limit", "_namespace", "_on_close", "_queue",
                 "_since", "_waiter", "closed")

    def __init__(
        self,
        *,
        since_rv: int,
        namespace: str | None,
        limit: int,
        committed: Callable[[], int],
        on_close: Callable[[Watcher], None],
    ) -> None:
        self._since = since_rv
        self._namespace = namespace
        self._limit = limit
        self._committed = committed
        self._on_close = on_close
        self._queue: deque[WatchEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._expired = False
        self.closed = False

    # -- producer side (called by EventWindow on the event loop) -----------------------

    def _push(self, ev: WatchEvent, namespace: str) -> None:
        if self.closed or ev.rv <= self._since:
            return
        if self._namespace is not None and namespace != self._namespace:
            return
        if len(self._queue) >= self._limit:
            self._expired = True
            self.close()
            return
        self._queue.append(ev)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- consumer side ------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WatchEvent]:
        while True:
            ev = await self.next()
            if ev is None:
                return
            yield ev

    async def next(self, timeout: float | None = None) -> WatchEvent | None:
        """Next event, or ``None`` on timeout. Raises ExpiredError when overflowed."""
        if not self._queue and not self.closed and (timeout is None or timeout > 0):
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            self._waiter = fut
            handle = loop.call_later(timeout, _wake, fut) if timeout is not None else None
            try:
                await fut
            finally:
                self._waiter = None
                if handle is not None:
                    handle.cancel()
        if self._queue:
            return self._queue.popleft()
        if self._expired:
            raise ExpiredError("watcher fell too far behind; relist and watch again")
        return None

    def drain(self) -> list[WatchEvent]:
        """Every queued event, oldest first, without waiting (for consumers that poll on the event
        loop, e.g. the RBAC authorizer). Raises :class:`ExpiredError` when the watcher overflowed."""
        if self._expired:
            raise ExpiredError("watcher fell too far behind; relist and watch again")
        out = list(self._queue)
        self._queue.clear()
        return out

    def idle_revision(self) -> int | None:
        if self.closed or self._queue:
            return None
        return max(self._committed(), self._since)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._on_close(self)

    @property
    def expired(self) -> bool:
        """True when the watcher was closed because its queue overflowed."""
        return self._expired


#: A retained event, compactly: (rv, type, encoded object, prev rv, encoded prev or None, namespace).
#: Only the bytes are kept (``raw`` is shared with the live :class:`StoredObject` while that
#: version is current, and each event's ``prev`` bytes are the previous event's ``raw``), so
#: an old version costs its JSON size rather than a decoded dict tree several times larger.
Retained = tuple[int, EventType, bytes, int, bytes | None, str]


class EventWindow:
    """The newest committed events of one bucket (oldest first) and its live watchers.

    Invariant: every event of this bucket with ``rv > floor`` is in :attr:`events`.
    ``floor`` starts at the startup floor (compact revision, or the newest log row that did
    not fit in the window at recovery) and becomes the rv of each event dropped from the
    front. Example: size 2, events 5, 7, 9 appended → events [7, 9], floor 5; a resume
    from 5 replays 7 and 9, a resume from 4 is expired.

    Bounds (like kube-apiserver's watch cache, whose capacity adapts between 100 and
    102,400 events so that it covers at least 75 s of history): at most ``size`` events,
    and :meth:`trim` drops events recorded before a cutoff time while more than
    ``min_size`` remain. ``times[i]`` is the record time of ``events[i]`` (store clock).
    Live watchers receive the committed :class:`WatchEvent` itself; a replay (:meth:`since`)
    decodes the retained bytes into fresh objects.
    """

    __slots__ = ("budget", "events", "floor", "min_size", "nbytes", "size", "times", "watchers")

    def __init__(self, size: int, floor: int, *, min_size: int = 100, budget: int | None = None) -> None:
        self.size = size
        self.min_size = max(0, min(min_size, size))
        self.floor = floor
        self.budget = budget
        self.events: deque[Retained] = deque()
        self.times: deque[float] = deque()
        #: encoded bytes of the retained events (each event's object; ``prev`` is the
        #: previous event's object and shared with it while both are retained)
        self.nbytes = 0
        self.watchers: dict[Watcher, None] = {}

    def append(self, ev: WatchEvent, namespace: str, now: float) -> None:
        """Retain a committed event (recorded at ``now``) and push it to every watcher."""
        self.retain(ev, namespace, now)
        for w in list(self.watchers) if self.watchers else ():
            w._push(ev, namespace)

    def retain(self, ev: WatchEvent, namespace: str, now: float) -> None:
        """Add ``ev`` (recorded at ``now``) to the window without publishing it (recovery)."""
        if self.size <= 0:
            self.floor = ev.rv
            return
        if len(self.events) >= self.size:
            self._drop_oldest()
        prev = ev.prev
        raw = ev.obj.raw
        self.events.append((ev.rv, ev.type, raw, prev.rv if prev is not None else 0,
                            prev.raw if prev is not None else None, namespace))
        self.times.append(now)
        self.nbytes += len(raw)
        budget = self.budget
        if budget is not None:
            while self.nbytes > budget and len(self.events) > self.min_size:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        entry = self.events.popleft()
        self.times.popleft()
        self.floor = entry[0]
        self.nbytes -= len(entry[2])

    def trim(self, cutoff: float) -> int:
        """Drop events recorded before ``cutoff``, keeping the newest ``min_size``; returns how many."""
        events, times = self.events, self.times
        n = 0
        while len(events) > self.min_size and times[0] < cutoff:
            self._drop_oldest()
            n += 1
        return n

    def since(self, rv: int) -> list[tuple[WatchEvent, str]]:
        """Retained events with ``rv`` greater than ``rv`` and their namespaces, decoded afresh.

        Raises ExpiredError if some of them were dropped.
        """
        if rv < self.floor:
            raise ExpiredError(f"too old resource version: {rv} (oldest retained after {self.floor})")
        tail: list[Retained] = []
        for entry in reversed(self.events):
            if entry[0] <= rv:
                break
            tail.append(entry)
        tail.reverse()
        out: list[tuple[WatchEvent, str]] = []
        for ev_rv, etype, raw, prev_rv, prev_raw, ns in tail:
            prev = StoredObject(prev_rv, orjson.loads(prev_raw), prev_raw) if prev_raw is not None else None
            out.append((WatchEvent(etype, ev_rv, StoredObject(ev_rv, orjson.loads(raw), raw), prev), ns))
        return out
