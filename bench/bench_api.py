"""API server benchmarks (issue 2): create throughput, write latency, watch fan-out, LIST, durability.

Run: ``python -m bench api [--quick] [--runs R] [--profile]`` (or ``./dev bench api``); prints markdown.

The server is always a ``suanli up`` subprocess; load comes from separate client processes
(``multiprocessing`` fork workers running uvloop and the lean client in ``bench._common``),
so server and clients compete for the same 2 cores exactly as they would in production.

1. Create throughput of ~1.1 KiB pods over HTTPS and plain HTTP (P processes x C keep-alive
   connections, closed loop), and through the in-process LocalClient (one process, no sockets).
2. Open-loop write latency: creates scheduled at a fixed rate; latency is measured from the
   *scheduled* send time, so a stalled server is charged for the requests it delayed.
3. Watch fan-out: W HTTP watch streams on one namespace; a writer creates objects at a fixed
   rate; delivery latency = receipt at a watcher - write acknowledgement at the writer.
4. LIST of 100,000 pods: whole, paged (limit=500), and as a Table (kubectl get pods -A).
5. Raw SQLite: the same stored bytes inserted into a scratch WAL database with the store's
   schema and pragmas, one transaction per 100 rows; ratio HTTP creates / raw rows.
6. SIGKILL durability: concurrent writers, kill -9 the server, restart, count acknowledged
   creates that are missing.
``--profile`` instead runs the create load against a server running under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing as mp
import os
import pstats
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson
import uvloop

from bench._common import (
    Conn,
    Server,
    fmt_spread,
    machine_info,
    percentile,
    pod_body,
    request_bytes,
    start_server,
)

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
                "g=meta.k8s.io,application/json")
_MP = mp.get_context("fork")


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _ctx(tls_ca: str | None) -> Any:
    import ssl

    return ssl.create_default_context(cafile=tls_ca) if tls_ca else None


def _pod_name(i: int) -> str:
    return f"pod-{i:07d}"


async def _create_namespace(port: int, ca: str | None, token: str | None, ns: str) -> None:
    conn = await Conn.open(port, _ctx(ca))
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    status, data = await conn.request(request_bytes("POST", "/api/v1/namespaces", token, body))
    conn.close()
    if status not in (201, 409):
        raise RuntimeError(f"namespace create failed: {status} {data[:200]!r}")


# ------------------------------------------------------------------ 1. closed-loop create throughput


def _create_worker(port: int, ca: str | None, token: str | None, ns: str, first: int, count: int, conns: int,
                   barrier: Any, out: Any) -> None:
    async def go() -> tuple[float, float, int, int]:
        pool = [await Conn.open(port, _ctx(ca)) for _ in range(conns)]
        path = f"/api/v1/namespaces/{ns}/pods"
        reqs = [request_bytes("POST", path, token, pod_body(_pod_name(i), ns)) for i in range(first, first + count)]
        it = iter(reqs)
        ok = err = 0
        barrier.wait()
        t0 = time.monotonic()

        async def loop(c: Conn) -> None:
            nonlocal ok, err
            for raw in it:
                status, _ = await c.request(raw)
                if status == 201:
                    ok += 1
                else:
                    err += 1

        await asyncio.gather(*(loop(c) for c in pool))
        t1 = time.monotonic()
        for c in pool:
            c.close()
        return t0, t1, ok, err

    out.put(_run(go()))


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used so far by process ``pid`` (all threads)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVER_CPU: list[float] = []  # server CPU seconds per wall second, one entry per create_run


def create_run(srv: Server, ns: str, n: int, procs: int, conns: int) -> tuple[float, int]:
    """Create ``n`` pods in ``ns`` with ``procs`` x ``conns`` connections; (objects/s, errors)."""
    cpu0 = cpu_seconds(srv.proc.pid)
    ca = srv.ca_file if srv.tls else None
    barrier = _MP.Barrier(procs)
    out = _MP.Queue()
    per = n // procs
    ps = [_MP.Process(target=_create_worker, args=(srv.port, ca, srv.token, ns, k * per, per, conns, barrier, out))
          for k in range(procs)]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    t0 = min(r[0] for r in res)
    t1 = max(r[1] for r in res)
    ok = sum(r[2] for r in res)
    SERVER_CPU.append((cpu_seconds(srv.proc.pid) - cpu0) / (t1 - t0))
    return ok / (t1 - t0), sum(r[3] for r in res)


def http_throughput(srv: Server, runs: int, n: int, procs: int, conns: int, tag: str) -> tuple[list[float], int]:
    _run(_create_namespace(srv.port, srv.ca_file if srv.tls else None, srv.token, f"{tag}-warm"))
    create_run(srv, f"{tag}-warm", max(500, n // 5), procs, conns)  # warm-up: connections, caches, JIT-free
    rates: list[float] = []
    errors = 0
    for r in range(runs):
        ns = f"{tag}-r{r}"
        _run(_create_namespace(srv.port, srv.ca_file if srv.tls else None, srv.token, ns))
        rate, e = create_run(srv, ns, n, procs, conns)
        rates.append(rate)
        errors += e
    return rates, errors


def _local_worker(data_dir: str, runs: int, n: int, concurrency: int, out: Any) -> None:
    """LocalClient creates in one process (the store is on disk, as in `suanli up`)."""
    from suanli.apimachinery.gvr import GVR
    from suanli.cli.platform import Platform, PlatformOptions

    async def go() -> list[float]:
        platform = Platform(PlatformOptions(port=0, data_dir=Path(data_dir), kubeconfig=None, tls=False,
                                            anonymous=True, demo=False))
        await platform.start()
        client = platform.client
        pods = GVR("", "v1", "pods")
        nsr = GVR("", "v1", "namespaces", namespaced=False)
        rates = []
        for r in range(runs):
            ns = f"ns-{r:02d}"
            await client.create(nsr, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            objs = [orjson.loads(pod_body(_pod_name(r * n + i), ns)) for i in range(n)]
            it = iter(objs)

            async def loop(it: Any = it, ns: str = ns) -> None:
                for obj in it:
                    await client.create(pods, obj, ns)

            t0 = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(concurrency)))
            rates.append(n / (time.perf_counter() - t0))
        await platform.stop()
        return rates

    out.put(asyncio.run(go()))


def local_throughput(data_dir: Path, runs: int, n: int, concurrency: int = 64) -> list[float]:
    out = _MP.Queue()
    p = _MP.Process(target=_local_worker, args=(str(data_dir), runs, n, concurrency, out))
    p.start()
    rates: list[float] = out.get()
    p.join()
    return rates


# ------------------------------------------------------------------ 5. raw SQLite, same bytes


def raw_sqlite_rate(template: bytes, n: int, batch: int = 100) -> float:
    """Rows/s inserting ``n`` copies of ``template`` (name varied) with the store's schema/pragmas."""
    from suanli.storage._sqlite_log import INSERT_SQL, open_db

    marker = b'"name":"'
    i = template.index(marker) + len(marker)
    j = template.index(b'"', i)
    rows = [(k + 1, "pods", "ns", _pod_name(k), 0, 0, 0.0,
             template[:i] + _pod_name(k).encode() + template[j:]) for k in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        conn = open_db(Path(tmp) / "raw.db", fsync=False)
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            chunk = rows[s:s + batch]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_SQL, chunk)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (chunk[-1][0],))
            conn.execute("COMMIT")
        dt = time.perf_counter() - t0
        conn.close()
    return n / dt


