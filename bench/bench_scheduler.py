"""Scheduler benchmarks end-to-end through the API (issue 4), plus the core alone.

Run: ``python -m bench scheduler [--quick] [--runs R] [--only basic,gangs,devices,core] [--profile]``.

Every scenario starts a fresh server (plain HTTP, anonymous) on a fresh data dir: the Platform
of ``suanli up --no-demo`` in a subprocess, with the scheduler's cycle timed in-process (the
``--serve`` entry below wraps ``LiveScheduler.run_cycle`` and the core's ``schedule`` and serves
the per-cycle records at ``/bench/cycles``; nothing else differs from ``suanli up``). Load comes
from separate processes (``multiprocessing`` fork workers, uvloop, the lean client of
``bench._common``); binds are observed by a watch on the pods' namespace in another process.

Nodes carry no ``kwok.x-k8s.io/node`` annotation, so no node agent touches them: bound pods
stay ``Pending`` with ``spec.nodeName`` set, which isolates the scheduler from the agent.

1. **SchedulingBasic** (kube-scheduler scheduler_perf shape): 5,000 nodes (4 CPU, 32 GiB,
   110 pods, ``Ready``), 1,000 initial pods bound first, then 10,000 pods (100m CPU, 500 MiB,
   default scheduler name) created as fast as the API takes them (2 processes x 16
   connections). End-to-end pods/s = 10,000 / (first create → last bind seen by the watcher).
   In the same server, before any node exists, the same client creates the same 10,000 pods
   (with a scheduler name nobody serves) into another namespace: the raw create throughput;
   those pods are deleted (and the deletion awaited) before the nodes are created.
2. **Gangs**: PodGroups (``scheduling.volcano.sh/v1beta1``, ``minMember`` = gang size) are
   created first, then their pods (annotation ``scheduling.k8s.io/group-name``); 10 x 5,000 and
   1,000 x 3 on 5,000 nodes.
3. **Devices**: 1,000 GPU-share nodes (8 cards, 128,000 MiB) with 2,000 ``volcano.sh/gpu-memory``
   pods, and 1,000 NPU nodes (8 ``huawei.com/Ascend910`` in two 4-card rings) with 2,000 pods of
   1/2/4/8 cards; the ``deviceshare`` plugin is enabled through the scheduler ConfigMap.

Scenarios 2-3 report the live cycle latency (snapshot + core + API writes) P50/P99 over the
cycles that had pending pods, the core's share, and the server's RSS (current and peak). The core
alone is ``bench/bench_scheduler_core.py`` (run here with ``--only core``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import signal
import ssl
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench._common import Conn, Server, fmt_spread, machine_info, percentile, request_bytes, start_server
from bench.bench_scheduler_core import DEVICE_CONF

_MP = mp.get_context("fork")
BASIC_ALLOC = {"cpu": "4", "memory": "32Gi", "pods": "110"}
GPU_ALLOC = {
    "cpu": "64",
    "memory": "256Gi",
    "pods": "110",
    "volcano.sh/gpu-number": "8",
    "volcano.sh/gpu-memory": "128000",
}
NPU_ALLOC = {"cpu": "192", "memory": "1536Gi", "pods": "110", "huawei.com/Ascend910": "8"}
NPU_TOPOLOGY = json.dumps({"huawei.com/Ascend910": [[0, 1, 2, 3], [4, 5, 6, 7]]})
PROCS, CONNS = 2, 16


def _run(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# ------------------------------------------------------------------ object bodies


def node_body(name: str, alloc: dict[str, str], annotations: dict[str, str] | None = None) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}, "annotations": annotations or {}},
            "spec": {},
            "status": {
                "capacity": alloc,
                "allocatable": alloc,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }
    )


def pod_body(
    name: str,
    ns: str,
    requests: dict[str, str],
    *,
    scheduler: str | None = None,
    group: str | None = None,
    limits: dict[str, str] | None = None,
) -> bytes:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "pause",
                "image": "registry.k8s.io/pause:3.9",
                "resources": {"requests": requests, **({"limits": limits} if limits else {})},
            }
        ]
    }
    if scheduler:
        spec["schedulerName"] = scheduler
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if group:
        meta["annotations"] = {"scheduling.k8s.io/group-name": group}
    return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})


def podgroup_body(name: str, ns: str, min_member: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "scheduling.volcano.sh/v1beta1",
            "kind": "PodGroup",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"minMember": min_member, "queue": "default"},
        }
    )


def nodes_path() -> str:
    return "/api/v1/nodes"


def pods_path(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


# ------------------------------------------------------------------ load generator and watcher


def _tls(ca_file: str | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=ca_file) if ca_file else None


def _ca(srv: Server) -> str | None:
    """The CA file the load clients verify ``srv`` with (None: plain HTTP)."""
    return srv.ca_file if srv.tls else None


def _create_worker(port: int, ca_file: str | None, reqs: list[bytes], conns: int, barrier: Any, out: Any) -> None:
    async def go() -> tuple[float, float, int, int, str]:
        pool = [await Conn.open(port, _tls(ca_file)) for _ in range(conns)]
        it = iter(reqs)
        ok = err = 0
        first_err = ""
        barrier.wait()
        t0 = time.monotonic()

        async def loop(c: Conn) -> None:
            nonlocal ok, err, first_err
            for raw in it:
                status, body = await c.request(raw)
                if status == 201:
                    ok += 1
                else:
                    err += 1
                    first_err = first_err or f"{status} {body[:300]!r}"

        await asyncio.gather(*(loop(c) for c in pool))
        t1 = time.monotonic()
        for c in pool:
            c.close()
        return t0, t1, ok, err, first_err

    out.put(_run(go()))


def create_all(
    srv: Server, items: list[tuple[str, bytes]], procs: int = PROCS, conns: int = CONNS
) -> tuple[float, float, int]:
    """POST every (path, body) from ``procs`` x ``conns`` connections; (first send, last ack, created)."""
    reqs = [request_bytes("POST", path, None, body) for path, body in items]
    barrier = _MP.Barrier(procs)
    out = _MP.Queue()
    ps = [
        _MP.Process(target=_create_worker, args=(srv.port, _ca(srv), reqs[k::procs], conns, barrier, out))
        for k in range(procs)
    ]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    errs = [r[4] for r in res if r[4]]
    if errs:
        print(f"  create errors: {sum(r[3] for r in res)}, first: {errs[0]}", file=sys.stderr, flush=True)
    return min(r[0] for r in res), max(r[1] for r in res), sum(r[2] for r in res)


def _watch_worker(port: int, ca_file: str | None, ns: str, expected: int, idle: float, ready: Any, out: Any) -> None:
    """Watch pods in ``ns``; report (monotonic time of each first-seen bind) once ``expected``
    pods are bound or no bind arrived for ``idle`` seconds after the first one."""

    async def go() -> list[float]:
        c = await Conn.open(port, _tls(ca_file))
        status, _ = await c.send_head(request_bytes("GET", f"{pods_path(ns)}?watch=1&allowWatchBookmarks=true", None))
        if status != 200:
            raise RuntimeError(f"watch failed: {status}")
        ready.set()
        bound: dict[str, float] = {}
        buf = b""
        while len(bound) < expected:
            try:
                chunk = await asyncio.wait_for(c.next_chunk(), timeout=idle if bound else 600)
            except TimeoutError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                obj = orjson.loads(line)["object"]
                if (obj.get("spec") or {}).get("nodeName"):
                    bound.setdefault(obj["metadata"]["name"], time.monotonic())
        c.close()
        return sorted(bound.values())

    out.put(_run(go()))


class BindWatcher:
    """A watcher process counting binds in one namespace (start before the creates)."""

    def __init__(self, srv: Server, ns: str, expected: int, idle: float = 8.0) -> None:
        self.out = _MP.Queue()
        ready = _MP.Event()
        self.proc = _MP.Process(target=_watch_worker, args=(srv.port, _ca(srv), ns, expected, idle, ready,
                                                                    self.out))
        self.proc.start()
        if not ready.wait(30):
            raise RuntimeError("watch did not start")

    def result(self) -> list[float]:
        times: list[float] = self.out.get()
        self.proc.join()
        return times


# ------------------------------------------------------------------ server-side helpers


def http_json(srv: Server, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = orjson.dumps(body) if body is not None else None
    req = urllib.request.Request(srv.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120, context=srv.ssl_context()) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read() or b"{}")


def ensure_namespace(srv: Server, ns: str) -> None:
    status, body = http_json(
        srv, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    if status not in (201, 409):
        raise RuntimeError(f"namespace {ns}: {status} {body}")


def cycles(srv: Server, after: float | None = None, timeout: float = 300) -> list[dict[str, float]]:
    """The server's cycle records; with ``after``, first wait until a cycle started after that
    monotonic time has finished (so the cycle that made the last bind is recorded too)."""
    deadline = time.monotonic() + timeout
    while True:
        recs = list(http_json(srv, "GET", "/bench/cycles")[1])
        if after is None or (recs and recs[-1]["start"] > after) or time.monotonic() > deadline:
            return recs
        time.sleep(0.2)  # polling another process's state


def rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of process ``pid`` in MiB, from /proc/pid/status."""
    vals = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(base: Path, name: str, stats: str = "") -> Server:
    cmd = [sys.executable, "-m", "bench.bench_scheduler", "--serve", *(["--stats", stats] if stats else [])]
    return start_server(base / name, tls=False, anonymous=True, command=cmd)


