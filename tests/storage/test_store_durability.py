"""Durability on a real SQLite file: restart recovery, compaction, TTL, locking, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from suanli.apimachinery.objects import deep_copy
from suanli.storage import ExpiredError, Store, StoreError, Watcher, WatchEvent
from tests.storage.conftest import FakeClock, pod


async def drain(w: Watcher) -> list[WatchEvent]:
    out = []
    while (ev := await w.next(timeout=0)) is not None:
        out.append(ev)
    return out


def log_rows(data_dir: Path) -> int:
    conn = sqlite3.connect(data_dir / "store.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM log").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("fsync", [False, True], ids=["synchronous-normal", "synchronous-full"])
async def test_restart_restores_objects_and_continues_revisions(data_dir: Path, fsync: bool) -> None:
    s = Store(data_dir, fsync=fsync, compaction_interval=0)
    await s.start()
    a = await s.create("pods", pod("a"))
    await s.create("pods", pod("b", ns="kube"))
    await s.update("pods", deep_copy(a.obj))
    await s.delete("pods", "kube", "b")
    await s.create("nodes", pod("n1", ns=""))
    await s.stop()

    s2 = Store(data_dir, fsync=fsync, compaction_interval=0)
    await s2.start()
    try:
        assert s2.revision == s2.committed_revision == 5
        got = s2.get("pods", "default", "a")
        assert got is not None and got.rv == 3 and got.obj["metadata"]["resourceVersion"] == "3"
        assert s2.get("pods", "kube", "b") is None
        assert s2.buckets() == ["nodes", "pods"]
        assert (await s2.create("pods", pod("c"))).rv == 6
    finally:
        await s2.stop()


async def test_watch_resumes_across_restart_without_gap_or_duplicate(data_dir: Path) -> None:
    s = Store(data_dir, compaction_interval=0)
    await s.start()
    a = await s.create("pods", pod("a"))
    w = s.watch("pods", since_rv=0)
    await s.create("pods", pod("b"))
    seen = await drain(w)
    resume = seen[-1].rv
    await s.update("pods", deep_copy(a.obj))  # missed by the client
    await s.delete("pods", "default", "b")  # missed by the client
    await s.stop()

    s2 = Store(data_dir, compaction_interval=0)
    await s2.start()
    try:
        w2 = s2.watch("pods", since_rv=resume)
        await s2.create("pods", pod("c"))
        events = await drain(w2)
        assert [(e.type, e.rv) for e in events] == [("MODIFIED", 3), ("DELETED", 4), ("ADDED", 5)]
        assert events[0].prev is not None and events[0].prev.rv == 1, "prev is restored from the log"
        assert events[1].obj.obj["metadata"]["resourceVersion"] == "4"
    finally:
        await s2.stop()


@pytest.mark.parametrize(
    ("window_after_restart", "since_rv", "expected"),
    [(3, 2, None), (3, 3, [4, 5, 6]), (100, 0, [1, 2, 3, 4, 5, 6])],
    ids=["older-than-refilled-window-expires", "refilled-window-replays", "large-window-refills-everything"],
)
async def test_restart_refills_window_from_log_tail(
    data_dir: Path, window_after_restart: int, since_rv: int, expected: list[int] | None
) -> None:
    s = Store(data_dir, compaction_interval=0)
    await s.start()
    for i in range(6):
        await s.create("pods", pod(f"p{i}"))
    await s.stop()
    s2 = Store(data_dir, window_size=window_after_restart, compaction_interval=0)
    await s2.start()
    try:
        if expected is None:
            with pytest.raises(ExpiredError):
                s2.watch("pods", since_rv=since_rv)
        else:
            assert [e.rv for e in await drain(s2.watch("pods", since_rv=since_rv))] == expected
    finally:
        await s2.stop()


async def test_compaction_keeps_the_log_bounded_under_churn(data_dir: Path) -> None:
    s = Store(data_dir, keep_revisions=10, compaction_interval=0)
    await s.start()
    try:
        live = [await s.create("pods", pod(f"p{i}")) for i in range(5)]
        for _round in range(3):
            for _ in range(40):
                live = [await s.update("pods", deep_copy(so.obj)) for so in live]
            for i in range(20):
                await s.create("pods", pod(f"tmp{i}"))
                await s.delete("pods", "default", f"tmp{i}")
            assert log_rows(data_dir) > 200
            compact_rev = await s.compact()
            assert compact_rev == s.committed_revision - 10
            # 5 live rows at or below the compact revision, then at most 10 rows after it
            # plus their (at most 10) predecessors.
            assert log_rows(data_dir) <= 5 + 10 + 10
            assert os.path.getsize(data_dir / "store.db-wal") == 0, "WAL truncated"
        final_rev = s.revision
    finally:
        await s.stop()

    s2 = Store(data_dir, keep_revisions=10, compaction_interval=0)
    await s2.start()
    try:
        assert s2.revision == final_rev
        assert [so.rv for so in s2.list("pods").items] == [so.rv for so in live]
        with pytest.raises(ExpiredError):
            s2.watch("pods", since_rv=compact_rev - 1)
        replay = await drain(s2.watch("pods", since_rv=compact_rev))
        assert [e.rv for e in replay] == list(range(compact_rev + 1, final_rev + 1))
    finally:
        await s2.stop()


async def test_revision_never_goes_backwards_after_compacting_the_tail(data_dir: Path) -> None:
    s = Store(data_dir, keep_revisions=0, compaction_interval=0)
    await s.start()
    await s.create("pods", pod("a"))
    await s.delete("pods", "default", "a")
    assert await s.compact() == 2
    await s.stop()
    assert log_rows(data_dir) == 0
    s2 = Store(data_dir, compaction_interval=0)
    await s2.start()
    try:
        assert s2.revision == 2
        assert (await s2.create("pods", pod("a"))).rv == 3
    finally:
        await s2.stop()


async def test_ttl_expiry_deletes_through_the_normal_path() -> None:
    clock = FakeClock()
    s = Store(None, ttl_buckets={"events": 60.0}, clock=clock, compaction_interval=0)
    await s.start()
    try:
        await s.create("events", pod("old"))
        await s.create("pods", pod("not-ttl"))
        clock.now += 30
        await s.create("events", pod("young"))
        refreshed = await s.create("events", pod("refreshed"))
        clock.now += 20
        await s.update("events", deep_copy(refreshed.obj))
        w = s.watch("events", since_rv=s.revision)
        clock.now += 11  # old: 61 s, young: 31 s, refreshed: 11 s since last write
        assert await s.expire_now() == 1
        assert [(e.type, e.obj.obj["metadata"]["name"]) for e in await drain(w)] == [("DELETED", "old")]
        clock.now += 30  # young: 61 s
        assert await s.expire_now() == 1
        assert [so.obj["metadata"]["name"] for so in s.list("events").items] == ["refreshed"]
        assert s.get("pods", "default", "not-ttl") is not None
    finally:
        await s.stop()


async def test_ttl_survives_restart(data_dir: Path) -> None:
    clock = FakeClock()
    s = Store(data_dir, ttl_buckets={"events": 60.0}, clock=clock, compaction_interval=0)
    await s.start()
    await s.create("events", pod("e"))
    await s.stop()
    clock.now += 61
    s2 = Store(data_dir, ttl_buckets={"events": 60.0}, clock=clock, compaction_interval=0)
    await s2.start()
    try:
        assert s2.count("events") == 1
        assert await s2.expire_now() == 1
        assert s2.count("events") == 0
    finally:
        await s2.stop()


async def test_second_store_on_the_same_directory_is_refused(data_dir: Path) -> None:
    s = Store(data_dir, compaction_interval=0)
    await s.start()
    try:
        with pytest.raises(StoreError):
            await Store(data_dir, compaction_interval=0).start()
    finally:
        await s.stop()
    again = Store(data_dir, compaction_interval=0)
    await again.start()
    await again.stop()


_CRASH_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from suanli.storage import Store

    async def main() -> None:
        store = Store(Path(sys.argv[1]), compaction_interval=0)
        await store.start()

        async def writer(k: int) -> None:
            i = 0
            while True:
                name = f"w{k}-{i}"
                obj = {"metadata": {"name": name, "namespace": "default"}, "data": {"x": "y" * 500}}
                await store.create("configmaps", obj)
                print(name, flush=True)
                i += 1

        await asyncio.gather(*(writer(k) for k in range(16)))

    asyncio.run(main())
    """
)


def kill_writer_after(data_dir: Path, count: int, timeout: float) -> tuple[list[str], int]:
    """Run the crash writer on ``data_dir``, SIGKILL it once it acknowledged ``count`` writes (or after
    ``timeout`` seconds); the names it acknowledged and its return code."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_WRITER, str(data_dir)], stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + timeout
    while len(acknowledged) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    return acknowledged + rest.split(), proc.returncode


async def test_sigkill_loses_no_acknowledged_write(data_dir: Path) -> None:
    acknowledged, returncode = kill_writer_after(data_dir, 2000, 30)
    assert returncode == -signal.SIGKILL
    assert len(acknowledged) >= 2000, "the writer was killed mid-way, after many acknowledgements"

    s = Store(data_dir, compaction_interval=0)
    await s.start()
    try:
        missing = [n for n in acknowledged if s.get("configmaps", "default", n) is None]
        assert missing == []
        assert s.revision >= len(acknowledged)
        assert s.count("configmaps") == s.revision, "every committed revision is one create"
    finally:
        await s.stop()
