"""`kubectl top` works against the pool: NodeMetrics for every node, PodMetrics for running pods."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Kubectl
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import DEMO_NODES, process_pod, wait_phase

pytestmark = pytest.mark.e2e

#: Metrics are written every ~15 s; allow two rounds plus start-up.
METRICS_DEADLINE = 40.0


def _rows(output: str) -> tuple[list[str], dict[str, list[str]]]:
    lines = output.strip().splitlines()
    return lines[0].split(), {line.split()[0]: line.split() for line in lines[1:]}


def test_top_nodes_lists_every_node_with_cpu_and_memory(kc: Kubectl, host_node: str) -> None:
    wanted = {*DEMO_NODES, host_node}

    def listed() -> tuple[list[str], dict[str, list[str]]] | None:
        proc = kc.run("top", "nodes", check=False)
        if proc.returncode != 0:
            return None
        header, rows = _rows(proc.stdout)
        # kubectl prints <unknown> for a node whose NodeMetrics have not been written yet.
        complete = wanted <= rows.keys() and all("<unknown>" not in rows[n] for n in wanted)
        return (header, rows) if complete else None

    header, rows = wait_until(
        listed, timeout=METRICS_DEADLINE, interval=1.0, what="kubectl top nodes with figures for every node"
    )
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    for name in wanted:
        cpu, _cpu_pct, memory, _mem_pct = rows[name][1:5]
        assert cpu.endswith("m") or cpu.isdigit(), rows[name]
        assert memory.endswith(("Ki", "Mi", "Gi")), rows[name]
    # The host reports real usage: a running machine uses some memory.
    assert rows[host_node][3] != "0Mi"


def test_top_pods_lists_running_simulated_and_host_pods(hk: K, host_node: str) -> None:
    sim = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "busy-sim",
            "annotations": {"suanli.io/sim-cpu-usage": "250m", "suanli.io/sim-memory-usage": "64Mi"},
        },
        "spec": {"nodeName": "demo-manycore-0", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    }
    marker = f"suanli-top-{uuid.uuid4().hex}"
    hk.apply(
        sim,
        process_pod("busy-host", host_node, "python3", "-c", "import time; time.sleep(600)", marker, restart="Always"),
    )
    wait_phase(hk, "busy-sim", "Running")
    wait_phase(hk, "busy-host", "Running")

    def listed() -> dict[str, list[str]] | None:
        proc = hk.run("top", "pods")
        if proc.returncode != 0:
            return None
        header, rows = _rows(proc.stdout)
        assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        return rows if {"busy-sim", "busy-host"} <= rows.keys() else None

    rows = wait_until(listed, timeout=METRICS_DEADLINE, interval=1.0, what="kubectl top pods listing both pods")
    assert rows["busy-sim"][1:] == ["250m", "64Mi"]
    assert rows["busy-host"][2] != "0Mi"  # a live python process has resident memory
    hk("delete", "pod", "busy-host", "--timeout=20s")