def wait_empty(srv: Server, ns: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not http_json(srv, "GET", f"{pods_path(ns)}?limit=1")[1].get("items"):
            return
        time.sleep(0.2)  # polling another process's state
    raise RuntimeError(f"pods in {ns} not deleted after {timeout}s")


# ------------------------------------------------------------------ scenarios


def basic_run(base: Path, tag: str, n_nodes: int, n_init: int, n_pods: int) -> dict[str, float]:
    """One SchedulingBasic run on a fresh server; returns rates and timings."""
    srv = start(base, tag)
    try:
        req = {"cpu": "100m", "memory": "500Mi"}
        for ns in ("raw", "init", "measure"):
            ensure_namespace(srv, ns)
        # raw create throughput: same pods, same client, nobody schedules them, no nodes exist
        t0, t1, ok = create_all(
            srv, [(pods_path("raw"), pod_body(f"pod-{i}", "raw", req, scheduler="nobody")) for i in range(n_pods)]
        )
        raw_rate = ok / (t1 - t0)
        http_json(srv, "DELETE", f"{pods_path('raw')}?gracePeriodSeconds=0")
        wait_empty(srv, "raw")
        create_all(srv, [(nodes_path(), node_body(f"node-{i:05d}", BASIC_ALLOC)) for i in range(n_nodes)])
        w = BindWatcher(srv, "init", n_init)
        create_all(srv, [(pods_path("init"), pod_body(f"init-{i}", "init", req)) for i in range(n_init)])
        if len(w.result()) < n_init:
            raise RuntimeError("initial pods were not all bound")
        c_before = len(cycles(srv))
        cpu0 = cpu_seconds(srv.proc.pid)
        w = BindWatcher(srv, "measure", n_pods)
        t0, t1, ok = create_all(
            srv, [(pods_path("measure"), pod_body(f"pod-{i}", "measure", req)) for i in range(n_pods)]
        )
        binds = w.result()
        end = binds[-1] if binds else t1
        cpu = cpu_seconds(srv.proc.pid) - cpu0
        cyc = [c for c in cycles(srv, end)[c_before:] if c["binds"] > 0]
        return {
            "raw": raw_rate,
            "create": ok / (t1 - t0),
            "e2e": len(binds) / (end - t0),
            "bound": len(binds),
            "tail": end - t1,
            "cycles": len(cyc),
            "server_cpu": cpu / (end - t0),
            "binds_per_cycle": statistics.median([c["binds"] for c in cyc]) if cyc else 0.0,
            "cycle_p50": percentile([c["total"] for c in cyc], 50),
            "snap_p50": percentile([c["snapshot"] for c in cyc], 50),
            "core_p50": percentile([c["core"] for c in cyc], 50),
            "rss": rss_mib(srv.proc.pid)[1],
        }
    finally:
        srv.stop()


def cycle_run(
    base: Path,
    tag: str,
    nodes: list[bytes],
    pods: list[bytes],
    podgroups: list[bytes],
    ns: str,
    config: str | None = None,
) -> dict[str, Any]:
    """Create nodes (and the scheduler ConfigMap), then PodGroups, then pods; wait for the binds."""
    srv = start(base, tag)
    try:
        ensure_namespace(srv, ns)
        if config is not None:  # replace the ConfigMap the platform created with the default
            status, body = http_json(
                srv,
                "PUT",
                "/api/v1/namespaces/volcano-system/configmaps/volcano-scheduler-configmap",
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "volcano-scheduler-configmap", "namespace": "volcano-system"},
                    "data": {"volcano-scheduler.conf": config},
                },
            )
            if status != 200:
                raise RuntimeError(f"configmap: {status} {body}")
        create_all(srv, [(nodes_path(), b) for b in nodes])
        if podgroups:
            create_all(srv, [(f"/apis/scheduling.volcano.sh/v1beta1/namespaces/{ns}/podgroups", b) for b in podgroups])
        c_before = len(cycles(srv))
        rss0 = rss_mib(srv.proc.pid)[0]
        w = BindWatcher(srv, ns, len(pods))
        t0, t1, ok = create_all(srv, [(pods_path(ns), b) for b in pods])
        binds = w.result()
        end = binds[-1] if binds else t1
        recs = cycles(srv, end)[c_before:]
        rss, peak = rss_mib(srv.proc.pid)
        cyc = [c for c in recs if c["pending"] > 0]
        return {
            "created": ok,
            "bound": len(binds),
            "unschedulable_marks": sum(c.get("unschedulable", 0) for c in cyc),
            "create": ok / (t1 - t0),
            "e2e_s": end - t0,
            "tail": end - t1,
            "cycles": cyc,
            "rss0": rss0,
            "rss": rss,
            "peak": peak,
        }
    finally:
        srv.stop()


