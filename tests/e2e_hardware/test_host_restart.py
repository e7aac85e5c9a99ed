"""A server restart never silently restarts host pods.

* killed server (`kill -9`): a container whose shim still runs is *adopted* — same pid, same
  restartCount, no restart event, its log keeps growing and exec still reaches it; one that exited
  meanwhile reports its real exit code; one whose shim was SIGKILLed too starts again with
  restartCount + 1 and a SandboxChanged event, its leftover process killed;
* clean stop: the server stops its containers, and the next one starts them again with
  restartCount + 1, a SandboxChanged event and the previous log kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from suanli.node.agent.host import process_start_ticks
from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import RUNTIME_ANNOTATION, get_json, process_pod, wait_phase

pytestmark = pytest.mark.e2e


def _pgrep(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def _host(kc: Kubectl) -> str:
    def find() -> str | None:
        for node in get_json(kc, "nodes")["items"]:
            if (node["metadata"].get("annotations") or {}).get(RUNTIME_ANNOTATION) == "process":
                return str(node["metadata"]["name"])
        return None

    return wait_until(find, timeout=30, what="the host node")


def _status(k: K, name: str) -> dict[str, Any]:
    return dict((k.json("pod", name)["status"].get("containerStatuses") or [{}])[0])


def _events(k: K, name: str, reason: str) -> list[dict[str, Any]]:
    events = json.loads(k("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"))
    return [e for e in events["items"] if e.get("reason") == reason]


def _shim_pid(data: Path, uid: str) -> int:
    return int((data / "_shims" / uid / "main" / "shim.pid").read_text().split(":")[0])


@dataclass
class Restarted:
    k: K
    markers: dict[str, str]
    pids: dict[str, list[int]]
    killed_shim_container: int
    stray_dir: Path
    stray_marker: str


def _stray_shim(data: Path, base: Path, marker: str) -> tuple[Path, subprocess.Popen[bytes]]:
    """A shim whose pod does not exist (as if deleted while no server ran), started as the runtime would."""
    run = data / "_shims" / str(uuid.uuid4()) / "main"
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({
        "command": ["python3", "-c", f"import time; time.sleep(600)  # {marker}"],
        "env": {"PATH": os.environ.get("PATH", "")}, "log": str(base / "stray.log")}))
    shim = subprocess.Popen([sys.executable, "-m", "suanli.node.shim", str(run)], stdout=subprocess.PIPE,
                            start_new_session=True)
    assert shim.stdout is not None
    pid = int(json.loads(shim.stdout.readline())["pid"])
    for name, p in (("shim.pid", shim.pid), ("container.pid", pid)):
        (run / name).write_text(f"{p}:{process_start_ticks(p)}")
    return run.parent, shim


@pytest.fixture(scope="module")
def killed_and_restarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restarted]:
    """Three host pods; `kill -9` the server; while it is down one pod's command exits 3 and another's
    shim is SIGKILLed; restart the server on the same data dir."""
    base = tmp_path_factory.mktemp("killed")
    data, kubeconfig, flag = base / "data", base / "kubeconfig", base / "exit-now"
    markers = {name: f"suanli-{name}-{uuid.uuid4().hex}" for name in ("adoptee", "exiter", "orphan")}
    scripts = {
        "adoptee": "import itertools, time\nfor i in itertools.count(): print(i, flush=True); time.sleep(0.2)",
        "exiter": f"import os, sys, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.05)\nsys.exit(3)",
        "orphan": "import time; print('up', flush=True); time.sleep(600)",
    }
    srv: Server = start_server(data, kubeconfig, demo=True)
    k = K(Kubectl(kubectl_binary(), kubeconfig), "default")
    try:
        host = _host(k.kubectl)
        for name, script in scripts.items():
            k.apply(process_pod(name, host, "python3", "-c", f"{script}  # {markers[name]}",
                                restart="Always" if name != "exiter" else "Never"))
        for name in scripts:
            wait_phase(k, name, "Running", timeout=30)
        pids = {name: _pgrep(markers[name]) for name in scripts}
        orphan_shim = _shim_pid(data, k.json("pod", "orphan")["metadata"]["uid"])
        wait_until(lambda: len(k("logs", "adoptee").split()) >= 3, timeout=30, what="the adoptee to log")
    finally:
        srv.stop(sig=signal.SIGKILL)
    flag.touch()
    wait_until(lambda: not _pgrep(markers["exiter"]), timeout=30, what="the exiter to exit while the server is down")
    os.kill(orphan_shim, signal.SIGKILL)
    stray_marker = f"suanli-stray-{uuid.uuid4().hex}"
    stray_dir, stray_shim = _stray_shim(data, base, stray_marker)
    srv = start_server(data, kubeconfig, demo=True)
    try:
        yield Restarted(k, markers, pids, pids["orphan"][0], stray_dir, stray_marker)
    finally:
        srv.stop()
        if stray_shim.poll() is None:
            stray_shim.kill()
        stray_shim.wait()


def test_a_running_container_is_adopted_with_the_same_process(killed_and_restarted: Restarted) -> None:
    r = killed_and_restarted
    k, marker = r.k, r.markers["adoptee"]
    wait_until(lambda: "running" in (_status(k, "adoptee").get("state") or {}), timeout=30,
               what="the adoptee to be reported running")
    before = len(k("logs", "adoptee").split())
    wait_until(lambda: len(k("logs", "adoptee").split()) > before + 2, timeout=30,
               what="the adopted container's log to keep growing")
    assert _pgrep(marker) == r.pids["adoptee"] and len(r.pids["adoptee"]) == 1  # same process, not a copy
    assert _status(k, "adoptee")["restartCount"] == 0
    assert _events(k, "adoptee", "SandboxChanged") == []
    proc = k.run("exec", "adoptee", "--", "sh", "-c", "echo reached")
    assert proc.returncode == 0 and proc.stdout == "reached\n", proc.stderr


def test_a_container_that_exited_while_the_server_was_down_reports_its_exit_code(
        killed_and_restarted: Restarted) -> None:
    k = killed_and_restarted.k
    wait_phase(k, "exiter", "Failed", timeout=30)
    status = _status(k, "exiter")
    assert status["state"]["terminated"]["exitCode"] == 3
    assert status["restartCount"] == 0


def test_a_container_whose_shim_was_killed_restarts_counted_and_explained(killed_and_restarted: Restarted) -> None:
    r = killed_and_restarted
    k, marker = r.k, r.markers["orphan"]

    def restarted() -> dict[str, Any] | None:
        cs = _status(k, "orphan")
        return cs if cs.get("restartCount") == 1 and "running" in (cs.get("state") or {}) else None

    wait_until(restarted, timeout=30, what="the orphan to run again with restartCount 1")
    changed = _events(k, "orphan", "SandboxChanged")
    assert len(changed) == 1 and "restarted" in changed[0]["message"]
    assert f"pid {r.killed_shim_container}" in changed[0]["message"]  # the leftover container was killed
    wait_until(lambda: len(_pgrep(marker)) == 1 and _pgrep(marker) != r.pids["orphan"], timeout=30,
               what="exactly one new copy of the orphan's command")
    assert k("logs", "orphan", "--previous") == "up\n"


def test_a_shim_whose_pod_is_gone_is_stopped_and_its_run_dir_dropped(killed_and_restarted: Restarted) -> None:
    r = killed_and_restarted
    wait_until(lambda: not _pgrep(r.stray_marker) and not r.stray_dir.exists(), timeout=30,
               what="the stray container to be stopped and its run dir removed")


def test_a_clean_stop_restarts_containers_counted_and_explained(tmp_path: Path) -> None:
    marker = f"suanli-restart-marker-{uuid.uuid4().hex}"
    data, kubeconfig = tmp_path / "data", tmp_path / "kubeconfig"
    srv = start_server(data, kubeconfig, demo=True)
    try:
        k = K(Kubectl(kubectl_binary(), kubeconfig), "default")
        host = _host(k.kubectl)
        script = f"import time; print('up', flush=True); time.sleep(600)  # {marker}"
        k.apply(process_pod("survivor", host, "python3", "-c", script, restart="Always"))
        wait_phase(k, "survivor", "Running")
        wait_until(lambda: k("logs", "survivor") == "up\n", timeout=20, what="the first run to log")
        first = _pgrep(marker)
        assert len(first) == 1
    finally:
        srv.stop(sig=signal.SIGTERM)
    assert _pgrep(marker) == []  # a clean stop stops the containers
    srv = start_server(data, kubeconfig, demo=True)
    try:
        def restarted() -> dict[str, Any] | None:
            cs = _status(k, "survivor")
            return cs if cs.get("restartCount") == 1 and "running" in (cs.get("state") or {}) else None

        wait_until(restarted, timeout=30, what="the host pod to run again with restartCount 1")
        changed = _events(k, "survivor", "SandboxChanged")
        assert len(changed) == 1 and "restarted" in changed[0]["message"]
        assert k("logs", "survivor", "--previous") == "up\n"
        wait_until(lambda: k("logs", "survivor") == "up\n", timeout=20, what="the second run to log")
        now = _pgrep(marker)
        assert len(now) == 1 and now != first
    finally:
        srv.stop()
