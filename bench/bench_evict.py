"""Benchmark the core's ``preempt`` and ``reclaim`` actions (no API server): one cycle's latency.

Usage: .venv/bin/python bench/bench_evict.py [--repeats 3] [--quick]

Scenarios (N nodes of 4 CPU, each full with one 4-CPU pod; ``enqueue, allocate, <action>``):
* preempt, nothing evictable: the running pods belong to higher-priority jobs, P pending
  2-CPU pods of low priority are starving — the cost of looking at every node for nothing;
* preempt: the running pods are preemptable and of lower priority, P pending 2-CPU pods of
  high priority — each eviction makes room for two of them;
* reclaim: the running pods are preemptable in queue ``a`` (weight 1), P pending pods in
  queue ``b`` (weight 1) reclaim up to b's share.

Prints a markdown table: cycle P50/P99 over the repeats, evictions and pipelined tasks.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.bench_scheduler_core import node, pod
from suanli.scheduler.core import parse_config, schedule, snapshot_from_objects

Obj = dict[str, Any]

TIERS = """
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
    enablePreemptable: false
  - name: predicates
  - name: proportion
  - name: nodeorder
"""
PCS: list[Obj] = [
    {"metadata": {"name": "low"}, "value": 10},
    {"metadata": {"name": "high"}, "value": 1000},
]


def _queue(name: str) -> Obj:
    return {"metadata": {"name": name}, "spec": {"weight": 1}, "status": {"state": "Open"}}


def _pg(name: str, queue: str, min_member: int, prio: str, phase: str) -> Obj:
    return {
        "metadata": {"namespace": "bench", "name": name},
        "spec": {"minMember": min_member, "queue": queue, "priorityClassName": prio},
        "status": {"phase": phase},
    }


def cluster(n_nodes: int, pending: int, *, victims: str, starving: str, preemptable: bool,
            queues: tuple[str, str]) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
    nodes = [node(f"node-{i:05d}", {"cpu": "4", "memory": "32Gi", "pods": "110"}) for i in range(n_nodes)]
    pods, pgs = [], []
    for i in range(n_nodes):
        p = pod(f"run-{i}", {"cpu": "4"}, f"node-{i:05d}", group=f"run-{i}", i=i)
        p["metadata"]["annotations"]["volcano.sh/preemptable"] = "true" if preemptable else "false"
        pods.append(p)
        pgs.append(_pg(f"run-{i}", queues[0], 0, victims, "Running"))
    for j in range(pending):
        pods.append(pod(f"want-{j}", {"cpu": "2"}, group=f"want-{j}", i=j))
        pgs.append(_pg(f"want-{j}", queues[1], 1, starving, "Inqueue"))
    return nodes, pods, pgs, [_queue(q) for q in sorted(set(queues))]


def run(name: str, build: Callable[[], tuple[list[Obj], list[Obj], list[Obj], list[Obj]]], action: str,
        repeats: int) -> str:
    nodes, pods, pgs, queues = build()
    snap = snapshot_from_objects(nodes, pods, pgs, queues, PCS)
    cfg = parse_config(f'actions: "enqueue, allocate, {action}"' + TIERS)
    times = []
    evictions = pipelined = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        d = schedule(snap, cfg)
        times.append(time.perf_counter() - t0)
        evictions, pipelined = len(d.evictions), len(d.pipelined)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    return f"| {name} | {evictions} | {pipelined} | {statistics.median(times):.3f} | {p99:.3f} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="a tenth of every scenario")
    args = ap.parse_args()
    f = 10 if args.quick else 1
    n, p = 5000 // f, 500 // f
    print("| scenario | evictions | pipelined | cycle P50 (s) | cycle P99 (s) |")
    print("|---|---:|---:|---:|---:|")
    print(run(f"preempt, nothing evictable: {n} full nodes, {p} starving pods",
              lambda: cluster(n, p, victims="high", starving="low", preemptable=True, queues=("default", "default")),
              "preempt", args.repeats), flush=True)
    print(run(f"preempt: {n} full nodes, {p} high-priority pods",
              lambda: cluster(n, p, victims="low", starving="high", preemptable=True, queues=("default", "default")),
              "preempt", args.repeats), flush=True)
    print(run(f"reclaim: {n} full nodes of queue a, {p} pods of queue b",
              lambda: cluster(n, p, victims="low", starving="low", preemptable=True, queues=("a", "b")),
              "reclaim", args.repeats), flush=True)


if __name__ == "__main__":
    main()
