"""client-go's EventCorrelator: spam filter, aggregation of similar events, de-duplication.

Pure (no I/O): :class:`EventCorrelator` decides, for an Event about to be recorded, whether to
drop it, create it (possibly rewritten as an aggregate) or bump the count of one already
recorded. Same defaults and semantics as ``k8s.io/client-go/tools/record/events_cache.go``:

* **Spam filter** — one token bucket per source + involved object (burst 25, refilled at one
  token every 300 s); an Event with no token is skipped. Every Event, a repeat too, takes a token.
* **Aggregation** — Events that differ only in their message (same source, object, type,
  reason) are counted per 600 s window; from the 10th distinct message on, the Event is
  replaced by one whose message is ``"(combined from similar events): " + message`` and whose
  de-duplication key is the group's, so later similar Events bump that one's count.
* **De-duplication** — an Event equal to one already recorded (same source, object, type,
  reason, message) becomes a count increment of the recorded one.

Each of the three keeps an LRU of at most ``cache_size`` keys (client-go: 4,096), so the state is
bounded however many objects come and go. Deviation: the involved object's ``fieldPath`` is part
of the keys exactly as upstream, but the recorder of this project never sets it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from suanli.apimachinery.objects import Obj

__all__ = ["AGGREGATE_PREFIX", "Correlation", "EventCorrelator", "LruCache", "Observation",
           "aggregate_key", "event_key", "spam_key"]

AGGREGATE_PREFIX = "(combined from similar events): "
MAX_LRU_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``size`` entries; ``get`` and ``put`` make a key the most recent, ``put`` evicts the
    least recent when full (groupcache's ``lru.Cache``, which client-go uses)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def _ref(event: Obj) -> tuple[str, ...]:
    src = event.get("source") or {}
    ref = event.get("involvedObject") or {}
    return (str(src.get("component") or ""), str(src.get("host") or ""), str(ref.get("kind") or ""),
            str(ref.get("namespace") or ""), str(ref.get("name") or ""))


def event_key(event: Obj) -> tuple[str, ...]:
    """Identity of an Event for de-duplication (client-go ``getEventKey``): source, involved
    object (with its ``fieldPath``), type, reason and message."""
    ref = event.get("involvedObject") or {}
    return (*_ref(event), str(ref.get("fieldPath") or ""), str(ref.get("uid") or ""),
            str(ref.get("apiVersion") or ""), str(event.get("type") or ""), str(event.get("reason") or ""),
            str(event.get("message") or ""))


def spam_key(event: Obj) -> tuple[str, ...]:
    """Source and involved object (client-go ``getSpamKey``): the unit the spam filter limits."""
    ref = event.get("involvedObject") or {}
    return (*_ref(event), str(ref.get("uid") or ""), str(ref.get("apiVersion") or ""))


def aggregate_key(event: Obj) -> tuple[tuple[str, ...], str]:
    """``(group, local)`` (client-go ``EventAggregatorByReasonFunc``): Events of one group differ
    only in their message, which is the local key."""
    ref = event.get("involvedObject") or {}
    group = (*_ref(event), str(ref.get("uid") or ""), str(ref.get("apiVersion") or ""),
             str(event.get("type") or ""), str(event.get("reason") or ""),
             str(event.get("reportingComponent") or ""), str(event.get("reportingInstance") or ""))
    return group, str(event.get("message") or "")


class _TokenBucket:
    """Starts full with ``burst`` tokens, refills continuously at ``qps`` (flowcontrol's
    token-bucket limiter); ``try_accept`` takes one token if there is one."""

    __slots__ = ("burst", "last", "qps", "tokens")

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def try_accept(self, now: float) -> bool:
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True, slots=True)
class Observation:
    """What is known of a recorded Event: its name and namespace, count and first timestamp."""

    name: str
    namespace: str
    count: int
    first_timestamp: str


@dataclass(frozen=True, slots=True)
class Correlation:
    """The verdict on one Event. ``skip``: drop it. Else ``event`` is what to record (the input,
    or its aggregate, with ``count`` set); ``existing`` names the recorded Event to bump to that
    count (None: create ``event``); ``key`` is what to pass back to :meth:`EventCorrelator.update_state`."""

    skip: bool
    event: Obj | None = None
    existing: Observation | None = None
    key: tuple[str, ...] = ()


class EventCorrelator:
    """Filter, aggregate and de-duplicate Events before they are written (see the module doc).

    ``correlate(event)`` is called with each new Event (``count`` 1, both timestamps set); after
    the Event was written, ``update_state(key, written)`` records what the server returned (its
    name, namespace and count). ``clock`` returns seconds on a monotonic clock; like upstream, the
    spam filter and the aggregator each read it once per Event. ``spam_key_func`` replaces
    :func:`spam_key` (client-go's ``CorrelatorOptions.SpamKeyFunc``).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, cache_size: int = MAX_LRU_ENTRIES,
                 burst: int = SPAM_BURST, qps: float = SPAM_QPS, max_events: int = AGGREGATE_MAX_EVENTS,
                 max_interval: float = AGGREGATE_INTERVAL,
                 spam_key_func: Callable[[Obj], tuple[str, ...]] = spam_key) -> None:
        self.clock = clock
        self.spam_key_func = spam_key_func
        self.burst = burst
        self.qps = qps
        self.max_events = max_events
        self.max_interval = max_interval
        self._spam: LruCache[tuple[str, ...], _TokenBucket] = LruCache(cache_size)
        self._groups: LruCache[tuple[str, ...], tuple[set[str], float]] = LruCache(cache_size)
        self._seen: LruCache[tuple[str, ...], Observation] = LruCache(cache_size)

    def cached_keys(self) -> int:
        """Entries over the three caches (each at most ``cache_size``)."""
        return len(self._spam) + len(self._groups) + len(self._seen)

    def correlate(self, event: Obj) -> Correlation:
        if self._filtered(event):
            return Correlation(skip=True)
        event, key = self._aggregate(event)
        seen = self._seen.get(key)
        if seen is None:
            return Correlation(skip=False, event={**event, "count": 1}, key=key)
        bumped = {**event, "count": seen.count + 1, "firstTimestamp": seen.first_timestamp,
                  "metadata": {**(event.get("metadata") or {}), "name": seen.name, "namespace": seen.namespace}}
        self._seen.put(key, Observation(seen.name, seen.namespace, seen.count + 1, seen.first_timestamp))
        return Correlation(skip=False, event=bumped, existing=seen, key=key)

    def update_state(self, key: tuple[str, ...], written: Obj) -> None:
        """Remember ``written`` (as stored) under ``key`` (from its :class:`Correlation`), and under its
        own identity, so a repeat becomes a count increment of it."""
        meta = written.get("metadata") or {}
        seen = Observation(str(meta.get("name") or ""), str(meta.get("namespace") or ""),
                           int(written.get("count") or 1), str(written.get("firstTimestamp") or ""))
        self._seen.put(key, seen)
        own = ("event", *event_key(written))
        if own != key:
            self._seen.put(own, seen)

    def _filtered(self, event: Obj) -> bool:
        key = self.spam_key_func(event)
        bucket = self._spam.get(key)
        now = self.clock()
        if bucket is None:
            bucket = _TokenBucket(self.qps, self.burst, now)
        accepted = bucket.try_accept(now)
        self._spam.put(key, bucket)
        return not accepted

    def _aggregate(self, event: Obj) -> tuple[Obj, tuple[str, ...]]:
        now = self.clock()
        group, local = aggregate_key(event)
        hit = self._groups.get(group)
        messages: set[str] = set()
        if hit is not None and now - hit[1] <= self.max_interval:
            messages = hit[0]
        messages.add(local)
        self._groups.put(group, (messages, now))
        if len(messages) < self.max_events:
            return event, ("event", *event_key(event))
        messages.pop()  # never hold more than max_events messages
        aggregate: dict[str, Any] = {
            k: v for k, v in event.items() if k in ("apiVersion", "kind", "involvedObject", "type", "reason",
                                                    "source", "firstTimestamp", "lastTimestamp")}
        meta = event.get("metadata") or {}
        aggregate["metadata"] = {k: v for k, v in meta.items() if k in ("name", "generateName", "namespace")}
        aggregate["message"] = AGGREGATE_PREFIX + str(event.get("message") or "")
        aggregate["count"] = 1
        return aggregate, ("aggregate", *group)
