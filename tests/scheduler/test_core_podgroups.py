"""Which pods get a (visible) PodGroup, what a queue counts, and why a group is not admitted.

Volcano's rules: the PodGroup controller gives a group only to pods of Volcano's scheduler; the
queue counts the PodGroups it holds by phase; the enqueue plugins word a refusal as
"resource in cluster is overused: overused <r>" (overcommit) or "queue resource quota
insufficient: insufficient <r>" (proportion, capacity). Suanli also plays kube-scheduler: a pod of
``default-scheduler`` is placed without a PodGroup or queue admission.
"""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.decisions import format_resource_names

from ._builders import bind_map, build_node, build_pod, build_podgroup, build_queue, run

NPU = "huawei.com/Ascend910"
#: Two Ascend nodes of 8 NPUs each: 16 in all, 19.2 with overcommit's default factor 1.2.
NODES = [build_node(f"ascend-{i}", {"cpu": "64", "memory": "256Gi", NPU: "8"}) for i in range(2)]
PLAIN = {"schedulerName": "default-scheduler"}
CAPACITY = """
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
- plugins:
  - name: predicates
  - name: capacity
  - name: nodeorder
"""


def gang(name: str, npus: int, *, queue: str = "default", ts: int = 1) -> tuple[list[Obj], Obj]:
    """A one-pod PodGroup asking ``npus`` NPUs (minResources as the Volcano Job controller sets them)."""
    pod = build_pod("ns", f"{name}-0", req={NPU: str(npus)}, group=name, ts=ts)
    pg = build_podgroup("ns", name, queue, 1, phase="Pending", min_resources={NPU: str(npus)}, ts=ts)
    return [pod], pg


@pytest.mark.parametrize(
    ("blocker_spec", "gang_binds"),
    [(PLAIN, True), ({}, False)],
    ids=["kube-scheduler-pod-that-never-fits-holds-no-room", "volcano-pod-inqueue-holds-its-min-resources"],
)
def test_a_pod_that_never_fits_blocks_admission_only_when_it_is_a_volcano_pod(
    blocker_spec: dict[str, Any], gang_binds: bool
) -> None:
    blocker = build_pod("ns", "big", req={NPU: "16"}, spec=blocker_spec)
    pods, pg = gang("train", 8, ts=2)
    d = run(NODES, [blocker, *pods], [pg])
    assert ("ns/train-0" in bind_map(d)) is gang_binds
    assert "ns/big" not in bind_map(d)
    big = next(u for u in d.unschedulable if u.name == "big")
    assert big.message == f"0/2 nodes are available: 2 Insufficient {NPU}."
    if not gang_binds:
        assert d.podgroup_status["ns/train"]["phase"] == "Pending"


def test_queue_counts_are_the_podgroups_by_phase_and_nothing_else() -> None:
    plain = [build_pod("ns", f"plain-{i}", req={NPU: "16"}, spec=PLAIN) for i in range(3)]
    running = build_pod("ns", "r-0", node="ascend-0", phase="Running", req={NPU: "1"}, group="r")
    pods, pg = gang("train", 4)
    groups = [pg, build_podgroup("ns", "r", "default", 1, phase="Running")]
    d = run(NODES, [*plain, running, *pods, build_pod("ns", "bare", req={"cpu": "1"}, spec=PLAIN)], groups)
    phases = [st["phase"] for st in d.podgroup_status.values()]
    assert sorted(d.podgroup_status) == ["ns/r", "ns/train"]
    q = d.queue_status["default"]
    assert (q["running"], q["inqueue"], q["pending"]) == (
        phases.count("Running"), phases.count("Inqueue"), phases.count("Pending"))
    assert q["running"] == 2  # r, and train bound this cycle; no plain pod is a PodGroup


@pytest.mark.parametrize(
    ("conf", "queues", "npus", "verdict"),
    [
        (None, [build_queue("default")], 20,
         "resource in cluster is overused: overused huawei.com/Ascend910"),
        (None, [build_queue("default", capability={NPU: "4"})], 8,
         "queue resource quota insufficient: insufficient huawei.com/Ascend910"),
        (CAPACITY, [build_queue("default", capability={"cpu": "1", NPU: "4"})], 8,
         "queue resource quota insufficient: insufficient huawei.com/Ascend910"),
    ],
    ids=["overcommit-names-the-overused-resource", "proportion-capability-names-the-short-resource",
         "capacity-names-the-short-resource-only"],
)
def test_a_group_that_is_not_admitted_carries_the_enqueue_verdict(
    conf: str | None, queues: list[Obj], npus: int, verdict: str
) -> None:
    pg = build_podgroup("ns", "job", "default", 1, phase="Pending", min_resources={NPU: str(npus), "cpu": "1"})
    # no pods yet: a Volcano Job creates them only once its PodGroup is admitted
    d = run(NODES, [], [pg], queues, conf=conf)
    st = d.podgroup_status["ns/job"]
    assert st["phase"] == "Pending"
    assert st["conditions"] == [{
        "type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
        "message": f"0/0 tasks in gang unschedulable: {verdict}",
    }]
    assert d.queue_status["default"]["pending"] == 1


