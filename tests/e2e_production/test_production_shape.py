"""Issue 11's production shape: the API server alone, two leader-elected schedulers, two
leader-elected controllers bundles and one agent with five simulated nodes, each its own process
talking HTTPS through a kubeconfig. Workloads run to completion; SIGKILLing the scheduler leader
hands scheduling to the standby within 20 s; no pod is ever bound twice.

The components run with a 10 s lease (renew deadline 7 s, retry 2 s) instead of the 15 s default:
with client-go's algorithm a standby takes over ``lease + up to two jittered retry periods`` after
the last renewal it observed, up to ~24 s with the defaults, so 20 s needs a shorter lease.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import deployment, manifest, wait_until
from tests.e2e_production.conftest import ComponentProcess, start_component

pytestmark = pytest.mark.e2e

LEASE = ("--leader-elect", "--leader-elect-lease-duration", "10s", "--leader-elect-renew-deadline", "7s",
         "--leader-elect-retry-period", "2s")
NS = "prod-shape"
WATCH_FORMAT = '{.metadata.uid} {.metadata.namespace}/{.metadata.name} node={.spec.nodeName}{"\\n"}'


@dataclass
class Shape:
    schedulers: list[ComponentProcess]
    controllers: list[ComponentProcess]
    agent: ComponentProcess
    watch: subprocess.Popen[str]
    watch_log: Path

    def live(self) -> list[ComponentProcess]:
        return [c for c in [*self.schedulers, *self.controllers, self.agent] if c.proc.poll() is None]


@pytest.fixture(scope="module")
def shape(api_server: Server, admin: Kubectl, component_kubeconfig: Callable[[str], Path],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shape]:
    logs = tmp_path_factory.mktemp("components")
    watch_log = logs / "pod-watch.log"
    env_home = str(api_server.kubeconfig.parent)
    with watch_log.open("w") as fh:
        watch = subprocess.Popen([admin.binary, "--kubeconfig", str(api_server.kubeconfig), "get", "pods", "-A", "-w",
                                  "-o", f"jsonpath={WATCH_FORMAT}"], stdout=fh, stderr=subprocess.STDOUT, text=True,
                                 env={"HOME": env_home, "PATH": "/usr/bin:/bin"})
    started: list[ComponentProcess] = []
    try:
        schedulers = [start_component("scheduler", component_kubeconfig("scheduler"), logs, *LEASE) for _ in range(2)]
        started += schedulers
        controllers = [start_component("controllers", component_kubeconfig("controllers"), logs, *LEASE)
                       for _ in range(2)]
        started += controllers
        agent = start_component("agent", component_kubeconfig("agent"), logs, "--sim-nodes", "5")
        started.append(agent)
        admin("create", "namespace", NS)
        yield Shape(schedulers, controllers, agent, watch, watch_log)
    finally:
        for c in started:
            c.stop()
        watch.terminate()
        watch.wait(timeout=10)


def lease(admin: Kubectl, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(admin("get", "lease", "-n", "kube-system", name, "-o", "json"))["spec"]
    return spec


def holder(admin: Kubectl, name: str) -> str:
    proc = admin.run("get", "lease", "-n", "kube-system", name, "-o", "jsonpath={.spec.holderIdentity}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def ready_nodes(admin: Kubectl) -> int:
    items = json.loads(admin("get", "nodes", "-o", "json"))["items"]
    return sum(1 for n in items for c in (n.get("status") or {}).get("conditions") or []
               if c.get("type") == "Ready" and c.get("status") == "True")


def test_each_lease_has_one_holder_among_its_candidates(shape: Shape, admin: Kubectl) -> None:
    for name, candidates in (("suanli-scheduler", shape.schedulers), ("suanli-controllers", shape.controllers)):
        ids = {c.identity for c in candidates}
        assert None not in ids and len(ids) == 2
        who = wait_until(lambda name=name: holder(admin, name), timeout=60, what=f"a holder of {name}")
        assert who in ids, f"{name} held by {who}, not one of {ids}"
        spec = lease(admin, name)
        assert spec["leaseDurationSeconds"] == 10
        assert spec["acquireTime"] and spec["renewTime"]
        events = json.loads(admin("get", "events", "-n", "kube-system", "--field-selector",
                                  f"involvedObject.name={name}", "-o", "json"))["items"]
        assert f"{who} became leader" in {e["message"] for e in events if e["reason"] == "LeaderElection"}


def test_every_component_serves_health_readiness_and_metrics(shape: Shape, admin: Kubectl) -> None:
    wait_until(lambda: holder(admin, "suanli-scheduler") and holder(admin, "suanli-controllers"), timeout=60,
               what="both leases held")
    for comp in shape.live():
        assert comp.get("/healthz") == (200, "ok"), comp.command
        assert comp.get("/livez")[0] == 200
        wait_until(lambda comp=comp: comp.get("/readyz")[0] == 200, timeout=60, what=f"{comp.command} ready")
        code, text = comp.get("/metrics")
        assert code == 200 and "# TYPE " in text, comp.command
        assert comp.get("/healthz/nosuchcheck")[0] == 404
    leaders = {holder(admin, "suanli-scheduler"), holder(admin, "suanli-controllers")}
    elected = [c for c in shape.live() if c.identity is not None]
    assert len(elected) == 4
    for comp in elected:
        code, text = comp.get("/healthz?verbose")
        assert code == 200 and "[+]leaderElection ok" in text, (comp.identity in leaders, text)
        assert comp.get("/healthz/leaderElection") == (200, "ok")
        lease_name = f"suanli-{comp.command}"
        status = 1 if comp.identity in leaders else 0
        assert f'leader_election_master_status{{name="{lease_name}"}} {status}' in comp.get("/metrics")[1]
    assert shape.agent.identity is None and "leaderElection" not in shape.agent.get("/healthz?verbose")[1]


def vcjob(name: str, replicas: int, min_available: int) -> dict[str, Any]:
    pod = {"metadata": {"annotations": {"suanli.io/sim-duration": "3s"}},
           "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"],
                                    "resources": {"requests": {"cpu": "500m"}}}]}}
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedulerName": "volcano", "queue": "default", "minAvailable": min_available,
                     "tasks": [{"name": "worker", "replicas": replicas, "template": pod}]}}


def test_a_deployment_and_a_gang_job_run_to_completion(shape: Shape, admin: Kubectl) -> None:
    wait_until(lambda: ready_nodes(admin) == 5, timeout=90, what="five Ready simulated nodes")
    admin("apply", "-n", NS, "-f", "-", input=manifest(deployment("web", replicas=3)))
    admin("apply", "-f", "-", input=manifest(vcjob("gang", replicas=3, min_available=3)))

    def available() -> bool:
        status = json.loads(admin("get", "-n", NS, "deployment", "web", "-o", "json")).get("status") or {}
        return status.get("availableReplicas") == 3

    wait_until(available, timeout=120, what="deployment web available")

    def job_phase() -> str | None:
        job = json.loads(admin("get", "-n", NS, "jobs.batch.volcano.sh", "gang", "-o", "json"))
        phase = str(((job.get("status") or {}).get("state") or {}).get("phase") or "")
        return phase if phase == "Completed" else None

    wait_until(job_phase, timeout=120, what="vcjob gang Completed")
    pods = json.loads(admin("get", "-n", NS, "pods", "-l", "volcano.sh/job-name=gang", "-o", "json"))["items"]
    assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    groups = {p["metadata"]["annotations"].get("scheduling.k8s.io/group-name") for p in pods}
    assert len(groups) == 1 and None not in groups, "the three pods form one gang (PodGroup)"


def bindings(watch_log: Path) -> dict[str, list[str]]:
    """Pod uid -> the distinct nodeNames the watch saw it with, in order (empty = unbound)."""
    seen: dict[str, list[str]] = defaultdict(list)
    for line in watch_log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("node="):
            continue
        uid, node = parts[0], parts[2].removeprefix("node=")
        history = seen[uid]
        if not history or history[-1] != node:
            history.append(node)
    return seen


def test_standby_scheduler_binds_within_20s_of_a_leader_sigkill_and_no_pod_is_bound_twice(
        shape: Shape, admin: Kubectl) -> None:
    wait_until(lambda: ready_nodes(admin) == 5, timeout=90, what="five Ready simulated nodes")
    leader_id = wait_until(lambda: holder(admin, "suanli-scheduler"), timeout=60, what="a scheduler leader")
    before = lease(admin, "suanli-scheduler")
    leader = next(s for s in shape.schedulers if s.identity == leader_id)
    standby = next(s for s in shape.schedulers if s is not leader)
    leader.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    admin("apply", "-n", NS, "-f", "-", input=manifest(deployment("after-failover", replicas=4)))

    def all_bound() -> bool:
        pods = json.loads(admin("get", "-n", NS, "pods", "-l", "app=after-failover", "-o", "json"))["items"]
        return len(pods) == 4 and all(p["spec"].get("nodeName") for p in pods)

    wait_until(all_bound, timeout=60, interval=0.2, what="pods bound after failover")
    took = time.monotonic() - killed_at
    print(f"standby bound the pods {took:.1f}s after the leader's SIGKILL")
    assert took <= 20, f"the standby bound the pods {took:.1f}s after the leader was killed"
    after = lease(admin, "suanli-scheduler")
    assert after["holderIdentity"] == standby.identity
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1
    assert standby.proc.poll() is None

    # No pod bound twice: every pod's nodeName went from unset to one node, once, and the
    # scheduler recorded one Scheduled event per pod.
    wait_until(lambda: len([u for u, h in bindings(shape.watch_log).items() if h[-1]]) >= 7, timeout=30,
               what="the pod watch to see the bindings")
    for uid, history in bindings(shape.watch_log).items():
        nodes = [n for n in history if n]
        assert len(nodes) <= 1 and (not nodes or history[-1] == nodes[0]), f"pod {uid} bound as {history}"
    events = json.loads(admin("get", "events", "-A", "-o", "json"))["items"]
    scheduled: dict[str, int] = defaultdict(int)
    for e in events:
        if e.get("reason") == "Scheduled":
            scheduled[e["involvedObject"]["uid"]] += int(e.get("count") or 1)
    assert scheduled and all(n == 1 for n in scheduled.values()), scheduled


@pytest.mark.parametrize("name", ["scheduler", "controllers", "agent"])
def test_each_component_runs_as_its_shipped_service_account(shape: Shape, admin: Kubectl,
                                                             component_kubeconfig: Callable[[str], Path],
                                                             name: str) -> None:
    as_component = Kubectl(admin.binary, component_kubeconfig(name))
    assert as_component("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == \
        f"system:serviceaccount:suanli-system:suanli-{name}"
    # least privilege: none of them may grant permissions
    for verb, resource in (("create", "rolebindings"), ("create", "clusterrolebindings")):
        proc = as_component.run("auth", "can-i", verb, resource, "-A", check=False)
        assert proc.stdout.strip() == "no", f"suanli-{name} may {verb} {resource}"
