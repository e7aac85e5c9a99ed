"""Container logs recorded by node runtimes and served as ``pods/{name}/log``.

A runtime writes each container's output to ``<root>/<namespace>/<pod>/<container>.log``
(:meth:`FileLogBackend.path_for`); the API server reads, tails and follows those files.
Only the newest run is kept per container; the previous run is ``<container>.previous.log``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

__all__ = ["FileLogBackend"]


class FileLogBackend:
    def __init__(self, root: Path, *, poll_interval: float = 0.1) -> None:
        self.root = root
        self.poll_interval = poll_interval

    def path_for(self, namespace: str, pod: str, container: str, *, previous: bool = False) -> Path:
        suffix = ".previous.log" if previous else ".log"
        return self.root / namespace / pod / f"{container}{suffix}"

    def read(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail_lines: int | None = None, limit_bytes: int | None = None) -> bytes:
        """The recorded log (empty when nothing was recorded yet)."""
        path = self.path_for(namespace, pod, container, previous=previous)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return b""
        if tail_lines is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-tail_lines:]) if tail_lines > 0 else b""
        if limit_bytes is not None:
            data = data[:limit_bytes]
        return data

    async def follow(self, namespace: str, pod: str, container: str, *, tail_lines: int | None,
                     done: Callable[[], bool]) -> AsyncIterator[bytes]:
        """Yield the existing log (or its tail), then appended bytes until ``done()`` and drained."""
        path = self.path_for(namespace, pod, container)
        first = self.read(namespace, pod, container, tail_lines=tail_lines)
        if first:
            yield first
        try:
            offset = path.stat().st_size
        except FileNotFoundError:
            offset = 0
        while True:
            finished = done()
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size < offset:
                offset = 0
            if size > offset:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read(size - offset)
                offset = size
                yield chunk
                continue
            if finished:
                return
            await asyncio.sleep(self.poll_interval)
