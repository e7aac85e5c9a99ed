"""A representative subset of the ported Volcano ``preempt`` and ``reclaim`` tables (and of the capacity
plugin's reclaim cases) through the API:
a real ``suanli up`` with no demo pool (so the cluster is exactly each case's nodes, which matters
for proportion's shares), the case's nodes created as kwok nodes, its queues, PriorityClasses,
PodGroups and pods applied with the real kubectl, and the scheduler configured with upstream's
tier (actions ``enqueue, allocate, <action>``). Running pods are created bound (``nodeName``) and
the pending ones once those run. Expected: exactly the case's victims are evicted (deleted, with a
``Preempted``/``Reclaimed`` Event), the preemptor binds where upstream pipelines it, nothing else
moves for further cycles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import K, manifest, unique, wait_until
from tests.e2e_scheduler.conftest import cycles, set_scheduler_config, wait_cycles, with_extended_limits
from tests.scheduler import test_upstream_capacity_reclaim as capacity_table
from tests.scheduler import test_upstream_preempt as preempt_table
from tests.scheduler import test_upstream_reclaim as reclaim_table
from tests.scheduler._upstream import YAML_KEYS

pytestmark = pytest.mark.e2e

PREEMPT_CASES = (
    "evicts-the-one-preemptable-task-of-a-lower-priority-job",
    "evicts-enough-preemptable-tasks-for-a-large-task-skipping-non-preemptable",
    "queue-at-capability-evicts-its-lower-priority-job-although-the-node-has-room",
    "skips-non-preemptable-and-higher-priority-tasks-of-the-victim-job",
    "only-the-winning-nodes-evictions-are-committed",
    "preemption-policy-never-evicts-nothing",
)
RECLAIM_CASES = (
    "evicts-the-one-preemptable-pod-of-the-overused-queue",
    "victims-from-the-queue-last-in-queue-order-first",
    "victims-from-the-lowest-priority-queue-first",
    "idle-node-resources-count-towards-the-reclaimed-amount",
    "no-eviction-when-the-node-already-has-room",
)

CAPACITY_CASES = (
    "reclaims-from-a-queue-above-deserved-for-a-queue-below",
    "reclaims-when-below-deserved-on-one-requested-dimension",
    "a-gpu-reclaimer-evicts-only-the-gpu-holder",
)


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("suanli-bare")
    srv = start_server(base / "data", base / "kubeconfig")
    yield srv
    srv.stop()


@pytest.fixture
def bk(bare_server: Server) -> Iterator[K]:
    """kubectl in a fresh namespace of the bare server; everything a case created is removed after it,
    so the next case's cluster is again only its own nodes."""
    kc = Kubectl(kubectl_binary(), bare_server.kubeconfig)
    ns = unique("evict")
    kc("create", "namespace", ns)
    yield K(kc, ns)
    kc("-n", ns, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=true")
    kc("-n", ns, "delete", "podgroups.scheduling.volcano.sh", "--all")
    kc("delete", "nodes", "-l", "suanli.io/e2e-case", "--wait=true")
    kc("delete", "queues.scheduling.volcano.sh", "-l", "suanli.io/e2e-case")
    kc("delete", "namespace", ns, "--wait=false")


def conf_text(actions: str, tier: Mapping[str, Sequence[str]]) -> str:
    """A ``volcano-scheduler.conf`` with one tier where each plugin has exactly ``tier``'s switches on."""
    lines = [f'actions: "{actions}"', "tiers:", "- plugins:"]
    for name, on in tier.items():
        lines.append(f"  - name: {name}")
        lines += [f"    {key}: {'true' if s in on else 'false'}" for s, key in YAML_KEYS.items()]
    return "\n".join(lines) + "\n"


def _kwok_node(name: str, template: Obj, case: str) -> Obj:
    alloc = dict(template["status"]["allocatable"])
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"suanli.io/e2e-case": case},
                     "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {},
        "status": {"capacity": alloc, "allocatable": alloc},
    }