def gang_objects(ns: str, n_gangs: int, size: int) -> tuple[list[bytes], list[bytes]]:
    req = {"cpu": "100m", "memory": "500Mi"}
    pgs = [podgroup_body(f"g{g}", ns, size) for g in range(n_gangs)]
    pods = [
        pod_body(f"g{g}-{k}", ns, req, scheduler="volcano", group=f"g{g}") for k in range(size) for g in range(n_gangs)
    ]  # interleaved: every gang fills up together
    return pgs, pods


def gpu_objects(ns: str, n_nodes: int, n_pods: int) -> tuple[list[bytes], list[bytes]]:
    nodes = [node_body(f"gpu-{i:04d}", GPU_ALLOC) for i in range(n_nodes)]
    sizes = ["2000", "4000", "8000", "16000"]
    pods = [
        pod_body(
            f"share-{i}",
            ns,
            {"cpu": "1", "memory": "4Gi", "volcano.sh/gpu-memory": sizes[i % 4]},
            scheduler="volcano",
            limits={"volcano.sh/gpu-memory": sizes[i % 4]},
        )
        for i in range(n_pods)
    ]
    return nodes, pods


def npu_objects(ns: str, n_nodes: int, n_pods: int) -> tuple[list[bytes], list[bytes]]:
    nodes = [node_body(f"npu-{i:04d}", NPU_ALLOC, {"suanli.io/device-topology": NPU_TOPOLOGY}) for i in range(n_nodes)]
    counts = ["1", "2", "4", "8"]
    pods = [
        pod_body(
            f"npu-{i}",
            ns,
            {"cpu": "8", "memory": "64Gi", "huawei.com/Ascend910": counts[i % 4]},
            scheduler="volcano",
            limits={"huawei.com/Ascend910": counts[i % 4]},
        )
        for i in range(n_pods)
    ]
    return nodes, pods


