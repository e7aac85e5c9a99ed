"""A deduplicating, delaying, rate-limited work queue for level-triggered reconcilers.

Semantics follow client-go's ``workqueue``:

* a key waiting in the queue is stored once, however often it is added;
* a key handed out by :meth:`WorkQueue.get` is *processing* until :meth:`WorkQueue.done`;
  no other worker receives it meanwhile. Adding it while processing marks it dirty,
  and ``done`` puts it back so the latest state is reconciled again;
* :meth:`WorkQueue.add_after` delays an add on the :class:`~suanli.runtime.clock.Clock`;
  of several pending delays for one key the earliest wins;
* :meth:`WorkQueue.add_rate_limited` delays by a per-key exponential backoff and
  :meth:`WorkQueue.forget` resets it (call it when a key reconciled successfully).

Typical worker::

    while True:
        try:
            key = await queue.get()
        except QueueShutDown:
            return
        try:
            await reconcile(key)
            queue.forget(key)
        except Exception:
            queue.add_rate_limited(key)
        finally:
            queue.done(key)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from suanli.runtime.clock import Clock, RealClock

__all__ = ["ExponentialRateLimiter", "QueueShutDown", "RateLimiter", "WorkQueue"]

K = TypeVar("K", bound=Hashable)


class QueueShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and drained."""


class RateLimiter(Protocol):
    """Decides how long a key waits before it is retried."""

    def when(self, key: Hashable) -> float:
        """Delay in seconds for this retry of ``key`` (and count the retry)."""
        ...

    def forget(self, key: Hashable) -> None:
        """Stop tracking ``key`` (its next delay starts from the base again)."""
        ...

    def retries(self, key: Hashable) -> int:
        """How many times ``key`` has been rate-limited since it was last forgotten."""
        ...


class ExponentialRateLimiter:
    """Per-key exponential backoff: ``delay = min(base * 2**failures, cap)``.

    With the defaults (5 ms, 1000 s) successive retries wait 0.005, 0.01, 0.02, …
    seconds; the 19th retry (failures = 18) is the first to reach the cap:
    ``0.005 * 2**18 = 1310.72 > 1000``.
    """

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n >= 64:  # avoid float overflow; long past the cap anyway
            return self.cap
        return min(self.base * float(2**n), self.cap)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def retries(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class WorkQueue(Generic[K]):
    """An async work queue of hashable keys (see the module docstring for the contract)."""

    def __init__(self, *, clock: Clock | None = None, rate_limiter: RateLimiter | None = None,
                 name: str = "") -> None:
        self.name = name
        self._clock: Clock = clock or RealClock()
        self._limiter: RateLimiter = rate_limiter or ExponentialRateLimiter()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._waiting: dict[K, float] = {}  # key -> earliest pending add_after deadline
        self._timers: set[asyncio.Task[None]] = set()
        self._shutting_down = False

    # -- adding --------------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is already queued; ignored after :meth:`shutdown`."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds of clock time have passed (``<= 0``: now)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        deadline = self._clock.monotonic() + delay
        current = self._waiting.get(key)
        if current is not None and current <= deadline:
            return
        self._waiting[key] = deadline
        task = asyncio.get_running_loop().create_task(self._fire(key, deadline, delay))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the rate limiter's next backoff delay for it."""
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (does not remove it from the queue)."""
        self._limiter.forget(key)

    def retries(self, key: K) -> int:
        """Rate-limited retries of ``key`` since it was last forgotten."""
        return self._limiter.retries(key)

    async def _fire(self, key: K, deadline: float, delay: float) -> None:
        await self._clock.sleep(delay)
        if self._waiting.get(key) == deadline:
            del self._waiting[key]
            self.add(key)

    # -- consuming -----------------------------------------------------------------------------

    async def get(self) -> K:
        """Wait for the next key and mark it processing.

        Raises :class:`QueueShutDown` once :meth:`shutdown` was called and no keys remain.
        """
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake_one()  # hand our wake-up to another getter
                else:
                    fut.cancel()
                raise
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; re-queue it if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()

    def shutdown(self) -> None:
        """Stop accepting keys, cancel pending delays and release idle getters."""
        self._shutting_down = True
        for task in list(self._timers):
            task.cancel()
        self._waiting.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    # -- introspection -------------------------------------------------------------------------

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys ready to be handed out (excludes processing and delayed keys)."""
        return len(self._queue)

    @property
    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    @property
    def delayed(self) -> int:
        """Keys waiting for an ``add_after`` deadline."""
        return len(self._waiting)

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
