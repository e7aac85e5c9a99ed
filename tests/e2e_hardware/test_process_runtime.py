"""Pods bound to the host node run as real local processes: exit codes, logs, streaming and termination."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import process_pod, wait_phase

pytestmark = pytest.mark.e2e

EXITS = [
    ("print(42)", "Succeeded", 0, "Completed", "42\n"),
    ("import sys; print('bye'); sys.exit(3)", "Failed", 3, "Error", "bye\n"),
]


def _pgrep(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


@pytest.mark.parametrize(
    ("code", "phase", "exit_code", "reason", "logs"),
    EXITS,
    ids=["print-42-succeeds-and-logs-42", "exit-3-fails-with-exit-code-3"],
)
def test_host_pod_exit_decides_phase_exit_code_and_logs(
    hk: K, host_node: str, code: str, phase: str, exit_code: int, reason: str, logs: str
) -> None:
    hk.apply(process_pod("once", host_node, "python3", "-c", code))
    wait_phase(hk, "once", phase)
    status = hk.json("pod", "once")["status"]
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == exit_code
    assert terminated["reason"] == reason
    assert hk("logs", "once") == logs
    assert hk("get", "pod", "once", "--no-headers").split()[2] == reason


def test_logs_follow_streams_lines_while_the_pod_runs_and_exits_when_it_ends(
    hk: K, host_node: str, tmp_path: Path
) -> None:
    go = tmp_path / f"go-{uuid.uuid4().hex}"
    script = (
        "import os, time\n"
        "print('first', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        "for i in range(3):\n"
        "    print('line', i, flush=True); time.sleep(0.2)\n"
    )
    hk.apply(process_pod("talker", host_node, "python3", "-c", script))
    wait_phase(hk, "talker", "Running")
    follower = hk.popen("logs", "-f", "talker")
    watchdog = threading.Timer(30, follower.kill)  # a stalled stream fails the test instead of hanging it
    watchdog.start()
    try:
        assert follower.stdout is not None
        # The pod cannot finish before `go` exists, so this line arrives through the live stream.
        assert follower.stdout.readline() == "first\n"
        assert hk("get", "pod", "talker", "-o", "jsonpath={.status.phase}") == "Running"
        go.touch()
        rest, _ = follower.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert rest == "line 0\nline 1\nline 2\n"
    assert follower.returncode == 0
    wait_phase(hk, "talker", "Succeeded")


SLEEP = "import time; print('armed', flush=True); time.sleep(600)"
IGNORE_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('armed', flush=True); time.sleep(600)"
)


@pytest.mark.parametrize(
    ("code", "grace", "min_seconds"),
    [(SLEEP, 5, 0.0), (IGNORE_TERM, 1, 1.0)],
    ids=["sleeper-ends-on-sigterm", "sigterm-ignorer-is-killed-after-grace"],
)
def test_deleting_a_long_running_host_pod_terminates_its_process(
    hk: K, host_node: str, code: str, grace: int, min_seconds: float
) -> None:
    marker = f"suanli-e2e-marker-{uuid.uuid4().hex}"
    manifest = process_pod("sleeper", host_node, "python3", "-c", code, marker)
    manifest["spec"]["terminationGracePeriodSeconds"] = grace
    hk.apply(manifest)
    wait_phase(hk, "sleeper", "Running")
    pids = wait_until(lambda: _pgrep(marker), timeout=10, what="the pod's process to appear")
    assert len(pids) == 1
    wait_until(lambda: hk("logs", "sleeper") == "armed\n", timeout=10, what="the process to arm its handlers")
    started = time.monotonic()
    hk("delete", "pod", "sleeper", "--timeout=30s")
    took = time.monotonic() - started
    assert not hk.exists("pod", "sleeper")
    # A process that ignores SIGTERM survives until the grace period ends, then is killed.
    assert min_seconds <= took < grace + 10
    wait_until(lambda: not _pgrep(marker), timeout=5, what=f"process {pids[0]} to be gone")


def test_image_is_recorded_as_ignored_in_an_event(hk: K, host_node: str) -> None:
    hk.apply(process_pod("evented", host_node, "python3", "-c", "pass"))
    wait_phase(hk, "evented", "Succeeded")

    def pulled() -> list[dict[str, object]]:
        events = json.loads(hk("get", "events", "--field-selector", "involvedObject.name=evented", "-o", "json"))
        return [e for e in events["items"] if e.get("reason") == "Pulled"]

    events = wait_until(pulled, timeout=10, what="a Pulled event for the host pod")
    assert "python:3.11-slim" in str(events[0]["message"])