def test_a_pod_refused_by_its_queue_but_fitting_no_node_is_blamed_on_the_resource() -> None:
    # 17 NPUs: more than any node (and than the cluster); the proportion queue check also refuses it
    d = run(NODES, [build_pod("ns", "p", req={NPU: "17"}, spec=PLAIN)])
    assert [u.message for u in d.unschedulable] == [f"0/2 nodes are available: 2 Insufficient {NPU}."]


def test_a_pod_refused_by_its_queue_that_fits_a_node_is_blamed_on_the_queue() -> None:
    queue = build_queue("default", capability={NPU: "2"})
    d = run(NODES, [build_pod("ns", "p", req={NPU: "4"}, spec=PLAIN)], [], [queue])
    assert d.binds == ()
    assert [u.message for u in d.unschedulable] == ["queue default resource quota insufficient"]


def test_kube_scheduler_pod_binds_with_no_podgroup_status() -> None:
    d = run(NODES, [build_pod("ns", "web", req={"cpu": "1"}, spec=PLAIN)])
    assert list(bind_map(d)) == ["ns/web"]
    assert d.podgroup_status == {}
    assert d.queue_status["default"]["running"] == 0


@pytest.mark.parametrize(
    ("names", "expected"),
    [([], "queue resource quota insufficient"),
     (["cpu", NPU], f"queue resource quota insufficient: insufficient cpu, insufficient {NPU}")],
    ids=["no-resource-named", "each-resource-named"],
)
def test_format_resource_names(names: list[str], expected: str) -> None:
    assert format_resource_names("queue resource quota insufficient", "insufficient", names) == expected


#: Only enqueue, into a Closed queue: no job moves and no pod is placed, so the written phase is
#: the phase rule alone.
OBSERVE = """
actions: "enqueue"
tiers:
- plugins:
  - name: gang
"""
BIG = [build_node(f"node-{i}", {"cpu": "64"}) for i in (1, 2)]


def _task(name: str, state: str, node: str = "") -> Obj:
    """A pod of group ``job`` in Volcano's task state ``state`` (Releasing = being deleted)."""
    phase = {"Running": "Running", "Releasing": "Running", "Succeeded": "Succeeded", "Failed": "Failed"}.get(
        state, "Pending")
    pod = build_pod("ns", name, node=node, phase=phase, req={"cpu": "1"}, group="job")
    if state == "Releasing":
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return pod


@pytest.mark.parametrize(
    ("min_member", "phase", "pods", "expected"),
    [
        (1, "Running", [_task("t1", "Releasing", "node-1")], "Running"),
        (2, "Running", [_task("t1", "Running", "node-1"), _task("t2", "Releasing", "node-2")], "Running"),
        (2, "Running", [_task("t1", "Releasing", "node-1"), _task("t2", "Releasing", "node-2")], "Running"),
        (2, "Pending", [_task("t1", "Releasing"), _task("t2", "Pending")], "Pending"),
        (2, "Running", [_task("t1", "Succeeded", "node-1"), _task("t2", "Succeeded", "node-2")], "Completed"),
        (2, "Running", [_task("t1", "Releasing", "node-1")], "Pending"),
        (1, "Pending", [_task("t1", "Running", "node-1")], "Running"),
        (2, "Inqueue", [_task("t1", "Running", "node-1"), _task("t2", "Pending")], "Inqueue"),
        (2, "Running", [_task("t1", "Running", "node-1"), _task("t2", "Failed", "node-2")], "Running"),
    ],
    ids=["single-pod-terminating-keeps-running", "multi-pod-partial-terminating-keeps-running",
         "all-pods-terminating-keeps-running", "never-scheduled-pending-pod-deleted-stays-pending",
         "all-scheduled-tasks-completed", "scheduled-releasing-tasks-below-min-member-fall-to-pending",
         "pending-group-whose-pod-already-runs-is-running", "inqueue-group-short-of-min-member-stays-inqueue",
         "a-failed-task-counts-as-scheduled"],
)
def test_podgroup_phase_follows_upstreams_get_podgroup_phase(
    min_member: int, phase: str, pods: list[Obj], expected: str
) -> None:
    """Upstream's TestGetPodGroupPhase table (its Unknown case aside) plus Suanli cases, through a cycle."""
    pg = build_podgroup("ns", "job", "default", min_member, phase=phase)
    d = run(BIG, pods, [pg], [build_queue("default", state="Closed")], conf=OBSERVE)
    assert d.podgroup_status["ns/job"]["phase"] == expected


def test_kube_scheduler_pod_ignores_volcanos_queue_annotation() -> None:
    pod = build_pod("ns", "web", req={"cpu": "1"}, spec=PLAIN,
                    annotations={"scheduling.volcano.sh/queue-name": "missing"})
    d = run(NODES, [pod])
    assert list(bind_map(d)) == ["ns/web"]
