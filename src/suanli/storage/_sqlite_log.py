"""The SQLite write-ahead log: schema, group-committing writer thread, recovery, compaction.

Schema (kine-like, one row per write; ``rev`` is the global revision)::

    log(rev INTEGER PRIMARY KEY, bucket, namespace, name,
        type INTEGER,       -- 0 ADDED, 1 MODIFIED, 2 DELETED
        prev_rev INTEGER,   -- rev of the key's previous row (0 for ADDED)
        ts REAL,            -- write time (store clock), used for TTL after restart
        value BLOB)         -- orjson bytes of the object; for DELETED the last state
    meta(key TEXT PRIMARY KEY, value INTEGER)   -- 'revision' and 'compact'

Compaction to revision ``t`` deletes every row whose successor has ``rev <= t`` and every
tombstone with ``rev <= t``. The log then still holds the full state as of ``t`` plus all
rows after ``t``, so each row after ``t`` can find its predecessor (``prev`` of events).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from suanli.storage._types import EventType, StoredObject, StoreError, WatchEvent

__all__ = ["EVENT_CODES", "Recovered", "SqliteLog", "compact_log", "open_db", "recover", "wal_tail_bytes"]

T = TypeVar("T")
log = logging.getLogger(__name__)

EVENT_CODES: dict[str, int] = {"ADDED": 0, "MODIFIED": 1, "DELETED": 2}
_EVENT_NAMES: tuple[EventType, EventType, EventType] = ("ADDED", "MODIFIED", "DELETED")
_DELETED = 2

#: A log row as inserted: (rev, bucket, namespace, name, type, prev_rev, ts, value).
Row = tuple[int, str, str, str, int, int, float, bytes]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    bucket TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    type INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    ts REAL NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(key, value) VALUES ('revision', 0), ('compact', 0);
"""

INSERT_SQL = (
    "INSERT INTO log(rev, bucket, namespace, name, type, prev_rev, ts, value) VALUES (?,?,?,?,?,?,?,?)"
)
_ROWS_PER_INSERT = 500  # 8 parameters per row; SQLite allows 32,766 per statement
_multi_insert_sql: dict[int, str] = {}


def _insert_sql(n: int) -> str:
    """``INSERT_SQL`` for ``n`` rows in one statement (cached per ``n``)."""
    sql = _multi_insert_sql.get(n)
    if sql is None:
        sql = _multi_insert_sql[n] = INSERT_SQL + ",(?,?,?,?,?,?,?,?)" * (n - 1)
    return sql


def _insert_rows(conn: sqlite3.Connection, rows: list[Row]) -> None:
    """Insert ``rows`` with multi-row statements: one statement per :data:`_ROWS_PER_INSERT` rows
    rather than one step per row, so the writer thread gives up and re-takes the GIL a few times
    per batch instead of once per row (each re-take can wait for the busy event loop thread)."""
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start:start + _ROWS_PER_INSERT]
        conn.execute(_insert_sql(len(chunk)), list(itertools.chain.from_iterable(chunk)))


_SCAN_SQL = "SELECT rev, bucket, namespace, name, type, prev_rev, ts, value FROM log ORDER BY rev"
_SET_REV_SQL = "UPDATE meta SET value = ? WHERE key = 'revision'"


_WAL_HEADER = 32
_FRAME_HEADER = 24


def wal_tail_bytes(wal: bytes, good_frames: int) -> int:
    """Bytes of ``wal`` (a WAL file's content) that are a torn or corrupt tail after ``good_frames`` frames.

    SQLite's recovery keeps the frames up to the last valid commit frame (``good_frames``, as
    ``PRAGMA wal_checkpoint`` reports them) and ignores the rest. The rest is normal when it is
    frames of an older WAL generation (other salts, left behind because a reset WAL is
    overwritten rather than truncated); it is a torn tail when it is a partial frame, or frames
    of the current generation (same salts) — an unfinished or corrupted transaction. Returns
    the tail's length in bytes, 0 when the WAL ends cleanly.
    """
    if len(wal) < _WAL_HEADER:
        return len(wal)  # even the header is incomplete
    page_size = int.from_bytes(wal[8:12], "big")
    frame = _FRAME_HEADER + page_size
    end = _WAL_HEADER + good_frames * frame
    rest = len(wal) - end
    if rest <= 0:
        return 0
    if rest < frame:
        return rest
    if wal[end + 8:end + 16] == wal[16:24]:  # the next frame carries this generation's salts
        return rest
    return 0


