"""WorkQueue: dedupe, exclusive processing, delays and rate limiting on a FakeClock."""

from __future__ import annotations

import asyncio

import pytest

from suanli.runtime.clock import FakeClock
from suanli.runtime.workqueue import ExponentialRateLimiter, QueueShutDown, WorkQueue


async def drained(q: WorkQueue[str]) -> list[str]:
    """Keys ready right now, in order (marks them processing)."""
    out: list[str] = []
    while len(q):
        out.append(await q.get())
    return out


@pytest.mark.parametrize(("adds", "expected"), [
    (["a", "b", "a", "c", "b"], ["a", "b", "c"]),
    (["x", "x", "x"], ["x"]),
], ids=["keeps-first-position", "collapses-repeats"])
async def test_add_deduplicates_waiting_keys(adds: list[str], expected: list[str]) -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    for k in adds:
        q.add(k)
    assert await drained(q) == expected


async def test_key_is_never_handed_to_two_workers() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # re-added while processing: held back
    assert len(q) == 0
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not second.done()
    q.done("a")  # now it is queued again and the waiting worker gets it
    assert await second == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_readd_does_not_requeue() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    q.add("a")
    await q.get()
    q.done("a")
    assert len(q) == 0 and q.processing == frozenset()


async def test_waiting_workers_are_woken_by_add() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    workers = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.add("a")
    q.add("b")
    pending = set(workers)
    while len(pending) > 1:
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0)
    assert sorted(t.result() for t in workers if t.done()) == ["a", "b"]
    assert len(pending) == 1 and not pending.copy().pop().done()
    q.shutdown()
    with pytest.raises(QueueShutDown):
        await pending.pop()


async def test_cancelled_getter_passes_its_wakeup_on() -> None:
    q: WorkQueue[str] = WorkQueue(clock=FakeClock())
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("a")  # wakes `first` …
    first.cancel()  # … which is cancelled before it runs
    assert await second == "a"


async def test_add_after_waits_for_the_clock() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("late", 10)
    q.add_after("soon", 2)
    q.add_after("late", 20)  # a later duplicate does not postpone the earlier deadline
    await clock.wait_for_sleepers(2)
    assert (len(q), q.delayed) == (0, 2)
    clock.advance(2)
    assert await q.get() == "soon"
    clock.advance(7.9)
    await asyncio.sleep(0)
    assert len(q) == 0
    clock.advance(0.1)
    assert await q.get() == "late"
    assert q.delayed == 0


async def test_earlier_add_after_replaces_later_one() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("k", 10)
    q.add_after("k", 1)
    await clock.wait_for_sleepers(2)
    clock.advance(1)
    assert await q.get() == "k"
    q.done("k")
    clock.advance(9)  # the superseded timer fires but adds nothing
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(q) == 0


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock, rate_limiter=ExponentialRateLimiter(base=1, cap=100))
    waits: list[float] = []
    for _ in range(4):
        start = clock.monotonic()
        q.add_rate_limited("k")
        await clock.wait_for_sleepers(1)
        clock.advance_to_next()
        assert await q.get() == "k"
        waits.append(clock.monotonic() - start)
        q.done("k")
    assert waits == [1, 2, 4, 8]
    assert q.retries("k") == 4
    q.forget("k")
    assert q.retries("k") == 0
    q.add_rate_limited("k")
    await clock.wait_for_sleepers(1)
    assert clock.next_deadline() == clock.monotonic() + 1


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.005), (1, 0.01), (10, 5.12), (18, 1000.0), (200, 1000.0)],
    ids=["first-retry-5ms", "doubles", "tenth-doubling", "capped-at-1000s", "no-overflow"])
def test_default_backoff_is_5ms_doubling_to_1000s(failures: int, delay: float) -> None:
    limiter = ExponentialRateLimiter()
    for _ in range(failures):
        limiter.when("k")
    assert limiter.when("k") == pytest.approx(delay)


async def test_shutdown_drains_then_stops_and_ignores_adds() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("b", 5)
    await clock.wait_for_sleepers(1)
    q.shutdown()
    q.add("c")
    assert q.shutting_down and q.delayed == 0
    assert await q.get() == "a"  # already-queued keys are still handed out
    with pytest.raises(QueueShutDown):
        await q.get()
    clock.advance(10)
    assert len(q) == 0
