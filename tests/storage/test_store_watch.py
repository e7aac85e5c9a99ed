"""Watch windows: replay, live events, filtering, expiry, overflow, bookmarks, closing."""

from __future__ import annotations

import asyncio

import pytest

from suanli.apimachinery.objects import deep_copy
from suanli.storage import ExpiredError, Store, Watcher, WatchEvent
from tests.storage.conftest import pod


async def drain(w: Watcher) -> list[WatchEvent]:
    out = []
    while (ev := await w.next(timeout=0)) is not None:
        out.append(ev)
    return out


def summary(events: list[WatchEvent]) -> list[tuple[str, int, str]]:
    return [(e.type, e.rv, e.obj.obj["metadata"]["name"]) for e in events]


async def test_replay_then_live_events(store: Store) -> None:
    for n in "abc":
        await store.create("pods", pod(n))
    w = store.watch("pods", since_rv=1)
    assert summary(await drain(w)) == [("ADDED", 2, "b"), ("ADDED", 3, "c")]
    upd = deep_copy(store.get("pods", "default", "a").obj)  # type: ignore[union-attr]
    await store.update("pods", upd)
    await store.delete("pods", "default", "b")
    events = await drain(w)
    assert summary(events) == [("MODIFIED", 4, "a"), ("DELETED", 5, "b")]
    modified, deleted = events
    assert modified.prev is not None and modified.prev.rv == 1
    assert deleted.obj.obj["metadata"]["resourceVersion"] == "5"
    assert deleted.prev is not None and deleted.prev.rv == 2


async def test_event_is_queued_before_the_write_returns(store: Store) -> None:
    w = store.watch("pods", since_rv=store.revision)
    so = await store.create("pods", pod("a"))
    ev = await w.next(timeout=0)
    assert ev is not None and ev.obj is so


async def test_since_rv_excludes_revisions_assigned_before_the_watch(store: Store) -> None:
    first = asyncio.ensure_future(store.create("pods", pod("a")))
    await asyncio.sleep(0)  # revision 1 assigned, commit still in flight
    result = store.list("pods")
    w = store.watch("pods", since_rv=result.revision)
    await first
    await store.create("pods", pod("b"))
    assert summary(await drain(w)) == [("ADDED", 2, "b")]


async def test_namespace_filter(store: Store) -> None:
    w = store.watch("pods", since_rv=0, namespace="kube")
    await store.create("pods", pod("a", ns="default"))
    await store.create("pods", pod("b", ns="kube"))
    assert summary(await drain(w)) == [("ADDED", 2, "b")]


async def test_other_buckets_are_not_delivered(store: Store) -> None:
    w = store.watch("pods", since_rv=0)
    await store.create("nodes", pod("n", ns=""))
    assert await w.next(timeout=0) is None


@pytest.mark.parametrize(
    ("since_rv", "expired", "replayed"),
    [(1, True, []), (2, True, []), (3, False, [4, 5]), (5, False, [])],
    ids=[
        "dropped-events-expire",
        "newest-dropped-rv-expires",
        "floor-rv-replays-rest",
        "current-rv-replays-none",
    ],
)
async def test_resume_before_the_window_floor_is_expired(
    since_rv: int, expired: bool, replayed: list[int]
) -> None:
    s = Store(None, window_size=2, compaction_interval=0)
    await s.start()
    try:
        for i in range(5):
            await s.create("pods", pod(f"p{i}"))
        # window holds rv 4, 5; floor is 3 (the newest dropped event)
        if expired:
            with pytest.raises(ExpiredError):
                s.watch("pods", since_rv=since_rv)
        else:
            assert [e.rv for e in await drain(s.watch("pods", since_rv=since_rv))] == replayed
    finally:
        await s.stop()


async def test_window_is_per_bucket() -> None:
    s = Store(None, window_size=2, compaction_interval=0)
    await s.start()
    try:
        await s.create("nodes", pod("n", ns=""))
        for i in range(5):
            await s.create("pods", pod(f"p{i}"))
        assert [e.rv for e in await drain(s.watch("nodes", since_rv=0))] == [1]
    finally:
        await s.stop()


async def test_overflowing_watcher_is_closed_and_raises_expired() -> None:
    s = Store(None, compaction_interval=0, watch_queue_limit=3)
    await s.start()
    try:
        w = s.watch("pods", since_rv=0)
        for i in range(4):
            await s.create("pods", pod(f"p{i}"))
        assert w.closed and w.expired
        with pytest.raises(ExpiredError):
            await w.next(timeout=0)
    finally:
        await s.stop()


async def test_idle_revision_is_none_while_events_are_queued(store: Store) -> None:
    await store.create("pods", pod("a"))
    w = store.watch("pods", since_rv=0)
    assert w.idle_revision() is None
    await drain(w)
    assert w.idle_revision() == 1
    await store.create("nodes", pod("n", ns=""))  # other bucket: still idle, bookmark advances
    assert w.idle_revision() == 2
    ahead = store.watch("pods", since_rv=10)
    assert ahead.idle_revision() == 10, "a bookmark never goes behind the resume point"


async def test_next_times_out_with_none_and_wakes_on_a_write(store: Store) -> None:
    w = store.watch("pods", since_rv=0)
    assert await w.next(timeout=0.01) is None
    waiting = asyncio.ensure_future(w.next(timeout=5))
    await store.create("pods", pod("a"))
    ev = await waiting
    assert ev is not None and ev.rv == 1


async def test_async_for_ends_when_watchers_are_dropped(store: Store) -> None:
    w = store.watch("pods", since_rv=0)
    other = store.watch("nodes", since_rv=0)

    async def consume() -> list[int]:
        return [ev.rv async for ev in w]

    task = asyncio.ensure_future(consume())
    await store.create("pods", pod("a"))
    await store.create("pods", pod("b"))
    store.drop_bucket_watchers("pods")
    assert await task == [1, 2]
    assert await w.next(timeout=0) is None
    assert w.closed and not other.closed


async def test_closed_watcher_gets_no_more_events(store: Store) -> None:
    w = store.watch("pods", since_rv=0)
    w.close()
    await store.create("pods", pod("a"))
    assert await w.next() is None
    assert w.idle_revision() is None


async def test_list_then_watch_is_gap_free_under_concurrent_writes(store: Store) -> None:
    writers = [asyncio.ensure_future(store.create("pods", pod(f"p{i}"))) for i in range(100)]
    await asyncio.sleep(0)
    for i in range(100, 120):  # more writes queued after the snapshot point
        writers.append(asyncio.ensure_future(store.create("pods", pod(f"p{i}"))))
    snapshot = store.list("pods")
    w = store.watch("pods", since_rv=snapshot.revision)
    writers.append(asyncio.ensure_future(store.create("pods", pod("late"))))
    await asyncio.gather(*writers)
    seen = {so.obj["metadata"]["name"] for so in snapshot.items}
    for ev in await drain(w):
        assert ev.obj.obj["metadata"]["name"] not in seen, "no duplicates"
        seen.add(ev.obj.obj["metadata"]["name"])
    assert seen == {so.obj["metadata"]["name"] for so in store.list("pods").items}
