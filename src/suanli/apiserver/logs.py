"""Container logs recorded by node runtimes and served as ``pods/{name}/log``.

A runtime writes each container's output to ``<root>/<namespace>/<pod>/<container>.log``
(:meth:`FileLogBackend.path_for`) in the CRI logging format a kubelet reads: one record per
line, ``<RFC3339Nano time> <stdout|stderr> <F|P> <content>``, where ``F`` ends a line and
``P`` is a partial line continued by the next record (:class:`LogWriter` writes it). The API
server reads, filters (``sinceTime``/``sinceSeconds``, ``tailLines``, ``limitBytes``,
``timestamps``) and follows those files. Only the newest run is kept per container; the
previous run is ``<container>.previous.log``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from suanli.apimachinery.errors import ApiError, Cause

__all__ = ["FileLogBackend", "LogOptions", "LogWriter", "format_time", "parse_log_options"]


def format_time(t: datetime) -> str:
    """RFC3339Nano in UTC as a kubelet prints it (``2026-12-07T17:44:43.123456000Z``)."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def _parse_time(raw: bytes) -> datetime | None:
    text = raw.decode("ascii", "replace").rstrip("Z")
    whole, _, frac = text.partition(".")
    try:
        base = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return base.replace(microsecond=int((frac + "000000")[:6])) if frac.isdigit() else base


