"""Volcano ``pkg/scheduler/plugins/capacity/capacity_test.go`` (master), ported.

``Test_capacityPlugin_OnSessionOpenWithoutHierarchy``, ``TestEnqueueAndAllocatable`` and
``Test_capacityPlugin_OnSessionOpenWithHierarchy``: inputs, configuration and expected
binds / evictions / pipelined jobs / PodGroup phases as upstream, through the core and the
reference session. ``volcano.sh/preemptable: "false"`` is given as an annotation (upstream
reads the annotation first, then the label). Not ported: the ancestor-reclaim, share,
nil-safety, double-counting (two cycles through a live cache) and DRA tests
(docs/architecture.md, "Allocation semantics").
"""

from __future__ import annotations

import pytest

from ._upstream import Case, check_core, conf, node, pg, pod, queue, res

FLAT = conf(
    "allocate, reclaim",
    ("capacity", ["Allocatable", "Preemptive", "Reclaimable", "QueueOrder"]),
    ("predicates", ["Predicate"]),
    ("gang", ["JobStarving"]),
)
ENQUEUE = conf("enqueue, allocate", ("capacity", ["Allocatable", "Preemptive", "Overused", "JobEnqueued"]))
HIERARCHY = conf(
    "enqueue, reclaim, allocate",
    ("capacity", ["Allocatable", "Preemptive", "Reclaimable", "QueueOrder", "Hierarchy", "JobEnqueued"]),
    ("predicates", ["Predicate"]),
    ("gang", ["JobStarving"]),
)

P10 = {"pods": "10"}
KEEP = {"volcano.sh/preemptable": "false"}
GPU, A100 = "nvidia.com/gpu", "nvidia.com/A100"
WORKER = {"selector": "worker"}
n1 = node("n1", res("2", "4Gi", **P10), WORKER)
n2 = node("n2", res("2", "4Gi", **P10))
n3 = node("n3", res("2", "4Gi", **{A100: "10"}, **P10), WORKER)
n4 = node("n4", res("2", "4Gi", **{A100: "10"}, **P10))
n5, n6 = node("n5", res("2", "4Gi", **P10)), node("n6", res("2", "4Gi", **P10))
n7 = node("n7", res("4", "8Gi", **{GPU: "4"}, **P10))
n8 = node("n8", res("4", "8Gi", **{GPU: "1"}, **P10))
n9, n10 = node("n9", res("8", "100Gi", **P10)), node("n10", res("8", "100Gi", **P10))


def run_(ns: str, name: str, node_name: str, req: dict[str, str], group: str, keep: bool = False) -> dict[str, object]:
    return pod(ns, name, node_name, "Running", req, group, annotations=KEEP if keep else None)


def pend(name: str, req: dict[str, str], group: str, selector: dict[str, str] | None = None) -> dict[str, object]:
    return pod("ns1", name, "", "Pending", req, group, None, selector)