# ------------------------------------------------------------------ instrumented server (--serve)


def _serve(argv: list[str]) -> None:
    """The Platform of ``suanli up --no-demo`` with each scheduling cycle timed; ``/bench/cycles``
    returns one record per cycle: start (monotonic), total/snapshot/core seconds, pending, binds.
    ``--stats FILE``: cProfile the main thread from SIGUSR1 until exit."""
    import cProfile
    import faulthandler

    import suanli.scheduler.adapter as adapter
    from suanli.cli.platform import Platform, PlatformOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("--stats", default="")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--insecure-http", action="store_true")
    ap.add_argument("--anonymous", action="store_true")
    args = ap.parse_args(argv)
    faulthandler.register(signal.SIGUSR2)  # dump every thread's stack to the server log
    records: list[dict[str, float]] = []
    current: dict[str, float] = {}
    orig_cycle, orig_schedule, orig_snapshot = (
        adapter.LiveScheduler.run_cycle,
        adapter.schedule,
        adapter.LiveScheduler.build_snapshot,
    )

    def timed_snapshot(self: Any) -> Any:
        t0 = time.perf_counter()
        snap = orig_snapshot(self)
        current["snapshot"] = time.perf_counter() - t0
        current["pending"] = float(sum(1 for t in snap.tasks if t.node < 0))
        return snap

    def timed_schedule(snapshot: Any, config: Any) -> Any:
        t0 = time.perf_counter()
        d = orig_schedule(snapshot, config)
        current["core"] = time.perf_counter() - t0
        current["binds"] = float(len(d.binds))
        current["unschedulable"] = float(len(d.unschedulable))
        return d

    async def timed_cycle(self: Any, **kwargs: Any) -> Any:
        # the run loop does not wait for the binds (background binding cycle): "total" ends when
        # they have been started, not written
        current.clear()
        start = time.monotonic()
        t0 = time.perf_counter()
        d = await orig_cycle(self, **kwargs)
        records.append({"start": start, "total": time.perf_counter() - t0, **current})
        return d

    adapter.LiveScheduler.build_snapshot = timed_snapshot  # type: ignore[method-assign]
    adapter.schedule = timed_schedule  # type: ignore[assignment]
    adapter.LiveScheduler.run_cycle = timed_cycle  # type: ignore[method-assign]
    prof = cProfile.Profile()
    gc_time = {f"{k}{g}": 0.0 for k in ("seconds", "runs", "collected") for g in range(3)}
    gc_started = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            g = info["generation"]
            gc_time[f"seconds{g}"] += time.perf_counter() - gc_started[0]
            gc_time[f"runs{g}"] += 1
            gc_time[f"collected{g}"] += info["collected"]

    gc.callbacks.append(gc_timer)

    async def serve() -> None:
        platform = Platform(
            PlatformOptions(
                port=args.port,
                data_dir=args.data_dir,
                kubeconfig=None,
                tls=not args.insecure_http,
                anonymous=args.anonymous,
                demo=False,
                host_node=False,
            )
        )
        platform.app.add_text_route("/bench/cycles", lambda: orjson.dumps(records).decode(), "application/json")
        platform.app.add_text_route("/bench/gc", lambda: orjson.dumps(gc_time).decode(), "application/json")

        def frozen_garbage() -> str:
            """Unfreeze, run a full collection, report what it found (cyclic garbage the periodic
            freeze had kept), and freeze again."""
            gc.unfreeze()
            found = gc.collect()
            gc.freeze()
            return orjson.dumps({"unreachable": found}).decode()

        platform.app.add_text_route("/bench/frozen-garbage", frozen_garbage, "application/json")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if args.stats:
            loop.add_signal_handler(signal.SIGUSR1, prof.enable)
        await platform.start()
        await stop.wait()
        prof.disable()
        await platform.stop()

    from suanli.cli.eventloop import run

    run(serve())  # the event loop of ``suanli up``
    if args.stats:
        prof.dump_stats(args.stats)


