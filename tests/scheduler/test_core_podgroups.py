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
from suanli.scheduler.core import parse_config, schedule, snapshot_from_objects
from suanli.scheduler.core.decisions import format_resource_names
from suanli.scheduler.core.snapshot import SnapshotConfig

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


@pytest.mark.parametrize(
    ("wait", "annotated", "bound"),
    [(False, False, True), (True, False, False), (True, True, True)],
    ids=["simulator-schedules-a-volcano-pod-as-its-own-gang", "live-volcano-pod-waits-for-its-podgroup",
         "live-volcano-pod-with-its-podgroup-binds"],
)
def test_volcano_pod_without_podgroup(wait: bool, annotated: bool, bound: bool) -> None:
    pod = build_pod("ns", "p", req={"cpu": "1"}, group="podgroup-1" if annotated else None)
    groups = [build_podgroup("ns", "podgroup-1", "default", 1, phase="Pending")] if annotated else []
    cfg = SnapshotConfig(wait_for_podgroup=wait)
    snap = snapshot_from_objects(NODES, [pod], groups, [build_queue("default")], [], config=cfg)
    d = schedule(snap, parse_config(None))
    assert ("ns/p" in bind_map(d)) is bound
    assert len(snap.tasks) == (1 if bound else 0)


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
