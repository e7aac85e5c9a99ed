"""Simulated node agent: idle cost of many fake nodes, and pod lifecycle throughput.

Run: ``.venv/bin/python bench/bench_agent.py`` (5,000 nodes, 60 s idle window, 50,000
pods; about 3-4 min) or ``--quick`` (1,000 nodes, 20 s, 5,000 pods). Prints a markdown
table.

Everything runs in one process, as in ``suanli up``: durable SQLite store (temporary
directory), API service, LocalClient, :class:`SimAgent`. The CPU share is process CPU
time over wall time during the idle window, so it *includes* the API server and store
work caused by the agent's lease renewals, status heartbeats and metrics writes.
Throughput pods are created with ``spec.nodeName`` set (round-robin over the nodes),
``restartPolicy: Never`` and ``suanli.io/sim-duration: 100ms``; the figure is pods that
reached Succeeded per second, from the first create to the last Succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.agent import METRICS_BUCKETS, AgentConfig, SimAgent
from suanli.node.agent.framework import NODES, PODS
from suanli.storage import Store


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def wait_until(pred: object, timeout: float, poll: float = 0.5) -> float:
    start = time.perf_counter()
    while not pred():  # type: ignore[operator]
        if time.perf_counter() - start > timeout:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(poll)
    return time.perf_counter() - start


async def run(nodes: int, idle: float, pods: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    data = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(data, volatile_buckets=METRICS_BUCKETS)
    await store.start()
    store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
    service = ApiService(store, registry)
    client = LocalClient(service)
    ns_rt = registry.get("", "v1", "namespaces")
    assert ns_rt is not None
    for ns in ("default", "kube-node-lease"):
        await service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    agent = SimAgent(client, config=AgentConfig(seed=1))
    task = asyncio.create_task(agent.run())
    await agent.ready.wait()
    rss0 = rss_mib()

    # -- start-up: create the nodes, wait until every one has a lease and Ready status
    t0 = time.perf_counter()
    names = [f"fake-{i:05d}" for i in range(nodes)]
    for i in range(0, nodes, 500):
        await asyncio.gather(*(client.create(NODES, {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "annotations": {"kwok.x-k8s.io/node": "fake"}}}) for n in names[i:i + 500]))
    await wait_until(lambda: store.count("coordination.k8s.io/leases") >= nodes, 600)
    await wait_until(lambda: len(agent.queue) == 0 and not agent.queue.processing, 600)
    startup = time.perf_counter() - t0
    rows.append(("fake nodes", f"{nodes:,}"))
    rows.append(("start-up (create nodes → all Ready with a lease)", f"{startup:.1f} s"))

    # -- idle window
    await asyncio.sleep(min(5.0, idle / 4))
    leases_before = agent.metrics.writes
    c0, w0 = cpu_seconds(), time.perf_counter()
    rev0 = store.revision
    await asyncio.sleep(idle)
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
    writes = store.revision - rev0
    rows.append((f"idle CPU share ({wall:.0f} s window, whole process)", f"{100 * cpu / wall:.2f} % of one core"))
    rows.append(("idle API writes (leases + status + metrics)", f"{writes / wall:.0f} /s "
                 f"({agent.metrics.writes - leases_before} metrics writes)"))
    rows.append(("RSS after start-up (Δ for nodes)", f"{rss_mib():.0f} MiB (+{rss_mib() - rss0:.0f} MiB)"))

    # -- throughput
    ann = {"suanli.io/sim-duration": "100ms"}

    def succeeded() -> int:
        return len(store.list("pods", "default",
                              predicate=lambda p: (p.get("status") or {}).get("phase") == "Succeeded").items)

    t1 = time.perf_counter()
    c1 = cpu_seconds()
    batch = 500
    for i in range(0, pods, batch):
        await asyncio.gather(*(client.create(PODS, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"short-{j:06d}", "namespace": "default", "annotations": ann},
            "spec": {"nodeName": names[j % nodes], "restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox"}]}}, "default")
            for j in range(i, min(pods, i + batch))))
    created = time.perf_counter() - t1
    await wait_until(lambda: succeeded() >= pods, 1800, poll=1.0)
    total = time.perf_counter() - t1
    rows.append(("short pods (100 ms, Never)", f"{pods:,}"))
    rows.append(("create rate (bench client, in-process)", f"{pods / created:,.0f} pods/s"))
    rows.append(("lifecycle throughput (create → Running → Succeeded)", f"{pods / total:,.0f} pods/s"))
    rows.append(("CPU per pod (create + 2 status writes + agent)", f"{1e3 * (cpu_seconds() - c1) / pods:.2f} ms"))
    rows.append(("RSS after pods", f"{rss_mib():.0f} MiB"))

    await agent.stop()
    await task
    await store.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 nodes, 20 s idle, 5,000 pods")
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--idle", type=float)
    ap.add_argument("--pods", type=int)
    a = ap.parse_args()
    nodes = a.nodes or (1_000 if a.quick else 5_000)
    idle = a.idle or (20.0 if a.quick else 60.0)
    pods = a.pods or (5_000 if a.quick else 50_000)
    rows = asyncio.run(run(nodes, idle, pods))
    print("| measure | value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
