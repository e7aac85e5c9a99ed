"""A server restart never silently restarts host pods: restartCount + 1, a SandboxChanged event, previous log kept,
and a leftover process of a killed server is not left running beside the new one."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Kubectl, kubectl_binary, start_server
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


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["clean-stop", "server-killed"])
def test_server_restart_counts_a_restart_and_says_why(tmp_path: Path, stop_signal: int) -> None:
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
        srv.stop(sig=stop_signal)
    srv = start_server(data, kubeconfig, demo=True)
    try:
        def restarted() -> dict[str, object] | None:
            pod = k.json("pod", "survivor")
            cs = (pod["status"].get("containerStatuses") or [{}])[0]
            return pod if cs.get("restartCount") == 1 and "running" in (cs.get("state") or {}) else None

        wait_until(restarted, timeout=30, what="the host pod to run again with restartCount 1")
        events = json.loads(k("get", "events", "--field-selector", "involvedObject.name=survivor", "-o", "json"))
        changed = [e for e in events["items"] if e.get("reason") == "SandboxChanged"]
        assert len(changed) == 1 and "restarted" in changed[0]["message"]
        assert k("logs", "survivor", "--previous") == "up\n"
        wait_until(lambda: k("logs", "survivor") == "up\n", timeout=20, what="the second run to log")
        now = _pgrep(marker)
        assert len(now) == 1 and now != first  # exactly one copy runs: the old process is gone
    finally:
        srv.stop()
