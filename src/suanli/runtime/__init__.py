"""Runtime layer: informers, work queues and clocks shared by controllers and the scheduler."""

from __future__ import annotations

from suanli.runtime.clock import Clock, FakeClock, RealClock
from suanli.runtime.informer import IndexFunc, Informer, object_key
from suanli.runtime.workqueue import ExponentialRateLimiter, QueueShutDown, RateLimiter, WorkQueue

__all__ = [
    "Clock",
    "ExponentialRateLimiter",
    "FakeClock",
    "IndexFunc",
    "Informer",
    "QueueShutDown",
    "RateLimiter",
    "RealClock",
    "WorkQueue",
    "object_key",
]