# ------------------------------------------------------------------ main


def _cycle_rows(rows: list[tuple[str, str]], label: str, runs: list[dict[str, Any]]) -> None:
    p50 = [percentile([c["total"] for c in r["cycles"]], 50) for r in runs]
    p99 = [percentile([c["total"] for c in r["cycles"]], 99) for r in runs]
    core50 = [percentile([c["core"] for c in r["cycles"]], 50) for r in runs]
    snap50 = [percentile([c["snapshot"] for c in r["cycles"]], 50) for r in runs]
    core99 = [percentile([c["core"] for c in r["cycles"]], 99) for r in runs]
    snap99 = [percentile([c["snapshot"] for c in r["cycles"]], 99) for r in runs]
    rows.append((f"{label}: live cycle P50 / P99 (s)", f"{fmt_spread(p50, '{:.2f}')} / {fmt_spread(p99, '{:.2f}')}"))
    rows.append(
        (
            f"{label}: of which snapshot P50 / P99, core P50 / P99 (s)",
            f"{fmt_spread(snap50, '{:.2f}')} / {fmt_spread(snap99, '{:.2f}')}, "
            f"{fmt_spread(core50, '{:.2f}')} / {fmt_spread(core99, '{:.2f}')}",
        )
    )
    rows.append(
        (f"{label}: cycles with pending pods per run", fmt_spread([float(len(r["cycles"])) for r in runs], "{:.0f}"))
    )
    rows.append(
        (
            f"{label}: bound / created",
            f"{statistics.median([r['bound'] for r in runs]):,.0f} / "
            f"{statistics.median([r['created'] for r in runs]):,.0f}",
        )
    )
    rows.append((f"{label}: first create → last bind (s)", fmt_spread([r["e2e_s"] for r in runs], "{:.1f}")))
    rows.append((f"{label}: creates/s during the run", fmt_spread([r["create"] for r in runs])))
    rows.append(
        (
            f"{label}: server RSS before pods / after / peak (MiB)",
            f"{statistics.median([r['rss0'] for r in runs]):,.0f} / "
            f"{statistics.median([r['rss'] for r in runs]):,.0f} / "
            f"{statistics.median([r['peak'] for r in runs]):,.0f}",
        )
    )


