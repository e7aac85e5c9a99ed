"""Benchmark the pure scheduling core (no API server): throughput and cycle latency.

Usage: .venv/bin/python bench/bench_scheduler_core.py [--repeats 3] [--quick]

Scenarios (kube-scheduler scheduler_perf shapes, core alone):
* SchedulingBasic: 5,000 nodes (4 CPU, 32 GiB, 110 pods), 1,000 bound pods, then
  10,000 pending pods (100m CPU, 500 MiB) scheduled in one cycle → pods/s;
* live-like: 5,000 nodes, 11,000 bound singleton pods, 1,500 pending (the live
  server's state in the end-to-end benchmark: per-cycle cost should follow the
  pending work, not the bound pods);
* gangs: 10 gangs x 5,000 pods on 5,000 nodes, and 1,000 gangs x 3;
* GPU sharing (``volcano.sh/gpu-memory``) and NPU (``huawei.com/Ascend910`` with
  topology) workloads on 1,000 device nodes.

Each scenario reports cycle latency P50/P99 over the repeats (``schedule()`` only;
snapshot conversion is shown separately) and peak traced memory of one cycle
(tracemalloc, which also slows that run, so it is measured apart). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suanli.scheduler.core import SchedulerConfig, Snapshot, parse_config, schedule, snapshot_from_objects
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT

Obj = dict[str, Any]

# Volcano's default configuration with the deviceshare plugin added to the second tier
DEVICE_CONF = DEFAULT_CONFIG_TEXT + "  - name: deviceshare\n"


def node(name: str, alloc: dict[str, str], annotations: dict[str, str] | None = None) -> Obj:
    return {
        "metadata": {"name": name, "labels": {}, "annotations": annotations or {}},
        "spec": {},
        "status": {"allocatable": alloc},
    }


def pod(name: str, req: dict[str, str], node_name: str = "", group: str | None = None, i: int = 0) -> Obj:
    ann = {"scheduling.k8s.io/group-name": group} if group else {}
    spec: Obj = {"schedulerName": "volcano", "containers": [{"name": "c", "resources": {"requests": req}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {
            "namespace": "bench",
            "name": name,
            "uid": name,
            "annotations": ann,
            "creationTimestamp": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
        },
        "spec": spec,
        "status": {"phase": "Running" if node_name else "Pending"},
    }


def podgroup(name: str, min_member: int) -> Obj:
    return {
        "metadata": {"namespace": "bench", "name": name},
        "spec": {"minMember": min_member, "queue": "default"},
        "status": {"phase": "Inqueue"},
    }


BASIC_NODE = {"cpu": "4", "memory": "32Gi", "pods": "110"}
BASIC_POD = {"cpu": "100m", "memory": "500Mi"}


def basic(n_nodes: int, init: int, measured: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    nodes = [node(f"node-{i:05d}", BASIC_NODE) for i in range(n_nodes)]
    pods = [pod(f"init-{i}", BASIC_POD, f"node-{i % n_nodes:05d}") for i in range(init)]
    pods += [pod(f"pod-{i}", BASIC_POD, i=i) for i in range(measured)]
    return nodes, pods, []


def live_like(n_nodes: int, bound: int, pending: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """The live server's state mid-benchmark: many bound singleton pods, a batch pending."""
    nodes = [node(f"node-{i:05d}", BASIC_NODE) for i in range(n_nodes)]
    pods = [pod(f"bound-{i}", BASIC_POD, f"node-{i % n_nodes:05d}", i=i) for i in range(bound)]
    pods += [pod(f"pod-{i}", BASIC_POD, i=i) for i in range(pending)]
    return nodes, pods, []


