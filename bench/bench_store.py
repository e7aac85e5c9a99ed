"""Store benchmark: create throughput vs raw SQLite with the same batching, and LIST time.

Run: ``.venv/bin/python bench/bench_store.py [--objects N] [--concurrency C] [--runs R]``.

(a) ``Store.create`` throughput: C coroutines create N pod-like objects (~1 KiB JSON)
    into a store on disk (WAL, synchronous=NORMAL); objects/s, median of R runs.
(b) Raw SQLite: the same row tuples (pre-encoded bytes) inserted into a fresh database
    with the same schema, pragmas and the exact batch sizes the store's writer used.
(c) Ratio (a)/(b): the share of raw SQLite speed the store keeps.
(d) LIST of 100,000 objects (all namespaces, one namespace, one 500-item page).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from suanli.apimachinery.objects import deep_copy
from suanli.storage import Store
from suanli.storage._sqlite_log import INSERT_SQL, open_db

_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "",
        "namespace": "",
        "uid": "6f1d3c1e-0000-4000-8000-000000000000",
        "labels": {"app": "trainer", "volcano.sh/job-name": "job-1", "tier": "gpu"},
        "annotations": {"scheduling.k8s.io/group-name": "job-1-pg"},
        "creationTimestamp": "2025-01-01T00:00:00Z",
    },
    "spec": {
        "schedulerName": "volcano",
        "containers": [{
            "name": "worker",
            "image": "registry.example.com/ml/trainer:1.2.3",
            "command": ["python", "-m", "trainer", "--epochs", "10"],
            "resources": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                          "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}},
            "env": [{"name": f"VAR_{i}", "value": "x" * 16} for i in range(8)],
        }],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
    "status": {"phase": "Pending", "qosClass": "Guaranteed"},
}


def make_pod(i: int) -> dict[str, Any]:
    obj: dict[str, Any] = deep_copy(_POD)
    obj["metadata"]["name"] = f"pod-{i:07d}"
    obj["metadata"]["namespace"] = f"ns-{i % 20:02d}"
    return obj


async def store_run(n: int, concurrency: int) -> tuple[float, list[tuple[Any, ...]], list[int], int]:
    """One (a) run: objects/s, the committed rows, the batch sizes, mean object bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp), compaction_interval=0)
        await store.start()
        assert store._log is not None
        store._log.batch_sizes = []
        objs = [make_pod(i) for i in range(n)]
        per = (n + concurrency - 1) // concurrency

        async def worker(k: int) -> None:
            for obj in objs[k * per:(k + 1) * per]:
                await store.create("pods", obj)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        dt = time.perf_counter() - t0
        batches = list(store._log.batch_sizes)
        rows = sorted(
            ((so.rv, "pods", ns, name, 0, 0, 0.0, so.raw)
             for ns in (f"ns-{j:02d}" for j in range(20))
             for so in store.list("pods", ns).items
             for name in [so.obj["metadata"]["name"]]),
            key=lambda r: r[0],
        )
        size = sum(len(r[7]) for r in rows) // len(rows)
        await store.stop()
    return n / dt, rows, batches, size


def raw_run(rows: list[tuple[Any, ...]], batches: list[int]) -> float:
    """One (b) run: the same rows and batch boundaries straight into SQLite; rows/s."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "store.db", fsync=False)
        t0 = time.perf_counter()
        pos = 0
        for size in batches:
            chunk = rows[pos:pos + size]
            pos += size
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_SQL, chunk)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (chunk[-1][0],))
            conn.execute("COMMIT")
        dt = time.perf_counter() - t0
        conn.close()
    return len(rows) / dt


async def list_bench(n: int, runs: int) -> dict[str, float]:
    store = Store(None, compaction_interval=0)
    await store.start()
    await asyncio.gather(*(store.create("pods", make_pod(i)) for i in range(n)))
    timings: dict[str, list[float]] = {"all": [], "ns": [], "page": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        assert len(store.list("pods").items) == n
        timings["all"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.list("pods", "ns-07")
        timings["ns"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        store.list("pods", start_after=("ns-10", "pod-0050000"), limit=500)
        timings["page"].append(time.perf_counter() - t0)
    await store.stop()
    return {k: statistics.median(v) for k, v in timings.items()}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--list-objects", type=int, default=100_000)
    args = ap.parse_args()

    store_rates: list[float] = []
    raw_rates: list[float] = []
    mean_batch: list[float] = []
    size = 0
    for _ in range(args.runs):
        rate, rows, batches, size = await store_run(args.objects, args.concurrency)
        store_rates.append(rate)
        raw_rates.append(raw_run(rows, batches))
        mean_batch.append(len(rows) / len(batches))
    lst = await list_bench(args.list_objects, args.runs)

    s, r = statistics.median(store_rates), statistics.median(raw_rates)
    print(f"{args.objects} creates of ~{size} B objects, {args.concurrency} concurrent coroutines, "
          f"median of {args.runs} runs; mean group-commit batch {statistics.median(mean_batch):.0f} rows\n")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| (a) Store.create throughput | {s:,.0f} objects/s |")
    print(f"| (b) raw SQLite insert, same rows and batches | {r:,.0f} rows/s |")
    print(f"| (c) ratio (a)/(b) | {s / r:.2f} |")
    print(f"| (d) LIST {args.list_objects:,} objects, all namespaces | {lst['all'] * 1000:.1f} ms |")
    print(f"| LIST one namespace ({args.list_objects // 20:,} objects) | {lst['ns'] * 1000:.2f} ms |")
    print(f"| LIST page of 500 with start_after | {lst['page'] * 1000:.3f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
