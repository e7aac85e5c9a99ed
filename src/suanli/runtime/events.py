"""Recording core/v1 Events for objects, aggregated like client-go's recorder.

Repeated events (same object, type, reason and message) within ``window`` seconds bump
``count`` and ``lastTimestamp`` on the existing Event instead of creating a new one.
Recording never raises: failures are logged and dropped (events are best effort).
A new Event is built fresh for its one create call, so it is handed over
(``Client.create_owned``: an in-process client skips its defensive copy).
The aggregation cache is an LRU of ``max_cached`` keys (client-go's correlator keeps 4,096),
so memory stays bounded however many objects come and go.
"""

from __future__ import annotations

import logging
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
                 max_cached: int = 4096) -> None:
        self.client = client
        self.component = component
        self.clock = clock or RealClock()
        self.window = window
        self.max_cached = max_cached
        # oldest first; an OrderedDict drops its oldest entry in O(1) (a dict's first live
        # slot has to be searched for past the ones already popped)
        self._recent: OrderedDict[tuple[str, str, str, str], tuple[str, str, int, float]] = OrderedDict()

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