async def _get_raw(srv: Server, path: str, accept: str | None = None) -> tuple[int, bytes]:
    conn = await Conn.open(srv.port, srv.ssl_context())
    status, body = await conn.request(request_bytes("GET", path, srv.token,
                                                    headers={"Accept": accept} if accept else None))
    conn.close()
    return status, body


# ------------------------------------------------------------------ 2. open-loop latency


def _latency_worker(port: int, ca: str | None, token: str | None, ns: str, first: int, rate: float,
                    seconds: float, conns: int, barrier: Any, out: Any) -> None:
    async def go() -> tuple[list[tuple[float, float]], int]:
        pool: asyncio.Queue[Conn] = asyncio.Queue()
        for _ in range(conns):
            pool.put_nowait(await Conn.open(port, _ctx(ca)))
        path = f"/api/v1/namespaces/{ns}/pods"
        total = int(rate * seconds)
        reqs = [request_bytes("POST", path, token, pod_body(_pod_name(first + i), ns)) for i in range(total)]
        lat: list[tuple[float, float]] = []
        errors = 0
        barrier.wait()
        t0 = time.monotonic() + 0.05

        async def one(raw: bytes, due: float) -> None:
            nonlocal errors
            c = await pool.get()
            status, _ = await c.request(raw)
            lat.append((due, time.monotonic() - due))
            pool.put_nowait(c)
            if status != 201:
                errors += 1

        tasks = []
        for i, raw in enumerate(reqs):
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(raw, due)))
        await asyncio.gather(*tasks)
        while not pool.empty():
            pool.get_nowait().close()
        return lat, errors

    out.put(_run(go()))


