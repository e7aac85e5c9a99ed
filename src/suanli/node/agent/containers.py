"""The process runtime's handle on one container attempt run by a shim (:mod:`suanli.node.shim`).

:func:`spawn` starts a shim (in a session of its own, so it survives the server) and waits for the
container's pid; :func:`adopt` finds a shim a previous server started. Both return a
:class:`ShimContainer`, which waits for the shim's end through a pidfd (the shim need not be our
child) and then reads the container's exit code from the run dir. Processes are named by pid
*and* start time (``/proc/<pid>/stat`` field 22), so a reused pid is never mistaken for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suanli.node.agent.host import process_start_ticks
from suanli.node.shim import RunDir

__all__ = ["ShimContainer", "ShimStartError", "adopt", "alive", "spawn"]

#: How long a shim may take to report its container's pid (it imports Python on a loaded machine).
SPAWN_TIMEOUT = 60.0


class ShimStartError(Exception):
    """The container could not start; ``message`` says why (the shim wrote the exit file and the log line)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def alive(pid: int, ticks: int) -> bool:
    """Whether process ``pid`` that started at ``ticks`` still runs (not a zombie)."""
    if process_start_ticks(pid) != ticks:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")


@dataclass
class ShimContainer:
    """One running (or finished) container attempt: ``pid`` leads its process group."""

    run: RunDir
    shim_pid: int
    pid: int
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    returncode: int | None = None  #: Python-style once it ended (negative: killed by that signal)
    child: asyncio.subprocess.Process | None = None  #: the shim, when this server started it
    _done: asyncio.Future[int] | None = None
    _reaper: asyncio.Future[None] | None = None

    def watch(self) -> None:
        """Start waiting for the shim's end (call once, inside the event loop)."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        if self.child is not None:  # our own child: wait (and reap) it as asyncio's child
            self._reaper = asyncio.ensure_future(self._reap(self.child))
            return
        try:
            fd = os.pidfd_open(self.shim_pid)
        except ProcessLookupError:
            self._finish()
            return

        def ready() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            self._finish()

        loop.add_reader(fd, ready)

    async def _reap(self, child: asyncio.subprocess.Process) -> None:
        await child.wait()
        self._finish()

    def _finish(self) -> None:
        status = self.run.read_json(self.run.exit)
        if status is None:  # the shim died without a word: its container must not run on unobserved
            self.signal(signal.SIGKILL)
            code = -signal.SIGKILL
        else:
            code = int(status.get("returncode", 1))
        self.returncode = code
        if self._done is not None and not self._done.done():
            self._done.set_result(code)

    async def wait(self) -> int:
        """The container's Python-style return code, once its shim ended."""
        assert self._done is not None, "watch() first"
        return await asyncio.shield(self._done)

    def signal(self, sig: int) -> None:
        """Signal the container's process group (if it is still the process we started)."""
        leader = self.run.read_pid(self.run.container)
        if leader is None or not alive(*leader):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def attach(self, out: Callable[[int, bytes], None], stdin: asyncio.Queue[bytes | None] | None,
                     *, close_stdin: bool) -> None:
        """Relay the container's output to ``out(stream, data)`` and ``stdin`` to it until it ends.

        At the end of ``stdin`` the container's stdin closes when ``close_stdin`` (``stdinOnce``).
        """
        name = self.run.attach.read_text().strip()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:  # connected here: uvloop does not take abstract socket addresses; a local connect does not block
            sock.connect("\0" + name)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        feeder = asyncio.ensure_future(_feed(stdin, writer, close_stdin)) if stdin is not None else None
        try:
            while True:
                head = await reader.readexactly(5)
                stream, size = struct.unpack(">BI", head)
                out(stream, await reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if feeder is not None:
                feeder.cancel()
            writer.close()


async def _feed(source: asyncio.Queue[bytes | None], sink: asyncio.StreamWriter, close: bool) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while (data := await source.get()) is not None:
            sink.write(data)
            await sink.drain()
        if close and sink.can_write_eof():
            sink.write_eof()


def _pid_line(pid: int) -> str:
    return f"{pid}:{process_start_ticks(pid) or 0}"


async def spawn(run: RunDir, spec: dict[str, Any]) -> ShimContainer:
    """Start a shim for ``spec`` in ``run`` (emptied first); raises :class:`ShimStartError`."""
    run.path.mkdir(parents=True, exist_ok=True)
    for old in run.path.iterdir():
        with contextlib.suppress(OSError):
            old.unlink()
    run.write_atomic(run.spec, json.dumps(spec))
    with (run.path / "shim.log").open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "suanli.node.shim", str(run.path), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=err, start_new_session=True)
    run.write_atomic(run.shim, _pid_line(proc.pid))
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), SPAWN_TIMEOUT)
    except TimeoutError:
        line = b""
    try:
        report = json.loads(line)
    except ValueError:
        report = {"error": f"the shim did not start: {(run.path / 'shim.log').read_text(errors='replace')[-500:]}"}
    if "pid" not in report:
        raise ShimStartError(str(report.get("error") or "the shim did not report a pid"))
    pid = int(report["pid"])
    run.write_atomic(run.container, _pid_line(pid))
    handle = ShimContainer(run, proc.pid, pid, dict(spec.get("env") or {}), spec.get("cwd") or None, child=proc)
    handle.watch()
    return handle


def adopt(run: RunDir) -> ShimContainer | None:
    """The container a previous server's shim still runs in ``run``, or None when that shim is gone."""
    shim, leader, spec = run.read_pid(run.shim), run.read_pid(run.container), run.read_json(run.spec)
    if shim is None or leader is None or spec is None or not alive(*shim):
        return None
    handle = ShimContainer(run, shim[0], leader[0], dict(spec.get("env") or {}), spec.get("cwd") or None)
    handle.watch()
    return handle