FLAT_CASES = {
    "pod-allocatable-while-queue-below-capability": Case(
        nodes=[n1, n2],
        pods=[run_("ns1", "p1", "n1", res("1", "1Gi"), "pg1"), pend("p2", res("1", "1Gi"), "pg2", WORKER)],
        podgroups=[pg("pg1", "ns1", "q1", 1, None, "Running"), pg("pg2", "ns1", "q1", 1, None, "Inqueue")],
        queues=[queue("q1", capability=res("2", "2Gi"))],
        binds={"ns1/p2": "n1"},
    ),
    "pod-not-allocatable-beyond-queue-capability": Case(
        nodes=[n1, n2],
        pods=[run_("ns1", "p3", "n1", res("1", "1Gi"), "pg3"), pend("p4", res("1", "1Gi"), "pg4")],
        podgroups=[pg("pg3", "ns1", "q2", 1, None, "Running"), pg("pg4", "ns1", "q2", 1, None, "Inqueue")],
        queues=[queue("q2", capability=res("1.5", "1.5Gi"))],
        binds={},
    ),
    "queue-below-deserved-reclaims-from-other-queue": Case(
        nodes=[n1, n2],
        pods=[run_("ns1", "p5", "n1", res("2", "4Gi"), "pg5", keep=True),
              run_("ns1", "p6", "n2", res("2", "4Gi"), "pg5"),
              pend("p7", res("2", "4Gi"), "pg6")],
        podgroups=[pg("pg5", "ns1", "q3", 1, None, "Running"), pg("pg6", "ns1", "q4", 1, None, "Inqueue")],
        queues=[queue("q3", deserved=res("2", "4Gi")), queue("q4", deserved=res("2", "4Gi"))],
        binds={}, pipelined={"ns1/pg6": ["n2"]}, evicted=["ns1/p6"],
    ),
    "scalar-only-request-reclaims-though-cpu-and-memory-are-overused": Case(
        nodes=[n3, n4],
        pods=[run_("ns1", "p8", "n3", res("0", "0Gi", **{A100: "10"}), "pg7", keep=True),
              run_("ns1", "p9", "n4", res("0", "0Gi", **{A100: "10"}), "pg7"),
              run_("ns1", "p10", "n3", res("2", "4Gi"), "pg8"), run_("ns1", "p11", "n4", res("2", "4Gi"), "pg8"),
              pend("p12", res("0", "0Gi", **{A100: "10"}), "pg9")],
        podgroups=[pg("pg7", "ns1", "q5", 1, None, "Running"), pg("pg8", "ns1", "q6", 1, None, "Running"),
                   pg("pg9", "ns1", "q6", 1, None, "Inqueue")],
        queues=[queue("q5", deserved=res("2", "4Gi", **{A100: "10"})),
                queue("q6", deserved=res("2", "4Gi", **{A100: "10"}))],
        binds={}, pipelined={"ns1/pg9": ["n4"]}, evicted=["ns1/p9"],
    ),
    "queues-allocate-in-queue-priority-order": Case(
        nodes=[n5, n6],
        pods=[run_("ns1", "p13", "n5", res("2", "4Gi"), "pg10"), pend("p14", res("2", "4Gi"), "pg11"),
              pend("p15", res("2", "4Gi"), "pg12")],
        podgroups=[pg("pg10", "ns1", "q7", 1, None, "Running"), pg("pg11", "ns1", "q8", 1, None, "Inqueue"),
                   pg("pg12", "ns1", "q9", 1, None, "Inqueue")],
        queues=[queue("q7", priority=5, capability=res("2", "4Gi")),
                queue("q8", priority=1, capability=res("2", "4Gi")),
                queue("q9", priority=10, capability=res("2", "4Gi"))],
        binds={"ns1/p15": "n6"},
    ),
    "reclaims-when-allocated-plus-request-within-deserved-on-one-dimension": Case(
        nodes=[n1],
        pods=[run_("ns1", "p16", "n1", res("1", "3Gi"), "pg16"), pend("p17", res("1", "1Gi"), "pg17"),
              run_("ns1", "p18", "n1", res("1", "1Gi"), "pg18")],
        podgroups=[pg("pg16", "ns1", "q10", 1, None, "Running"), pg("pg17", "ns1", "q10", 1, None, "Inqueue"),
                   pg("pg18", "ns1", "q11", 1, None, "Running")],
        queues=[queue("q10", deserved=res("2", "2Gi"), capability=res("4", "4Gi")),
                queue("q11", deserved=res("0", "0Gi"), capability=res("2", "2Gi"))],
        binds={}, pipelined={"ns1/pg17": ["n1"]}, evicted=["ns1/p18"],
    ),
    "no-reclaim-when-allocated-plus-request-exceeds-deserved": Case(
        nodes=[n1],
        pods=[run_("ns1", "p19", "n1", res("1", "1Gi"), "pg19"), pend("p20", res("1", "2Gi"), "pg20"),
              run_("ns1", "p21", "n1", res("1", "1Gi"), "pg21")],
        podgroups=[pg("pg19", "ns1", "q12", 1, None, "Running"), pg("pg20", "ns1", "q12", 1, None, "Inqueue"),
                   pg("pg21", "ns1", "q13", 1, None, "Running")],
        queues=[queue("q12", deserved=res("1", "2Gi"), capability=res("4", "4Gi")),
                queue("q13", deserved=res("0", "0Gi"), capability=res("2", "2Gi"))],
        binds={}, pipelined={}, evicted=[],
    ),
    "no-reclaim-from-queue-holding-none-of-a-deserved-scalar": Case(
        nodes=[n7],
        pods=[run_("ns1", "p22", "n7", res("2", "4Gi"), "pg22"),
              run_("ns1", "p23", "n7", res("0", "0Gi", **{GPU: "1"}), "pg23"),
              run_("ns1", "p24", "n7", res("2", "1Gi", **{GPU: "1"}), "pg24"),
              pend("p25", res("2", "3Gi", **{GPU: "1"}), "pg25")],
        podgroups=[pg("pg22", "ns1", "queue14", 1, None, "Running"), pg("pg23", "ns1", "queue15", 1, None, "Running"),
                   pg("pg24", "ns1", "queue16", 1, None, "Running"), pg("pg25", "ns1", "queue16", 1, None, "Inqueue")],
        queues=[queue("queue14", deserved=res("2", "4Gi", **{GPU: "2"})), queue("queue15"),
                queue("queue16", deserved=res("2", "4Gi", **{GPU: "2"}))],
        binds={}, pipelined={}, evicted=[],
    ),
    "reclaim-evicts-only-on-the-dimensions-the-reclaimer-requests": Case(
        nodes=[n8],
        pods=[run_("ns1", "p26", "n8", res("0", "4Gi"), "pg26"), run_("ns1", "p27", "n8", res("1", "0Gi"), "pg27"),
              run_("ns1", "p28", "n8", res("0", "0Gi", **{GPU: "1"}), "pg28"),
              run_("ns1", "p29", "n8", res("2", "4Gi"), "pg29"), pend("p30", res("1", "0Gi", **{GPU: "1"}), "pg30")],
        podgroups=[pg("pg26", "ns1", "queue17", 1, None, "Running"), pg("pg27", "ns1", "queue17", 1, None, "Running"),
                   pg("pg28", "ns1", "queue17", 1, None, "Running"), pg("pg29", "ns1", "queue18", 1, None, "Running"),
                   pg("pg30", "ns1", "queue18", 1, None, "Inqueue")],
        queues=[queue("queue17", deserved=res("2", "2Gi")), queue("queue18", deserved=res("2", "4Gi", **{GPU: "1"}))],
        binds={}, pipelined={"ns1/pg30": ["n8"]}, evicted=["ns1/p28"],
    ),
    "no-reclaim-on-cpu-from-queue-within-its-scalar-only-deserved": Case(
        nodes=[n8],
        pods=[run_("ns1", "p31", "n8", res("4", "4Gi", **{GPU: "1"}), "pg31"), pend("p32", res("1", "1Gi"), "pg32")],
        podgroups=[pg("pg31", "ns1", "queue19", 1, None, "Running"), pg("pg32", "ns1", "queue20", 1, None, "Inqueue")],
        queues=[queue("queue19", deserved=res(**{GPU: "1"})), queue("queue20", deserved=res("2", "2Gi"))],
        binds={}, pipelined={}, evicted=[],
    ),
    "no-reclaim-beyond-queue-capability": Case(
        nodes=[n9, n10],
        pods=[run_("ns1", "p33", "n9", res("7", "90Gi"), "pg33"), pend("p34", res("2", "5Gi"), "pg34"),
              run_("ns1", "p35", "n10", res("2", "5Gi"), "pg35")],
        podgroups=[pg("pg33", "ns1", "queue21", 1, None, "Running"), pg("pg34", "ns1", "queue21", 1, None, "Inqueue"),
                   pg("pg35", "ns1", "queue22", 1, None, "Running")],
        queues=[queue("queue21", deserved=res("8", "100Gi"), capability=res("8", "100Gi")),
                queue("queue22", capability=res("2", "5Gi"))],
        binds={}, pipelined={}, evicted=[],
    ),
}
for _c in FLAT_CASES.values():
    _c.conf = FLAT