def profile(base: Path, n_nodes: int, n_init: int, n_pods: int) -> None:
    """SchedulingBasic under cProfile (server main thread, from the measured creates to exit)."""
    import pstats

    stats = base / "server.prof"
    srv = start(base, "profile", str(stats))
    try:
        req = {"cpu": "100m", "memory": "500Mi"}
        ensure_namespace(srv, "measure")
        create_all(srv, [(nodes_path(), node_body(f"node-{i:05d}", BASIC_ALLOC)) for i in range(n_nodes)])
        ensure_namespace(srv, "init")
        w = BindWatcher(srv, "init", n_init)
        create_all(srv, [(pods_path("init"), pod_body(f"init-{i}", "init", req)) for i in range(n_init)])
        w.result()
        srv.proc.send_signal(signal.SIGUSR1)
        w = BindWatcher(srv, "measure", n_pods)
        t0, _, _ = create_all(
            srv, [(pods_path("measure"), pod_body(f"pod-{i}", "measure", req)) for i in range(n_pods)]
        )
        b = w.result()
        print(f"profiled run: {len(b) / (b[-1] - t0):,.0f} pods/s end-to-end (under cProfile)")
    finally:
        srv.stop()
    st = pstats.Stats(str(stats))
    st.sort_stats("cumulative").print_stats(45)
    st.sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        _serve(argv[1:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a fifth of every scenario, 3 runs")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma list of: basic,gangs,devices,core")
    ap.add_argument("--profile", action="store_true", help="profile the server during SchedulingBasic instead")
    args = ap.parse_args(argv)
    f = 5 if args.quick else 1
    only = set(args.only.split(",")) if args.only else {"basic", "gangs", "devices", "core"}
    print("machine:", machine_info(), "load average:", os.getloadavg(), flush=True)
    base = Path(tempfile.mkdtemp(prefix="suanli-bench-sched-"))
    if args.profile:
        profile(base, 5000 // f, 1000 // f, 10000 // f)
        return
    rows: list[tuple[str, str]] = []
    if "basic" in only:
        n_nodes, n_init, n_pods = 5000 // f, 1000 // f, 10000 // f
        runs = []
        for r in range(args.runs + 1):  # run 0 is a discarded warm-up
            res = basic_run(base, f"basic-{r}", n_nodes, n_init, n_pods)
            print(f"  basic run {r}{' (warm-up)' if r == 0 else ''}: {res}", flush=True)
            if r:
                runs.append(res)
        label = f"SchedulingBasic {n_nodes:,} nodes, {n_init:,} init, {n_pods:,} pods"
        rows.append((f"{label}: end-to-end pods/s", fmt_spread([r["e2e"] for r in runs])))
        rows.append(("… creates/s achieved during the run", fmt_spread([r["create"] for r in runs])))
        rows.append(("… raw create throughput, same pods, no nodes (creates/s)", fmt_spread([r["raw"] for r in runs])))
        rows.append(("… ratio end-to-end / raw creates", fmt_spread([r["e2e"] / r["raw"] for r in runs], "{:.2f}")))
        rows.append(("… last create → last bind (s)", fmt_spread([r["tail"] for r in runs], "{:.2f}")))
        rows.append(
            (
                "… cycles that bound pods / median binds per cycle",
                f"{statistics.median([r['cycles'] for r in runs]):.0f} / "
                f"{statistics.median([r['binds_per_cycle'] for r in runs]):,.0f}",
            )
        )
        rows.append(("… live cycle P50 (s)", fmt_spread([r["cycle_p50"] for r in runs], "{:.2f}")))
        rows.append(
            (
                "… of which snapshot P50 / core P50 (s)",
                f"{fmt_spread([r['snap_p50'] for r in runs], '{:.2f}')}"
                f" / {fmt_spread([r['core_p50'] for r in runs], '{:.2f}')}",
            )
        )
        rows.append(("… server CPU (cores busy)", fmt_spread([r["server_cpu"] for r in runs], "{:.2f}")))
        rows.append(("… server peak RSS (MiB)", fmt_spread([r["rss"] for r in runs])))
        rows.append(("… pods bound per run", fmt_spread([float(r["bound"]) for r in runs])))
    if "gangs" in only:
        basic_nodes = [node_body(f"node-{i:05d}", BASIC_ALLOC) for i in range(5000 // f)]
        for n_gangs, size, runs_n in ((10, 5000 // f, args.runs if args.quick else 1), (1000 // f, 3, args.runs)):
            pgs, pods = gang_objects("gang", n_gangs, size)
            res_g = []
            for r in range(runs_n):
                res = cycle_run(base, f"gang-{n_gangs}x{size}-{r}", basic_nodes, pods, pgs, "gang")
                print(
                    f"  gangs {n_gangs}x{size} run {r}: " + str({k: v for k, v in res.items() if k != "cycles"}),
                    flush=True,
                )
                res_g.append(res)
            _cycle_rows(rows, f"Gangs {n_gangs:,} x {size:,} on {len(basic_nodes):,} nodes", res_g)
    if "devices" in only:
        for label, build in (("GPU share", gpu_objects), ("NPU", npu_objects)):
            nodes, pods = build("dev", 1000 // f, 2000 // f)
            res_d = []
            for r in range(args.runs):
                res = cycle_run(base, f"{label.replace(' ', '')}-{r}", nodes, pods, [], "dev", DEVICE_CONF)
                print(f"  {label} run {r}: " + str({k: v for k, v in res.items() if k != "cycles"}), flush=True)
                res_d.append(res)
            _cycle_rows(rows, f"{label} {len(pods):,} pods on {len(nodes):,} nodes", res_d)
    print("\n| measurement | median (min-max, runs) |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print("load average at end:", os.getloadavg(), flush=True)
    if "core" in only:
        import subprocess

        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("bench_scheduler_core.py")),
                *(["--quick"] if args.quick else []),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
