"""Volcano ``pkg/scheduler/actions/allocate/allocate_test.go`` (master), ported.

``TestAllocate`` and ``TestFareShareAllocate``: inputs and expected binds as upstream,
run through the core and the reference session. Not ported: the network-topology,
hypernode, PVC, DRA, worksheet, sharding and nomination tests (features we do not have;
docs/architecture.md, "Allocation semantics").
"""

from __future__ import annotations

import pytest

from ._upstream import Case, check_core, conf, node, pg, pod, queue, res

# TestAllocate's tier: gang, drf, proportion, predicates, nodeorder
ALLOCATE = conf(
    "allocate",
    ("gang", ["JobOrder", "JobReady", "JobPipelined", "JobStarving"]),
    ("drf", ["Preemptable", "JobOrder"]),
    ("proportion", ["QueueOrder", "Reclaimable", "Allocatable"]),
    ("predicates", ["Predicate"]),
    ("nodeorder", ["NodeOrder"]),
)
# TestFareShareAllocate's tier: no gang (every job is ready), proportion not allocatable
FAIR_SHARE = conf(
    "allocate",
    ("drf", ["Preemptable", "JobOrder"]),
    ("proportion", ["QueueOrder", "Reclaimable"]),
    ("predicates", ["Predicate"]),
    ("nodeorder", ["NodeOrder"]),
)

P10 = {"pods": "10"}
R1 = res("1", "1G")
MASTER, WORKER = {"volcano.sh/task-spec": "master"}, {"volcano.sh/task-spec": "worker"}
ON_MASTER, ON_WORKER = {"nodeRole": "master"}, {"nodeRole": "worker"}
Q_C1 = queue("c1")

ALLOCATE_CASES = {
    "task-whose-node-selector-matches-nothing-does-not-stop-the-job": Case(
        nodes=[node("n1", res("2", "4Gi", **P10), ON_WORKER)],
        pods=[pod("c1", "p1", "", "Pending", R1, "pg1", MASTER, ON_MASTER),
              pod("c1", "p2", "", "Pending", R1, "pg1", WORKER, ON_WORKER)],
        podgroups=[pg("pg1", "c1", "c1", 1, None, "Inqueue")],
        queues=[Q_C1],
        binds={"c1/p2": "n1"},
    ),
    "failed-task-name-skipped-and-others-placed-until-each-minimum-is-met": Case(
        nodes=[node("n1", res("1", "2Gi", **P10), ON_MASTER), node("n2", res("1", "2Gi", **P10), ON_WORKER)],
        pods=[pod("c1", f"p{i}", "", "Pending", R1, "pg1", MASTER if i < 2 else WORKER,
                  ON_MASTER if i < 2 else ON_WORKER) for i in range(4)],
        podgroups=[pg("pg1", "c1", "c1", 2, {"master": 1, "worker": 1}, "Inqueue")],
        queues=[Q_C1],
        binds={"c1/p0": "n1", "c1/p2": "n2"},
    ),
    "task-name-below-its-minimum-stops-the-job-and-nothing-binds": Case(
        nodes=[node("n1", res("1", "2Gi", **P10), ON_MASTER), node("n2", res("2", "2Gi", **P10), ON_WORKER)],
        pods=[pod("c1", f"p{i}", "", "Pending", R1, "pg1", MASTER if i < 2 else WORKER,
                  ON_MASTER if i < 2 else ON_WORKER) for i in range(4)],
        podgroups=[pg("pg1", "c1", "c1", 2, {"master": 2, "worker": 0}, "Inqueue")],
        queues=[Q_C1],
        binds={},
    ),
    "one-job-two-pods-share-one-node": Case(
        nodes=[node("n1", res("2", "4Gi", **P10))],
        pods=[pod("c1", "p1", "", "Pending", R1, "pg1"), pod("c1", "p2", "", "Pending", R1, "pg1")],
        podgroups=[pg("pg1", "c1", "c1", 0, None, "Inqueue")],
        queues=[Q_C1],
        binds={"c1/p1": "n1", "c1/p2": "n1"},
    ),
    "two-queues-take-turns-on-one-node": Case(
        nodes=[node("n1", res("2", "4G", **P10))],
        pods=[pod("c1", "pg1-p-1", "", "Pending", R1, "pg1"), pod("c1", "pg1-p-2", "", "Pending", R1, "pg1"),
              pod("c2", "pg2-p-1", "", "Pending", R1, "pg2"), pod("c2", "pg2-p-2", "", "Pending", R1, "pg2")],
        podgroups=[pg("pg1", "c1", "c1", 0, None, "Inqueue"), pg("pg2", "c2", "c2", 0, None, "Inqueue")],
        queues=[Q_C1, queue("c2")],
        binds={"c2/pg2-p-1": "n1", "c1/pg1-p-1": "n1"},
    ),
    "job-too-large-for-the-cluster-does-not-block-other-queues": Case(
        nodes=[node("n1", res("2", "4G", **P10))],
        pods=[pod("c1", "p1", "", "Pending", res("3", "1G"), "pg1"), pod("c1", "p2", "", "Pending", R1, "pg2")],
        podgroups=[pg("pg1", "c1", "c1", 0, None, "Inqueue"), pg("pg2", "c1", "c2", 0, None, "Inqueue")],
        queues=[Q_C1, queue("c2")],
        binds={"c1/p2": "n1"},
    ),
}

