"""The per-container shim of the process runtime (in the spirit of containerd-shim and conmon).

``python -m suanli.node.shim <run dir>`` runs one container attempt, so that the container
outlives the Suanli server that started it and a restarted server can adopt it:

* it reads :attr:`RunDir.spec` (``command``, ``env``, ``cwd``, ``stdin``, ``log``), starts the
  command in a session of its own (its process group is what the runtime signals), and prints
  one JSON line to its stdout — ``{"pid": <container pid>}`` or ``{"error": <why>}`` — then
  closes stdout (the runtime has read it; a dead runtime does not matter);
* it writes the container's stdout and stderr to ``log`` in the CRI format
  (:class:`~suanli.apiserver.logs.LogWriter`) and relays them to clients of its attach socket
  (an abstract Unix socket named in :attr:`RunDir.attach`): frames of one byte stream (1 stdout,
  2 stderr), a 4-byte big-endian length and the bytes. What a client sends is fed to the
  container's stdin (``stdin: true``); a client's end of input (half close) closes that stdin;
* when the container ends it writes :attr:`RunDir.exit` (``{"returncode": <Python-style code,
  negative for a signal>, "finishedAt": <epoch seconds>}``) atomically and exits.

The shim never decides anything: stopping, restarting and status stay with the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.apiserver.logs import LogWriter

__all__ = ["RunDir", "main"]


@dataclass(frozen=True)
class RunDir:
    """The files of one container attempt under ``path`` (the runtime's and the shim's shared layout)."""

    path: Path

    @property
    def spec(self) -> Path:
        """What to run (written by the runtime before starting the shim)."""
        return self.path / "spec.json"

    @property
    def shim(self) -> Path:
        """``<pid>:<start ticks>`` of the shim (written by the runtime)."""
        return self.path / "shim.pid"

    @property
    def container(self) -> Path:
        """``<pid>:<start ticks>`` of the container's process (group leader) (written by the runtime)."""
        return self.path / "container.pid"

    @property
    def exit(self) -> Path:
        """The container's end (written by the shim)."""
        return self.path / "exit.json"

    @property
    def attach(self) -> Path:
        """The name of the shim's abstract attach socket (written by the shim before it reports the pid)."""
        return self.path / "attach"

    @property
    def stopped(self) -> Path:
        """Marker: the runtime stopped this container on a clean shutdown (it was not a crash)."""
        return self.path / "stopped"

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def read_pid(self, path: Path) -> tuple[int, int] | None:
        """``(pid, start ticks)`` from a pid file, or None."""
        try:
            pid, _, ticks = path.read_text().strip().partition(":")
            return int(pid), int(ticks)
        except (OSError, ValueError):
            return None

    def write_atomic(self, path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def _frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BI", stream, len(data)) + data


class _Shim:
    def __init__(self, run: RunDir, spec: dict[str, Any]) -> None:
        self.dir = run
        self.spec = spec
        self.clients: set[asyncio.StreamWriter] = set()
        self.proc: asyncio.subprocess.Process | None = None

    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        stdin = self.proc.stdin if self.proc is not None else None
        try:
            while chunk := await reader.read(65536):
                if stdin is not None and not stdin.is_closing():
                    stdin.write(chunk)
                    await stdin.drain()
            if stdin is not None:  # this client's end of input closes the container's stdin
                stdin.close()
            await asyncio.Future()  # keep receiving output until the container ends
        except (ConnectionError, OSError):
            pass
        finally:
            self.clients.discard(writer)

    async def pump(self, stream: asyncio.StreamReader | None, name: str, code: int, log: LogWriter) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            log.write(name, chunk)
            for client in list(self.clients):
                with contextlib.suppress(Exception):
                    client.write(_frame(code, chunk))
        log.close(name)

    async def run(self) -> int:
        spec = self.spec
        log_path = Path(spec["log"])
        address = f"\0suanli-shim-{uuid.uuid4().hex}"
        server = await asyncio.start_unix_server(self.serve_client, path=address)
        self.dir.write_atomic(self.dir.attach, address[1:])
        with log_path.open("ab") as out:
            log = LogWriter(out, time.time)
            try:
                stdin = asyncio.subprocess.PIPE if spec.get("stdin") else asyncio.subprocess.DEVNULL
                self.proc = await asyncio.create_subprocess_exec(
                    *spec["command"], stdin=stdin,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=spec.get("cwd") or None,
                    env=spec.get("env") or {}, start_new_session=True)
            except OSError as exc:
                log.write("stderr", f"failed to start {spec['command'][0]!r}: {exc}\n".encode())
                self.dir.write_atomic(self.dir.exit, json.dumps({"returncode": 128, "finishedAt": time.time(),
                                                                  "reason": "StartError", "message": str(exc)}))
                _report({"error": str(exc)})
                server.close()
                return 0
            _report({"pid": self.proc.pid})
            pumps = asyncio.gather(self.pump(self.proc.stdout, "stdout", 1, log),
                                   self.pump(self.proc.stderr, "stderr", 2, log))
            code = await self.proc.wait()
            # a background grandchild may hold the pipes open: the exit does not wait for it for long
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pumps), 2.0)
        self.dir.write_atomic(self.dir.exit, json.dumps({"returncode": code, "finishedAt": time.time()}))
        server.close()
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                client.close()
        return 0


def _report(message: dict[str, Any]) -> None:
    """The one line the runtime waits for; stdout is closed after it (a dead runtime must not break us)."""
    with contextlib.suppress(OSError):
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
        sys.stdout.close()
        os.close(1)


def main(argv: list[str] | None = None) -> int:
    """Run the container described by ``<run dir>/spec.json``; returns the shim's own exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m suanli.node.shim <run dir>", file=sys.stderr)
        return 2
    run = RunDir(Path(args[0]))
    spec = run.read_json(run.spec)
    if spec is None or not spec.get("command"):
        _report({"error": f"no usable {run.spec}"})
        return 2
    return asyncio.run(_Shim(run, spec).run())


if __name__ == "__main__":
    sys.exit(main())
