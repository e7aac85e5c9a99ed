"""The audit log backend: JSON lines written by a background thread, rotated like lumberjack.

CONTRACT

* :meth:`LogBackend.emit` (the event loop thread) queues one encoded event and never blocks on
  I/O: a writer thread wakes every 50 ms (or when 400 events wait) and writes what is waiting. When
  ``buffer_size`` events are already waiting, the event is dropped and counted in ``dropped``
  (kube-apiserver's batch mode drops the same way rather than stall requests).
* :meth:`LogBackend.close` writes everything queued and closes the file; :meth:`flush` waits
  until everything queued so far is written (tests, shutdown).
* ``path == "-"`` writes to standard output. Otherwise the file is created 0600 and appended to;
  :class:`RotatingFile` rotates as lumberjack (which kube-apiserver uses) does: before a write
  that would take the file past ``max_size_mb`` megabytes (0: lumberjack's default of 100) the
  file is renamed to ``<name>-<UTC time 2006-01-02T15-04-05.000><ext>`` and a new one opened;
  then backups beyond ``max_backups`` (0: keep all) and older than ``max_age_days`` (0: keep
  all), judged by the time in their names, are removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO

__all__ = ["LogBackend", "RotatingFile", "backup_name"]

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
DEFAULT_MAX_SIZE_MB = 100
_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"


def backup_name(path: Path, when: dt.datetime) -> Path:
    """lumberjack's backup file name: ``audit.log`` -> ``audit-2026-12-07T22-10-05.123.log``."""
    stamp = when.astimezone(dt.UTC).strftime(_TIME_FORMAT) + f".{when.microsecond // 1000:03d}"
    return path.with_name(f"{path.stem}-{stamp}{path.suffix}")


def _backup_time(path: Path, name: str) -> dt.datetime | None:
    prefix, ext = f"{path.stem}-", path.suffix
    if not (name.startswith(prefix) and name.endswith(ext)) or name == path.name:
        return None
    stamp = name[len(prefix):len(name) - len(ext)] if ext else name[len(prefix):]
    try:
        return dt.datetime.strptime(stamp, _TIME_FORMAT + ".%f").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


class RotatingFile:
    """An append-only file rotated by size (see the module docstring). Not thread-safe."""

    def __init__(self, path: Path, *, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0) -> None:
        self.path = path
        self.max_bytes = (max_size_mb or DEFAULT_MAX_SIZE_MB) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self._f: IO[bytes] | None = None
        self._size = 0

    def _open(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        f = os.fdopen(fd, "ab")
        self._size = os.fstat(fd).st_size
        return f

    def write(self, data: bytes, *, flush: bool = True) -> None:
        """Append ``data`` (rotating first if it would not fit); ``flush=False`` leaves it buffered."""
        if len(data) > self.max_bytes:
            raise ValueError(f"write length {len(data)} exceeds maximum file size {self.max_bytes}")
        f = self._f if self._f is not None else self._open()
        self._f = f
        if self._size + len(data) > self.max_bytes:
            self.rotate()
            f = self._f
            assert f is not None
        f.write(data)
        if flush:
            f.flush()
        self._size += len(data)

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def rotate(self) -> None:
        """Rename the current file to its backup name, open a new one and prune old backups."""
        if self._f is not None:
            self._f.close()
            self._f = None
        if self.path.exists():
            os.replace(self.path, backup_name(self.path, dt.datetime.now(dt.UTC)))
        self._f = self._open()
        self._prune()

    def _prune(self) -> None:
        backups = sorted(((t, self.path.parent / n) for n in os.listdir(self.path.parent)
                          if (t := _backup_time(self.path, n)) is not None), reverse=True)
        remove = []
        if self.max_backups > 0:
            remove.extend(backups[self.max_backups:])
            backups = backups[:self.max_backups]
        if self.max_age_days > 0:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.max_age_days)
            remove.extend(b for b in backups if b[0] < cutoff)
        for _t, p in remove:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class LogBackend:
    """Queue events; a thread writes them in batches (see the module docstring).

    The event loop only appends to a deque (no lock, no thread wake-up per event); the writer
    wakes every ``interval`` seconds, or at once when ``max_batch`` events wait or a flush is asked
    for, and writes everything waiting in one go. Waking per event would make the writer thread
    compete with the event loop for the GIL on every request.
    """

    def __init__(self, path: str, *, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0,
                 buffer_size: int = 10_000, max_batch: int = 400, interval: float = 0.05) -> None:
        self._out: RotatingFile | None = None if path == "-" else RotatingFile(
            Path(path), max_size_mb=max_size_mb, max_backups=max_backups, max_age_days=max_age_days)
        self._pending: deque[bytes] = deque()
        self._wake = threading.Event()
        self._written = threading.Condition()
        self._emitted = 0
        self._done = 0
        self._buffer = buffer_size
        self._max_batch = max_batch
        self._interval = interval
        self.dropped = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="suanli-audit-writer", daemon=True)
        self._thread.start()

    def emit(self, line: bytes) -> None:
        """Queue one event line (JSON plus newline) without blocking."""
        pending = self._pending
        if self._closed or len(pending) >= self._buffer:
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.error("audit buffer full or closed: %d event(s) dropped", self.dropped)
            return
        pending.append(line)
        self._emitted += 1
        if len(pending) >= self._max_batch:
            self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event queued before this call is written; False on timeout."""
        target = self._emitted
        self._wake.set()
        with self._written:
            return self._written.wait_for(lambda: self._done >= target, timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _write(self, batch: list[bytes]) -> None:
        if self._out is None:
            sys.stdout.buffer.write(b"".join(batch))
            sys.stdout.buffer.flush()
            return
        for line in batch:
            self._out.write(line, flush=False)
        self._out.flush()

    def _run(self) -> None:
        pending = self._pending
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            closing = self._closed
            batch: list[bytes] = []
            while pending:
                batch.append(pending.popleft())
            if batch:
                try:
                    self._write(batch)
                except (OSError, ValueError) as exc:
                    log.error("audit log write failed, %d event(s) lost: %s", len(batch), exc)
            with self._written:
                self._done += len(batch)
                self._written.notify_all()
            if closing and not pending:
                if self._out is not None:
                    self._out.close()
                return
