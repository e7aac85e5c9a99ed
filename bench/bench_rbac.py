"""RBAC authorisation cost (issue 11): pod creates/s with ``--authorization-mode RBAC`` versus
``AlwaysAllow``, same run.

Run: ``python -m bench rbac [--quick] [--runs R] [--n N]``; prints markdown.

Two ``suanli up`` servers (HTTPS) are started, one per mode, and get the same policy: 100 Roles
and 1,000 RoleBindings (bindings for 100 other users and groups spread over 10 namespaces,
including the benchmark namespaces) plus one RoleBinding that lets the ServiceAccount ``bench``
create pods. The load authenticates with that ServiceAccount's legacy token, so on the RBAC server
every create is decided by RBAC rule evaluation (not the ``system:masters`` shortcut), while the
AlwaysAllow server pays the same authentication and request resolution. Runs alternate between the
two servers (RBAC, AlwaysAllow, RBAC, …) so machine load drifts affect both alike; each run
creates N pods into a fresh namespace with P processes x C keep-alive connections (bench_api's
closed loop). Because two servers and their clients share the machine, the end-to-end figure is
noisy; the script also times the authorisation step alone in-process (request resolution,
impersonation-header scan and the RBAC decision for the same request against the same policy)
and reports it against the RBAC server's CPU time per create.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench._common import Conn, Server, fmt_spread, machine_info, request_bytes, start_server
from bench.bench_api import SERVER_CPU, _ctx, _run, create_run
from suanli.apiserver.authz.filters import authorize_request, impersonate
from suanli.apiserver.authz.rbac import RbacAuthorizer
from suanli.apiserver.context import UserInfo

ROLES = 100
BINDINGS = 1000
POLICY_NAMESPACES = 10


@dataclass
class _As:
    """``create_run``'s view of a server, authenticating with another token."""

    server: Server
    token: str

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def tls(self) -> bool:
        return self.server.tls

    @property
    def ca_file(self) -> str:
        return self.server.ca_file

    @property
    def proc(self):  # type: ignore[no-untyped-def]
        return self.server.proc


async def _post(conn: Conn, token: str, path: str, obj: dict[str, object]) -> None:
    status, data = await conn.request(request_bytes("POST", path, token, orjson.dumps(obj)))
    if status not in (201, 409):
        raise RuntimeError(f"POST {path}: {status} {data[:300]!r}")


def _binding(ns: str, name: str, role: str, subject: dict[str, str]) -> dict[str, object]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [subject]}


async def _setup(srv: Server, run_namespaces: list[str]) -> str:
    """Create the policy and the ServiceAccount; return its token."""
    conn = await Conn.open(srv.port, _ctx(srv.ca_file))
    admin = srv.token
    namespaces = [f"policy-{i}" for i in range(POLICY_NAMESPACES)] + run_namespaces
    for ns in namespaces:
        await _post(conn, admin, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": ns}})
    per_ns = ROLES // len(namespaces) + 1
    for ns in namespaces:
        for i in range(per_ns):
            await _post(conn, admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": f"role-{i}", "namespace": ns},
                "rules": [{"apiGroups": ["", "apps"], "resources": ["configmaps", "deployments", f"kind{i}"],
                           "verbs": ["get", "list", "watch"]},
                          {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]}]})
    for i in range(BINDINGS):
        ns = namespaces[i % len(namespaces)]
        subject = {"kind": "User", "name": f"user-{i % 100}"} if i % 2 else \
            {"kind": "Group", "name": f"team-{i % 100}"}
        await _post(conn, admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                    _binding(ns, f"b-{i}", f"role-{i % per_ns}", subject))
    await _post(conn, admin, "/api/v1/namespaces/default/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bench", "namespace": "default"}})
    await _post(conn, admin, "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "bench-token", "namespace": "default",
                     "annotations": {"kubernetes.io/service-account.name": "bench"}}})
    for ns in run_namespaces:
        await _post(conn, admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "pod-creator", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                      {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]})
        await _post(conn, admin, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                    _binding(ns, "bench", "pod-creator", {"kind": "ServiceAccount", "name": "bench",
                                                          "namespace": "default"}))
    deadline = time.monotonic() + 60
    while True:  # the tokens controller fills the Secret
        status, data = await conn.request(request_bytes("GET", "/api/v1/namespaces/default/secrets/bench-token",
                                                        admin))
        token = (orjson.loads(data).get("data") or {}).get("token") if status == 200 else None
        if token:
            conn.close()
            return base64.b64decode(token).decode()
        if time.monotonic() > deadline:
            raise RuntimeError("the ServiceAccount token was never issued")
        await asyncio.sleep(0.1)  # polling another process's controller


