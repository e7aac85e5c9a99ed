"""Durations, seeded jitter and a timer wheel that drives many deadlines from one task.

Go-style durations (``time.ParseDuration``): a sequence of decimal numbers with units
``ns us µs ms s m h``, e.g. ``"1h30m"`` → 5400.0, ``"1.5s"`` → 1.5, ``"300ms"`` → 0.3.
Jitter strings are percentages of the base value: ``"10%"`` → a factor drawn uniformly
from [0.9, 1.1) by a deterministic RNG seeded with ``(seed, uid)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import random
from collections.abc import Callable, Hashable

from suanli.apimachinery.duration import parse_duration
from suanli.runtime.clock import Clock

__all__ = ["TimerWheel", "jittered", "parse_duration", "parse_percent", "seeded_random"]


def parse_percent(text: str) -> float:
    """``"10%"`` → 0.1 (also accepts a bare fraction ``"0.1"``); ValueError otherwise."""
    s = text.strip()
    value = float(s[:-1]) / 100.0 if s.endswith("%") else float(s)
    if value < 0:
        raise ValueError(f"negative jitter {text!r}")
    return value


def seeded_random(seed: int, key: str) -> random.Random:
    """An RNG that depends only on ``seed`` and ``key`` (stable across processes)."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))  # nosec B311  # seeded simulation timing, not security


def jittered(base: float, fraction: float, rng: random.Random) -> float:
    """``base`` scaled by a factor uniform in ``[1 - fraction, 1 + fraction)``, never negative.

    Example: base 30 s, fraction 0.1 → a value in [27, 33).
    """
    if fraction <= 0:
        return base
    return max(0.0, base * (1.0 + fraction * (2.0 * rng.random() - 1.0)))


class TimerWheel:
    """Deadlines for many keys, served by one task (:meth:`run`).

    ``schedule(key, at)`` sets ``key``'s single deadline (monotonic seconds of ``clock``),
    replacing any earlier one; when it is reached ``fire(key)`` is called (synchronously,
    it must not block). Deadlines closer together than ``resolution`` are fired in one
    wake-up, so thousands of timers cost a few wake-ups per second.

    Cancelled and replaced deadlines leave stale heap entries that are skipped when they
    surface; once they outnumber the live ones by far (pod churn: a pod's far heartbeat
    deadline outlives the pod) the heap is rebuilt, so it holds O(live timers) entries.
    """

    def __init__(self, clock: Clock, fire: Callable[[Hashable], None], *, resolution: float = 0.05) -> None:
        self._clock = clock
        self._fire = fire
        self._resolution = resolution
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, tuple[float, int]] = {}
        self._seq = 0
        self._wake = asyncio.Event()
        self._stopped = False

    def __len__(self) -> int:
        return len(self._due)

    def deadline(self, key: Hashable) -> float | None:
        d = self._due.get(key)
        return d[0] if d is not None else None

    def schedule(self, key: Hashable, at: float) -> None:
        self._seq += 1
        self._due[key] = (at, self._seq)
        heapq.heappush(self._heap, (at, self._seq, key))
        if self._heap[0][1] == self._seq:
            self._wake.set()
        if len(self._heap) > 4 * len(self._due) + 1024:
            self._compact()

    def _compact(self) -> None:
        """Drop stale heap entries (the live ones keep their order)."""
        due = self._due
        self._heap[:] = [e for e in self._heap if due.get(e[2]) == (e[0], e[1])]  # in place: see _pop_due
        heapq.heapify(self._heap)

    def heap_size(self) -> int:
        """Heap entries including stale ones (memory diagnostics and tests)."""
        return len(self._heap)

    def schedule_in(self, key: Hashable, delay: float) -> None:
        self.schedule(key, self._clock.monotonic() + delay)

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)
        if len(self._heap) > 4 * len(self._due) + 1024:
            self._compact()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def _pop_due(self) -> float | None:
        """Fire every due key; return the delay to the next deadline (None when idle)."""
        now = self._clock.monotonic()
        heap, due = self._heap, self._due
        while heap:
            at, seq, key = heap[0]
            if due.get(key) != (at, seq):
                heapq.heappop(heap)  # cancelled or rescheduled
                continue
            if at > now:
                return at - now
            heapq.heappop(heap)
            del due[key]
            try:
                self._fire(key)
            except Exception:  # pragma: no cover - fire callbacks only enqueue
                import logging

                logging.getLogger(__name__).exception("timer callback failed for %r", key)
        return None

    async def run(self) -> None:
        """Fire deadlines until :meth:`stop`."""
        while not self._stopped:
            self._wake.clear()
            delay = self._pop_due()
            if self._stopped:
                return
            if delay is None:
                await self._wake.wait()
                continue
            sleeper = asyncio.ensure_future(self._clock.sleep(max(delay, self._resolution)))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (sleeper, waker):
                    if not t.done():
                        t.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await t