class LogWriter:
    """Writes one container's output as CRI records; each chunk is stamped when it arrives."""

    def __init__(self, out: BinaryIO, now: Callable[[], float]) -> None:
        """``now`` returns the epoch seconds each chunk is stamped with."""
        self.out = out
        self.now = now
        self._pending: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Record ``data`` from ``stream`` (``stdout``/``stderr``); an unterminated tail waits for more."""
        buf = self._pending.pop(stream, b"") + data
        *lines, rest = buf.split(b"\n")
        stamp = self._stamp()
        for line in lines:
            self.out.write(stamp + b" " + stream.encode() + b" F " + line + b"\n")
        if rest:
            self._pending[stream] = rest
        self.out.flush()

    def _stamp(self) -> bytes:
        return format_time(datetime.fromtimestamp(self.now(), UTC)).encode()

    def close(self, stream: str) -> None:
        """The stream ended: its unterminated tail becomes a partial record."""
        rest = self._pending.pop(stream, b"")
        if rest:
            self.out.write(self._stamp() + b" " + stream.encode() + b" P " + rest + b"\n")
            self.out.flush()


@dataclass(frozen=True)
class LogOptions:
    """The ``PodLogOptions`` a runtime applies (``since`` already resolved from sinceSeconds/sinceTime)."""

    timestamps: bool = False
    since: datetime | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None


def _query_int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError.bad_request(f"{name}: Invalid value: {raw!r}: must be an integer") from None


def parse_log_options(query: Mapping[str, str], name: str, now: datetime) -> LogOptions:
    """``PodLogOptions`` from a ``pods/{name}/log`` query, validated as kube-apiserver does (422 naming the field)."""
    tail, limit, since_seconds = (_query_int(query, k) for k in ("tailLines", "limitBytes", "sinceSeconds"))
    since_time = query.get("sinceTime") or None
    causes: list[Cause] = []
    if tail is not None and tail < 0:
        causes.append(Cause("tailLines", f"Invalid value: {tail}: must be greater than or equal to 0",
                            "FieldValueInvalid"))
    if limit is not None and limit < 1:
        causes.append(Cause("limitBytes", f"Invalid value: {limit}: must be greater than 0", "FieldValueInvalid"))
    if since_seconds is not None and since_time is not None:
        causes.append(Cause("", "at most one of `sinceTime` or `sinceSeconds` may be specified", "FieldValueForbidden"))
    elif since_seconds is not None and since_seconds < 1:
        causes.append(Cause("sinceSeconds", f"Invalid value: {since_seconds}: must be greater than 0",
                            "FieldValueInvalid"))
    since: datetime | None = None
    if since_time is not None and not causes:
        try:
            since = datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            causes.append(Cause("sinceTime", f"Invalid value: {since_time!r}: must be an RFC3339 time",
                                "FieldValueInvalid"))
        else:
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
    elif since_seconds is not None and not causes:
        since = now - timedelta(seconds=since_seconds)
    if causes:
        raise ApiError.invalid("PodLogOptions", name, causes)
    return LogOptions(timestamps=query.get("timestamps") in ("true", "1", "True"), since=since,
                      tail_lines=tail, limit_bytes=limit)


@dataclass(frozen=True)
class _Record:
    time: datetime | None
    content: bytes  # with its trailing newline for a full ("F") record


def _records(data: bytes) -> list[_Record]:
    out: list[_Record] = []
    pieces = data.split(b"\n")
    if pieces[-1]:  # an unterminated tail not written by LogWriter
        pieces.append(b"")
    for line in pieces[:-1]:
        parts = line.split(b" ", 3)
        if len(parts) == 4 and parts[1] in (b"stdout", b"stderr") and parts[2] in (b"F", b"P"):
            out.append(_Record(_parse_time(parts[0]), parts[3] + (b"\n" if parts[2] == b"F" else b"")))
        else:  # not a CRI record (written by something else): pass it through as is
            out.append(_Record(None, line + b"\n"))
    return out


def _render(records: Iterable[_Record], timestamps: bool) -> bytes:
    if not timestamps:
        return b"".join(r.content for r in records)
    return b"".join((format_time(r.time).encode() + b" " if r.time else b"") + r.content for r in records)


def _lines(records: list[_Record]) -> list[list[_Record]]:
    """Group records into lines (partial records join the next full one)."""
    lines: list[list[_Record]] = []
    cur: list[_Record] = []
    for r in records:
        cur.append(r)
        if r.content.endswith(b"\n"):
            lines.append(cur)
            cur = []
    if cur:
        lines.append(cur)
    return lines


class FileLogBackend:
    def __init__(self, root: Path, *, poll_interval: float = 0.1) -> None:
        self.root = root
        self.poll_interval = poll_interval

    def path_for(self, namespace: str, pod: str, container: str, *, previous: bool = False) -> Path:
        suffix = ".previous.log" if previous else ".log"
        return self.root / namespace / pod / f"{container}{suffix}"

    def has_previous(self, namespace: str, pod: str, container: str) -> bool:
        """Whether a previous (terminated) run of the container left a log."""
        return self.path_for(namespace, pod, container, previous=True).exists()

    def read(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail_lines: int | None = None, limit_bytes: int | None = None,
             options: LogOptions | None = None) -> bytes:
        """The recorded log filtered as kubelet does: since, then tail, then timestamps, then limitBytes.

        Empty when nothing was recorded yet.
        """
        opts = options or LogOptions(tail_lines=tail_lines, limit_bytes=limit_bytes)
        path = self.path_for(namespace, pod, container, previous=previous)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return b""
        lines = _lines(_records(raw))
        if opts.since is not None:
            since = opts.since
            lines = [ln for ln in lines if ln[0].time is None or ln[0].time >= since]
        if opts.tail_lines is not None:
            lines = lines[-opts.tail_lines:] if opts.tail_lines > 0 else []
        data = _render((r for ln in lines for r in ln), opts.timestamps)
        if opts.limit_bytes is not None:
            data = data[:opts.limit_bytes]
        return data

    async def follow(self, namespace: str, pod: str, container: str, *, tail_lines: int | None,
                     done: Callable[[], bool], options: LogOptions | None = None) -> AsyncIterator[bytes]:
        """Yield the existing log (filtered by ``options``), then appended records until ``done()`` and drained.

        ``limitBytes`` bounds the whole stream.
        """
        opts = options or LogOptions(tail_lines=tail_lines)
        budget = opts.limit_bytes
        path = self.path_for(namespace, pod, container)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        offset = raw.rfind(b"\n") + 1  # a record being written is picked up by the loop
        first = self.read(namespace, pod, container, options=LogOptions(
            timestamps=opts.timestamps, since=opts.since, tail_lines=opts.tail_lines))
        while True:
            if first:
                if budget is not None:
                    first = first[:budget]
                    budget -= len(first)
                yield first
            if budget is not None and budget <= 0:
                return
            finished = done()
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size < offset:
                offset = 0
            first = b""
            if size > offset:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read(size - offset)
                complete = chunk.rfind(b"\n") + 1
                offset += complete
                first = _render(_records(chunk[:complete]), opts.timestamps)
                if first:
                    continue
            if finished:
                return
            await asyncio.sleep(self.poll_interval)