def latency_run(srv: Server, ns: str, rate: float, seconds: float, procs: int = 2,
                conns: int = 32, timeline: list[tuple[float, float]] | None = None) -> tuple[list[float], int]:
    """Open-loop creates at ``rate``/s for ``seconds``; (latencies in s, errors); ``timeline`` gets (due, s)."""
    ca = srv.ca_file if srv.tls else None
    barrier = _MP.Barrier(procs)
    out = _MP.Queue()
    per_rate = rate / procs
    per_n = int(per_rate * seconds) + 1
    ps = [_MP.Process(target=_latency_worker, args=(srv.port, ca, srv.token, ns, k * per_n, per_rate, seconds,
                                                   conns, barrier, out)) for k in range(procs)]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    if timeline is not None:
        timeline.extend(x for r in res for x in r[0])
    return [x[1] for r in res for x in r[0]], sum(r[1] for r in res)


# ------------------------------------------------------------------ 3. watch fan-out


def _watch_worker(port: int, ca: str | None, token: str | None, ns: str, watchers: int, expected: int,
                  barrier: Any, out: Any) -> None:
    async def one(c: Conn, got: list[tuple[str, float]]) -> None:
        buf = b""
        while len(got) < expected:
            chunk = await c.next_chunk()
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                ev = orjson.loads(line)
                if ev["type"] == "ADDED":
                    got.append((ev["object"]["metadata"]["name"], time.monotonic()))

    async def go() -> list[list[tuple[str, float]]]:
        conns = []
        path = f"/api/v1/namespaces/{ns}/pods?watch=1&allowWatchBookmarks=false"
        for _ in range(watchers):
            c = await Conn.open(port, _ctx(ca))
            status, _ = await c.send_head(request_bytes("GET", path, token))
            if status != 200:
                raise RuntimeError(f"watch failed: {status}")
            conns.append(c)
        barrier.wait()  # every stream's response head is in: all subscriptions are live
        results: list[list[tuple[str, float]]] = [[] for _ in conns]
        await asyncio.wait_for(asyncio.gather(*(one(c, g) for c, g in zip(conns, results, strict=True))),
                               timeout=120)
        for c in conns:
            c.close()
        return results

    out.put(_run(go()))


async def _paced_writer(srv: Server, ns: str, n: int, rate: float) -> dict[str, tuple[float, float]]:
    """Create ``n`` pods at ``rate``/s on one connection; name -> (send time, ack time)."""
    conn = await Conn.open(srv.port, srv.ssl_context())
    acks: dict[str, tuple[float, float]] = {}
    path = f"/api/v1/namespaces/{ns}/pods"
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        name = _pod_name(i)
        raw = request_bytes("POST", path, srv.token, pod_body(name, ns))
        sent = time.monotonic()
        status, _ = await conn.request(raw)
        if status != 201:
            raise RuntimeError(f"create failed: {status}")
        acks[name] = (sent, time.monotonic())
    conn.close()
    return acks


