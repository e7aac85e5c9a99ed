"""Cost of usage sampling and metrics for 5,000 simulated nodes and 50,000 pods (in-process).

Run: ``python -m bench usage [--nodes 5000] [--pods-per-node 10] [--repeats 3]`` -- prints a
markdown table (median [min-max] of the repeats). Measures the pieces the platform runs:

* **sampling**: :class:`UsageModel` evaluating every pod once (one metrics tick; static samples
  are reused by the agent, so the per-tick cost is the dynamic pods' share plus the reuse);
* **board**: recording every pod and node sample (what the writer does on each tick);
* **scrape**: rendering every node's ``/metrics`` (node-exporter, DCGM) and ``/metrics/resource``,
  with the series count — what a Prometheus scraping every node once costs the server;
* **custom metrics**: one ``pods/*/<metric>`` query for a 500-pod namespace and one external query.

Pods: 60 % without annotations (default usage), 20 % with static ``sim-cpu-usage`` /
``sim-memory-usage``, 10 % with CEL expressions of time alone (a daily curve for CPU and an
application metric: evaluated once per sample time and shared) and 10 % with expressions over
the pod (``pod.SinceSecond()``: evaluated per pod);
one node in five has 8 GPUs, each held by a pod with ``sim-gpu-util`` / ``sim-gpu-memory``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.node.usage.board import SampleBoard
from suanli.node.usage.exposition import NodeDevice, render_node_metrics, render_resource_metrics
from suanli.node.usage.metrics_api import EXTERNAL_GROUP, MetricsApis
from suanli.node.usage.model import Usage, UsageModel
from suanli.runtime.clock import VirtualClock

T0 = 1_700_000_000.0
CURVE = 'int(Now().UnixSecond()) % 86400 < 43200 ? Quantity("400m") : Quantity("100m")'
POD_CURVE = 'Quantity("100m") * (1.0 + double(int(pod.SinceSecond() / 21600.0) % 4))'


def make_pods(nodes: int, per_node: int) -> tuple[list[Obj], list[Obj]]:
    node_objs: list[Obj] = []
    pods: list[Obj] = []
    for n in range(nodes):
        name = f"node-{n}"
        node_objs.append({"metadata": {"name": name, "creationTimestamp": "2023-11-14T22:13:20Z"},
                          "status": {"capacity": {"cpu": "64", "memory": "256Gi", "ephemeral-storage": "1Ti"}}})
        for i in range(per_node):
            k = n * per_node + i
            ann: dict[str, str] = {}
            if k % 5 == 3:
                ann = {"suanli.io/sim-cpu-usage": "250m", "suanli.io/sim-memory-usage": "1Gi"}
            elif k % 10 == 4:
                ann = {"suanli.io/sim-cpu-usage": CURVE, "suanli.io/sim-metric.http_requests_per_second":
                       "int(Now().UnixSecond()) % 86400 < 43200 ? 50.0 : 5.0"}
            elif k % 10 == 9:
                ann = {"suanli.io/sim-cpu-usage": POD_CURVE, "suanli.io/sim-metric.http_requests_per_second":
                       "10.0 * (1.0 + double(int(pod.SinceSecond() / 3600.0) % 24))"}
            if n % 5 == 0 and i < 8:
                ann |= {"suanli.io/allocated-devices": json.dumps({"nvidia.com/gpu": [str(i)]}),
                        "suanli.io/sim-gpu-util": "70", "suanli.io/sim-gpu-memory": "10Gi"}
            pods.append({"metadata": {"name": f"p-{k}", "namespace": f"ns-{k % 100}", "uid": f"u-{k}",
                                      "labels": {"app": f"a-{k % 7}"}, "annotations": ann,
                                      "creationTimestamp": "2023-11-14T22:13:20Z"},
                         "spec": {"nodeName": name, "containers": [{"name": "main", "resources": {
                             "requests": {"cpu": "500m", "memory": "1Gi"}}}]}})
    return node_objs, pods


class _Pods:
    """A client stub listing one namespace's pods (the custom metrics API lists by selector)."""

    def __init__(self, pods: list[Obj]) -> None:
        self.by_ns: dict[str, list[Obj]] = {}
        for p in pods:
            self.by_ns.setdefault(p["metadata"]["namespace"], []).append(p)

    async def list(self, gvr: GVR, namespace: str = "", **_: Any) -> Obj:
        return {"items": self.by_ns.get(namespace, [])}


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3g} [{min(xs):.3g}-{max(xs):.3g}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods-per-node", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    nodes, pods = make_pods(args.nodes, args.pods_per_node)
    node_by_name = {n["metadata"]["name"]: n for n in nodes}
    gpus = [NodeDevice("nvidia.com/gpu", "gpu", i, "A100-SXM4-80GB", 80 << 30) for i in range(8)]
    rows: dict[str, list[float]] = {}
    series = 0
    for r in range(args.repeats):
        model = UsageModel()
        board = SampleBoard()
        t = T0 + 15 * r
        start = time.process_time()
        samples = [model.sample(p, node_by_name[p["spec"]["nodeName"]], t) for p in pods]
        rows.setdefault("sample every pod (s CPU)", []).append(time.process_time() - start)
        dynamic = [i for i, s in enumerate(samples) if s.dynamic]
        per_pod = [i for i in dynamic if "pod." in str(pods[i]["metadata"]["annotations"])]
        time_only = sorted(set(dynamic) - set(per_pod))
        for label, chosen in (("re-sample time-only-expression pods (s CPU per tick)", time_only),
                              ("re-sample per-pod-expression pods (s CPU per tick)", per_pod)):
            start = time.process_time()
            for i in chosen:
                p = pods[i]
                model.sample(p, node_by_name[p["spec"]["nodeName"]], t + 15)
            rows.setdefault(label, []).append(time.process_time() - start)
        start = time.process_time()
        per_node: dict[str, list[int]] = {}
        for p, s in zip(pods, samples, strict=True):
            m = p["metadata"]
            board.record_pod(m["namespace"], m["name"], p["spec"]["nodeName"], m["labels"], s)
            per_node.setdefault(p["spec"]["nodeName"], []).append(s.total().nanocores)
        for name, cpus in per_node.items():
            board.record_node(name, Usage(sum(cpus), 0), t)
        rows.setdefault("record samples on the board (s CPU)", []).append(time.process_time() - start)
        start = time.process_time()
        series = 0
        for n, node in enumerate(nodes):
            text = render_node_metrics(node, board, gpus if n % 5 == 0 else [])
            text += render_resource_metrics(node, board)
            series += sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))
        scrape = time.process_time() - start
        rows.setdefault("scrape every node once (s CPU)", []).append(scrape)
        rows.setdefault("one node scrape (ms CPU)", []).append(1000 * scrape / len(nodes))
        apis = MetricsApis(_Pods(pods), lambda board=board: [board], lambda _r: None,  # type: ignore[arg-type]
                           VirtualClock(0, start=t))
        start = time.perf_counter()
        doc = asyncio.run(apis.serve("custom.metrics.k8s.io", ["namespaces", "ns-4", "pods", "*",
                                                               "http_requests_per_second"], {}))
        rows.setdefault("custom metrics pods/* query, 500-pod namespace (ms)", []).append(
            1000 * (time.perf_counter() - start))
        assert doc["items"], "the query found the namespace's pods"
        start = time.perf_counter()
        asyncio.run(apis.serve(EXTERNAL_GROUP, ["namespaces", "ns-4", "http_requests_per_second"], {}))
        rows.setdefault("external metrics query (ms)", []).append(1000 * (time.perf_counter() - start))
    print(f"{args.nodes} nodes, {len(pods)} pods, {args.repeats} repeats; median [min-max]\n")
    print("| measure | value |\n|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {spread(v)} |")
    print(f"| series across all node scrapes | {series} |")


if __name__ == "__main__":
    main()
