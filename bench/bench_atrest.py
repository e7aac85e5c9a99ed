"""Cost of encryption at rest and audit logging on the create path (issue 12).

``suanli up`` servers on the same machine: ``plain``; ``encryption`` (``--encryption-provider-config``,
aesgcm for Secrets); ``audit`` (``--audit-policy-file``, every request at ``Metadata``, written to
``--audit-log-path``); ``secured`` (both). Rounds alternate between the servers; each round
creates ``--n`` Secrets (~1 KiB of data each) through ``--conns`` keep-alive HTTPS connections
(closed loop) and records throughput, the latency of every create and the server process's CPU
time (all threads, /proc) per create. Prints, per configuration, median (min-max) over the rounds,
and the relative cost (throughput lost, P99 and CPU per create added). On a shared machine the CPU
per create is the steadiest of the three.

Usage: ``python -m bench atrest [--n 3000] [--conns 16] [--repeats 3] [--configs plain secured]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench._common import Conn, Server, fmt_spread, machine_info, percentile, request_bytes, start_server

POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
          "rules": [{"level": "Metadata"}]}
ENCRYPTION = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
              "resources": [{"resources": ["secrets"], "providers": [
                  {"aesgcm": {"keys": [{"name": "key1", "secret": base64.b64encode(b"0" * 32).decode()}]}},
                  {"identity": {}}]}]}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _secret(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                         "data": {"payload": base64.b64encode(b"s" * 768).decode(), "user": "YWRtaW4="}})


async def _round(srv: Server, ns: str, n: int, conns: int) -> tuple[float, list[float]]:
    ctx = srv.ssl_context()
    token = srv.token
    c0 = await Conn.open(srv.port, ctx)
    status, body = await c0.request(request_bytes("POST", "/api/v1/namespaces", token, orjson.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})))
    c0.close()
    if status != 201:
        raise RuntimeError(f"namespace create failed: {status} {body[:200]!r}")
    latencies: list[float] = []
    path = f"/api/v1/namespaces/{ns}/secrets"

    async def worker(k: int) -> None:
        conn = await Conn.open(srv.port, ctx)
        try:
            for i in range(k, n, conns):
                raw = request_bytes("POST", path, token, _secret(f"s-{i}"))
                t0 = time.perf_counter()
                status, data = await conn.request(raw)
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    raise RuntimeError(f"create failed: {status} {data[:200]!r}")
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(conns)))
    return n / (time.perf_counter() - t0), latencies


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=3000, help="Secrets created per round")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", nargs="+", default=["plain", "secured"],
                    choices=["plain", "encryption", "audit", "secured"],
                    help="servers to compare (secured = encryption and audit); the first is the baseline")
    args = ap.parse_args(argv)
    results: dict[str, dict[str, list[float]]] = {k: {"rate": [], "p50": [], "p99": [], "cpu": []}
                                                  for k in args.configs}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "policy.json").write_text(json.dumps(POLICY))
        (base / "enc.json").write_text(json.dumps(ENCRYPTION))
        up = [sys.executable, "-m", "suanli.cli.main", "up", "--no-demo", "--log-level", "warning"]
        enc = ["--encryption-provider-config", str(base / "enc.json")]
        audit = ["--audit-policy-file", str(base / "policy.json"), "--audit-log-path", str(base / "audit.log")]
        flags = {"plain": [], "encryption": enc, "audit": audit, "secured": [*enc, *audit]}
        servers = {name: start_server(base / name / "data",
                                      command=[*up, "--kubeconfig", str(base / f"kc-{name}"), *flags[name]])
                   for name in args.configs}
        try:
            for name, srv in servers.items():  # warm-up: connections, caches
                asyncio.run(_round(srv, f"warm-{name}", max(300, args.n // 10), args.conns))
            for r in range(args.repeats):
                for name, srv in servers.items():
                    cpu0 = _cpu_seconds(srv.proc.pid)
                    rate, lat = asyncio.run(_round(srv, f"r{r}", args.n, args.conns))
                    results[name]["cpu"].append((_cpu_seconds(srv.proc.pid) - cpu0) / args.n * 1e6)
                    results[name]["rate"].append(rate)
                    results[name]["p50"].append(percentile(lat, 50) * 1e3)
                    results[name]["p99"].append(percentile(lat, 99) * 1e3)
            log = base / "audit.log"
            audit_lines = log.read_bytes().count(b"\n") if log.exists() else 0
        finally:
            for srv in servers.values():
                srv.stop()
    print(json.dumps(machine_info()))
    print(f"Secret creates, n={args.n} per round, {args.conns} connections, {args.repeats} rounds "
          "(median [min-max])")
    for name, r in results.items():
        print(f"  {name:<8} {fmt_spread(r['rate'])} creates/s   P50 {fmt_spread(r['p50'], '{:.1f}')} ms   "
              f"P99 {fmt_spread(r['p99'], '{:.1f}')} ms   server CPU {fmt_spread(r['cpu'])} µs/create")
    base_r = results[args.configs[0]]
    for name in args.configs[1:]:
        r = results[name]
        rate = 1 - statistics.median(r["rate"]) / statistics.median(base_r["rate"])
        p99 = statistics.median(r["p99"]) / statistics.median(base_r["p99"]) - 1
        cpu = statistics.median(r["cpu"]) / statistics.median(base_r["cpu"]) - 1
        print(f"  cost of {name}: throughput {rate:+.1%}, P99 {p99:+.1%}, server CPU per create {cpu:+.1%}")
    print(f"  audit events written: {audit_lines}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