def authorize_micro(srv: Server, iterations: int = 50_000) -> float:
    """Seconds per authorisation of the benchmark's create, evaluated in-process against the RBAC
    server's policy (read from its API into a fresh authorizer)."""

    class _Store:  # the four buckets as the authorizer lists them at start
        def __init__(self, objs: dict[str, list[dict[str, object]]]) -> None:
            self.objs = objs

        def list(self, bucket: str):  # type: ignore[no-untyped-def]
            from suanli.storage import ListResult, StoredObject
            return ListResult([StoredObject(1, o, b"") for o in self.objs.get(bucket, [])], 1, 0)

        def watch(self, bucket: str, *, since_rv: int):  # type: ignore[no-untyped-def]
            class _Idle:
                def drain(self) -> list[object]:
                    return []

                def close(self) -> None:
                    pass
            return _Idle()

    async def fetch() -> dict[str, list[dict[str, object]]]:
        conn = await Conn.open(srv.port, _ctx(srv.ca_file))
        out: dict[str, list[dict[str, object]]] = {}
        for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            _, data = await conn.request(request_bytes("GET", f"/apis/rbac.authorization.k8s.io/v1/{plural}",
                                                       srv.token))
            out[f"rbac.authorization.k8s.io/{plural}"] = orjson.loads(data)["items"]
        conn.close()
        return out

    authz = RbacAuthorizer(_Store(_run(fetch())))  # type: ignore[arg-type]
    authz.start()
    user = UserInfo("system:serviceaccount:default:bench", groups=(
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))
    headers = [("host", "127.0.0.1"), ("user-agent", "suanli-bench/1"), ("authorization", "Bearer x"),
               ("content-type", "application/json"), ("content-length", "1100")]
    path = "/api/v1/namespaces/bench-r0/pods"
    t0 = time.perf_counter()
    for _ in range(iterations):
        authorize_request(authz, impersonate(authz, user, headers), "POST", path, {})
    return (time.perf_counter() - t0) / iterations


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench rbac")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--n", type=int, default=None, help="pods per run")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--conns", type=int, default=16)
    a = p.parse_args(argv)
    runs = a.runs or (2 if a.quick else 5)
    n = a.n or (1000 if a.quick else 4000)
    run_ns = [f"bench-r{r}" for r in range(runs + 1)]
    base = Path(tempfile.mkdtemp(prefix="suanli-bench-rbac-"))
    servers: dict[str, Server] = {}
    try:
        for mode in ("RBAC", "AlwaysAllow"):
            cmd = [sys.executable, "-m", "suanli.cli.main", "up", "--no-demo", "--log-level", "warning",
                   "--kubeconfig", str(base / mode / "kubeconfig"), "--authorization-mode", mode]
            servers[mode] = start_server(base / mode / "data", command=cmd)
        tokens = {mode: _run(_setup(srv, run_ns)) for mode, srv in servers.items()}
        rates: dict[str, list[float]] = {"RBAC": [], "AlwaysAllow": []}
        cpu: dict[str, list[float]] = {"RBAC": [], "AlwaysAllow": []}
        errors = 0
        for mode in servers:  # warm-up run in the spare namespace
            create_run(_As(servers[mode], tokens[mode]), run_ns[-1], max(500, n // 5), a.procs, a.conns)  # type: ignore[arg-type]
        for r in range(runs):
            for mode in (("RBAC", "AlwaysAllow") if r % 2 == 0 else ("AlwaysAllow", "RBAC")):
                rate, err = create_run(_As(servers[mode], tokens[mode]), run_ns[r], n, a.procs, a.conns)  # type: ignore[arg-type]
                rates[mode].append(rate)
                cpu[mode].append(SERVER_CPU[-1] / rate)  # server CPU seconds per create
                errors += err
        info = machine_info()
        print(f"## RBAC authorisation cost ({info.get('cpu', '?')}, {info.get('cores', '?')} cores)\n")
        print(f"{ROLES} Roles and {BINDINGS} RoleBindings (+1 binding for the load's ServiceAccount); {runs} runs "
              f"per mode, alternating; {n} pods per run; {a.procs} processes x {a.conns} connections; HTTPS.\n")
        print("| mode | creates/s median (min-max) |")
        print("|---|---|")
        for mode, vals in rates.items():
            print(f"| {mode} | {fmt_spread(vals)} |")
        cost = 1 - statistics.median(rates["RBAC"]) / statistics.median(rates["AlwaysAllow"])
        print(f"\nend-to-end authorisation cost (1 - RBAC/AlwaysAllow medians): {cost * 100:.1f}%; errors: {errors}")
        per_call = authorize_micro(servers["RBAC"])
        per_create = statistics.median(cpu["RBAC"])
        print(f"\nauthorisation step alone (in-process, same policy and request): {per_call * 1e6:.1f} us per "
              f"request = {per_call / per_create * 100:.2f}% of the RBAC server's CPU per create "
              f"({per_create * 1e3:.2f} ms)")
    finally:
        for srv in servers.values():
            srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
