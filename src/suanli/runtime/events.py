"""Recording core/v1 Events for objects, correlated like client-go's recorder.

Every Event goes through an :class:`~suanli.runtime.event_correlator.EventCorrelator` first
(client-go's defaults): a source may burst 25 Events about one object, then one per 5 minutes
(the rest are dropped); from the 10th Event in 10 minutes that differs only in its message, the
Events of that object and reason are combined into one; an Event equal to one already recorded
bumps its ``count`` and ``lastTimestamp`` instead of creating a new one (if that Event is gone,
e.g. expired by its TTL, it is created again). The correlator's caches are LRUs of
``max_cached`` keys (client-go: 4,096), so memory stays bounded however many objects come and go.
Recording never raises: failures are logged and dropped (events are best effort).
A new Event is built fresh for its one create call, so it is handed over
(``Client.create_owned``: an in-process client skips its defensive copy).

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
from typing import Literal

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, now_rfc3339
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.event_correlator import EventCorrelator
from suanli.wire import EVENTS

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)
EventType = Literal["Normal", "Warning"]


class EventRecorder:
    def __init__(self, client: Client, component: str, *, clock: Clock | None = None,
                 max_cached: int = 4096, buffer: int = 1000, sinks: int = 8) -> None:
        self.client = client
        self.component = component
        self.clock = clock or RealClock()
        self.max_cached = max_cached
        self.correlator = EventCorrelator(clock=self.clock.monotonic, cache_size=max_cached)
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
        stamp = now_rfc3339()
        event: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name', 'object')}.", "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
                               "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
                               "uid": str(meta.get("uid") or ""), "resourceVersion": meta.get("resourceVersion", "")},
            "type": type_, "reason": reason, "message": message,
            "source": {"component": self.component}, "reportingComponent": self.component,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        }
        verdict = self.correlator.correlate(event)
        if verdict.skip or verdict.event is None:
            log.debug("event %s for %s/%s dropped by the spam filter", reason, ns, meta.get("name"))
            return
        event = verdict.event
        try:
            written: Obj | None = None
            if verdict.existing is not None:
                try:
                    written = await self.client.patch(
                        EVENTS, verdict.existing.name,
                        {"count": event["count"], "lastTimestamp": stamp, "message": event["message"]},
                        verdict.existing.namespace)
                except ApiError as err:  # gone (TTL): create it again, as client-go does
                    if err.code != 404:
                        raise
            if written is None:
                written = await self.client.create_owned(EVENTS, event, ns)
            self.correlator.update_state(verdict.key, written)
        except ApiError as err:
            log.debug("event %s for %s/%s dropped: %s", reason, ns, meta.get("name"), err)
