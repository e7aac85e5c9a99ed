"""Recording core/v1 Events for objects, aggregated like client-go's recorder.

Repeated events (same object, type, reason and message) within ``window`` seconds bump
``count`` and ``lastTimestamp`` on the existing Event instead of creating a new one.
Recording never raises: failures are logged and dropped (events are best effort).
A new Event is built fresh for its one create call, so it is handed over
(``Client.create_owned``: an in-process client skips its defensive copy).
The aggregation cache is an LRU of ``max_cached`` keys (client-go's correlator keeps 4,096),
so memory stays bounded however many objects come and go.

Two ways to record, one recorder:

* ``await record(...)`` writes the Event before returning (controllers whose reconcile may
  as well wait);
* ``emit(...)`` is client-go's broadcaster: it never blocks the caller. The Event goes onto a
  bounded buffer (``buffer`` entries, 1,000 as client-go's ``maxQueuedEvents``; when full the
  Event is dropped, counted in :attr:`EventRecorder.dropped` and logged once) that
  ``sinks`` background writers drain. Events of one object go to the same writer, so they are
  written in order and aggregate onto one Event; different objects are written concurrently,
  which keeps a remote API server's round trips off the emitter's hot path (the scheduler
  emits a ``Scheduled`` Event per bind). :meth:`flush` waits until everything emitted so far
  is written; :meth:`close` stops the writers (pending Events are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections import OrderedDict
from typing import Literal

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, now_rfc3339
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.wire import EVENTS

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)
EventType = Literal["Normal", "Warning"]


class EventRecorder:
    def __init__(self, client: Client, component: str, *, clock: Clock | None = None, window: float = 600.0,
                 max_cached: int = 4096, buffer: int = 1000, sinks: int = 8) -> None:
        self.client = client
        self.component = component
        self.clock = clock or RealClock()
        self.window = window
        self.max_cached = max_cached
        # oldest first; an OrderedDict drops its oldest entry in O(1) (a dict's first live
        # slot has to be searched for past the ones already popped)
        self._recent: OrderedDict[tuple[str, str, str, str], tuple[str, str, int, float]] = OrderedDict()
        self.buffer = buffer
        self.sinks = max(1, sinks)
        #: Events emitted but not written because the buffer was full
        self.dropped = 0
        self._queued = 0
        self._queues: list[asyncio.Queue[tuple[Obj, EventType, str, str]]] = []
        self._writers: list[asyncio.Task[None]] = []

    def emit(self, obj: Obj, type_: EventType, reason: str, message: str) -> None:
        """Queue an Event about ``obj`` for the background writers and return at once.

        Must be called from the event loop's thread. A full buffer drops the Event (best effort).
        """
        if self._queued >= self.buffer:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("%s: event buffer full (%d); dropping events", self.component, self.buffer)
            return
        if not self._writers:
            self._queues = [asyncio.Queue() for _ in range(self.sinks)]
            self._writers = [asyncio.get_running_loop().create_task(self._write(q)) for q in self._queues]
        uid = str((obj.get("metadata") or {}).get("uid") or "").encode()
        self._queued += 1
        self._queues[zlib.crc32(uid) % self.sinks].put_nowait((obj, type_, reason, message))

    async def flush(self) -> None:
        """Wait until every Event emitted so far is written (or dropped after a failure)."""
        for q in list(self._queues):
            await q.join()

    async def close(self) -> None:
        """Stop the background writers; Events still queued are dropped."""
        writers, self._writers, self._queues = self._writers, [], []
        for task in writers:
            task.cancel()
        for task in writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queued = 0

    async def _write(self, queue: asyncio.Queue[tuple[Obj, EventType, str, str]]) -> None:
        while True:
            obj, type_, reason, message = await queue.get()
            try:
                await self.record(obj, type_, reason, message)
            except Exception:  # record() swallows API errors; anything else must not kill the writer
                log.exception("%s: writing event %s failed", self.component, reason)
            finally:
                self._queued -= 1
                queue.task_done()

    async def record(self, obj: Obj, type_: EventType, reason: str, message: str) -> None:
        """Record an Event about ``obj`` (any namespaced or cluster-scoped object)."""
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        uid = str(meta.get("uid") or "")
        key = (uid, type_, reason, message)
        now = self.clock.now()
        stamp = now_rfc3339()
        try:
            hit = self._recent.get(key)
            if hit is not None and now - hit[3] < self.window:
                name, ev_ns, count, _ = hit
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": stamp}, ev_ns)
                self._recent[key] = (name, ev_ns, count + 1, now)
                self._recent.move_to_end(key)
                return
            event: Obj = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": ns},
                "involvedObject": {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
                                   "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
                                   "uid": uid, "resourceVersion": meta.get("resourceVersion", "")},
                "type": type_, "reason": reason, "message": message,
                "source": {"component": self.component}, "reportingComponent": self.component,
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            }
            created = await self.client.create_owned(EVENTS, event, ns)
            if len(self._recent) >= self.max_cached:
                self._recent.popitem(last=False)
            self._recent[key] = (created["metadata"]["name"], ns, 1, now)
        except ApiError as err:
            log.debug("event %s for %s/%s dropped: %s", reason, ns, meta.get("name"), err)
