"""Issue 5 acceptance: ``suanli sim`` and ``suanli up`` place the same workload identically.

A 16-pod GPU-sharing trace on 4 nodes is exported with ``suanli sim export-manifests``
(``--all-at-once --queue … --policy …``) and replayed by ``suanli sim replay --engine volcano``
with the exported scheduler configuration. The live side runs ``suanli up --no-demo
--scheduler-config`` with the same file. Batching is made identical: the pods name a
queue that does not exist yet, so the scheduler keeps them pending ("queue … not found");
once *every* pod reports ``PodScheduled=False`` the scheduler's cache holds all of them,
and creating the Queue (one object) lets the next cycle see the whole batch, exactly the
single batch the simulator schedules at time 0. Each pod's node and ``volcano.sh/gpu-index``
must then match the simulator's ``placements.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import REPO, Kubectl, kubectl_binary, start_server

pytestmark = pytest.mark.e2e

T = TypeVar("T")

NODES_CSV = """sn,cpu_milli,memory_mib,gpu,model
node-a,32000,131072,2,T4
node-b,64000,262144,4,V100
node-c,96000,393216,8,A100
node-d,32000,131072,2,T4
"""
PODS_CSV = """name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec
p00,4000,8192,1,500,
p01,2000,4096,1,250,
p02,8000,16384,1,1000,
p03,4000,8192,1,300,
p04,6000,12288,2,1000,
p05,2000,4096,1,700,
p06,4000,8192,1,500,T4
p07,1000,2048,0,0,
p08,4000,8192,1,600,
p09,2000,4096,1,200,
p10,16000,32768,4,1000,
p11,4000,8192,1,450,
p12,2000,4096,1,350,V100|A100
p13,4000,8192,1,800,
p14,2000,4096,1,150,
p15,8000,16384,1,1000,
"""
QUEUE = "sim-agree"
NAMESPACE = "default"


def wait_until(fn: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll another process's state until ``fn`` is truthy (AssertionError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def sim(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "suanli.cli.main", "sim", *args], capture_output=True, text=True,
                          cwd=str(REPO), timeout=120)
    assert proc.returncode == 0, proc.stderr


POLICIES = ["fgd", "fgdpack", "bestfit"]


@pytest.fixture(params=POLICIES, ids=[f"{p}-as-node-order-plugin" for p in POLICIES])
def exported(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "nodes.csv").write_text(NODES_CSV)
    (tmp_path / "pods.csv").write_text(PODS_CSV)
    return tmp_path, str(request.param)


def pods_json(kubectl: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json"))["items"]
    return items


def scheduled_false(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conds)


@pytest.fixture
def live(exported: tuple[Path, str]) -> Iterator[Kubectl]:
    base, policy = exported
    sim("export-manifests", "--nodes", str(base / "nodes.csv"), "--pods", str(base / "pods.csv"),
        "--all-at-once", "--queue", QUEUE, "--policy", policy, "--namespace", NAMESPACE,
        "--out", str(base / "manifests"))
    conf = base / "manifests" / "scheduler.conf"
    server = start_server(base / "data", base / "kubeconfig", extra=["--scheduler-config", str(conf)])
    try:
        yield Kubectl(kubectl_binary(), server.kubeconfig)
    finally:
        server.stop()


def test_live_scheduler_places_the_batch_exactly_like_the_simulator(exported: tuple[Path, str],
                                                                    live: Kubectl) -> None:
    base, policy = exported
    manifests = base / "manifests"
    sim("replay", "--manifests", str(manifests), "--scheduler-config", str(manifests / "scheduler.conf"),
        "--policy", policy, "--seed", "42", "--out", str(base / "sim"))
    expected: dict[str, dict[str, str]] = json.loads((base / "sim" / "placements.json").read_text())
    names = [f"p{i:02d}" for i in range(16)]
    assert len(expected) >= 12, "the simulator should place most of the batch"

    live("apply", "-f", str(manifests / "nodes.yaml"))
    nodes = json.loads(live("get", "nodes", "-o", "json"))["items"]
    assert {n["status"]["allocatable"].get("volcano.sh/gpu-number") for n in nodes} == {"2", "4", "8"}
    live("create", "-f", str(manifests / "pods.yaml"))  # created in file order p00 … p15
    wait_until(lambda: (lambda ps: len(ps) == 16 and all(scheduled_false(p) for p in ps))(pods_json(live)),
               timeout=60, what="every pod to be reported unschedulable (queue not found)")
    assert all(not (p.get("spec") or {}).get("nodeName") for p in pods_json(live))

    live("apply", "-f", str(manifests / "queue.yaml"))
    placed_names = sorted(k.split("/", 1)[1] for k in expected)
    wait_until(lambda: all((p.get("spec") or {}).get("nodeName") for p in pods_json(live)
                           if p["metadata"]["name"] in placed_names),
               timeout=60, what="the pods the simulator placed to be bound")

    actual = {}
    for p in pods_json(live):
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            gpu = ((p["metadata"].get("annotations") or {}).get("volcano.sh/gpu-index")) or ""
            actual[f"{NAMESPACE}/{p['metadata']['name']}"] = {"node": node, "gpu_index": gpu}
    assert actual == expected
    assert sorted(set(names) - set(placed_names)) == sorted(
        p["metadata"]["name"] for p in pods_json(live) if not (p.get("spec") or {}).get("nodeName"))
