"""Commit failures (full disk, I/O error, read-only file system) through a fault-injecting connection.

The shim wraps the writer thread's SQLite connection and makes ``COMMIT`` fail with the error
SQLite raises for the fault, optionally holding the failing commit until the test has queued
more writes behind it. The store must fail every uncommitted write, roll memory back to the
committed state, keep serving reads, and commit again once the fault is gone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from suanli.storage import Store, StoreError
from tests.storage.conftest import pod

FAULTS = [
    ("database or disk is full", "disk full"),
    ("disk I/O error", "I/O error"),
    ("attempt to write a readonly database", "read-only file system"),
]


class FaultyConnection:
    """Forwards to ``conn``; while ``failing``, ``COMMIT`` raises ``OperationalError(message)``."""

    def __init__(self, conn: sqlite3.Connection, message: str) -> None:
        self._conn = conn
        self.message = message
        self.failing = False
        self.hold: threading.Event | None = None  # set: the failing commit waits for it
        self.commit_entered = threading.Event()

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.failing:
            self.commit_entered.set()
            if self.hold is not None:
                assert self.hold.wait(10)
            raise sqlite3.OperationalError(self.message)
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def inject(store: Store, message: str) -> FaultyConnection:
    log = store._log
    assert log is not None
    shim = FaultyConnection(log._conn, message)
    log._conn = shim  # type: ignore[assignment]
    return shim


def snapshot(store: Store) -> dict[str, tuple[int, Any]]:
    return {so.obj["metadata"]["name"]: (so.rv, so.obj.get("spec")) for so in store.list("pods").items}


@pytest.mark.parametrize("message", [m for m, _ in FAULTS], ids=[i for _, i in FAULTS])
async def test_failed_commit_rejects_pending_writes_rolls_back_and_recovers(tmp_path: Path, message: str) -> None:
    s = Store(tmp_path / "data", compaction_interval=0)
    await s.start()
    try:
        a = await s.create("pods", pod("a"))
        b = await s.create("pods", pod("b"))
        committed = snapshot(s)
        watcher = s.watch("pods", since_rv=s.committed_revision)
        shim = inject(s, message)
        shim.failing, shim.hold = True, threading.Event()
        first = asyncio.ensure_future(s.create("pods", pod("c")))
        assert await asyncio.to_thread(shim.commit_entered.wait, 10)
        # queued behind the failing commit, on top of state it wrote to memory
        changed = dict(a.obj, spec={"containers": [{"name": "c", "image": "changed"}]})
        behind = [asyncio.ensure_future(s.update("pods", changed)),
                  asyncio.ensure_future(s.delete("pods", "default", "b")),
                  asyncio.ensure_future(s.update("pods", dict(pod("c"), spec={"x": 1})))]
        await asyncio.sleep(0)
        assert s.get("pods", "default", "c") is not None  # memory is ahead of the log while in flight
        shim.hold.set()
        results = await asyncio.gather(first, *behind, return_exceptions=True)
        assert all(isinstance(r, StoreError) and message in str(r) for r in results), results
        assert snapshot(s) == committed  # reads keep working and show the committed state
        assert s.get("pods", "default", "c") is None
        assert s.get("pods", "default", "b") == b
        assert await watcher.next(timeout=0) is None  # nothing uncommitted was published
        assert s.commit_failures == 1

        shim.failing = False  # space returns
        d = await s.create("pods", pod("d"))
        b2 = await s.update("pods", dict(b.obj, spec={"y": 2}))
        assert d.rv > b.rv and b2.rv > d.rv
        ev = await watcher.next(timeout=1)
        assert ev is not None and ev.type == "ADDED" and ev.rv == d.rv
    finally:
        await s.stop()
    again = Store(tmp_path / "data", compaction_interval=0)
    await again.start()
    try:
        assert set(snapshot(again)) == {"a", "b", "d"}
        assert again.get("pods", "default", "b").obj["spec"] == {"y": 2}  # type: ignore[union-attr]
        assert again.revision >= b2.rv
    finally:
        await again.stop()


async def test_repeated_failures_keep_the_store_consistent_and_writable(tmp_path: Path) -> None:
    s = Store(tmp_path / "data", compaction_interval=0)
    await s.start()
    try:
        shim = inject(s, "database or disk is full")
        acked: dict[str, int] = {}
        for round_ in range(6):
            shim.failing = round_ % 2 == 0
            results = await asyncio.gather(*(s.create("pods", pod(f"p{round_}-{i}")) for i in range(20)),
                                           return_exceptions=True)
            for i, r in enumerate(results):
                if not isinstance(r, BaseException):
                    acked[f"p{round_}-{i}"] = r.rv
            assert {n: rv for n, (rv, _) in snapshot(s).items()} == acked
        assert len(acked) == 60 and s.commit_failures == 3
    finally:
        await s.stop()


def _wal(page_size: int, salts: bytes, frames: list[bytes]) -> bytes:
    header = (0x377F0682).to_bytes(4, "big") + (3007000).to_bytes(4, "big") + page_size.to_bytes(4, "big") + \
        b"\0\0\0\1" + salts + b"\0" * 8
    return header + b"".join(frames)


def _frame(page_size: int, salts: bytes, commit: bool) -> bytes:
    return b"\0\0\0\1" + (b"\0\0\0\2" if commit else b"\0\0\0\0") + salts + b"\x55" * 8 + b"\xaa" * page_size


SALTS, OLD_SALTS = b"\1\2\3\4\5\6\7\x08", b"\x09" * 8
# frames in the file, frames SQLite kept, expected tail bytes
TAILS = [
    ([_frame(512, SALTS, True)] * 2, 2, 0),
    ([_frame(512, SALTS, True)] * 2 + [_frame(512, OLD_SALTS, False)] * 3, 2, 0),
    ([_frame(512, SALTS, True)] * 2 + [_frame(512, SALTS, True)[:100]], 2, 100),
    ([_frame(512, SALTS, True)] * 2 + [_frame(512, SALTS, False)] * 2, 2, 2 * (24 + 512)),
    ([_frame(512, SALTS, True)] * 3, 1, 2 * (24 + 512)),
    ([], 0, 0),
]


@pytest.mark.parametrize(("frames", "good", "tail"), TAILS, ids=[
    "clean end", "older generation frames after the end are normal", "partial frame is torn",
    "unfinished transaction of this generation is torn", "frames SQLite rejected (bad checksum) are torn",
    "header only"])
def test_wal_tail_classification(frames: list[bytes], good: int, tail: int) -> None:
    from suanli.storage._sqlite_log import wal_tail_bytes

    assert wal_tail_bytes(_wal(512, SALTS, frames), good) == tail


def _append_torn_tail(wal_path: Path, kind: str) -> None:
    data = wal_path.read_bytes()
    page_size = int.from_bytes(data[8:12], "big")
    salts = data[16:24]
    if kind == "partial frame":
        extra = b"\1\0\0\0" + b"\xee" * 700
    elif kind == "unfinished transaction":
        extra = _frame(page_size, salts, False) * 2
    else:  # a commit frame whose checksum does not match (bit rot, torn sector)
        extra = _frame(page_size, salts, True)
    wal_path.write_bytes(data + extra)


@pytest.mark.parametrize("kind", ["partial frame", "unfinished transaction", "corrupted commit frame"])
async def test_torn_wal_tail_after_sigkill_is_truncated_loudly_and_loses_no_acknowledged_write(
        tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    from tests.storage.test_store_durability import kill_writer_after

    data_dir = tmp_path / "data"
    acknowledged, _ = kill_writer_after(data_dir, 500, 60)
    assert len(acknowledged) >= 500
    wal_path = data_dir / "store.db-wal"
    _append_torn_tail(wal_path, kind)

    s = Store(data_dir, compaction_interval=0)
    with caplog.at_level("ERROR", logger="suanli.storage._sqlite_log"):
        await s.start()
    try:
        loud = [r.getMessage() for r in caplog.records if "STORE RECOVERY" in r.getMessage()]
        assert len(loud) == 1 and "torn or corrupted tail" in loud[0]
        assert [n for n in acknowledged if s.get("configmaps", "default", n) is None] == []
        assert wal_path.stat().st_size == 0  # the tail is gone, every good commit is in store.db
        after = await s.create("configmaps", {"metadata": {"name": "after", "namespace": "default"}})
        assert after.rv > s.count("configmaps") - 1
    finally:
        await s.stop()
    caplog.clear()
    again = Store(data_dir, compaction_interval=0)
    with caplog.at_level("ERROR", logger="suanli.storage._sqlite_log"):
        await again.start()
    try:
        assert not [r for r in caplog.records if "STORE RECOVERY" in r.getMessage()]
        assert again.get("configmaps", "default", "after") is not None
    finally:
        await again.stop()


async def test_ttl_expiry_survives_a_failed_commit_and_runs_again(tmp_path: Path) -> None:
    from tests.storage.conftest import FakeClock

    clock = FakeClock()
    s = Store(tmp_path / "data", compaction_interval=0, ttl_buckets={"events": 10.0}, clock=clock,
              ttl_check_interval=0.01)
    await s.start()
    try:
        await s.create("events", pod("e1"))
        shim = inject(s, "database or disk is full")
        shim.failing = True
        clock.now += 60
        await asyncio.wait_for(_until(lambda: s.commit_failures >= 2), 30)  # the task tried, failed, tried again
        shim.failing = False
        await asyncio.wait_for(_until(lambda: s.get("events", "default", "e1") is None), 30)
    finally:
        await s.stop()


async def _until(pred: Any) -> None:
    while not pred():
        await asyncio.sleep(0.01)  # polling the store's own background task, bounded by wait_for