def _discard_torn_wal_tail(conn: sqlite3.Connection, path: Path) -> None:
    """Detect a torn or corrupted WAL tail (see :func:`wal_tail_bytes`), say so loudly, and truncate it.

    SQLite already ignores such a tail; checkpointing with TRUNCATE moves every good commit
    into the database and empties the WAL, so the tail cannot be mistaken for data later.
    """
    wal_path = path.with_name(path.name + "-wal")
    try:
        wal = wal_path.read_bytes()
    except FileNotFoundError:
        return
    if not wal:
        return
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    good = int(row[1]) if row is not None and int(row[1]) >= 0 else 0
    tail = wal_tail_bytes(wal, good)
    if tail == 0:
        return
    log.error("STORE RECOVERY: %s ends in a torn or corrupted tail: %d bytes after the last good commit "
              "(frame %d) are discarded; every commit up to that frame is kept", wal_path, tail, good)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def open_db(path: Path | None, *, fsync: bool) -> sqlite3.Connection:
    """Open (creating if needed) ``path`` or an in-memory database and apply the schema.

    A torn or corrupted tail of the WAL (a crash in the middle of a commit, a bad sector at
    the end) is detected, logged and truncated before anything is written (see
    :func:`wal_tail_bytes`). The connection is in autocommit mode (transactions are explicit)
    and may be handed to one other thread (``check_same_thread=False``); only one thread uses
    it at a time.
    """
    target = ":memory:" if path is None else str(path)
    conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    if path is not None:
        _discard_torn_wal_tail(conn, path)
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.executescript(_SCHEMA)
    return conn


@dataclass
class Recovered:
    """State rebuilt from the log at startup."""

    revision: int = 0
    compact_rev: int = 0
    #: Live objects: (bucket, namespace, name, object, last write time).
    objects: list[tuple[str, str, str, StoredObject, float]] = field(default_factory=list)
    #: Per bucket: (window floor, [(event, namespace, write time)] oldest first).
    windows: dict[str, tuple[int, list[tuple[WatchEvent, str, float]]]] = field(default_factory=dict)
    #: History rows no decoder could read (their events were left out of the windows).
    undecodable: int = 0


def _decoded(rows: Iterable[Row], decode: Callable[[int, str, str, str, bytes], bytes],
             bad: set[int]) -> Iterator[Row]:
    """``rows`` with their values decoded; a row ``decode`` rejects (``StoreError``) gets an empty
    value and its revision is added to ``bad``."""
    for row in rows:
        try:
            yield (*row[:7], decode(row[0], row[1], row[2], row[3], row[7]))
        except StoreError:
            bad.add(row[0])
            yield (*row[:7], b"")


def _drop_undecodable(latest: dict[tuple[str, str, str], Row], tails: dict[str, deque[Row]],
                      floors: dict[str, int], bad: set[int]) -> int:
    """Move each window's floor past the newest event that is, or follows, an undecodable row (a
    watcher resuming before it re-lists, as after compaction). Raises StoreError if a live object
    itself cannot be decoded. Returns how many history rows were undecodable."""
    for row in latest.values():
        if row[0] in bad and row[4] != _DELETED:
            raise StoreError(f"cannot decode the stored value of {row[1]} {row[2]}/{row[3]} (revision {row[0]}): "
                             "no configured encryption key reads it")
    for bucket, tail in tails.items():
        cut = max((i for i, row in enumerate(tail) if row[0] in bad or row[5] in bad), default=-1)
        if cut >= 0:
            floors[bucket] = tail[cut][0]
            for _ in range(cut + 1):
                tail.popleft()
    return len(bad)