def apply_case(k: K, case: Any, tier: Mapping[str, Sequence[str]], action: str, pcs: Sequence[Obj]) -> dict[str, str]:
    """Create the case's objects (names made unique where cluster-wide); returns node name → API node name."""
    tag = k.ns
    nodes = {n["metadata"]["name"]: f"{tag}-{n['metadata']['name']}" for n in case.nodes}
    queues = {q["metadata"]["name"]: f"{tag}-{q['metadata']['name']}" for q in case.queues}
    classes = {pc["metadata"]["name"]: f"{tag}-{pc['metadata']['name']}" for pc in pcs}
    set_scheduler_config(k.kubectl, conf_text(f"enqueue, allocate, {action}", tier))
    objs: list[Obj] = [_kwok_node(nodes[n["metadata"]["name"]], n, tag) for n in case.nodes]
    for pc in pcs:
        objs.append({**pc, "metadata": {"name": classes[pc["metadata"]["name"]]}})
    for q in case.queues:
        objs.append({**q, "metadata": {"name": queues[q["metadata"]["name"]], "labels": {"suanli.io/e2e-case": tag}},
                     "status": {}})
    k.kubectl("apply", "-f", "-", input=manifest(*objs))
    wait_until(lambda: len(json.loads(k.kubectl("get", "nodes", "-o", "json"))["items"]) == len(nodes),
               what="the case's nodes")
    pgs = []
    for pg in case.pgs:
        spec = dict(pg["spec"], queue=queues[pg["spec"]["queue"]])
        if spec.get("priorityClassName"):
            spec["priorityClassName"] = classes.get(spec["priorityClassName"], spec["priorityClassName"])
        pgs.append({"apiVersion": pg["apiVersion"], "kind": "PodGroup",
                    "metadata": {"name": pg["metadata"]["name"]}, "spec": spec})
    k("apply", "-f", "-", input=manifest(*pgs))

    def api_pod(p: Obj) -> Obj:
        meta = {key: p["metadata"][key] for key in ("name", "labels", "annotations")}
        spec = dict(p["spec"])
        if spec.get("nodeName"):
            spec["nodeName"] = nodes[spec["nodeName"]]
        spec["containers"] = [dict(c, image="busybox:1.36") for c in spec["containers"]]
        return with_extended_limits({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})

    running = [api_pod(p) for p in case.pods if p["spec"].get("nodeName")]
    pending = [api_pod(p) for p in case.pods if not p["spec"].get("nodeName")]
    k("apply", "-f", "-", input=manifest(*running))
    wait_until(lambda: phases(k) == {p["metadata"]["name"]: "Running" for p in running}, what="the victims running")
    k("apply", "-f", "-", input=manifest(*pending))
    return nodes


def phases(k: K) -> dict[str, str]:
    items = json.loads(k("get", "pods", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["status"].get("phase", "") for p in items
            if not p["metadata"].get("deletionTimestamp")}


def placement(k: K) -> dict[str, str]:
    items = json.loads(k("get", "pods", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in items
            if not p["metadata"].get("deletionTimestamp")}


def run_cycles(k: K, server: Server, n: int) -> None:
    """Make the scheduler run ``n`` more cycles although nothing waits: each new PriorityClass
    (unused by any pod) ends its idle pause."""
    for i in range(n):
        since = cycles(server)
        pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": f"{k.ns}-nudge-{i}"},
              "value": 1}
        k.kubectl("apply", "-f", "-", input=manifest(pc))
        wait_cycles(server, 1, since=since)


def check(k: K, server: Server, case: Any, nodes: Mapping[str, str], reason: str) -> None:
    victims = set(case.evicted)
    running = {p["metadata"]["name"] for p in case.pods if p["spec"].get("nodeName")}
    want = {name: nodes[n] for name, n in case.pipelined.items()}

    def settled() -> bool:
        now = placement(k)
        return not (victims & now.keys()) and all(now.get(p) == n for p, n in want.items())

    wait_until(settled, timeout=30, what=f"victims {sorted(victims)} gone and {want} bound")
    run_cycles(k, server, 3)
    now = placement(k)
    assert running - victims <= now.keys(), f"only {sorted(victims)} may be evicted; left: {sorted(now)}"
    assert all(now.get(p) == n for p, n in want.items())
    events = k("get", "events", "--field-selector", f"reason={reason}",
               "-o", "jsonpath={.items[*].involvedObject.name}")
    assert sorted(events.split()) == sorted(victims)


@pytest.mark.parametrize("name", PREEMPT_CASES)
def test_preempt_table_through_the_api(bk: K, bare_server: Server, name: str) -> None:
    case = preempt_table.CASES[name]
    nodes = apply_case(bk, case, preempt_table.TIER, "preempt", preempt_table.PCS)
    check(bk, bare_server, case, nodes, "Preempted")


@pytest.mark.parametrize("name", RECLAIM_CASES)
def test_reclaim_table_through_the_api(bk: K, bare_server: Server, name: str) -> None:
    case = reclaim_table.CASES[name]
    tier = {p: reclaim_table.TIER[p] for p in reclaim_table.TIER if p in case.plugins}
    nodes = apply_case(bk, case, tier, "reclaim", case.pcs)
    check(bk, bare_server, case, nodes, "Reclaimed")


@pytest.mark.parametrize("name", CAPACITY_CASES)
def test_capacity_reclaim_table_through_the_api(bk: K, bare_server: Server, name: str) -> None:
    case = capacity_table.CASES[name]
    nodes = apply_case(bk, case, capacity_table.TIER, "reclaim", [])
    check(bk, bare_server, case, nodes, "Reclaimed")
