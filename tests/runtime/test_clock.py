"""FakeClock: time moves only on advance(), sleepers wake in deadline order."""

from __future__ import annotations

import asyncio

import pytest

from suanli.runtime.clock import FakeClock, RealClock


async def test_sleepers_wake_in_deadline_order() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in [("c", 3), ("a", 1), ("b", 2), ("a2", 1)]]
    await clock.wait_for_sleepers(4)
    assert clock.next_deadline() == 1
    assert clock.advance(2.5) == 3
    await asyncio.gather(*tasks[1:])
    assert [n for n, _ in woke] == ["a", "a2", "b"]
    assert not tasks[0].done()
    assert clock.monotonic() == 2.5
    clock.advance_to_next()
    await tasks[0]
    assert woke[-1] == ("c", 3)


@pytest.mark.parametrize(("advance", "woken"), [(0.999, 0), (1.0, 1), (5.0, 1)],
                         ids=["before-deadline", "exactly-at-deadline", "past-deadline"])
async def test_advance_wakes_only_reached_deadlines(advance: float, woken: int) -> None:
    clock = FakeClock(start=10)
    task = asyncio.create_task(clock.sleep(1))
    await clock.wait_for_sleepers(1)
    assert clock.advance(advance) == woken
    await asyncio.sleep(0)
    assert task.done() == bool(woken)
    task.cancel()


async def test_cancelled_sleeper_is_skipped() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(1))
    await clock.wait_for_sleepers(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    assert clock.next_deadline() is None
    assert clock.advance(2) == 0


async def test_wall_time_moves_with_monotonic_time() -> None:
    clock = FakeClock(start=5, wall_start=1000)
    clock.advance(7)
    assert (clock.monotonic(), clock.now()) == (12, 1007)
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_zero_sleep_yields_without_registering() -> None:
    clock = FakeClock()
    await clock.sleep(0)
    assert clock.sleepers == 0


async def test_real_clock_is_monotonic_and_sleeps() -> None:
    clock = RealClock()
    t0 = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= t0
    assert clock.now() > 1_600_000_000
