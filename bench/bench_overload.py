"""Latency of ``/readyz`` and of an unaffected user while one user floods the server.

Starts ``suanli up --only api`` (AlwaysAllow, a token file with users ``flooder`` and ``bob``)
once per configuration, and in the same run measures, without and then with a flood:

* ``readyz``: ``GET /readyz`` (exempt from the limits, like APF's ``probes`` FlowSchema);
* ``bob get`` / ``bob create``: a GET and a create of a ConfigMap by ``bob``;

one request at a time from this process, with a 10 ms pause between samples. The flood is
``--clients`` (default 50) keep-alive connections of ``flooder`` in a separate process, each
creating ConfigMaps back to back; it reports its answers by status (201 served, 429 shed).

Configurations: ``defaults`` (kube-apiserver's 400 read-only / 200 mutating seats, a queue of
50 per user: a 50-client flood fits and is not shed, so this shows plain event-loop contention)
and ``small`` (4 / 2 seats, a queue of 4 per user, as in the acceptance test: the flood is shed).

``--overhead`` instead times, in-process, what the limits add to every request: a trivial ASGI
handler called directly versus through ``RequestLimits.serve`` with one ``admit`` (a mutating
request of a non-exempt user: classification, a seat, the deadline bookkeeping).

Usage: ``python -m bench overload [--clients 50] [--samples 200] [--overhead]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench._common import Conn, machine_info, percentile, request_bytes, start_server

TOKENS = "flooder-token,flooder,uid-flooder\nbob-token,bob,uid-bob\n"
CM = "/api/v1/namespaces/default/configmaps"
CONFIGS = {
    "defaults": [],
    "small": ["--max-requests-inflight", "4", "--max-mutating-requests-inflight", "2",
              "--max-queued-requests-per-user", "4"],
}


def _cm(name: str) -> bytes:
    return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' + name.encode() + \
        b'"},"data":{"k":"' + b"v" * 200 + b'"}}'


async def _flood(port: int, ca: str, clients: int, seconds: float, tag: str) -> Counter[int]:
    import ssl

    ctx = ssl.create_default_context(cafile=ca)
    codes: Counter[int] = Counter()
    stop_at = time.monotonic() + seconds

    async def client(i: int) -> None:
        conn = await Conn.open(port, ctx)
        n = 0
        while time.monotonic() < stop_at:
            status, _ = await conn.request(request_bytes("POST", CM, "flooder-token", _cm(f"f{tag}-{i}-{n}")))
            codes[status] += 1
            n += 1
        conn.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return codes


def _flood_process(port: int, ca: str, clients: int, seconds: float, tag: str,
                   out: multiprocessing.queues.Queue[dict[int, int]]) -> None:
    out.put(dict(asyncio.run(_flood(port, ca, clients, seconds, tag))))


async def _measure(port: int, ca: str, samples: int, tag: str) -> dict[str, list[float]]:
    import ssl

    ctx = ssl.create_default_context(cafile=ca)
    conn = await Conn.open(port, ctx)
    out: dict[str, list[float]] = {"readyz": [], "bob get": [], "bob create": []}
    status, _ = await conn.request(request_bytes("POST", CM, "bob-token", _cm(f"bob-{tag}-probe")))
    assert status == 201, status
    probes = {
        "readyz": lambda i: request_bytes("GET", "/readyz", None),
        "bob get": lambda i: request_bytes("GET", f"{CM}/bob-{tag}-probe", "bob-token"),
        "bob create": lambda i: request_bytes("POST", CM, "bob-token", _cm(f"bob-{tag}-{i}")),
    }
    for i in range(samples):
        for name, make in probes.items():
            raw = make(i)
            t0 = time.perf_counter()
            status, _ = await conn.request(raw)
            out[name].append((time.perf_counter() - t0) * 1e3)
            assert status in (200, 201), (name, status)
        await asyncio.sleep(0.01)
    conn.close()
    return out


def run(config: str, clients: int, samples: int) -> list[str]:
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "tokens.csv").write_text(TOKENS)
        cmd = [sys.executable, "-m", "suanli.cli.main", "up", "--only", "api", "--log-level", "warning",
               "--authorization-mode", "AlwaysAllow", "--token-auth-file", str(base / "tokens.csv"),
               "--kubeconfig", str(base / "kubeconfig"), *CONFIGS[config]]
        srv = start_server(base / "data", command=cmd)
        try:
            quiet = asyncio.run(_measure(srv.port, srv.ca_file, samples, "quiet"))
            queue: multiprocessing.queues.Queue[dict[int, int]] = multiprocessing.Queue()
            # the flood runs for longer than the measurement needs; it is joined afterwards
            seconds = max(20.0, samples * 0.2)
            proc = multiprocessing.Process(target=_flood_process,
                                           args=(srv.port, srv.ca_file, clients, seconds, "x", queue))
            proc.start()
            time.sleep(3.0)  # let the flood reach its steady state before sampling
            t0 = time.monotonic()
            flooded = asyncio.run(_measure(srv.port, srv.ca_file, samples, "flood"))
            measured = time.monotonic() - t0
            codes = queue.get(timeout=seconds + 120)
            proc.join(60)
        finally:
            srv.stop()
    for name in quiet:
        q, f = quiet[name], flooded[name]
        rows.append(f"| {config} | {name} | {percentile(q, 50):.1f} | {percentile(q, 99):.1f} | "
                    f"{percentile(f, 50):.1f} | {percentile(f, 99):.1f} |")
    total = sum(codes.values())
    rows.append(f"| {config} | flood ({clients} clients, {seconds:.0f} s) | | | "
                f"{total / seconds:,.0f} req/s | served {codes.get(201, 0):,}, shed (429) {codes.get(429, 0):,}, "
                f"other {total - codes.get(201, 0) - codes.get(429, 0)}; sampling took {measured:.1f} s |")
    return rows


async def _overhead(n: int, repeats: int) -> tuple[list[float], list[float]]:
    from typing import Any

    from suanli.apiserver.context import UserInfo
    from suanli.apiserver.limits import RequestLimits

    user = UserInfo("u", groups=("system:authenticated",))
    limits = RequestLimits()
    scope: dict[str, Any] = {"type": "http"}

    async def send(_msg: dict[str, Any]) -> None:
        return None

    async def receive() -> dict[str, Any]:
        return {}

    async def plain(_scope: dict[str, Any], _receive: Any, send_: Any) -> None:
        await send_({"type": "http.response.start"})

    async def admitted(_scope: dict[str, Any], _receive: Any, send_: Any) -> None:
        await limits.admit("POST", "/api/v1/namespaces/a/configmaps", {}, user)
        await send_({"type": "http.response.start"})

    direct: list[float] = []
    served: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            await plain(scope, receive, send)
        direct.append((time.perf_counter() - t0) / n * 1e6)
        t0 = time.perf_counter()
        for _ in range(n):
            await limits.serve(admitted, scope, receive, send)
        served.append((time.perf_counter() - t0) / n * 1e6)
    return direct, served


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--overhead", action="store_true")
    args = ap.parse_args()
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}; "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.overhead:
        import statistics

        direct, served = asyncio.run(_overhead(50_000, 7))
        print(f"direct handler: {statistics.median(direct):.2f} µs [{min(direct):.2f}-{max(direct):.2f}]; "
              f"through serve + admit: {statistics.median(served):.2f} µs [{min(served):.2f}-{max(served):.2f}] "
              f"(median [min-max] of 7 runs of 50,000)")
        return
    print("| limits | request | P50 quiet (ms) | P99 quiet (ms) | P50 flood (ms) | P99 flood (ms) |")
    print("|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        for row in run(config, args.clients, args.samples):
            print(row, flush=True)


if __name__ == "__main__":
    main()
