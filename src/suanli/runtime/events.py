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
"""

from __future__ import annotations

import logging
from typing import Literal

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, now_rfc3339
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.event_correlator import EventCorrelator

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)
EVENTS = GVR("", "v1", "events")
EventType = Literal["Normal", "Warning"]


class EventRecorder:
    def __init__(self, client: Client, component: str, *, clock: Clock | None = None,
                 max_cached: int = 4096) -> None:
        self.client = client
        self.component = component
        self.clock = clock or RealClock()
        self.max_cached = max_cached
        self.correlator = EventCorrelator(clock=self.clock.monotonic, cache_size=max_cached)

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
