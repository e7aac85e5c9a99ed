"""SchedulingBasic in the production shape versus embedded, same run (issue 11).

Run: ``python -m bench production [--quick] [--runs R]``.

Both shapes serve the API over **HTTPS** (anonymous allowed for the load clients, which verify
the cluster CA) on a fresh data dir; load and the bind watcher are the processes of
``bench/bench_scheduler.py`` (2 processes x 16 connections, TLS):

* **embedded**: ``suanli up --no-demo`` — the scheduler in the API server's process on the
  in-process client (every other controller runs too, as in ``suanli up``);
* **production**: ``suanli up --only api`` plus ``suanli scheduler --kubeconfig`` in its own
  process (HttpClient over HTTPS with the admin token, no leader election) plus
  ``suanli controllers --controllers podgroup,queue,serviceaccount`` (Volcano's controller-manager
  role the scheduler needs: a PodGroup per plain pod, the ``root``/``default`` Queues; and each
  namespace's ``default`` ServiceAccount, without which pods are refused).

SchedulingBasic shape as in ``bench_scheduler`` but smaller (the machine is shared): N nodes
(4 CPU, 32 GiB, 110 pods; no agent touches them), I initial pods bound first, then P pods
(100m, 500 MiB) created as fast as the API takes them; end-to-end pods/s = P / (first create →
last bind seen by the watcher). Shapes alternate run by run (embedded, production, embedded, …)
after one discarded warm-up of each; medians (min-max) are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import REPO, Server, fmt_spread, machine_info, start_server
from bench.bench_scheduler import (
    BASIC_ALLOC,
    BindWatcher,
    cpu_seconds,
    create_all,
    ensure_namespace,
    http_json,
    node_body,
    nodes_path,
    pod_body,
    pods_path,
)


def _up(base: Path, tag: str, production: bool) -> tuple[Server, list[subprocess.Popen[bytes]]]:
    data = base / tag
    kubeconfig = data / "kubeconfig"
    # AlwaysAllow: the load clients are anonymous (RBAC would refuse them); authorisation cost is
    # bench_rbac's subject, not this one's
    cmd = [sys.executable, "-m", "suanli.cli.main", "up", "--log-level", "warning", "--kubeconfig", str(kubeconfig),
           "--authorization-mode", "AlwaysAllow", *(["--only", "api"] if production else ["--no-demo"])]
    srv = start_server(data, tls=True, anonymous=True, command=cmd)
    if not production:
        return srv, []
    procs = []
    for command in (["scheduler"], ["controllers", "--controllers", "podgroup,queue,serviceaccount"]):
        log = (base / f"{tag}-{command[0]}.log").open("ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "suanli.cli.main", *command, "--kubeconfig",
                                       str(kubeconfig), "--health-port", "-1", "--log-level", "warning"],
                                      stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO)))
    return srv, procs


def _wait_default_serviceaccount(srv: Server, ns: str, timeout: float = 120.0) -> None:
    """Pods are refused until the serviceaccount controller has made ``ns``'s ``default``."""
    deadline = time.monotonic() + timeout
    while http_json(srv, "GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default")[0] != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no default ServiceAccount in {ns} after {timeout:.0f} s")
        time.sleep(0.1)  # polling another process's controller


def shape_run(base: Path, tag: str, production: bool, n_nodes: int, n_init: int, n_pods: int) -> dict[str, float]:
    srv, procs = _up(base, tag, production)
    try:
        req = {"cpu": "100m", "memory": "500Mi"}
        for ns in ("init", "measure"):
            ensure_namespace(srv, ns)
            _wait_default_serviceaccount(srv, ns)
        create_all(srv, [(nodes_path(), node_body(f"node-{i:05d}", BASIC_ALLOC)) for i in range(n_nodes)])
        w = BindWatcher(srv, "init", n_init, idle=30.0)
        create_all(srv, [(pods_path("init"), pod_body(f"init-{i}", "init", req)) for i in range(n_init)])
        if len(w.result()) < n_init:
            raise RuntimeError(f"{tag}: initial pods were not all bound")
        pids = [srv.proc.pid, *(p.pid for p in procs)]
        cpu0 = sum(cpu_seconds(pid) for pid in pids)
        w = BindWatcher(srv, "measure", n_pods)
        t0, t1, ok = create_all(srv, [(pods_path("measure"), pod_body(f"pod-{i}", "measure", req))
                                      for i in range(n_pods)])
        binds = w.result()
        end = binds[-1] if binds else t1
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
        return {"e2e": len(binds) / (end - t0), "create": ok / (t1 - t0), "tail": end - t1,
                "bound": float(len(binds)), "cpu": cpu / (end - t0)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        srv.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="500 nodes, 200 initial pods, 2,000 pods")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    n_nodes, n_init, n_pods = (500, 200, 2000) if args.quick else (1000, 500, 5000)
    print("machine:", machine_info(), "load average:", os.getloadavg(), flush=True)
    base = Path(tempfile.mkdtemp(prefix="suanli-bench-prod-"))
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for r in range(args.runs + 1):  # run 0 of each shape is a discarded warm-up
        for production in (False, True):
            name = "production" if production else "embedded"
            t = time.monotonic()
            res = shape_run(base, f"{name}-{r}", production, n_nodes, n_init, n_pods)
            print(f"  {name} run {r}{' (warm-up)' if r == 0 else ''}: {res} ({time.monotonic() - t:.0f} s)",
                  flush=True)
            if r:
                results[production].append(res)
    emb, prod = results[False], results[True]
    label = f"SchedulingBasic {n_nodes:,} nodes, {n_init:,} init, {n_pods:,} pods, HTTPS"
    print("\n| measurement | embedded | production shape |\n|---|---|---|")
    for key, what, fmt in (("e2e", "end-to-end pods/s", "{:,.0f}"), ("create", "creates/s during the run", "{:,.0f}"),
                           ("tail", "last create → last bind (s)", "{:.2f}"),
                           ("cpu", "CPU of all server processes (cores busy)", "{:.2f}")):
        print(f"| {label}: {what} | {fmt_spread([r[key] for r in emb], fmt)} | "
              f"{fmt_spread([r[key] for r in prod], fmt)} |")
    ratio = statistics.median([p["e2e"] for p in prod]) / statistics.median([e["e2e"] for e in emb])
    print(f"| … production / embedded end-to-end (medians) | {ratio:.2f} | |")


if __name__ == "__main__":
    main()