# TestEnqueueAndAllocatable
e1, e2 = node("n1", res("3", "3G", **P10)), node("n2", res("3", "3G", **P10))
R1C3G, R3C1G, R1C0G, R0C1G, R1C1G = res("1", "3G"), res("3", "1G"), res("1", "0G"), res("0", "1G"), res("1", "1G")
E_RUNNING = [run_("ns1", "pod1", "n1", R1C3G, "pg1"), run_("ns1", "pod2", "n2", R3C1G, "pg2")]
E_PGS = [pg("pg1", "ns1", "q1", 1, None, "Running", min_resources=R1C3G),
         pg("pg2", "ns1", "q2", 1, None, "Running", min_resources=R3C1G)]
E_QUEUES = [queue("q1", deserved=res("2", "2G"), capability=res("2", "2G")),
            queue("q2", deserved=res("2", "2G"), capability=res("3", "3G"))]
ENQUEUE_CASES = {
    "job-asking-only-cpu-enqueued-and-allocated-though-memory-exceeds-deserved": Case(
        nodes=[e1, e2], pods=[*E_RUNNING, pend("pod3", R1C0G, "pg3")],
        podgroups=[*E_PGS, pg("pg3", "ns1", "q1", 1, None, "Pending", min_resources=R1C0G)], queues=E_QUEUES,
        binds={"ns1/pod3": "n1"},
    ),
    "job-asking-only-memory-enqueued-and-allocated-though-cpu-exceeds-deserved": Case(
        nodes=[e1, e2], pods=[*E_RUNNING, pend("pod4", R0C1G, "pg4")],
        podgroups=[*E_PGS, pg("pg4", "ns1", "q2", 1, None, "Pending", min_resources=R0C1G)], queues=E_QUEUES,
        binds={"ns1/pod4": "n2"},
    ),
    "job-beyond-queue-capability-not-enqueued": Case(
        nodes=[e1, e2], pods=[*E_RUNNING, pend("pod5", R1C1G, "pg5")],
        podgroups=[*E_PGS, pg("pg5", "ns1", "q1", 1, None, "Pending", min_resources=R1C1G)], queues=E_QUEUES,
        binds={}, phases={"ns1/pg5": "Pending"},
    ),
    "job-in-closed-queue-not-enqueued": Case(
        nodes=[e1, e2], pods=[pend("pod6", R1C1G, "pg6")],
        podgroups=[pg("pg6", "ns1", "q3", 1, None, "Pending", min_resources=R1C1G)],
        queues=[queue("q3", capability=res("3", "3G"), state="Closed")],
        binds={}, phases={"ns1/pg6": "Pending"},
    ),
}
for _c in ENQUEUE_CASES.values():
    _c.conf = ENQUEUE