def watch_fanout(srv: Server, ns: str, watchers: int, n: int, rate: float, procs: int = 2
                 ) -> tuple[list[float], list[float], int, int]:
    """(latencies after ack in s, latencies after send in s, events delivered, events expected)."""
    _run(_create_namespace(srv.port, srv.ca_file if srv.tls else None, srv.token, ns))
    barrier = _MP.Barrier(procs + 1)
    out = _MP.Queue()
    ca = srv.ca_file if srv.tls else None
    ps = [_MP.Process(target=_watch_worker, args=(srv.port, ca, srv.token, ns, watchers // procs, n, barrier, out))
          for _ in range(procs)]
    for p in ps:
        p.start()
    barrier.wait()
    acks = _run(_paced_writer(srv, ns, n, rate))
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    lat = [t - acks[name][1] for r in res for stream in r for name, t in stream]
    lat_send = [t - acks[name][0] for r in res for stream in r for name, t in stream]
    return lat, lat_send, len(lat), n * (watchers // procs) * procs


# ------------------------------------------------------------------ 4. LIST


async def list_timings(srv: Server, ns_path: str = "/api/v1/pods") -> dict[str, tuple[float, int, int]]:
    """name -> (seconds, bytes, items) for a full LIST, a paged LIST and Table variants."""
    out: dict[str, tuple[float, int, int]] = {}
    conn = await Conn.open(srv.port, srv.ssl_context())

    async def paged(accept: str | None, key: str) -> tuple[float, int, int]:
        t0 = time.perf_counter()
        size = items = 0
        cont = ""
        while True:
            q = f"?limit=500&continue={cont}" if cont else "?limit=500"
            status, body = await conn.request(request_bytes("GET", ns_path + q, srv.token,
                                                            headers={"Accept": accept} if accept else None))
            assert status == 200, body[:300]
            size += len(body)
            doc = orjson.loads(body)
            items += len(doc[key])
            cont = (doc.get("metadata") or {}).get("continue") or ""
            if not cont:
                return time.perf_counter() - t0, size, items

    for label, accept, key in (("json", None, "items"), ("table", TABLE_ACCEPT, "rows")):
        t0 = time.perf_counter()
        status, body = await conn.request(request_bytes("GET", ns_path, srv.token,
                                                        headers={"Accept": accept} if accept else None))
        dt = time.perf_counter() - t0
        assert status == 200, body[:300]
        out[f"{label} full"] = (dt, len(body), len(orjson.loads(body)[key]))
        out[f"{label} limit=500"] = await paged(accept, key)
    conn.close()
    return out


# ------------------------------------------------------------------ 6. SIGKILL durability


async def _kill_round(srv: Server, ns: str, conns: int, kill_after: float) -> tuple[set[str], int]:
    """Writers create pods until the server is SIGKILLed; returns (acknowledged names, attempts)."""
    acked: set[str] = set()
    counter = iter(range(10**9))
    attempts = 0
    path = f"/api/v1/namespaces/{ns}/pods"

    async def writer(k: int) -> None:
        nonlocal attempts
        try:
            c = await Conn.open(srv.port, srv.ssl_context())
            for i in counter:
                name = _pod_name(i)
                attempts += 1
                status, _ = await c.request(request_bytes("POST", path, srv.token, pod_body(name, ns)))
                if status == 201:
                    acked.add(name)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return

    loop = asyncio.get_running_loop()
    loop.call_later(kill_after, os.kill, srv.proc.pid, signal.SIGKILL)
    await asyncio.gather(*(writer(k) for k in range(conns)))
    srv.proc.wait()
    return acked, attempts


def kill_test(base: Path, rounds: int, conns: int = 32) -> tuple[int, int, int]:
    """(acknowledged, lost, committed-but-unacknowledged) over ``rounds`` kill/restart cycles."""
    data = base / "kill"
    rng = random.Random(7)
    acked_all: dict[str, set[str]] = {}
    srv = start_server(data, tls=False, anonymous=True)
    for r in range(rounds):
        ns = f"kill-{r}"
        _run(_create_namespace(srv.port, None, None, ns))
        acked, _ = _run(_kill_round(srv, ns, conns, rng.uniform(0.8, 2.0)))
        acked_all[ns] = acked
        srv = start_server(data, tls=False, anonymous=True)
    lost = extra = total = 0
    for ns, acked in acked_all.items():
        status, body = _run(_get_raw(srv, f"/api/v1/namespaces/{ns}/pods"))
        assert status == 200
        present = {it["metadata"]["name"] for it in orjson.loads(body)["items"]}
        total += len(acked)
        lost += len(acked - present)
        extra += len(present - acked)
    srv.stop()
    return total, lost, extra


# ------------------------------------------------------------------ profile mode


def _serve(argv: list[str]) -> None:
    """Entry for a variant server subprocess (``--serve``): the Platform of ``suanli up``, run
    under cProfile (``--stats``; profiling starts at SIGUSR1) and/or with the garbage collector
    tuned (``--gc-freeze``: ``gc.freeze()`` after start-up and a gen-0 threshold of 50,000)."""
    import gc

    from suanli.cli.platform import Platform, PlatformOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("--stats", default="")
    ap.add_argument("--gc-freeze", action="store_true")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--insecure-http", action="store_true")
    ap.add_argument("--anonymous", action="store_true")
    args = ap.parse_args(argv)
    prof = cProfile.Profile()

    async def serve() -> None:
        platform = Platform(PlatformOptions(port=args.port, data_dir=args.data_dir, kubeconfig=None,
                                            tls=not args.insecure_http, anonymous=args.anonymous, demo=False))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        if args.stats:
            loop.add_signal_handler(signal.SIGUSR1, prof.enable)
        await platform.start()
        if args.gc_freeze:
            gc.freeze()
            gc.set_threshold(50_000, 20, 1000)
        await stop.wait()
        prof.disable()
        await platform.stop()

    from suanli.cli.eventloop import run

    run(serve())  # the event loop of ``suanli up``
    if args.stats:
        prof.dump_stats(args.stats)


def _variant(*flags: str) -> list[str]:
    return [sys.executable, "-m", "bench.bench_api", "--serve", *flags]


def profile(base: Path, n: int, procs: int, conns: int, tls: bool, top: int) -> None:
    stats_path = base / "server.prof"
    srv = start_server(base / f"prof-{'tls' if tls else 'http'}", tls=tls,
                       command=_variant("--stats", str(stats_path)))
    _run(_create_namespace(srv.port, srv.ca_file if tls else None, srv.token, "prof"))
    create_run(srv, "prof", 1000, procs, conns)  # warm-up, not profiled
    _run(_create_namespace(srv.port, srv.ca_file if tls else None, srv.token, "prof2"))
    os.kill(srv.proc.pid, signal.SIGUSR1)  # start profiling now
    rate, _ = create_run(srv, "prof2", n, procs, conns)
    srv.stop()
    print(f"Profiled create load ({'HTTPS' if tls else 'HTTP'}), {n} pods, {procs}x{conns} connections: "
          f"{rate:,.0f} creates/s under cProfile\n")
    st = pstats.Stats(str(stats_path))
    total = st.total_tt  # type: ignore[attr-defined]
    rows = st.stats  # type: ignore[attr-defined]

    def show(key: Callable[[Any], float], title: str) -> None:
        print(f"### {title} (share of {total:.2f} s profiled main-thread time)\n")
        print("| share | seconds | calls | function |")
        print("|---:|---:|---:|---|")
        for func, (_cc, nc, tt, ct, _callers) in sorted(rows.items(), key=lambda kv: -key(kv[1]))[:top]:
            val = key((_cc, nc, tt, ct, _callers))
            fname, line, name = func
            short = fname.replace(str(Path(sys.prefix)), "<venv>").replace(str(Path.cwd()) + "/", "")
            print(f"| {100 * val / total:.1f}% | {val:.2f} | {nc} | {short}:{line}({name}) |")
        print()

    show(lambda v: v[2], "Self time (tottime)")
    show(lambda v: v[3], "Cumulative time (cumtime)")


# ------------------------------------------------------------------ main


class _Rows(list[tuple[str, str]]):
    """Result rows; each is echoed to stderr as it arrives so long runs show progress."""

    def append(self, row: tuple[str, str]) -> None:
        print(f"  {row[0]}: {row[1]}", file=sys.stderr, flush=True)
        super().append(row)


def populate(base: Path, n: int, namespaces: int = 20) -> Path:
    """A data dir holding ``n`` pods shaped exactly like ones created over the API.

    One pod is created through a real server to get its stored form (managedFields, uid,
    creationTimestamp...) and deleted again; with the server stopped, copies of it (name,
    namespace, uid and resourceVersion varied) are appended to the store's SQLite log as
    ADDED rows, exactly what the store itself writes, so the next start recovers them. This
    takes seconds, where creating 100,000 pods over HTTP would take over a minute.
    """
    import sqlite3

    from suanli.storage._sqlite_log import INSERT_SQL

    data = base / "list"
    srv = start_server(data, tls=False, anonymous=True)
    try:
        for k in range(namespaces):
            _run(_create_namespace(srv.port, None, None, f"ns-{k:02d}"))
        status, template = _run(_request(srv, "POST", "/api/v1/namespaces/ns-00/pods", pod_body("template", "ns-00")))
        assert status == 201, template[:200]
        status, _ = _run(_request(srv, "DELETE", "/api/v1/namespaces/ns-00/pods/template?gracePeriodSeconds=0"))
        assert status == 200
    finally:
        srv.stop()
    obj = orjson.loads(template)
    md = obj["metadata"]
    conn = sqlite3.connect(data / "store.db", isolation_level=None)
    rev = int(conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])
    now = time.time()
    batch: list[tuple[Any, ...]] = []
    for i in range(n):
        rev += 1
        ns = f"ns-{i % namespaces:02d}"
        md["name"], md["namespace"], md["resourceVersion"] = _pod_name(i), ns, str(rev)
        md["uid"] = f"00000000-0000-4000-8000-{i:012d}"
        batch.append((rev, "pods", ns, md["name"], 0, 0, now, orjson.dumps(obj)))
        if len(batch) == 1000 or i == n - 1:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_SQL, batch)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (rev,))
            conn.execute("COMMIT")
            batch.clear()
    conn.close()
    return data


