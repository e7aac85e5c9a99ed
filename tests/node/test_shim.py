"""The per-container shim and the runtime's handle on it: real shim processes, real containers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from suanli.node.agent.containers import ShimStartError, adopt, alive, spawn
from suanli.node.agent.host import process_start_ticks
from suanli.node.shim import RunDir

PY = sys.executable
WAIT = 60.0  # shims import Python on a loaded machine


def _spec(tmp_path: Path, *command: str, stdin: bool = False) -> dict[str, Any]:
    return {"command": list(command), "env": {"PATH": os.environ.get("PATH", ""), "GREETING": "hi"},
            "cwd": str(tmp_path), "stdin": stdin, "log": str(tmp_path / "c.log")}


def _records(log: Path) -> list[tuple[str, str, str]]:
    """(stream, tag, content) of each CRI record, checking the timestamp's shape."""
    out = []
    for line in log.read_text().splitlines():
        stamp, stream, tag, content = line.split(" ", 3)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", stamp), stamp
        out.append((stream, tag, content))
    return out


async def test_runs_the_command_logs_cri_records_and_reports_the_exit_code(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    h = await spawn(run, _spec(tmp_path, "sh", "-c", 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3'))
    assert await asyncio.wait_for(h.wait(), WAIT) == 3
    assert h.returncode == 3
    assert sorted(_records(tmp_path / "c.log")) == [("stderr", "F", "oops"), ("stdout", "F", f"hi from {tmp_path}")]
    assert json.loads(run.exit.read_text())["returncode"] == 3
    assert run.read_pid(run.container) is not None and run.read_pid(run.container)[0] == h.pid  # type: ignore[index]


async def test_a_command_that_cannot_start_is_a_start_error_with_a_log_line(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    with pytest.raises(ShimStartError, match="no-such-command-xyz"):
        await spawn(run, _spec(tmp_path, "no-such-command-xyz"))
    status = json.loads(run.exit.read_text())
    assert (status["returncode"], status["reason"]) == (128, "StartError")
    assert "failed to start 'no-such-command-xyz'" in (tmp_path / "c.log").read_text()


async def test_attach_relays_output_and_feeds_stdin_until_its_end_closes_it(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    h = await spawn(run, _spec(tmp_path, PY, "-c", "import sys\nfor line in sys.stdin: print(line.upper(), end='', "
                                                   "flush=True)\nprint('bye', file=sys.stderr)", stdin=True))
    got: list[tuple[int, bytes]] = []
    stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
    for chunk in (b"abc\n", b"def\n", None):
        stdin.put_nowait(chunk)
    await asyncio.wait_for(h.attach(lambda s, d: got.append((s, d)), stdin, close_stdin=True), WAIT)
    assert b"".join(d for s, d in got if s == 1) == b"ABC\nDEF\n"
    assert b"".join(d for s, d in got if s == 2) == b"bye\n"
    assert await asyncio.wait_for(h.wait(), WAIT) == 0


async def test_signals_reach_the_containers_process_group(tmp_path: Path) -> None:
    h = await spawn(RunDir(tmp_path / "run"), _spec(tmp_path, "sh", "-c", "sleep 600 & wait"))
    h.signal(signal.SIGTERM)
    assert await asyncio.wait_for(h.wait(), WAIT) == -signal.SIGTERM


async def test_a_live_shim_is_adopted_and_a_finished_one_is_not(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    h = await spawn(run, _spec(tmp_path, PY, "-c", "import time; time.sleep(600)"))
    again = adopt(run)
    assert again is not None and (again.pid, again.shim_pid) == (h.pid, h.shim_pid)
    assert again.cwd == str(tmp_path) and again.env["GREETING"] == "hi"
    h.signal(signal.SIGKILL)
    assert await asyncio.wait_for(again.wait(), WAIT) == -signal.SIGKILL  # the adopter sees the end too
    await asyncio.wait_for(h.wait(), WAIT)
    assert adopt(run) is None


async def test_a_killed_shim_takes_its_container_down_and_reads_as_sigkill(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    h = await spawn(run, _spec(tmp_path, PY, "-c", "import time; time.sleep(600)"))
    container = run.read_pid(run.container)
    assert container is not None and alive(*container)
    os.kill(h.shim_pid, signal.SIGKILL)
    assert await asyncio.wait_for(h.wait(), WAIT) == -signal.SIGKILL
    assert not run.exit.exists()
    deadline = asyncio.get_running_loop().time() + WAIT
    while alive(*container):  # the SIGKILL to its group is delivered asynchronously
        assert asyncio.get_running_loop().time() < deadline, "the orphaned container still runs"
        await asyncio.sleep(0.05)


def test_a_reused_pid_is_not_the_process_it_names() -> None:
    ticks = process_start_ticks(os.getpid())
    assert ticks is not None
    assert alive(os.getpid(), ticks)
    assert not alive(os.getpid(), ticks + 1)