# Test_capacityPlugin_OnSessionOpenWithHierarchy: queue(name, parent, deserved, capability)
def hq(name: str, parent: str, deserved: dict[str, str] | None, capability: dict[str, str] | None) -> dict[str, object]:
    return queue(name, parent=parent or None, deserved=deserved, capability=capability)


h1 = node("n1", res("8", "8Gi", pods="11"))
ROOT = hq("root", "", None, None)
Q1, Q2 = hq("q1", "root", None, res("4", "4Gi")), hq("q2", "root", None, res("4", "4Gi"))
Q11, Q12 = hq("q11", "q1", None, res("1", "1Gi")), hq("q12", "q1", None, res("3", "3Gi"))
Q3 = hq("q3", "root", res("4", "4Gi", pods="10"), res("4", "4Gi", pods="10"))
Q4 = hq("q4", "root", res("2", "2Gi", pods="1"), res("4", "4Gi", pods="4"))
Q31 = hq("q31", "q3", res("2", "2Gi", pods="2"), res("4", "4Gi", pods="4"))
Q32 = hq("q32", "q3", res("2", "2Gi", pods="2"), res("4", "4Gi", pods="4"))
Q33 = hq("q33", "q3", res("0", "0Gi", pods="2"), res("4", "4Gi", pods="4"))
Q71 = hq("q71", "q7", None, res("6", "4Gi"))
Q72 = hq("q72", "q7", None, res("6", "4Gi"))
for _q in (Q71, Q72):
    _q["spec"]["guarantee"] = {"resource": res("4", "3Gi")}  # type: ignore[index]