def gangs(n_nodes: int, n_gangs: int, size: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    nodes = [node(f"node-{i:05d}", BASIC_NODE) for i in range(n_nodes)]
    pods = [pod(f"g{g}-{k}", BASIC_POD, group=f"g{g}", i=g) for g in range(n_gangs) for k in range(size)]
    return nodes, pods, [podgroup(f"g{g}", size) for g in range(n_gangs)]


def gpu_share(n_nodes: int, n_pods: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    alloc = {
        "cpu": "64",
        "memory": "256Gi",
        "pods": "110",
        "volcano.sh/gpu-number": "8",
        "volcano.sh/gpu-memory": "128000",
    }
    nodes = [node(f"gpu-{i:04d}", alloc) for i in range(n_nodes)]
    sizes = [2000, 4000, 8000, 16000]
    pods = [
        pod(f"share-{i}", {"cpu": "1", "memory": "4Gi", "volcano.sh/gpu-memory": str(sizes[i % 4])}, i=i)
        for i in range(n_pods)
    ]
    return nodes, pods, []


def npu(n_nodes: int, n_pods: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    topo = json.dumps({"huawei.com/Ascend910": [[0, 1, 2, 3], [4, 5, 6, 7]]})
    alloc = {"cpu": "192", "memory": "1536Gi", "pods": "110", "huawei.com/Ascend910": "8"}
    nodes = [node(f"npu-{i:04d}", alloc, {"suanli.io/device-topology": topo}) for i in range(n_nodes)]
    counts = [1, 2, 4, 8]
    pods = [
        pod(f"npu-{i}", {"cpu": "8", "memory": "64Gi", "huawei.com/Ascend910": str(counts[i % 4])}, i=i)
        for i in range(n_pods)
    ]
    return nodes, pods, []


@dataclass
class Result:
    name: str
    pods: int
    binds: int
    convert_s: float
    p50_s: float
    p99_s: float
    peak_mib: float


def run(
    name: str, build: Callable[[], tuple[list[Obj], list[Obj], list[Obj]]], cfg: SchedulerConfig, repeats: int
) -> Result:
    nodes, pods, pgs = build()
    t0 = time.perf_counter()
    snap: Snapshot = snapshot_from_objects(nodes, pods, pgs, [], [])
    convert = time.perf_counter() - t0
    pending = sum(1 for t in snap.tasks if t.node < 0)
    times = []
    binds = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = schedule(snap, cfg)
        times.append(time.perf_counter() - t0)
        binds = len(d.binds)
    tracemalloc.start()
    schedule(snap, cfg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    return Result(name, pending, binds, convert, statistics.median(times), p99, peak / 2**20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a tenth of every scenario")
    args = ap.parse_args()
    f = 10 if args.quick else 1
    default = parse_config(None)
    dev = parse_config(DEVICE_CONF)
    scenarios: list[tuple[str, Callable[[], tuple[list[Obj], list[Obj], list[Obj]]], SchedulerConfig]] = [
        (
            f"SchedulingBasic {5000 // f} nodes, {1000 // f} init, {10000 // f} pods",
            lambda: basic(5000 // f, 1000 // f, 10000 // f),
            default,
        ),
        (
            f"Live-like {5000 // f} nodes, {11000 // f} bound, {1500 // f} pending",
            lambda: live_like(5000 // f, 11000 // f, 1500 // f),
            default,
        ),
        (f"Gangs 10 x {5000 // f} on {5000 // f} nodes", lambda: gangs(5000 // f, 10, 5000 // f), default),
        (f"Gangs {1000 // f} x 3 on {5000 // f} nodes", lambda: gangs(5000 // f, 1000 // f, 3), default),
        (f"GPU share {2000 // f} pods on {1000 // f} nodes", lambda: gpu_share(1000 // f, 2000 // f), dev),
        (f"NPU {2000 // f} pods on {1000 // f} nodes", lambda: npu(1000 // f, 2000 // f), dev),
    ]
    cols = ["scenario", "pending pods", "binds", "snapshot build (s)", "cycle P50 (s)", "cycle P99 (s)"]
    print("| " + " | ".join([*cols, "pods/s (P50)", "peak MiB"]) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, build, cfg in scenarios:
        r = run(name, build, cfg, args.repeats)
        rate = r.binds / r.p50_s if r.p50_s > 0 else 0.0
        print(
            f"| {r.name} | {r.pods} | {r.binds} | {r.convert_s:.2f} | {r.p50_s:.3f} | {r.p99_s:.3f} | "
            f"{rate:,.0f} | {r.peak_mib:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
