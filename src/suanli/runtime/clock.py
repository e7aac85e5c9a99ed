"""Time as a dependency: a real clock for production and a manual one for tests.

Everything in the runtime that waits (work-queue delays, informer backoff, resync)
asks a :class:`Clock`, so tests drive time explicitly with :class:`FakeClock`::

    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.wait_for_sleepers(1)
    clock.advance(5)          # the sleeper's deadline (5.0) is reached
    await task                # resolves
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import time
from pathlib import Path
from typing import Protocol

__all__ = ["Clock", "FakeClock", "OffsetClock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    """Wall time, monotonic time and sleeping."""

    def now(self) -> float:
        """Wall-clock seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the caller for ``seconds`` of this clock's time."""
        ...


class RealClock:
    """The process clock: ``time.time``, ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when :meth:`advance` is called.

    ``sleep(d)`` registers a deadline ``monotonic() + d`` and resolves once the clock
    has been advanced to or past it; sleepers wake in deadline order (ties in the
    order they started sleeping). ``sleep(0)`` (or negative) just yields once.
    Wall time moves in lockstep: ``now() == wall_start + monotonic() - start``.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._mono = start
        self._wall_offset = wall_start - start
        self._seq = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._registered: asyncio.Event | None = None

    def now(self) -> float:
        return self._mono + self._wall_offset

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self._mono + seconds, self._seq, fut))
        if self._registered is not None:
            self._registered.set()
        try:
            await fut
        finally:
            if not fut.done():  # cancelled: leave a tombstone that advance() skips
                fut.cancel()

    @property
    def sleepers(self) -> int:
        """Number of pending (not cancelled) sleepers."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, or ``None`` when nobody sleeps."""
        self._drop_tombstones()
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``; wake every sleeper whose deadline is reached.

        Returns the number of sleepers woken. Woken tasks run at the caller's next
        ``await`` point (e.g. ``await asyncio.sleep(0)``).
        """
        if seconds < 0:
            raise ValueError("cannot move a clock backwards")
        target = self._mono + seconds
        woken = 0
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._mono = max(self._mono, deadline)
            fut.set_result(None)
            woken += 1
        self._mono = target
        return woken

    def advance_to_next(self) -> int:
        """Advance exactly to the earliest pending deadline (no-op when none)."""
        nxt = self.next_deadline()
        if nxt is None:
            return 0
        return self.advance(nxt - self._mono)

    async def wait_for_sleepers(self, count: int = 1) -> None:
        """Wait (without advancing time) until at least ``count`` tasks are sleeping."""
        while self.sleepers < count:
            if self._registered is None:
                self._registered = asyncio.Event()
            self._registered.clear()
            await self._registered.wait()

    def _drop_tombstones(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)


class VirtualClock:
    """Platform time running ``rate`` times faster than the process clock, plus jumps.

    ``now() = start + rate * (real seconds since construction) + offset``: with ``rate`` 8640 a
    simulated day passes in 10 s; with ``rate`` 0 time stands still and moves only by
    :meth:`advance` or by the number of seconds written to ``offset_file`` (re-read when its
    modification time changes; missing, empty, unparseable or smaller values leave the offset
    where it was: time never goes backwards). ``monotonic()`` moves with ``now()``.
    ``sleep(d)`` waits until ``monotonic()`` has moved by ``d``, polling every ``poll`` real
    seconds at most (so jumps wake sleepers within that delay).

    Example: ``VirtualClock(rate=0, start=1_700_000_000).advance(3600)`` → ``now() == 1_700_003_600``.
    """

    def __init__(self, rate: float = 1.0, *, start: float | None = None, offset_file: Path | None = None,
                 poll: float = 0.05) -> None:
        if rate < 0:
            raise ValueError("rate must not be negative")
        self.rate = rate
        self.path = offset_file
        self.poll = poll
        self._start = time.time() if start is None else start
        self._real0 = time.monotonic()
        self._advanced = 0.0
        self._file_offset = 0.0
        self._stamp: int | None = None

    def offset(self) -> float:
        """Seconds added by :meth:`advance` and the offset file."""
        if self.path is not None:
            stamp: int | None
            try:
                stamp = os.stat(self.path).st_mtime_ns
            except OSError:
                stamp = self._stamp
            if stamp != self._stamp:
                self._stamp = stamp
                with contextlib.suppress(OSError, ValueError):
                    self._file_offset = max(self._file_offset, float(self.path.read_text().strip() or 0))
        return self._advanced + self._file_offset

    def advance(self, seconds: float) -> None:
        """Jump forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("cannot move a clock backwards")
        self._advanced += seconds

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.rate + self.offset()

    def now(self) -> float:
        return self._start + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        while (remaining := deadline - self.monotonic()) > 0:
            real = remaining / self.rate if self.rate > 0 else self.poll
            await asyncio.sleep(min(real, self.poll) if self.path is not None or self.rate == 0 else real)


class OffsetClock(VirtualClock):
    """The process clock moved forward by a number of seconds read from a file (end-to-end tests only).

    ``suanli up --clock-offset-file PATH`` gives it to the time-driven controllers (CronJob), so a
    test outside the process can make time pass by writing e.g. ``"3600"`` to ``PATH``: a
    :class:`VirtualClock` at rate 1 reading its offset from ``PATH``.
    """

    def __init__(self, path: Path, poll: float = 0.05) -> None:
        super().__init__(1.0, offset_file=path, poll=poll)

    def now(self) -> float:
        return time.time() + self.offset()

    def monotonic(self) -> float:
        return time.monotonic() + self.offset()
