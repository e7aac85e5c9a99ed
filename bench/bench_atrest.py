"""Cost of encryption at rest and audit logging on the create path (issue 12).

``suanli up`` servers on the same machine: ``plain``; ``encryption`` (``--encryption-provider-config``,
aesgcm for Secrets); ``audit`` (``--audit-policy-file``, every request at ``Metadata``, written to
``--audit-log-path``); ``secured`` (both). Rounds alternate between the servers; each round
creates ``--n`` Secrets (~1 KiB of data each) through ``--conns`` keep-alive HTTPS connections
(closed loop) and records throughput, the latency of every create and the server process's CPU
time (all threads, /proc) per create. Prints, per configuration, median (min-max) over the rounds,
and the relative cost (throughput lost, P99 and CPU per create added). On a shared machine the CPU
per create is the steadiest of the three.

``--isolated`` instead times, in this process with ``time.thread_time``, the work each feature adds
to one Secret create on the event loop: the audit hooks at ``Metadata`` (with a backend that
discards the line, so the writer thread is not counted) and an aesgcm ``to_storage`` of the stored
bytes. On a loaded machine this is the figure that resolves a few per cent.

Usage: ``python -m bench atrest [--n 3000] [--conns 16] [--repeats 3] [--configs plain secured]``
or ``python -m bench atrest --isolated [--repeats 5]``.
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


def isolated(repeats: int, n: int = 20_000) -> dict[str, list[float]]:
    """µs of main-thread CPU per create added by audit (Metadata) and by aesgcm encryption."""
    from suanli.apiserver.audit.event import Auditor
    from suanli.apiserver.audit.hook import begin_audit
    from suanli.apiserver.audit.policy import parse_policy
    from suanli.apiserver.context import ADMIN
    from suanli.storage.encryption import parse_encryption_config, storage_key

    class Discard:
        def emit(self, line: bytes) -> None:
            pass

    auditor = Auditor(parse_policy(POLICY), Discard())  # type: ignore[arg-type]  # any object with emit()
    config = parse_encryption_config(ENCRYPTION)
    body = _secret("s-1")
    stored = orjson.dumps({**orjson.loads(body), "metadata": {"name": "s-1", "namespace": "r0",
                                                               "resourceVersion": "1", "uid": "u" * 36}})
    scope = {"method": "POST", "path": "/api/v1/namespaces/r0/secrets", "raw_path": b"/api/v1/namespaces/r0/secrets",
             "query_string": b"", "client": ("127.0.0.1", 40000)}
    headers = {"user-agent": "kubectl/v1.37.1", "content-type": "application/json"}

    def audit_one() -> None:
        aud = begin_audit(auditor, scope, {}, headers, ADMIN)
        assert aud is not None
        aud.impersonated(ADMIN, ADMIN)
        aud.authorized(True)
        aud.request_body(body, "application/json")
        aud.complete(201, stored)

    def encrypt_one() -> None:
        t = config.for_bucket("secrets")
        assert t is not None
        t.to_storage(stored, storage_key("secrets", "r0", "s-1"))

    out: dict[str, list[float]] = {"audit": [], "encryption": []}
    for _ in range(repeats):
        for name, fn in (("audit", audit_one), ("encryption", encrypt_one)):
            t0 = time.thread_time()
            for _ in range(n):
                fn()
            out[name].append((time.thread_time() - t0) / n * 1e6)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=3000, help="Secrets created per round")
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--configs", nargs="+", default=["plain", "secured"],
                    choices=["plain", "encryption", "audit", "secured"],
                    help="servers to compare (secured = encryption and audit); the first is the baseline")
    ap.add_argument("--isolated", action="store_true", help="time the added work in-process instead")
    args = ap.parse_args(argv)
    if args.isolated:
        for name, xs in isolated(args.repeats).items():
            print(f"  {name:<10} {fmt_spread(xs, '{:.1f}')} µs of event-loop CPU per Secret create")
        return 0
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
    for name, res in results.items():
        print(f"  {name:<10} {fmt_spread(res['rate'])} creates/s   P50 {fmt_spread(res['p50'], '{:.1f}')} ms   "
              f"P99 {fmt_spread(res['p99'], '{:.1f}')} ms   server CPU {fmt_spread(res['cpu'])} µs/create")
    base_r = results[args.configs[0]]
    for name in args.configs[1:]:
        res = results[name]
        rate = 1 - statistics.median(res["rate"]) / statistics.median(base_r["rate"])
        p99 = statistics.median(res["p99"]) / statistics.median(base_r["p99"]) - 1
        cpu = statistics.median(res["cpu"]) / statistics.median(base_r["cpu"]) - 1
        print(f"  cost of {name}: throughput {rate:+.1%}, P99 {p99:+.1%}, server CPU per create {cpu:+.1%}")
    print(f"  audit events written: {audit_lines}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
