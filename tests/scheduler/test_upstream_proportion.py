"""Volcano ``pkg/scheduler/plugins/proportion/proportion_test.go`` (master), ported.

``TestEnqueueAndAllocable``, ``TestAllocate`` and the second cycle of
``TestNoDoubleCountingForInqueueJobWithBindingTasks`` (its cache state after cycle 1 —
three bound tasks of an Inqueue PodGroup — given as the snapshot), through the core and
the reference session. Not ported: ``TestProportion`` (it checks Prometheus metrics
over a live HTTP endpoint, not decisions) and ``TestJobEnqueuedOnOtherPluginsReject``
(it needs a test-only rejecting plugin); docs/architecture.md, "Allocation semantics".
"""

from __future__ import annotations

import pytest

from ._upstream import Case, check_core, conf, node, pg, pod, queue, res

ALL_ON = conf("enqueue, allocate", ("proportion", ["Allocatable", "Overused", "JobEnqueued"]))
ENQUEUE_ONLY = conf("enqueue, allocate", ("proportion", ["JobEnqueued"]))
ALLOCATE_ONLY = conf("enqueue, allocate", ("proportion", ["Allocatable"]))
PRIORITY = conf("allocate, reclaim", ("proportion", ["QueueOrder"]))

P10 = {"pods": "10"}
N = [node("n1", res("2", "2G", **P10)), node("n2", res("2", "2G", **P10))]
R1C2G, R2C1G, R1C0G, R0C1G, R1C1G = res("1", "2G"), res("2", "1G"), res("1", "0G"), res("0", "1G"), res("1", "1G")
RUNNING = [pod("ns1", "pod1", "n1", "Running", R1C2G, "pg1"), pod("ns1", "pod2", "n2", "Running", R2C1G, "pg2")]
PGS = [pg("pg1", "ns1", "q1", 1, None, "Running", min_resources=R1C2G),
       pg("pg2", "ns1", "q2", 1, None, "Running", min_resources=R2C1G)]
QUEUES = [queue("q1", capability=res("2", "2G")), queue("q2", capability=res("3", "3G"))]


def pend(name: str, req: dict[str, str], group: str) -> dict[str, object]:
    return pod("ns1", name, "", "Pending", req, group)


CASES = {
    "job-asking-only-cpu-enqueued-and-allocated-though-memory-exceeds-deserved": Case(
        nodes=N, pods=[*RUNNING, pend("pod3", R1C0G, "pg3")],
        podgroups=[*PGS, pg("pg3", "ns1", "q1", 1, None, "Pending", min_resources=R1C0G)], queues=QUEUES,
        conf=ALL_ON, binds={"ns1/pod3": "n1"},
    ),
    "job-asking-only-memory-enqueued-and-allocated-though-cpu-exceeds-deserved": Case(
        nodes=N, pods=[*RUNNING, pend("pod4", R0C1G, "pg4")],
        podgroups=[*PGS, pg("pg4", "ns1", "q2", 1, None, "Pending", min_resources=R0C1G)], queues=QUEUES,
        conf=ALL_ON, binds={"ns1/pod4": "n2"},
    ),
    "job-beyond-queue-capability-not-enqueued": Case(
        nodes=N, pods=[*RUNNING, pend("pod5", R1C1G, "pg5")],
        podgroups=[*PGS, pg("pg5", "ns1", "q1", 1, None, "Pending", min_resources=R1C1G)], queues=QUEUES,
        conf=ENQUEUE_ONLY, binds={}, phases={"ns1/pg5": "Pending"},
    ),
    "task-beyond-queue-deserved-not-allocated": Case(
        nodes=N, pods=[*RUNNING, pend("pod5", R1C1G, "pg5")],
        podgroups=[*PGS, pg("pg5", "ns1", "q1", 1, None, "Pending", min_resources=R1C1G)], queues=QUEUES,
        conf=ALLOCATE_ONLY, binds={},
    ),
    "job-in-closed-queue-not-enqueued": Case(
        nodes=N, pods=[pend("pod6", R1C1G, "pg6")],
        podgroups=[pg("pg6", "ns1", "q3", 1, None, "Pending", min_resources=R1C1G)],
        queues=[queue("q3", capability=res("3", "3G"), state="Closed")],
        conf=ENQUEUE_ONLY, binds={}, phases={"ns1/pg6": "Pending"},
    ),
    "queues-allocate-in-queue-priority-order": Case(
        nodes=[node("n1", res("2", "4Gi", **P10)), node("n2", res("2", "4Gi", **P10))],
        pods=[pod("ns1", "p1", "n1", "Running", res("2", "4Gi"), "pg1"), pend("p2", res("2", "4Gi"), "pg2"),
              pend("p3", res("2", "4Gi"), "pg3")],
        podgroups=[pg("pg1", "ns1", "q1", 1, None, "Running"), pg("pg2", "ns1", "q2", 1, None, "Inqueue"),
                   pg("pg3", "ns1", "q3", 1, None, "Inqueue")],
        queues=[queue("q1", priority=5, capability=res("2", "4Gi")),
                queue("q2", priority=1, capability=res("2", "4Gi")),
                queue("q3", priority=10, capability=res("2", "4Gi"))],
        conf=PRIORITY, binds={"ns1/p3": "n2"},
    ),
    "inqueue-job-with-bound-tasks-not-counted-twice-against-capability": Case(
        nodes=[node("n1", res("4", "8Gi", **P10))],
        pods=[*(pod("ns1", f"pa{i}", "n1", "Pending", res("1", "1Gi"), "pga") for i in (1, 2, 3)),
              pend("pb1", res("1", "1Gi"), "pgb")],
        podgroups=[pg("pga", "ns1", "q1", 3, None, "Inqueue", min_resources=res("3", "3Gi")),
                   pg("pgb", "ns1", "q1", 1, None, "Pending", min_resources=res("1", "1Gi"))],
        queues=[queue("q1", capability=res("4", "8Gi"))],
        conf=ALL_ON, binds={"ns1/pb1": "n1"},
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_proportion_table(case: Case) -> None:
    check_core(case)


@pytest.mark.parametrize("state", ["Closed", "Closing"])
def test_proportion_allocates_nothing_from_a_queue_that_is_not_open(state: str) -> None:
    """Upstream's ``queueAllocatable`` refuses a non-Open queue even for an Inqueue job."""
    case = Case(
        nodes=N, pods=[pend("p", R1C1G, "pg")], podgroups=[pg("pg", "ns1", "q", 1, None, "Inqueue")],
        queues=[queue("q", state=state)], conf=conf("allocate", ("proportion", ["Allocatable"])), binds={},
    )
    check_core(case)
    open_queue = Case(**{**case.__dict__, "queues": [queue("q")], "binds": {"ns1/p": "n1"}})
    check_core(open_queue)
