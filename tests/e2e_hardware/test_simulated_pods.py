"""Pods bound to simulated nodes follow their annotations: Running for a duration, then the given exit code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import K
from tests.e2e_hardware.conftest import wait_phase

pytestmark = pytest.mark.e2e

CASES = [("0", "Succeeded", 0, "Completed"), ("2", "Failed", 2, "Error")]


def sim_pod(name: str, node: str, *, duration: str, exit_code: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "annotations": {"suanli.io/sim-duration": duration, "suanli.io/sim-exit-code": exit_code},
        },
        "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    }


@pytest.mark.parametrize(
    ("exit_code", "phase", "code", "reason"), CASES, ids=["exit-0-runs-then-succeeds", "exit-2-runs-then-fails"]
)
def test_simulated_pod_runs_for_its_duration_then_ends_with_its_exit_code(
    hk: K, exit_code: str, phase: str, code: int, reason: str
) -> None:
    watcher, _log = hk.popen_watching(
        "get", "pods", "-w", "--field-selector", "metadata.name=sim", "-o", 'jsonpath={.status.phase}{"\\n"}'
    )
    try:
        hk.apply(sim_pod("sim", "demo-manycore-0", duration="1s", exit_code=exit_code))
        wait_phase(hk, "sim", phase, timeout=15)
    finally:
        watcher.terminate()
        seen, _ = watcher.communicate(timeout=10)
    phases = [p for p in seen.split() if p]
    assert "Running" in phases and phase in phases, phases
    assert phases.index("Running") < phases.index(phase), phases
    status = hk.json("pod", "sim")["status"]
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (code, reason)
    assert status["hostIP"] and status["podIP"]


def test_simulated_pod_without_duration_runs_until_deleted(hk: K) -> None:
    manifest = sim_pod("forever", "demo-manycore-0", duration="1s", exit_code="0")
    del manifest["metadata"]["annotations"]
    hk.apply(manifest)
    wait_phase(hk, "forever", "Running")
    hk("delete", "pod", "forever", "--timeout=20s")
    assert not hk.exists("pod", "forever")
