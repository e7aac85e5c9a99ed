"""`kubectl logs` flags against host pods (CRI-format logs) and the clear errors kubelet gives."""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import process_pod, wait_phase

pytestmark = pytest.mark.e2e

#: kubelet's RFC3339Nano prefix (nanoseconds, UTC "Z").
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")
THREE_LINES = "print('one'); print('two'); print('three')"


@pytest.fixture
def three(hk: K, host_node: str) -> K:
    hk.apply(process_pod("three", host_node, "python3", "-c", THREE_LINES))
    wait_phase(hk, "three", "Succeeded")
    return hk


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), "one\ntwo\nthree\n"),
        (("--tail=1",), "three\n"),
        (("--tail=0",), ""),
        (("--limit-bytes=5",), "one\nt"),
        (("--since=1h",), "one\ntwo\nthree\n"),
        (("--tail=2", "--limit-bytes=4"), "two\n"),
    ],
    ids=["all-lines", "tail-1-is-the-last-line", "tail-0-is-nothing", "limit-bytes-cuts-mid-line",
         "since-an-hour-keeps-everything", "tail-applies-before-limit-bytes"],
)
def test_logs_flags_filter_a_finished_host_pod(three: K, flags: tuple[str, ...], expected: str) -> None:
    assert three("logs", "three", *flags) == expected


def test_logs_timestamps_prefix_every_line_with_rfc3339nano_in_order(three: K) -> None:
    out = three("logs", "three", "--timestamps").splitlines()
    matches = [STAMP.match(line) for line in out]
    assert all(matches), out
    assert [m.group(2) for m in matches if m] == ["one", "two", "three"]
    stamps = [m.group(1) for m in matches if m]
    assert stamps == sorted(stamps)
    pod = three.json("pod", "three")
    started = pod["status"]["containerStatuses"][0]["state"]["terminated"]["startedAt"]
    assert stamps[0][:19] >= started[:19]  # lines are stamped when written, after the container started


def test_logs_since_time_keeps_only_lines_written_after_it(hk: K, host_node: str, tmp_path: Path) -> None:
    go = tmp_path / f"go-{uuid.uuid4().hex}"
    script = (
        "import os, time\n"
        "print('early', flush=True)\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
        "print('late', flush=True)\n"
    )
    hk.apply(process_pod("staged", host_node, "python3", "-c", script))
    wait_until(lambda: hk("logs", "staged") == "early\n", timeout=20, what="the early line")
    # kubectl sends sinceTime with whole seconds: cut at the next second, and write "late" only after it
    cut = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) >= cut, timeout=5, what="the cut-off second to pass")
    go.touch()
    wait_phase(hk, "staged", "Succeeded")
    assert hk("logs", "staged") == "early\nlate\n"
    assert hk("logs", "staged", f"--since-time={cut.strftime('%Y-%m-%dT%H:%M:%SZ')}") == "late\n"


def test_logs_previous_without_a_restart_is_an_error_naming_the_container(three: K) -> None:
    proc = three.run("logs", "three", "--previous", check=False)
    assert proc.returncode != 0
    assert 'previous terminated container "main" in pod "three" not found' in proc.stderr


def test_logs_previous_shows_the_run_before_a_restart(hk: K, host_node: str, tmp_path: Path) -> None:
    counter = tmp_path / f"runs-{uuid.uuid4().hex}"
    script = (
        "import os, sys, time\n"
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) + 1 if os.path.exists(p) else 1\n"
        "open(p, 'w').write(str(n))\n"
        "print('run', n, flush=True)\n"
        "if n == 1: sys.exit(1)\n"
        "time.sleep(600)\n"
    )
    hk.apply(process_pod("again", host_node, "python3", "-c", script, restart="Always"))
    wait_until(lambda: hk("logs", "again") == "run 2\n", timeout=30, what="the second run to log")
    assert hk("logs", "again", "--previous") == "run 1\n"
    assert hk("get", "pod", "again", "-o", "jsonpath={.status.containerStatuses[0].restartCount}") == "1"


def test_logs_of_a_simulated_pod_say_it_has_no_log(hk: K) -> None:
    hk.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "simmed"},
        "spec": {"nodeName": "demo-manycore-0", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    })
    wait_phase(hk, "simmed", "Running")
    proc: subprocess.CompletedProcess[str] = hk.run("logs", "simmed", check=False)
    assert proc.returncode != 0
    assert 'pod "simmed" runs on simulated node "demo-manycore-0"' in proc.stderr
    assert "no log" in proc.stderr