async def _request(srv: Server, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    conn = await Conn.open(srv.port, srv.ssl_context())
    status, data = await conn.request(request_bytes(method, path, srv.token, body))
    conn.close()
    return status, data


def _lat_rows(rows: _Rows, label: str, per_run: list[list[float]], unit: float = 1000) -> None:
    p50s = [percentile(r, 50) * unit for r in per_run]
    p99s = [percentile(r, 99) * unit for r in per_run]
    pooled = [x for r in per_run for x in r]
    rows.append((f"{label}: P50", fmt_spread(p50s, "{:.2f}") + " ms"))
    rows.append((f"{label}: P99", fmt_spread(p99s, "{:.2f}") + " ms"))
    rows.append((f"{label}: P99.9 / max, all runs pooled",
                 f"{percentile(pooled, 99.9) * unit:.1f} / {max(pooled) * unit:.1f} ms"))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        _serve(argv[1:])
        return
    ap = argparse.ArgumentParser(prog="python -m bench api", description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs (~1.5 minutes)")
    ap.add_argument("--runs", type=int, default=None, help="runs per measurement (default 5; quick 3)")
    ap.add_argument("--procs", type=int, default=2, help="client processes for throughput (default 2)")
    ap.add_argument("--conns", type=int, default=16, help="connections per client process (default 16)")
    ap.add_argument("--objects", type=int, default=None, help="creates per throughput run (default 5000)")
    ap.add_argument("--list-objects", type=int, default=None, help="pods for the LIST benchmark (100,000)")
    ap.add_argument("--only", default="", help="comma list of: create,latency,watch,list,kill")
    ap.add_argument("--profile", action="store_true", help="profile the server under create load instead")
    ap.add_argument("--profile-tls", action="store_true", help="profile over HTTPS (default plain HTTP)")
    args = ap.parse_args(argv)
    q = args.quick
    runs = args.runs or (3 if q else 5)
    n = args.objects or (2000 if q else 5000)
    list_n = args.list_objects or (20_000 if q else 100_000)
    only = set(args.only.split(",")) if args.only else {"create", "latency", "watch", "list", "kill"}

    with tempfile.TemporaryDirectory(prefix="suanli-bench-") as tmp:
        base = Path(tmp)
        if args.profile:
            profile(base, n * 2, args.procs, args.conns, args.profile_tls, 30)
            return
        mi = machine_info()
        print(f"Machine: {mi['cpu']}, {mi['cores']} cores, {mi['ram']} RAM, Python {mi['python']}, {mi['os']}; "
              f"load average at start {os.getloadavg()[0]:.2f} (other work on the box skews results)\n")
        rows = _Rows()
        t_all = time.perf_counter()

        if "create" in only:
            cfg = f"{args.procs} procs x {args.conns} conns, {n:,} pods/run"
            rates: dict[str, list[float]] = {}
            for label, tls in (("HTTPS", True), ("plain HTTP", False)):
                srv = start_server(base / f"create-{tls}", tls=tls, anonymous=not tls)
                try:
                    SERVER_CPU.clear()
                    rates[label], errs = http_throughput(srv, runs, n, args.procs, args.conns, "c")
                    rows.append((f"create throughput, {label} ({cfg})", fmt_spread(rates[label]) + " objects/s"
                                 + (f", {errs} non-201" if errs else "")))
                    rows.append((f"server CPU during {label} creates (cores busy)",
                                 fmt_spread(SERVER_CPU[1:], "{:.2f}")))
                    if tls:
                        status, stored = _run(_get_raw(srv, f"/api/v1/namespaces/c-r0/pods/{_pod_name(0)}"))
                        assert status == 200
                finally:
                    srv.stop()
            local = local_throughput(base / "local", runs, n)
            rows.append((f"create throughput, in-process LocalClient (64 coroutines, {n:,} pods/run)",
                         fmt_spread(local) + " objects/s"))
            raw = [raw_sqlite_rate(stored, n) for _ in range(runs)]
            rows.append((f"raw SQLite insert of the same {len(stored):,} B stored objects, 100 rows/txn",
                         fmt_spread(raw) + " rows/s"))
            rm = statistics.median(raw)
            for label, vals in (*rates.items(), ("in-process", local)):
                rows.append((f"ratio {label} creates / raw SQLite rows", f"{statistics.median(vals) / rm:.3f}"))

        if "latency" in only:
            secs = 4.0
            variants: list[tuple[str, bool, list[str] | None]] = [
                ("HTTPS", True, None), ("plain HTTP", False, None),
                ("HTTPS, what-if gc.freeze() server", True, _variant("--gc-freeze"))]
            for label, tls, cmd in variants:
                srv = start_server(base / f"lat-{len(rows)}", tls=tls, anonymous=not tls, command=cmd)
                try:
                    per_run: list[list[float]] = []
                    errs = 0
                    for r in range(runs if cmd is None else min(runs, 3)):
                        ns = f"lat-{r}"
                        _run(_create_namespace(srv.port, srv.ca_file if tls else None, srv.token, ns))
                        lat, e = latency_run(srv, ns, 500, secs)
                        per_run.append(lat)
                        errs += e
                    _lat_rows(rows, f"create latency at 500/s open loop, {label} ({len(per_run)} x {secs:.0f} s)"
                              + (f", {errs} non-201" if errs else ""), per_run)
                finally:
                    srv.stop()

        if "watch" in only:
            watchers, wn, wrate = (100, 100, 50.0) if q else (100, 200, 50.0)
            srv = start_server(base / "watch")
            try:
                after_ack: list[list[float]] = []
                after_send: list[list[float]] = []
                delivered = expected = 0
                for r in range(runs):
                    lat, lat_send, d, e = watch_fanout(srv, f"watch-{r}", watchers, wn, wrate)
                    after_ack.append(lat)
                    after_send.append(lat_send)
                    delivered += d
                    expected += e
                cfg = f"{watchers} HTTPS watch streams, {wn} creates/run at {wrate:.0f}/s"
                _lat_rows(rows, f"watch delivery after write ack ({cfg})", after_ack)
                _lat_rows(rows, "watch delivery after write request sent", after_send)
                rows.append(("watch events delivered", f"{delivered:,} of {expected:,}"))
            finally:
                srv.stop()

        if "list" in only:
            t0 = time.perf_counter()
            data = populate(base, list_n)
            rows.append((f"populate {list_n:,} API-shaped pods directly in the store",
                         f"{time.perf_counter() - t0:.1f} s"))
            t0 = time.perf_counter()
            srv = start_server(data)
            rows.append((f"server start-up with {list_n:,} pods on disk", f"{time.perf_counter() - t0:.1f} s"))
            try:
                timings: dict[str, list[tuple[float, int, int]]] = {}
                for _ in range(min(runs, 3)):  # 3 runs: each pass moves ~1 GB; keeps the bench < 5 min
                    for k, v in _run(list_timings(srv)).items():
                        timings.setdefault(k, []).append(v)
                for k, vs in timings.items():
                    assert all(v[2] == list_n for v in vs), (k, [v[2] for v in vs])
                    rows.append((f"LIST {list_n:,} pods over HTTPS, {k}",
                                 fmt_spread([v[0] for v in vs], "{:.2f}") + f" s, {vs[0][1] / 1e6:,.1f} MB"))
            finally:
                t0 = time.perf_counter()
                srv.stop()
                rows.append((f"server shutdown (SIGTERM to exit) with {list_n:,} pods",
                             f"{time.perf_counter() - t0:.1f} s"))

        if "kill" in only:
            krounds = 3 if q else 5
            total, lost, extra = kill_test(base, krounds)
            rows.append((f"SIGKILL durability ({krounds} kill/restart rounds, 32 concurrent writers)",
                         f"{lost} of {total:,} acknowledged creates lost ({extra} committed but unacknowledged)"))

        print("| measurement | median (min-max, runs) |")
        print("|---|---|")
        for k, v in rows:
            print(f"| {k} | {v} |")
        print(f"\nTotal wall time {time.perf_counter() - t_all:.0f} s; load average at end {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