def _meta(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def recover(conn: sqlite3.Connection, window_size: int,
            decode: Callable[[int, str, str, str, bytes], bytes] | None = None) -> Recovered:
    """Read the whole log once (it is bounded by compaction) and rebuild the state.

    ``decode(rev, bucket, namespace, name, value)``, when given, turns each logged value into the
    object's JSON bytes (encryption at rest) before anything else reads it.

    Windows hold, per bucket, the last ``window_size`` rows after the compact revision;
    the floor is the newest row that did not fit (or the compact revision).
    """
    out = Recovered(compact_rev=_meta(conn, "compact"))
    compact = out.compact_rev
    max_rev = 0
    latest: dict[tuple[str, str, str], Row] = {}
    tails: dict[str, deque[Row]] = {}
    floors: dict[str, int] = {}
    undecodable: set[int] = set()
    rows = conn.execute(_SCAN_SQL) if decode is None else _decoded(conn.execute(_SCAN_SQL), decode, undecodable)
    for row in rows:
        rev, bucket = row[0], row[1]
        max_rev = rev
        latest[(bucket, row[2], row[3])] = row
        if rev <= compact:
            continue
        tail = tails.get(bucket)
        if tail is None:
            tail = tails[bucket] = deque()
            floors[bucket] = compact
        if window_size <= 0:
            floors[bucket] = rev
            continue
        if len(tail) >= window_size:
            floors[bucket] = tail.popleft()[0]
        tail.append(row)
    out.revision = max(_meta(conn, "revision"), max_rev)
    if undecodable:
        out.undecodable = _drop_undecodable(latest, tails, floors, undecodable)

    by_rev: dict[int, StoredObject] = {}
    for (bucket, ns, name), row in latest.items():
        if row[4] == _DELETED:
            continue
        so = StoredObject(row[0], orjson.loads(row[7]), row[7])
        by_rev[row[0]] = so
        out.objects.append((bucket, ns, name, so, row[6]))

    missing: set[int] = set()
    for tail in tails.values():
        for row in tail:
            if row[0] not in by_rev:
                by_rev[row[0]] = StoredObject(row[0], orjson.loads(row[7]), row[7])
    for tail in tails.values():
        missing.update(row[5] for row in tail if row[5] and row[5] not in by_rev)
    ids = sorted(missing)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        marks = ",".join("?" * len(chunk))
        # only "?" placeholders are formatted in; the values are bound parameters
        sql = f"SELECT rev, bucket, namespace, name, value FROM log WHERE rev IN ({marks})"  # nosec B608  # only "?" placeholders are formatted in
        for rev, bucket, ns, name, value in conn.execute(sql, chunk):
            if decode is not None:
                value = decode(rev, bucket, ns, name, value)
            by_rev[rev] = StoredObject(rev, orjson.loads(value), value)

    for bucket, tail in tails.items():
        events = [
            (WatchEvent(_EVENT_NAMES[row[4]], row[0], by_rev[row[0]], by_rev.get(row[5]) if row[5] else None),
             row[2], row[6])
            for row in tail
        ]
        out.windows[bucket] = (floors[bucket], events)
    return out


def compact_log(conn: sqlite3.Connection, old: int, target: int) -> int:
    """Compact from revision ``old`` to ``target`` (see module docstring); rows deleted."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        n = conn.execute(
            "DELETE FROM log WHERE rev IN "
            "(SELECT prev_rev FROM log WHERE rev > ? AND rev <= ? AND prev_rev > 0)", (old, target),
        ).rowcount
        n += conn.execute(
            "DELETE FROM log WHERE rev > ? AND rev <= ? AND type = ?", (old, target, _DELETED),
        ).rowcount
        conn.execute("UPDATE meta SET value = ? WHERE key = 'compact'", (target,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return n


class _Job:
    __slots__ = ("fn", "fut", "stop")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], fut: asyncio.Future[Any], stop: bool) -> None:
        self.fn = fn
        self.fut = fut
        self.stop = stop


def _resolve(fut: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


_RESUME = object()  # queue marker: the loop has rolled memory back after a failed commit


class SqliteLog:
    """A writer thread that owns ``conn`` and group-commits appended rows.

    Rows of ``volatile_buckets`` go through the same queue (so commits are still reported
    in revision order) but are never inserted; only the meta revision records them.

    ``append(row, token)`` (event-loop thread) queues a row; the thread drains everything
    queued (up to ``max_batch`` rows), inserts it in one transaction together with the meta
    revision, and then calls ``on_commit(tokens)`` — or ``on_error(tokens, exc)`` — on the
    loop via ``call_soon_threadsafe``. Batches are committed and reported in queue order.
    ``call(fn)`` runs ``fn(conn)`` on the thread after every row queued before it.

    After a failed commit the thread drops every row it dequeues, unreported, until the owner
    calls :meth:`resume`: those rows were queued on top of the failed ones, and the owner fails
    them all when it handles ``on_error`` (before it calls ``resume``). A later commit is tried
    afresh, so the log recovers by itself once the fault (a full disk …) is gone.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        on_commit: Callable[[list[Any]], None],
        on_error: Callable[[list[Any], BaseException], None],
        *,
        max_batch: int = 5000,
        volatile_buckets: frozenset[str] = frozenset(),
    ) -> None:
        self._conn = conn
        self._volatile = volatile_buckets
        self._loop = loop
        self._on_commit = on_commit
        self._on_error = on_error
        self._max_batch = max_batch
        self._q: queue.SimpleQueue[tuple[Row, Any] | _Job | object] = queue.SimpleQueue()
        self._closing = False
        self._rejecting = False  # writer thread only
        #: Sizes of committed batches, when a list is assigned (benchmarks).
        self.batch_sizes: list[int] | None = None
        self._thread = threading.Thread(target=self._run, name="suanli-store-writer", daemon=True)
        self._thread.start()

    def append(self, row: Row, token: Any) -> None:
        self._q.put((row, token))

    def resume(self) -> None:
        """Accept rows again after a failed commit (rows queued before this call are dropped)."""
        self._q.put(_RESUME)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._submit(fn, stop=False)  # type: ignore[no-any-return]

    async def close(self) -> None:
        """Commit everything queued, close the connection and end the thread."""
        if self._closing:
            return
        await self._submit(lambda conn: conn.close(), stop=True)
        await asyncio.to_thread(self._thread.join)

    async def _submit(self, fn: Callable[[sqlite3.Connection], Any], *, stop: bool) -> Any:
        if self._closing:
            raise StoreError("store log is closed")
        self._closing = stop
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._q.put(_Job(fn, fut, stop))
        return await fut

    # -- writer thread ------------------------------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        q = self._q
        get_nowait = q.get_nowait
        max_batch = self._max_batch
        while True:
            item = q.get()
            pairs: list[tuple[Row, Any]] = []
            append = pairs.append
            while item.__class__ is tuple:  # queued rows are exact ``(row, token)`` tuples
                append(item)
                if len(pairs) >= max_batch:
                    break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            if pairs and not self._rejecting:
                self._rejecting = not self._commit([p[0] for p in pairs], [p[1] for p in pairs])
            if item is _RESUME:
                self._rejecting = False
            elif isinstance(item, _Job):
                try:
                    result = item.fn(self._conn)
                except BaseException as exc:
                    self._post(_resolve, item.fut, None, exc)
                else:
                    self._post(_resolve, item.fut, result, None)
                if item.stop:
                    return

    def _commit(self, rows: list[Row], tokens: list[Any]) -> bool:
        """Commit ``rows`` in one transaction and report it; False when the commit failed."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            _insert_rows(conn, [r for r in rows if r[1] not in self._volatile] if self._volatile else rows)
            conn.execute(_SET_REV_SQL, (rows[-1][0],))
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._post(self._on_error, tokens, exc)
            return False
        if self.batch_sizes is not None:
            self.batch_sizes.append(len(rows))
        self._post(self._on_commit, tokens)
        return True
