"""Revisioned object store: SQLite write-ahead log + in-memory indexes + watch windows.

CONTRACT (stable; implementation may change behind it)

* One global revision counter. Every successful write (create, update, delete) gets the
  next revision, and the stored object's ``metadata.resourceVersion`` is set to
  ``str(revision)`` by the store (for deletes, the DELETED event's object carries the
  deletion revision).
* A write coroutine returns only after its row is committed to the SQLite log (WAL
  mode). Concurrent writes are group-committed by one writer thread. The in-memory
  state is updated *before* the commit (so the next write sees it: compare-and-swap is
  exact), but watch events are published only *after* the commit, in revision order.
* Objects are grouped in *buckets* (``ResourceType.storage_key``, e.g. ``"pods"`` or
  ``"apps/deployments"``) and keyed by ``(namespace, name)``; cluster-scoped objects use
  namespace ``""``.
* Objects passed in are owned by the store afterwards; objects handed out are shared and
  read-only (copy before mutating, see ``apimachinery.objects.deep_copy``).
* ``raw`` is ``orjson.dumps(obj)`` of the stored object, computed once per write, so
  LIST/WATCH over HTTP can splice bytes without re-encoding.
* Restarting on the same data directory restores every object, continues the revision
  sequence (never reuses a revision), and refills the watch windows from the log tail.

IMPLEMENTATION NOTES

* Log: ``<data_dir>/store.db`` (WAL; ``synchronous=NORMAL`` survives a process crash,
  ``fsync=True`` selects ``FULL`` for power loss). ``<data_dir>/store.lock`` (flock)
  keeps a second store off the same directory. See ``_sqlite_log`` for the schema.
* Watch floors: a bucket's window retains every committed event after its floor (the
  rv of the newest event dropped from the window, or at startup the compact revision /
  the newest log row that did not fit). Runtime compaction trims the SQLite log only.
* Window bounds: at most ``window_size`` events and ``window_bytes`` encoded bytes (each
  event's object) per bucket, and events older than ``window_fresh`` seconds are dropped
  (on commit and every ``window_trim_interval`` seconds, so an idle store gives the memory
  back) while more than ``window_min`` remain. The byte bound is ours (kube-apiserver
  bounds its watch cache by event count only): under heavy churn of large objects it
  shortens the history below ``window_fresh`` instead of letting it grow with the rate.
  A watcher that keeps up never expires (its resume point is at or after the newest
  retained event); one resuming from an older revision gets ExpiredError and re-lists,
  as with kube-apiserver's watch cache (75 s of history, 100 to 102,400 events).
* ``ListResult.remaining`` is exact without a predicate; with a predicate it is an upper
  bound (candidates after the page that were not evaluated).
* A write whose coroutine is cancelled while awaiting its commit still happens.
* Faults: when a commit fails (a full disk, an I/O error, a read-only file system), every
  write not yet committed — the failed batch and everything queued behind it — raises
  StoreError, and the in-memory state is rolled back to the committed state (each pending
  write undone, newest first, to its predecessor), so memory again equals the log. Reads
  keep working throughout (they are served from memory); the next write tries a fresh
  commit, so the store recovers by itself once the fault is gone. Revisions handed to the
  failed writes are not reused while the process runs.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from suanli.apimachinery.objects import Obj
from suanli.storage._index import BucketState
from suanli.storage._sqlite_log import EVENT_CODES, SqliteLog, compact_log, open_db, recover
from suanli.storage._types import (
    AlreadyExistsError,
    ConflictError,
    EventType,
    ExpiredError,
    ListResult,
    NotFoundError,
    StoredObject,
    StoreError,
    WatchEvent,
)
from suanli.storage._watch import EventWindow, Watcher
from suanli.storage.datadir import create_private_file, secure_data_dir
from suanli.storage.encryption import EncryptionConfig, storage_key

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "EventType",
    "ExpiredError",
    "ListResult",
    "NotFoundError",
    "Store",
    "StoreError",
    "StoredObject",
    "WatchEvent",
    "Watcher",
]

_logger = logging.getLogger(__name__)

Key = tuple[str, str]
# Token carried through the writer thread for one write: (bucket, namespace, event, future).
_Token = tuple[str, str, WatchEvent, "asyncio.Future[None]"]
_Tokens = list[_Token]
_Slices = list[tuple[str, list[str]]]
_Items = list[StoredObject]
_Pending = list[tuple[str, str, str, int]]


def _key_of(obj: Obj) -> Key:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        raise StoreError("object has no metadata")
    name = m.get("name")
    if not name or not isinstance(name, str):
        raise StoreError("object has no metadata.name")
    return str(m.get("namespace") or ""), name


class Store:
    """See the module docstring for the contract.

    ``data_dir=None`` keeps the log in memory (tests). ``ttl_buckets`` maps a bucket to a
    time-to-live in seconds measured from each object's last write (Events).
    ``volatile_buckets`` are revisioned, listed and watched like the others but never
    written to the SQLite log, so they start empty after a restart (metrics).
    ``encryption`` encrypts the logged value of the buckets it names (memory, LIST and WATCH
    stay plaintext; see :mod:`suanli.storage.encryption`).
    ``window_size``, ``window_min``, ``window_fresh`` (seconds, ``None``: no age bound),
    ``window_bytes`` (encoded bytes, ``None``: no byte bound) and ``window_trim_interval``
    bound each bucket's watch window (see "Window bounds" above).
    """

    def __init__(
        self,
        data_dir: Path | None,
        *,
        window_size: int = 100_000,
        keep_revisions: int = 1000,
        compaction_interval: float = 300.0,
        ttl_buckets: dict[str, float] | None = None,
        fsync: bool = False,
        clock: Callable[[], float] | None = None,
        ttl_check_interval: float = 10.0,
        watch_queue_limit: int = 200_000,
        volatile_buckets: set[str] | frozenset[str] | None = None,
        window_min: int = 100,
        window_fresh: float | None = 75.0,
        window_trim_interval: float = 10.0,
        window_bytes: int | None = 32 << 20,
        encryption: EncryptionConfig | None = None,
    ) -> None:
        self._encryption = encryption
        self._stale_revs: set[int] = set()  # recovery only: revisions read with a non-writing transformer
        self._stale: set[tuple[str, str, str]] = set()
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._window_size = window_size
        self._window_min = window_min
        self._window_fresh = window_fresh
        self._window_trim_interval = window_trim_interval
        self._window_bytes = window_bytes
        self._keep = keep_revisions
        self._compaction_interval = compaction_interval
        self._ttl: dict[str, float] = dict(ttl_buckets or {})
        self._fsync = fsync
        self._clock: Callable[[], float] = clock or time.time
        self._ttl_check_interval = ttl_check_interval
        self._watch_limit = watch_queue_limit
        self._volatile = frozenset(volatile_buckets or ())

        self._rev = 0
        self._committed = 0
        self._compact_rev = 0
        self._startup_floor = 0
        self._buckets: dict[str, BucketState] = {}
        self._windows: dict[str, EventWindow] = {}
        # Per TTL bucket: key -> last write time, in write order (oldest first).
        self._ttl_order: dict[str, dict[Key, float]] = {b: {} for b in self._ttl}
        self._log: SqliteLog | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock_file: IO[bytes] | None = None
        self._running = False
        #: writes queued but not yet committed, in revision order, with the TTL write time each replaced
        self._pending: deque[tuple[_Token, float | None]] = deque()
        #: commits that failed since start (diagnostics and tests)
        self.commit_failures = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the log, recover state, start the writer thread and background tasks."""
        if self._running or self._log is not None:
            raise StoreError("store already started")
        db_path: Path | None = None
        if self._data_dir is not None:
            secure_data_dir(self._data_dir)
            self._lock_file = self._acquire_lock(self._data_dir / "store.lock")
            db_path = self._data_dir / "store.db"
            create_private_file(db_path)  # SQLite gives -wal and -shm the database file's mode
        try:
            conn, rec = await asyncio.to_thread(self._open_and_recover, db_path)
        except BaseException:
            self._release_lock()
            raise
        if rec.undecodable:
            _logger.warning("%d old revision(s) in the log could not be decrypted with the configured keys; "
                            "watch history before them is dropped (live objects all decrypted)", rec.undecodable)
        self._rev = self._committed = rec.revision
        self._compact_rev = self._startup_floor = rec.compact_rev
        for bucket, ns, name, so, ts in rec.objects:
            self._bucket(bucket).put(ns, name, so)
            if so.rv in self._stale_revs:
                self._stale.add((bucket, ns, name))
            order = self._ttl_order.get(bucket)
            if order is not None:
                order[(ns, name)] = ts
        self._stale_revs.clear()
        for order in self._ttl_order.values():  # oldest first, as live writes keep them
            items = sorted(order.items(), key=lambda kv: kv[1])
            order.clear()
            order.update(items)
        for bucket, (floor, events) in rec.windows.items():
            win = self._window(bucket)
            win.floor = floor
            for ev, ns, ts in events:
                win.retain(ev, ns, ts)
        self._loop = asyncio.get_running_loop()
        self._log = SqliteLog(conn, self._loop, self._on_commit, self._on_error,
                              volatile_buckets=self._volatile)
        self._running = True
        if self._compaction_interval > 0:
            self._tasks.append(asyncio.create_task(self._every(self._compaction_interval, self.compact)))
        if self._ttl and self._ttl_check_interval > 0:
            self._tasks.append(asyncio.create_task(self._every(self._ttl_check_interval, self.expire_now)))
        if self._window_fresh is not None:
            self.trim_windows()
            if self._window_trim_interval > 0:
                self._tasks.append(asyncio.create_task(self._every(self._window_trim_interval,
                                                                   self._trim_windows_async)))

    def _open_and_recover(self, db_path: Path | None) -> tuple[Any, Any]:
        conn = open_db(db_path, fsync=self._fsync)
        try:
            return conn, recover(conn, self._window_size, decode=self._decode if self._encryption else None)
        except BaseException:
            conn.close()
            raise

    def _decode(self, rev: int, bucket: str, namespace: str, name: str, value: bytes) -> bytes:
        """A logged value as plaintext (recovery thread; encryption configured). Revisions read by a
        transformer other than the writing one are remembered as stale."""
        assert self._encryption is not None
        t = self._encryption.for_bucket(bucket)
        if t is None:
            if value.startswith(b"k8s:enc:"):
                raise StoreError(f"{storage_key(bucket, namespace, name).decode()}: stored value is encrypted "
                                 "but the encryption configuration has no provider for this resource")
            return value
        try:
            plain, stale = t.from_storage(value, storage_key(bucket, namespace, name))
            if stale:
                self._stale_revs.add(rev)
            return plain
        except ValueError as exc:
            raise StoreError(f"{storage_key(bucket, namespace, name).decode()}: cannot decrypt stored value: "
                             f"{exc}") from exc

    def stale(self, bucket: str, namespace: str, name: str) -> bool:
        """True when the object's logged value was read with a key (or in a form) other than the one
        writing now: an update must write it even if nothing changed (kube-apiserver's ``stale``), which
        is how ``kubectl replace`` of every Secret re-encrypts them after a key rotation."""
        return (bucket, namespace, name) in self._stale

    def _encode(self, bucket: str, key: Key, raw: bytes) -> bytes:
        """``raw`` as logged: encrypted when the configuration names ``bucket``."""
        assert self._encryption is not None
        t = self._encryption.for_bucket(bucket)
        return raw if t is None else t.to_storage(raw, storage_key(bucket, key[0], key[1]))

    @staticmethod
    def _acquire_lock(path: Path) -> IO[bytes]:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        f = os.fdopen(fd, "wb")  # held open for the store's lifetime
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.close()
            raise StoreError(f"data directory {path.parent} is in use by another store") from exc
        f.write(str(os.getpid()).encode())
        f.flush()
        return f

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    async def stop(self) -> None:
        """Flush pending writes, stop background work and close the log."""
        if not self._running:
            return
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._log is not None:
            await self._log.close()
        for win in self._windows.values():
            for w in list(win.watchers):
                w.close()
        self._release_lock()

    async def _every(self, interval: float, fn: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await fn()
            except StoreError as exc:
                if not self._running:
                    return
                _logger.warning("store maintenance task %s: %s", getattr(fn, "__name__", fn), exc)
            except Exception:
                _logger.exception("store maintenance task %s failed", getattr(fn, "__name__", fn))

    # -- revisions ----------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """Latest assigned revision (may be ahead of :attr:`committed_revision`)."""
        return self._rev

    @property
    def committed_revision(self) -> int:
        """Every event up to this revision is durable and published to watchers."""
        return self._committed

    @property
    def compact_revision(self) -> int:
        """Log rows superseded at or before this revision are gone from the SQLite log."""
        return self._compact_rev

    # -- reads ----------------------------------------------------------------------------------

    def _bucket(self, bucket: str) -> BucketState:
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets[bucket] = BucketState()
        return state

    def _window(self, bucket: str) -> EventWindow:
        win = self._windows.get(bucket)
        if win is None:
            win = self._windows[bucket] = EventWindow(self._window_size, self._startup_floor,
                                                      min_size=self._window_min,
                                                      budget=self._window_bytes)
        return win

    def add_index(self, bucket: str, name: str, fn: Callable[[Obj], list[str]]) -> None:
        """Maintain a secondary index ``name`` over ``bucket`` (e.g. ``spec.nodeName``)."""
        self._bucket(bucket).add_index(name, fn)

    def get(self, bucket: str, namespace: str, name: str) -> StoredObject | None:
        state = self._buckets.get(bucket)
        return state.get(namespace, name) if state is not None else None

    def list(
        self,
        bucket: str,
        namespace: str | None = None,
        *,
        index: tuple[str, str] | None = None,
        predicate: Callable[[Obj], bool] | None = None,
        start_after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> ListResult:
        """Objects sorted by ``(namespace, name)``, filtered, paged after ``start_after``.

        ``namespace=None`` means all namespaces; ``index=(name, value)`` restricts to one
        secondary-index value. ``revision`` is :attr:`revision` at the time of the call.
        ``remaining`` is exact without ``predicate``, an upper bound with one. An unknown
        index name raises StoreError. ``limit`` of ``None`` or ``<= 0`` means no limit.
        """
        rev = self._rev
        state = self._buckets.get(bucket)
        if state is None:
            if index is not None:
                raise StoreError(f"no index {index[0]!r} on {bucket}")
            return ListResult([], rev, 0)
        cap = limit if limit is not None and limit > 0 else None
        if index is not None:
            if index[0] not in state.indexes:
                raise StoreError(f"no index {index[0]!r} on {bucket}")
            keys = state.index_keys(index[0], index[1], namespace, start_after)
            slices: _Slices = []
            for ns, name in keys:
                if slices and slices[-1][0] == ns:
                    slices[-1][1].append(name)
                else:
                    slices.append((ns, [name]))
        else:
            slices = state.slices(namespace, start_after)
        items: _Items = []
        remaining = 0
        full = False
        for ns, names in slices:
            if full:
                remaining += len(names)
                continue
            objs = state.by_ns[ns]
            if predicate is None:
                if cap is None:
                    items.extend(map(objs.__getitem__, names))
                    continue
                take = cap - len(items)
                items.extend(map(objs.__getitem__, names[:take]))
                if len(names) >= take:
                    remaining += len(names) - take
                    full = True
                continue
            for i, name in enumerate(names):
                so = objs[name]
                if predicate(so.obj):
                    items.append(so)
                    if cap is not None and len(items) >= cap:
                        remaining += len(names) - i - 1
                        full = True
                        break
        return ListResult(items, rev, remaining)

    def count(self, bucket: str, namespace: str | None = None) -> int:
        state = self._buckets.get(bucket)
        return state.count(namespace) if state is not None else 0

    def window_bytes(self) -> dict[str, int]:
        """Encoded bytes retained in each bucket's watch window (memory diagnostics and tests)."""
        return {b: w.nbytes for b, w in self._windows.items()}

    def window_lengths(self) -> dict[str, int]:
        """Events retained in each bucket's watch window (memory diagnostics and tests)."""
        return {b: len(w.events) for b, w in self._windows.items()}

    def buckets(self) -> builtins.list[str]:
        """Sorted names of the buckets that currently hold at least one object."""
        return sorted(b for b, s in self._buckets.items() if s.size)

    # -- writes ---------------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self._running:
            raise StoreError("store is not running")

    def _stamp(self, obj: Obj) -> StoredObject:
        """Assign the next revision to ``obj`` and encode it."""
        rev = self._rev + 1
        obj["metadata"]["resourceVersion"] = str(rev)
        raw = orjson.dumps(obj)
        self._rev = rev
        return StoredObject(rev, obj, raw)

    def _submit(self, bucket: str, key: Key, etype: EventType, so: StoredObject,
                prev: StoredObject | None) -> asyncio.Future[None]:
        assert self._log is not None and self._loop is not None
        ts = self._clock()
        code = EVENT_CODES[etype]
        if self._encryption is None:
            value = so.raw
        else:
            value = self._encode(bucket, key, so.raw)
            if self._stale:
                self._stale.discard((bucket, key[0], key[1]))
        token = (bucket, key[0], WatchEvent(etype, so.rv, so, prev), fut := self._loop.create_future())
        self._log.append((so.rv, bucket, key[0], key[1], code, prev.rv if prev is not None else 0, ts, value),
                         token)
        order = self._ttl_order.get(bucket)
        prev_ts = None
        if order is not None:
            prev_ts = order.pop(key, None)
            if etype != "DELETED":
                order[key] = ts
        self._pending.append((token, prev_ts))
        return fut

    def _on_commit(self, tokens: _Tokens) -> None:
        windows = self._windows
        now = self._clock()
        fresh = self._window_fresh
        cutoff = now - fresh if fresh is not None else None
        for bucket, ns, ev, _fut in tokens:
            win = windows.get(bucket)
            if win is None:
                win = self._window(bucket)
            win.append(ev, ns, now)
            if cutoff is not None and win.times and win.times[0] < cutoff:
                win.trim(cutoff)
        self._committed = tokens[-1][2].rv
        pending = self._pending
        for _b, _ns, _ev, fut in tokens:
            pending.popleft()
            if not fut.done():
                fut.set_result(None)

    def _on_error(self, tokens: _Tokens, exc: BaseException) -> None:
        """A commit failed: fail and undo every pending write (see "Faults"), then let the log resume."""
        assert self._log is not None
        self.commit_failures += 1
        failed = list(self._pending)
        self._pending.clear()
        _logger.error("store commit failed (%d writes rejected, state rolled back to revision %d): %s",
                      len(failed), self._committed, exc)
        reordered: set[str] = set()
        for (bucket, ns, ev, _fut), prev_ts in reversed(failed):
            state = self._bucket(bucket)
            name = ev.obj.obj["metadata"]["name"]
            if ev.prev is None:
                state.remove(ns, name)
            else:
                state.put(ns, name, ev.prev)
            order = self._ttl_order.get(bucket)
            if order is not None:
                order.pop((ns, name), None)
                if prev_ts is not None:
                    order[(ns, name)] = prev_ts
                    reordered.add(bucket)
        for bucket in reordered:  # restored write times go back to their place (oldest first)
            order = self._ttl_order[bucket]
            items = sorted(order.items(), key=lambda kv: kv[1])
            order.clear()
            order.update(items)
        for (_b, _ns, _ev, fut), _ts in failed:
            if not fut.done():
                fut.set_exception(StoreError(f"commit failed: {exc}"))
        self._log.resume()

    async def create(self, bucket: str, obj: Obj) -> StoredObject:
        """Insert ``obj``; AlreadyExistsError if its key exists. Returns the stored object."""
        self._check_writable()
        key = _key_of(obj)
        state = self._bucket(bucket)
        if state.get(*key) is not None:
            raise AlreadyExistsError(f"{bucket} {key[0]}/{key[1]} already exists")
        so = self._stamp(obj)
        state.put(key[0], key[1], so)
        await self._submit(bucket, key, "ADDED", so, None)
        return so

    async def update(self, bucket: str, obj: Obj, *, expected_rv: int | None = None) -> StoredObject:
        """Replace the object at ``obj``'s key; NotFoundError / ConflictError (``expected_rv``)."""
        self._check_writable()
        key = _key_of(obj)
        state = self._bucket(bucket)
        cur = state.get(*key)
        if cur is None:
            raise NotFoundError(f"{bucket} {key[0]}/{key[1]} not found")
        if expected_rv is not None and expected_rv != cur.rv:
            raise ConflictError(f"{bucket} {key[0]}/{key[1]}: revision is {cur.rv}, expected {expected_rv}")
        so = self._stamp(obj)
        state.put(key[0], key[1], so)
        await self._submit(bucket, key, "MODIFIED", so, cur)
        return so

    async def delete(self, bucket: str, namespace: str, name: str, *,
                     expected_rv: int | None = None) -> StoredObject:
        """Remove a key; returns its last state stamped with the deletion revision."""
        self._check_writable()
        state = self._bucket(bucket)
        cur = state.get(namespace, name)
        if cur is None:
            raise NotFoundError(f"{bucket} {namespace}/{name} not found")
        if expected_rv is not None and expected_rv != cur.rv:
            raise ConflictError(f"{bucket} {namespace}/{name}: revision is {cur.rv}, expected {expected_rv}")
        last = dict(cur.obj)
        last["metadata"] = dict(cur.obj.get("metadata") or {})
        so = self._stamp(last)
        state.remove(namespace, name)
        await self._submit(bucket, (namespace, name), "DELETED", so, cur)
        return so

    # -- watch ------------------------------------------------------------------------------------

    def watch(self, bucket: str, *, since_rv: int, namespace: str | None = None) -> Watcher:
        """Subscribe to ``bucket`` from ``since_rv`` (exclusive).

        Raises :class:`ExpiredError` when events after ``since_rv`` are no longer retained.
        Calling :meth:`list` and then :meth:`watch` with the list's revision without an
        ``await`` in between gives a gap-free list-then-watch.
        """
        if not self._running:
            raise StoreError("store is not running")
        win = self._window(bucket)
        replay = win.since(since_rv)
        w = Watcher(
            since_rv=since_rv,
            namespace=namespace,
            limit=self._watch_limit,
            committed=lambda: self._committed,
            on_close=lambda w: win.watchers.pop(w, None),
        )
        win.watchers[w] = None
        for ev, ns in replay:
            w._push(ev, ns)
        return w

    def drop_bucket_watchers(self, bucket: str) -> None:
        """Close every watcher of ``bucket`` (used when a CRD is deleted).

        Closed watchers discard queued events; their ``next()`` returns ``None``.
        """
        win = self._windows.get(bucket)
        if win is not None:
            for w in list(win.watchers):
                w.close()

    # -- background maintenance ---------------------------------------------------------------

    async def compact(self) -> int:
        """Compact the log to ``committed_revision - keep_revisions``; returns the compact revision.

        Deletes superseded rows and tombstones at or below the target, records the compact
        revision, and truncates the WAL. Example: keep 1000, committed 5000 → rows replaced
        by a write at rev <= 4000 and tombstones <= 4000 are removed; compact revision 4000.
        """
        self._check_writable()
        assert self._log is not None
        old = self._compact_rev
        target = self._committed - self._keep
        if target <= old:
            return old
        await self._log.call(lambda conn: compact_log(conn, old, target))
        self._compact_rev = max(self._compact_rev, target)
        return self._compact_rev

    def trim_windows(self) -> int:
        """Drop window events older than ``window_fresh`` seconds (see the module docstring).

        Returns how many events were dropped; a no-op when the age bound is disabled.
        """
        if self._window_fresh is None:
            return 0
        cutoff = self._clock() - self._window_fresh
        return sum(win.trim(cutoff) for win in self._windows.values())

    async def _trim_windows_async(self) -> None:
        self.trim_windows()

    async def expire_now(self) -> int:
        """Delete every object of a TTL bucket whose last write is older than its TTL.

        Uses the normal delete path (watchers see DELETED). Returns how many were deleted;
        objects rewritten concurrently (revision changed) are skipped.
        """
        self._check_writable()
        now = self._clock()
        pending: _Pending = []
        for bucket, ttl in self._ttl.items():
            cutoff = now - ttl
            state = self._buckets.get(bucket)
            if state is None:
                continue
            for (ns, name), ts in self._ttl_order[bucket].items():
                if ts >= cutoff:
                    break
                so = state.get(ns, name)
                if so is not None:
                    pending.append((bucket, ns, name, so.rv))
        if not pending:
            return 0
        results = await asyncio.gather(
            *(self.delete(b, ns, n, expected_rv=rv) for b, ns, n, rv in pending),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, NotFoundError | ConflictError):
                raise r
        return sum(1 for r in results if not isinstance(r, BaseException))