_N5 = [node("node-1", res("5", "5G", **P10))]
_Q12 = [queue("q-1"), queue("q-2")]
FAIR_SHARE_CASES = {
    "queue-with-lower-drf-share-allocates-first": Case(
        nodes=_N5,
        pods=[pod("ns-1", "pod-small-1", "node-1", "Running", R1, "pg-small-1"),
              pod("ns-1", "pod-large-1", "", "Pending", res("2", "2G"), "pg-large-1"),
              pod("ns-1", "pod-large-2", "", "Pending", res("3", "2G"), "pg-large-2")],
        podgroups=[pg("pg-small-1", "ns-1", "q-1", 0, None, "Running"),
                   pg("pg-large-1", "ns-1", "q-1", 0, None, "Inqueue"),
                   pg("pg-large-2", "ns-1", "q-2", 0, None, "Inqueue")],
        queues=_Q12,
        binds={"ns-1/pod-large-2": "node-1"},
    ),
    "queue-share-is-updated-before-the-queue-goes-back": Case(
        nodes=_N5,
        pods=[pod("ns-1", "pod-small-1", "node-1", "Running", R1, "pg-small-1"),
              pod("ns-1", "pod-large-1", "", "Pending", res("2", "2G"), "pg-large-1"),
              pod("ns-1", "pod-large-2", "", "Pending", res("2", "2G"), "pg-large-2"),
              pod("ns-1", "pod-small-2", "", "Pending", R1, "pg-small-2")],
        podgroups=[pg("pg-small-1", "ns-1", "q-1", 0, None, "Running"),
                   pg("pg-large-1", "ns-1", "q-1", 0, None, "Inqueue"),
                   pg("pg-small-2", "ns-1", "q-2", 0, None, "Inqueue"),
                   pg("pg-large-2", "ns-1", "q-2", 0, None, "Inqueue")],
        queues=_Q12,
        binds={"ns-1/pod-large-1": "node-1", "ns-1/pod-large-2": "node-1"},
    ),
    "queue-whose-first-job-has-nothing-pending-goes-on-to-its-next-job": Case(
        nodes=_N5,
        pods=[pod("ns-1", "pod-1", "node-1", "Running", R1, "pg-1"),
              pod("ns-1", "pod-2", "", "Pending", res("2", "2G"), "pg-2")],
        podgroups=[pg("pg-1", "ns-1", "q-1", 0, None, "Running"), pg("pg-2", "ns-1", "q-1", 0, None, "Inqueue")],
        queues=[queue("q-1")],
        binds={"ns-1/pod-2": "node-1"},
    ),
}
for _c in ALLOCATE_CASES.values():
    _c.conf = ALLOCATE
for _c in FAIR_SHARE_CASES.values():
    _c.conf = FAIR_SHARE
ALL = {**ALLOCATE_CASES, **FAIR_SHARE_CASES}


@pytest.mark.parametrize("case", list(ALL.values()), ids=list(ALL))
def test_allocate_table(case: Case) -> None:
    check_core(case)