GPU_NODE = node("n-gpu", res("8", "8Gi", **{GPU: "8"}, **P10))
HN2 = node("n2", res("8", "8Gi", **{GPU: "8", "hugepages-1Gi": "0"}, **P10))
HN3 = node("n3", res("16", "16Gi", **{"nvidia.com/a100": "5", "rdma/hca": "1001"}, pods="11"))
A100_RDMA = res("1", "1Gi", **{"nvidia.com/a100": "2", "rdma/hca": "1"})
P6_KEEP = run_("ns1", "p6", "n1", res("2", "2Gi"), "pg5", keep=True)
PG5 = pg("pg5", "ns1", "q31", 1, None, "Running")
PG7 = pg("pg7", "ns1", "q32", 1, None, "Running")
HIERARCHY_CASES = {
    "pod-in-leaf-queue-allocatable": Case(
        nodes=[h1], pods=[pend("p1", res("1", "1Gi"), "pg1")],
        podgroups=[pg("pg1", "ns1", "q11", 1, None, "Inqueue")], queues=[ROOT, Q1, Q2, Q11, Q12],
        binds={"ns1/p1": "n1"},
    ),
    "pod-in-inner-queue-not-allocatable": Case(
        nodes=[h1], pods=[pend("p2", res("1", "1Gi"), "pg2")],
        podgroups=[pg("pg2", "ns1", "q1", 1, None, "Pending")], queues=[ROOT, Q1, Q2, Q11, Q12],
        binds={},
    ),
    "gang-in-leaf-queue-within-capability-allocated": Case(
        nodes=[h1], pods=[pend("p3", res("2", "2Gi"), "pg3"), pend("p4", res("2", "2Gi"), "pg3")],
        podgroups=[pg("pg3", "ns1", "q31", 2, None, "Inqueue")], queues=[ROOT, Q3, Q4, Q31, Q32],
        binds={"ns1/p3": "n1", "ns1/p4": "n1"},
    ),
    "leaf-queue-below-deserved-reclaims-from-sibling": Case(
        nodes=[h1],
        pods=[run_("ns1", "p5", "n1", res("4", "4Gi"), "pg4"), P6_KEEP, run_("ns1", "p7", "n1", res("2", "2Gi"), "pg5"),
              pend("p8", res("2", "2Gi"), "pg6")],
        podgroups=[pg("pg4", "ns1", "q4", 1, None, "Running"), PG5, pg("pg6", "ns1", "q32", 1, None, "Inqueue")],
        queues=[ROOT, Q3, Q31, Q32, Q4],
        binds={}, pipelined={"ns1/pg6": ["n1"]}, evicted=["ns1/p7"],
    ),
    "pod-not-allocatable-when-an-ancestor-lacks-real-capability": Case(
        nodes=[h1],
        pods=[P6_KEEP, run_("ns1", "p9", "n1", res("2", "2Gi"), "pg7"), pend("p10", res("3", "3Gi"), "pg8")],
        podgroups=[PG5, PG7, pg("pg8", "ns1", "q33", 1, None, "Inqueue")], queues=[ROOT, Q3, Q31, Q32, Q33],
        binds={},
    ),
    "unset-cpu-or-memory-capability-inherited-from-parent": Case(
        nodes=[h1], pods=[pend("p11", res("1", ""), "pg9")],
        podgroups=[pg("pg9", "ns1", "q51", 1, None, "Running")],
        queues=[ROOT, hq("q5", "root", None, res("", "4Gi")), hq("q51", "q5", None, res("", "2Gi"))],
        binds={"ns1/p11": "n1"},
    ),
    "job-not-enqueued-when-an-ancestor-capability-is-used-up": Case(
        nodes=[h1],
        podgroups=[pg("pg10", "ns1", "q61", 1, None, "Pending", min_resources=res("2", "4Gi")),
                   pg("pg11", "ns1", "q62", 1, None, "Pending", min_resources=res("2", "4Gi"))],
        queues=[ROOT, hq("q6", "root", None, res("2", "4Gi")), hq("q61", "q6", None, None),
                hq("q62", "q6", None, None)],
        binds={}, phases={"ns1/pg10": "Inqueue", "ns1/pg11": "Pending"},
    ),
    "children-guarantees-above-parent-capability-tolerated": Case(
        nodes=[h1], queues=[ROOT, hq("q7", "root", None, res("6", "4Gi")), Q71, Q72], binds={},
    ),
    "scalar-in-deserved-passes-the-hierarchy-check": Case(
        nodes=[GPU_NODE], pods=[pend("p12", res("2", "2Gi", **{GPU: "1"}), "pg12")],
        podgroups=[pg("pg12", "ns1", "q81", 1, None, "Inqueue")],
        queues=[ROOT, hq("q8", "root", res("4", "4Gi", **{GPU: "8"}), None),
                hq("q81", "q8", res("2", "2Gi", **{GPU: "4"}), None),
                hq("q82", "q8", res("2", "2Gi", **{GPU: "4"}), None)],
        binds={"ns1/p12": "n-gpu"},
    ),
    "zero-scalar-in-deserved-passes-the-hierarchy-check": Case(
        nodes=[HN2], pods=[pend("p13", res("2", "2Gi", **{GPU: "1"}), "pg13")],
        podgroups=[pg("pg13", "ns1", "q91", 1, None, "Inqueue")],
        queues=[ROOT, hq("q9", "root", res("2", "2Gi", **{GPU: "8", "hugepages-1Gi": "0"}), None),
                hq("q91", "q9", res("2", "2Gi", **{GPU: "4", "hugepages-1Gi": "0"}), None)],
        binds={"ns1/p13": "n2"},
    ),
    "root-capability-above-cluster-total-tolerated": Case(
        nodes=[h1], queues=[hq("root", "", None, res("16", "16Gi")), hq("q10", "root", None, res("10", "4Gi"))],
        binds={},
    ),
    "unset-scalar-capability-inherited-from-parent": Case(
        nodes=[HN2], pods=[pend("p14", res("1", "1Gi", **{GPU: "4"}), "pg14"),
                           pend("p15", res("1", "1Gi", **{GPU: "4"}), "pg15")],
        podgroups=[pg("pg14", "ns1", "case11-queue11", 1, None, "Inqueue"),
                   pg("pg15", "ns1", "case11-queue12", 1, None, "Inqueue")],
        queues=[ROOT, hq("case11-queue1", "root", None, None),
                hq("case11-queue11", "case11-queue1", None, res("4", "4Gi", **{GPU: "4"})),
                hq("case11-queue12", "case11-queue1", None, res("4", "4Gi", **{GPU: "4"}))],
        binds={"ns1/p14": "n2", "ns1/p15": "n2"},
    ),
    "leaf-reclaims-when-within-deserved-on-a-single-scalar": Case(
        nodes=[HN3],
        pods=[pend("p16", A100_RDMA, "pg16"), run_("ns1", "p17", "n3", A100_RDMA, "pg17"),
              run_("ns1", "p18", "n3", A100_RDMA, "pg18", keep=True)],
        podgroups=[pg("pg16", "ns1", "case12-queue11", 1, None, "Inqueue"),
                   pg("pg17", "ns1", "case12-queue12", 1, None, "Running"),
                   pg("pg18", "ns1", "case12-queue12", 1, None, "Running")],
        queues=[hq("root", "", res("16", "16Gi", **{"nvidia.com/a100": "4", "rdma": "1000"}), None),
                hq("case12-queue1", "root", res(**{"nvidia.com/a100": "2"}), None),
                hq("case12-queue11", "case12-queue1", res(**{"nvidia.com/a100": "2"}), None),
                hq("case12-queue12", "case12-queue1", None, None)],
        binds={}, pipelined={"ns1/pg16": ["n3"]}, evicted=["ns1/p17"],
    ),
}
for _c in HIERARCHY_CASES.values():
    _c.conf = HIERARCHY
ALL = {**FLAT_CASES, **ENQUEUE_CASES, **HIERARCHY_CASES}


@pytest.mark.parametrize("case", list(ALL.values()), ids=list(ALL))
def test_capacity_table(case: Case) -> None:
    check_core(case)


def test_hierarchy_without_a_root_queue_object_uses_the_implicit_root() -> None:
    """Not an upstream row: the leaf/inner rows with no ``root`` Queue in the cluster (the capacity
    plugin then supplies the unlimited implicit root)."""
    rows = {"pod-in-leaf-queue-allocatable": {"ns1/p1": "n1"}, "pod-in-inner-queue-not-allocatable": {}}
    for name, binds in rows.items():
        case = HIERARCHY_CASES[name]
        check_core(Case(**{**case.__dict__, "queues": [q for q in case.queues if q is not ROOT], "binds": binds}))
