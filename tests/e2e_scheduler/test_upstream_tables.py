"""A subset of the ported Volcano unit-test tables (tests/scheduler/test_upstream_*.py) replayed
through the API: a real ``suanli up --no-demo`` per case with the case's configuration as
``--scheduler-config``, every object created with the real kubectl, the nodes last (so the
first cycle that can place anything sees the whole case), then the binds and PodGroup
phases read back over HTTP.

Rows are chosen so that the outcome does not depend on the order in which the case's nodes
appear; rows that evict (reclaim) are left to the core tables. The nodegroup rows (scores and
predicate per node upstream) are replayed as placements of their one pod, created after the nodes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import manifest, wait_until
from tests.e2e_scheduler.conftest import wait_cycles, with_extended_limits
from tests.scheduler import test_upstream_allocate as alloc
from tests.scheduler import test_upstream_capacity as cap
from tests.scheduler import test_upstream_nodegroup as ng
from tests.scheduler import test_upstream_proportion as prop
from tests.scheduler._upstream import Case, conf, pg, pod, res

pytestmark = pytest.mark.e2e

SUBSET: dict[str, Case] = {
    "allocate/" + k: alloc.ALL[k] for k in (
        "task-whose-node-selector-matches-nothing-does-not-stop-the-job",
        "failed-task-name-skipped-and-others-placed-until-each-minimum-is-met",
        "task-name-below-its-minimum-stops-the-job-and-nothing-binds",
        "two-queues-take-turns-on-one-node",
        "job-too-large-for-the-cluster-does-not-block-other-queues",
        "queue-share-is-updated-before-the-queue-goes-back",
    )
} | {
    "capacity/" + k: cap.ALL[k] for k in (
        "queues-allocate-in-queue-priority-order",
        "job-asking-only-cpu-enqueued-and-allocated-though-memory-exceeds-deserved",
        "job-beyond-queue-capability-not-enqueued",
        "pod-in-inner-queue-not-allocatable",
        "unset-scalar-capability-inherited-from-parent",
        "job-not-enqueued-when-an-ancestor-capability-is-used-up",
    )
} | {
    # the same hierarchy with no root Queue in the case: the one `suanli up` creates is the parent
    "capacity/pod-in-leaf-queue-under-the-server-root-allocatable": dataclasses.replace(
        cap.ALL["pod-in-leaf-queue-allocatable"],
        queues=[q for q in cap.ALL["pod-in-leaf-queue-allocatable"].queues if q["metadata"]["name"] != "root"],
    ),
} | {
    "proportion/" + k: prop.CASES[k] for k in (
        "queues-allocate-in-queue-priority-order",
        "inqueue-job-with-bound-tasks-not-counted-twice-against-capability",
    )
}



def _nodegroup_case(qname: str, queues: list[dict[str, Any]], args: dict[str, Any], hierarchy: bool,
                    scores: dict[str, float], passing: set[str]) -> Case:
    """A TestNodeGroup row as a placement: its one pod must bind to the best passing node (highest
    score, ties to the first node), or nowhere when no node passes."""
    names = [n["metadata"]["name"] for n in ng.NODES]
    best = max((n for n in names if n in passing), key=lambda n: (scores[n], -names.index(n)), default=None)
    switches = ["NodeOrder", "Predicate", *(["Hierarchy"] if hierarchy else [])]
    return Case(nodes=ng.NODES, pods=[pod("c1", "p", "", "Pending", res("2", "4Gi"), "pg")],
                podgroups=[pg("pg", "c1", qname, 0)], queues=queues,
                conf=conf("allocate", ("nodegroup", switches, args)), binds={"c1/p": best} if best else {})


#: one pending pod each: created after the nodes, so the first cycle sees every node
NODES_FIRST = {"nodegroup/" + k: _nodegroup_case(*row) for k, row in ng.CASES.items()}
SUBSET |= NODES_FIRST

def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as a user would write it: no uid, no creation timestamp."""
    out = json.loads(json.dumps(obj))
    out["metadata"].pop("uid", None)
    out["metadata"].pop("creationTimestamp", None)
    return out


def apply_case(kc: Kubectl, case: Case, *, nodes_first: bool = False) -> None:
    """Create the case's objects: namespaces, priority classes, queues, PodGroups, pods, and the
    nodes last (or first, for a case with one pending pod)."""
    namespaces = sorted({o["metadata"]["namespace"] for o in (*case.pods, *case.podgroups)})
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces]
    objs += [_clean(o) for o in (*case.pcs, *case.queues, *case.podgroups)]
    objs += [with_extended_limits(_clean(p)) for p in case.pods]
    nodes = manifest(*(_clean(n) for n in case.nodes))
    if nodes_first:
        kc("apply", "-f", "-", input=nodes)
    kc("apply", "-f", "-", input=manifest(*objs))
    if not nodes_first:
        kc("apply", "-f", "-", input=nodes)


def bound_now(kc: Kubectl, case: Case) -> dict[str, str]:
    """``{ns/pod: node}`` of the case's pods that the scheduler bound (pre-bound pods excluded)."""
    pending = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in case.pods
               if not p["spec"].get("nodeName")}
    items = json.loads(kc("get", "pods", "-A", "-o", "json"))["items"]
    return {key: p["spec"]["nodeName"] for p in items
            if (key := f"{p['metadata']['namespace']}/{p['metadata']['name']}") in pending
            and p["spec"].get("nodeName")}


def phase_of(kc: Kubectl, job: str) -> str:
    ns, name = job.split("/")
    return str(json.loads(kc("get", "podgroup", name, "-n", ns, "-o", "json")).get("status", {}).get("phase", ""))


@pytest.fixture(params=list(SUBSET.values()), ids=list(SUBSET))
def case_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Case, Server]]:
    case: Case = request.param
    conf = tmp_path / "volcano-scheduler.conf"
    conf.write_text(case.conf)
    srv = start_server(tmp_path / "data", tmp_path / "kubeconfig", extra=["--scheduler-config", str(conf)])
    try:
        yield case, srv
    finally:
        srv.stop()


def test_ported_row_through_the_api(case_server: tuple[Case, Server]) -> None:
    case, srv = case_server
    kc = Kubectl(kubectl_binary(), srv.kubeconfig)
    apply_case(kc, case, nodes_first=any(case is c for c in NODES_FIRST.values()))
    expected = case.binds or {}
    if expected:
        wait_until(lambda: bound_now(kc, case) == expected or None, timeout=20, what=f"binds {expected}")
    for job, phase in case.phases.items():
        wait_until(lambda j=job, p=phase: phase_of(kc, j) == p or None, timeout=20, what=f"{job} {phase}")
    if len(expected) < sum(1 for p in case.pods if not p["spec"].get("nodeName")):
        wait_cycles(srv, 2)  # pods are left pending: the scheduler keeps cycling, and must not bind them
    assert bound_now(kc, case) == expected
    for job, phase in case.phases.items():
        assert phase_of(kc, job) == phase
