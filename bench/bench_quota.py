"""Pod creates/s with one ResourceQuota in the namespace versus none, same server, same run.

Starts one ``suanli up --no-demo`` (HTTPS, bearer token; controllers running, so the quota
controller syncs ``status.used``). Each round creates ``--n`` pods (``bench._common.pod_body``:
requests and limits of cpu, memory and ``nvidia.com/gpu``) in a fresh namespace with 2 client
processes x 16 keep-alive connections (``bench_api.create_run``), once in a namespace without a
quota and once in a namespace whose quota tracks ``pods``, ``requests.cpu``,
``requests.memory``, ``limits.cpu`` and ``requests.nvidia.com/gpu`` with room for every pod (so
every create is checked *and* charged: one extra store write of the quota's status per pod).
The two variants alternate within each round (order swapped every round) after one discarded
warm-up round; the figure per variant is the median over ``--repeats`` rounds.

Also reports the server's CPU time per created pod (user+system of the server process over the
round / pods), which is less disturbed by other load on the machine than the rate.

Usage: ``python -m bench quota [--n 2000] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from bench._common import Conn, fmt_spread, machine_info, request_bytes, start_server
from bench.bench_api import SERVER_CPU, _create_namespace, _ctx, _run, create_run

PROCS = 2
CONNS = 16


def _quota(n: int) -> bytes:
    room = str(n * 10)
    return orjson.dumps({
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": room, "requests.cpu": room, "requests.memory": "1Pi", "limits.cpu": room,
                          "requests.nvidia.com/gpu": room}},
    })


async def _add_quota(port: int, ca: str | None, token: str | None, ns: str, n: int) -> None:
    """Create the quota and wait until the controller has filled ``status.used`` (admission
    refuses pods before that)."""
    conn = await Conn.open(port, _ctx(ca))
    path = f"/api/v1/namespaces/{ns}/resourcequotas"
    status, data = await conn.request(request_bytes("POST", path, token, _quota(n)))
    if status != 201:
        raise RuntimeError(f"quota create failed: {status} {data[:200]!r}")
    deadline = time.monotonic() + 30
    while True:
        status, data = await conn.request(request_bytes("GET", f"{path}/compute", token))
        if "requests.cpu" in ((orjson.loads(data).get("status") or {}).get("used") or {}):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("quota status.used not synced after 30 s")
        await asyncio.sleep(0.05)  # polling another process (the quota controller)
    conn.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="pods per round and variant")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print({**machine_info()})
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp:
        srv = start_server(Path(tmp) / "data")
        try:
            ca, token = srv.ca_file, srv.token
            rates: dict[str, list[float]] = {"none": [], "quota": []}
            cpu_us: dict[str, list[float]] = {"none": [], "quota": []}
            for r in range(args.repeats + 1):
                order = ("none", "quota") if r % 2 == 0 else ("quota", "none")
                for variant in order:
                    ns = f"{variant}-r{r}"
                    _run(_create_namespace(srv.port, ca, token, ns))
                    if variant == "quota":
                        _run(_add_quota(srv.port, ca, token, ns, args.n))
                    rate, errors = create_run(srv, ns, args.n, PROCS, CONNS)
                    if errors:
                        raise RuntimeError(f"{errors} creates failed in {ns}")
                    per_pod = SERVER_CPU[-1] / rate * 1e6  # server CPU µs per created pod
                    if r > 0:  # round 0 is the warm-up
                        rates[variant].append(rate)
                        cpu_us[variant].append(per_pod)
                    print(f"round {r} {variant:5s} {rate:8,.0f} pods/s  {per_pod:6,.0f} µs server CPU/pod", flush=True)
        finally:
            srv.stop()
    none, quota = statistics.median(rates["none"]), statistics.median(rates["quota"])
    print(f"no quota : {fmt_spread(rates['none'])} pods/s, {fmt_spread(cpu_us['none'])} µs server CPU/pod")
    print(f"1 quota  : {fmt_spread(rates['quota'])} pods/s, {fmt_spread(cpu_us['quota'])} µs server CPU/pod")
    print(f"cost of quota admission: {100 * (1 - quota / none):.1f}% of create throughput, "
          f"{100 * (statistics.median(cpu_us['quota']) / statistics.median(cpu_us['none']) - 1):.1f}% more "
          "server CPU per pod")


if __name__ == "__main__":
    main()
