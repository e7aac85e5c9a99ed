"""Bounded memory under churn: watch windows by age and count, nothing kept for deleted objects.

Structural bounds only (what the store holds), never timing or RSS: the soak benchmark
(``bench/bench_soak.py``) measures the process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.storage import ExpiredError, Store
from tests.storage.conftest import FakeClock, pod

FRESH = 75.0


async def _lifecycle(s: Store, name: str, node: str) -> None:
    """create → bound → Running → Succeeded → deleted, like a short pod."""
    await s.create("pods", pod(name))
    for step in ({"nodeName": node}, {"phase": "Running"}, {"phase": "Succeeded"}):
        cur = s.get("pods", "default", name)
        assert cur is not None
        obj = {**cur.obj, "spec": {**cur.obj["spec"]}, "status": dict(cur.obj.get("status") or {})}
        if "nodeName" in step:
            obj["spec"]["nodeName"] = step["nodeName"]
        else:
            obj["status"]["phase"] = step["phase"]
        await s.update("pods", obj)
    await s.delete("pods", "default", name)


@pytest.mark.parametrize("writes, min_size, expected", [
    pytest.param(50, 10, 10, id="keeps-the-newest-min-size-events"),
    pytest.param(5, 10, 5, id="fewer-than-min-size-are-all-kept"),
    pytest.param(50, 0, 0, id="min-size-zero-empties-the-window"),
])
async def test_idle_window_drops_events_older_than_the_fresh_duration(writes: int, min_size: int,
                                                                       expected: int) -> None:
    clock = FakeClock()
    s = Store(None, compaction_interval=0, clock=clock, window_min=min_size, window_fresh=FRESH,
              window_trim_interval=0)
    await s.start()
    try:
        for i in range(writes):
            await s.create("pods", pod(f"p{i}"))
        clock.now += FRESH - 1
        assert s.trim_windows() == 0  # still fresh
        assert s.window_lengths()["pods"] == writes
        clock.now += 2
        assert s.trim_windows() == writes - expected
        assert s.window_lengths()["pods"] == expected
    finally:
        await s.stop()


async def test_commits_trim_the_window_so_it_holds_only_the_last_fresh_duration() -> None:
    clock = FakeClock()
    s = Store(None, compaction_interval=0, clock=clock, window_min=5, window_fresh=10.0, window_trim_interval=0)
    await s.start()
    try:
        for i in range(100):  # one write per simulated second
            await s.create("pods", pod(f"p{i}"))
            clock.now += 1.0
            assert s.window_lengths()["pods"] <= 11
    finally:
        await s.stop()


async def test_count_bound_holds_even_when_every_event_is_fresh() -> None:
    s = Store(None, compaction_interval=0, window_size=20, window_min=5)
    await s.start()
    try:
        for i in range(100):
            await s.create("pods", pod(f"p{i}"))
        assert s.window_lengths()["pods"] == 20
    finally:
        await s.stop()


async def test_a_watcher_that_keeps_up_survives_trimming_and_a_lagging_resume_is_expired() -> None:
    clock = FakeClock()
    s = Store(None, compaction_interval=0, clock=clock, window_min=1, window_fresh=FRESH, window_trim_interval=0)
    await s.start()
    try:
        first = await s.create("pods", pod("a"))
        w = s.watch("pods", since_rv=first.rv)
        for i in range(5):
            await s.create("pods", pod(f"b{i}"))
        seen = [await w.next(timeout=1) for _ in range(5)]
        last = seen[-1]
        assert last is not None
        clock.now += FRESH + 1
        assert s.trim_windows() == 5
        w.close()
        resumed = s.watch("pods", since_rv=last.rv)  # up to date: nothing to replay, not expired
        await s.create("pods", pod("c"))
        ev = await resumed.next(timeout=1)
        assert ev is not None and ev.obj.obj["metadata"]["name"] == "c"
        resumed.close()
        with pytest.raises(ExpiredError):
            s.watch("pods", since_rv=first.rv)
    finally:
        await s.stop()


async def test_window_keeps_encoded_bytes_and_replays_fresh_equal_objects(store: Store) -> None:
    created = await store.create("pods", pod("a"))
    obj = {**created.obj, "status": {"phase": "Running"}}
    updated = await store.update("pods", obj)
    deleted = await store.delete("pods", "default", "a")
    win = store._windows["pods"]
    for entry in win.events:  # no decoded object trees are retained
        assert all(isinstance(part, int | str | bytes | type(None)) for part in entry)
    replay = [ev async for ev in _drain(store.watch("pods", since_rv=created.rv - 1), 3)]
    assert [(e.type, e.rv) for e in replay] == [("ADDED", created.rv), ("MODIFIED", updated.rv),
                                                ("DELETED", deleted.rv)]
    assert replay[1].obj.obj == updated.obj and replay[1].obj.obj is not updated.obj
    assert replay[1].prev is not None and replay[1].prev.raw == created.raw
    assert replay[1].prev.obj["metadata"]["resourceVersion"] == str(created.rv)
    assert replay[2].prev is not None and replay[2].prev.raw == updated.raw
    assert replay[0].prev is None


async def _drain(w, n: int):  # type: ignore[no-untyped-def]
    for _ in range(n):
        ev = await w.next(timeout=1)
        assert ev is not None
        yield ev
    w.close()


async def test_pod_churn_leaves_nothing_for_deleted_pods_beyond_the_window() -> None:
    clock = FakeClock()
    s = Store(None, compaction_interval=0, clock=clock, window_min=10, window_fresh=FRESH, window_trim_interval=0)
    await s.start()
    s.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
    try:
        for i in range(300):
            await _lifecycle(s, f"p{i:04d}", f"n{i % 7}")
        assert s.window_lengths()["pods"] == 5 * 300  # all fresh: history kept for resumes
        clock.now += FRESH + 1
        s.trim_windows()
        state = s._buckets["pods"]
        assert s.count("pods") == 0
        assert state.by_ns == {} and state.names == {} and state.sorted_ns == []
        idx = state.indexes["spec.nodeName"]
        assert idx.keys_by_value == {} and idx.values_by_key == {}
        assert s.window_lengths()["pods"] == 10
        assert s.list("pods", index=("spec.nodeName", "n1")).items == []
    finally:
        await s.stop()


async def test_restart_trims_recovered_history_by_its_write_time(tmp_path: Path) -> None:
    clock = FakeClock()
    s = Store(tmp_path, compaction_interval=0, clock=clock, window_min=2, window_fresh=FRESH)
    await s.start()
    for i in range(10):
        await s.create("pods", pod(f"old{i}"))
    clock.now += FRESH + 1
    await s.create("pods", pod("new"))
    await s.stop()
    s2 = Store(tmp_path, compaction_interval=0, clock=clock, window_min=2, window_fresh=FRESH)
    await s2.start()
    try:
        assert s2.window_lengths()["pods"] == 2  # the fresh event and the newest old one (min size)
        assert s2.count("pods") == 11
    finally:
        await s2.stop()


def _retained_bytes(s: Store, bucket: str) -> int:
    return sum(len(entry[2]) for entry in s._windows[bucket].events)


@pytest.mark.parametrize("budget_events, min_size, expected", [
    pytest.param(7, 2, 7, id="keeps-the-newest-events-that-fit-the-byte-budget"),
    pytest.param(1, 3, 3, id="min-size-wins-over-the-byte-budget"),
    pytest.param(40, 2, 30, id="under-the-budget-everything-fresh-is-kept"),
])
async def test_byte_budget_bounds_a_window_of_fresh_events(budget_events: int, min_size: int,
                                                           expected: int) -> None:
    one = len(await _probe_size())
    s = Store(None, compaction_interval=0, window_min=min_size, window_bytes=budget_events * one)
    await s.start()
    try:
        await _two_digit_revisions(s)
        written = [await s.create("pods", pod(f"p{i:03d}")) for i in range(30)]  # equal sizes
        assert s.window_lengths()["pods"] == expected
        assert s.window_bytes()["pods"] == _retained_bytes(s, "pods") == expected * one
        oldest_kept = written[-expected]
        replay = s.watch("pods", since_rv=oldest_kept.rv - 1)  # resume at the floor: replayed
        ev = await replay.next(timeout=1)
        assert ev is not None and ev.rv == oldest_kept.rv
        replay.close()
        if expected < len(written):
            with pytest.raises(ExpiredError):  # older than the floor: 410, the client re-lists
                s.watch("pods", since_rv=oldest_kept.rv - 2)
    finally:
        await s.stop()


async def _two_digit_revisions(s: Store) -> None:
    """Nine writes elsewhere, so the next 90 pods' resourceVersions (hence sizes) are equal."""
    for i in range(9):
        await s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "default"}})


async def _probe_size() -> bytes:
    s = Store(None, compaction_interval=0)
    await s.start()
    try:
        await _two_digit_revisions(s)
        return (await s.create("pods", pod("p000"))).raw
    finally:
        await s.stop()


async def test_a_live_watcher_gets_every_event_although_the_byte_budget_drops_them() -> None:
    s = Store(None, compaction_interval=0, window_min=0, window_bytes=1)
    await s.start()
    try:
        w = s.watch("pods", since_rv=s.revision)
        for i in range(20):
            await s.create("pods", pod(f"p{i}"))
        names = []
        for _ in range(20):
            ev = await w.next(timeout=1)
            assert ev is not None
            names.append(ev.obj.obj["metadata"]["name"])
        assert names == [f"p{i}" for i in range(20)]
        assert s.window_lengths()["pods"] == 0 and s.window_bytes()["pods"] == 0
        w.close()
    finally:
        await s.stop()


async def test_retained_byte_count_stays_exact_through_count_age_and_byte_trims() -> None:
    clock = FakeClock()
    s = Store(None, compaction_interval=0, clock=clock, window_size=25, window_min=3, window_fresh=FRESH,
              window_trim_interval=0, window_bytes=20_000)
    await s.start()
    try:
        for i in range(120):
            await _lifecycle(s, f"p{i:04d}" + "x" * (i % 17) * 40, f"n{i % 3}")  # varied sizes
            assert s.window_bytes()["pods"] == _retained_bytes(s, "pods") <= 20_000
            if i % 13 == 0:
                clock.now += FRESH + 1
                s.trim_windows()
                assert s.window_bytes()["pods"] == _retained_bytes(s, "pods")
                assert s.window_lengths()["pods"] == 3
    finally:
        await s.stop()
