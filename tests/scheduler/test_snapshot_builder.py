"""SnapshotBuilder: incremental snapshots equal snapshot_from_objects over the same objects."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import TaskStatus
from suanli.scheduler.core.snapshot import Snapshot, SnapshotConfig, snapshot_from_objects
from suanli.scheduler.core.snapshot_builder import SnapshotBuilder

from ._builders import build_node, build_pod, build_podgroup, build_priority_class, build_queue
from ._snapshot_equal import snapshot_diff

CONFIG = SnapshotConfig(scheduler_names=frozenset({"volcano"}), default_preemptable=False)
#: As the live scheduler: also kube-scheduler's pods (placed without queue admission).
LIVE_CONFIG = SnapshotConfig(scheduler_names=frozenset({"volcano", "default-scheduler"}), default_preemptable=False)


class Model:
    """The builder under test plus plain dicts of the same objects (informer-cache semantics)."""

    def __init__(self, config: SnapshotConfig = CONFIG) -> None:
        self.config = config
        self.b = SnapshotBuilder(config)
        self.nodes: dict[str, Obj] = {}
        self.pods: dict[str, Obj] = {}
        self.podgroups: dict[str, Obj] = {}
        self.queues: dict[str, Obj] = {}
        self.pcs: dict[str, Obj] = {}
        self.assumed: dict[str, str] = {}

    def node(self, obj: Obj) -> None:
        self.nodes[obj["metadata"]["name"]] = obj
        self.b.upsert_node(obj)

    def pod(self, obj: Obj) -> None:
        self.pods[f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = obj
        self.b.upsert_pod(obj)

    def podgroup(self, obj: Obj) -> None:
        self.podgroups[f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = obj
        self.b.upsert_podgroup(obj)

    def queue(self, obj: Obj) -> None:
        self.queues[obj["metadata"]["name"]] = obj
        self.b.upsert_queue(obj)

    def pc(self, obj: Obj) -> None:
        self.pcs[obj["metadata"]["name"]] = obj
        self.b.upsert_priority_class(obj)

    def remove(self, kind: str, key: str) -> None:
        store: dict[str, Obj] = getattr(self, kind)
        obj = store.pop(key, None)
        if obj is None:
            return
        remove: Callable[[Obj], None] = {
            "nodes": self.b.remove_node, "pods": self.b.remove_pod, "podgroups": self.b.remove_podgroup,
            "queues": self.b.remove_queue, "pcs": self.b.remove_priority_class}[kind]
        remove(obj)

    def assume(self, uid: str, node: str) -> None:
        self.assumed[uid] = node
        self.b.assume(uid, node)

    def forget(self, uid: str) -> None:
        self.assumed.pop(uid, None)
        self.b.forget(uid)

    def expected(self) -> Snapshot:
        pods = []
        for p in self.pods.values():
            uid = p["metadata"]["uid"]
            if p["spec"].get("nodeName"):
                self.assumed.pop(uid, None)
            elif uid in self.assumed:
                p = {**p, "spec": {**p["spec"], "nodeName": self.assumed[uid]}}
            pods.append(p)
        return snapshot_from_objects(self.nodes.values(), pods, self.podgroups.values(), self.queues.values(),
                                     self.pcs.values(), config=self.config)

    def check(self) -> Snapshot:
        got = self.b.snapshot()
        diff = snapshot_diff(got, self.expected())
        assert not diff, "\n".join(diff[:10])
        return got


# ------------------------------------------------------------------ property: random change sequences

NODE_NAMES = ["n0", "n1", "n2", "n3"]
POD_NAMES = [f"p{i}" for i in range(5)]

nodes_st = st.builds(
    lambda name, cpu, gpu, unsched, label: build_node(
        name, {"cpu": str(cpu), "memory": "8Gi", **({"example.com/gpu": str(gpu)} if gpu else {})},
        {"zone": label}, unschedulable=unsched),
    st.sampled_from(NODE_NAMES), st.integers(1, 8), st.integers(0, 2), st.booleans(), st.sampled_from(["a", "b"]))


@st.composite
def pods_st(draw: st.DrawFn) -> Obj:
    name = draw(st.sampled_from(POD_NAMES))
    req: dict[str, Any] = {"cpu": draw(st.sampled_from(["100m", "1", "2"]))}
    if draw(st.booleans()):
        req["example.com/gpu"] = "1"
    if draw(st.integers(0, 5)) == 0:
        req["example.com/other"] = "1"
    pod = build_pod(
        draw(st.sampled_from(["ns", "kube-system"])), name,
        node=draw(st.sampled_from(["", "", "n0", "n1", "n9"])),
        phase=draw(st.sampled_from(["Pending", "Running", "Succeeded", "Failed"])),
        req=req,
        group=draw(st.sampled_from([None, None, "g0", "g1"])),
        priority=draw(st.sampled_from([None, 7])),
        priority_class=draw(st.sampled_from([None, "pc0", "pc1"])),
        role=draw(st.sampled_from([None, "worker"])),
        annotations=draw(st.sampled_from([{}, {"volcano.sh/gpu-index": "0"},
                                           {"scheduling.volcano.sh/queue-name": "q1"}])),
        spec={"schedulerName": draw(st.sampled_from(["volcano", "other", "default-scheduler"]))},
        ts=draw(st.integers(0, 3)),
    )
    if draw(st.integers(0, 4)) == 0:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    if draw(st.integers(0, 4)) == 0:
        pod["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    return pod


podgroups_st = st.builds(
    lambda name, q, mm, pc, minres, phase: build_podgroup("ns", name, q, mm, phase=phase, priority_class=pc,
                                                          min_resources=minres),
    st.sampled_from(["g0", "g1"]), st.sampled_from(["default", "q1", "missing"]), st.integers(0, 3),
    st.sampled_from([None, "pc0"]), st.sampled_from([None, {"cpu": "1", "example.com/gpu": "1"}]),
    st.sampled_from(["Pending", "Inqueue", "Running"]))
queues_st = st.builds(
    lambda name, w, cap: build_queue(name, w, cap), st.sampled_from(["default", "q1"]), st.integers(1, 3),
    st.sampled_from([None, {"cpu": "4", "example.com/gpu": "2"}]))
pcs_st = st.builds(build_priority_class, st.sampled_from(["pc0", "pc1"]), st.integers(0, 100), st.booleans())

ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("node"), nodes_st),
        st.tuples(st.just("pod"), pods_st()),
        st.tuples(st.just("pod"), pods_st()),
        st.tuples(st.just("podgroup"), podgroups_st),
        st.tuples(st.just("queue"), queues_st),
        st.tuples(st.just("pc"), pcs_st),
        st.tuples(st.just("remove"), st.one_of(
            st.tuples(st.just("nodes"), st.sampled_from(NODE_NAMES)),
            st.tuples(st.just("pods"), st.sampled_from([f"{ns}/{p}" for ns in ("ns", "kube-system")
                                                        for p in POD_NAMES])),
            st.tuples(st.just("podgroups"), st.sampled_from(["ns/g0", "ns/g1"])),
            st.tuples(st.just("queues"), st.sampled_from(["default", "q1"])),
            st.tuples(st.just("pcs"), st.sampled_from(["pc0", "pc1"])))),
        st.tuples(st.just("assume"), st.tuples(st.sampled_from(POD_NAMES), st.sampled_from(["n0", "n2", "n9"]))),
        st.tuples(st.just("forget"), st.sampled_from(POD_NAMES)),
        st.tuples(st.just("snapshot"), st.none()),
    ),
    max_size=50,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_st, st.sampled_from([CONFIG, LIVE_CONFIG]))
def test_incremental_snapshot_equals_one_shot_after_any_change_sequence(ops: list[tuple[str, Any]],
                                                                        config: SnapshotConfig) -> None:
    m = Model(config)
    for op, arg in ops:
        if op == "remove":
            m.remove(*arg)
        elif op == "assume":
            m.assume(f"uid-ns-{arg[0]}", arg[1])
        elif op == "forget":
            m.forget(f"uid-ns-{arg}")
        elif op == "snapshot":
            m.check()
        else:
            getattr(m, op)(arg)
    m.check()


# ------------------------------------------------------------------ care points


def _two_nodes(m: Model) -> None:
    m.node(build_node("a", {"cpu": "4", "memory": "8Gi"}))
    m.node(build_node("b", {"cpu": "4", "memory": "8Gi"}))
    m.queue(build_queue("default"))


def _priority_class_value_changes(m: Model) -> None:
    m.pc(build_priority_class("high", 10))
    m.pod(build_pod("ns", "w", req={"cpu": "1"}, priority_class="high"))
    assert m.check().tasks[0].priority == 10
    m.pc(build_priority_class("high", 50))
    assert m.check().tasks[0].priority == 50


def _global_default_appears(m: Model) -> None:
    m.pod(build_pod("ns", "w", req={"cpu": "1"}))
    assert m.check().tasks[0].priority == 0
    m.pc(build_priority_class("base", 5, global_default=True))
    s = m.check()
    assert s.tasks[0].priority == 5 and s.jobs["ns/pod-w"].priority == 5


def _podgroup_arrives_after_its_pods(m: Model) -> None:
    m.pod(build_pod("ns", "solo", req={"cpu": "1"}))
    m.pod(build_pod("ns", "w0", req={"cpu": "1"}, group="pg"))
    m.pod(build_pod("ns", "tail", req={"cpu": "1"}))
    assert [t.name for t in m.check().tasks] == ["solo", "tail"]
    m.podgroup(build_podgroup("ns", "pg", "default", 1))
    s = m.check()
    assert [t.name for t in s.tasks] == ["solo", "w0", "tail"] and s.jobs["ns/pg"].tasks == [1]
    assert next(iter(s.jobs)) == "ns/pg"


def _podgroup_status_update(m: Model) -> None:
    m.podgroup(build_podgroup("ns", "pg", "default", 1, phase="Pending"))
    m.pod(build_pod("ns", "w0", req={"cpu": "1"}, group="pg"))
    assert m.check().jobs["ns/pg"].phase == "Pending"
    m.podgroup(build_podgroup("ns", "pg", "default", 1, phase="Inqueue"))
    assert m.check().jobs["ns/pg"].phase == "Inqueue"


def _queue_capability_changes(m: Model) -> None:
    m.queue(build_queue("q1", capability={"cpu": "2"}))
    assert m.check().queues["q1"].capability[0] == 2000
    m.queue(build_queue("q1", capability={"cpu": "3"}))
    assert m.check().queues["q1"].capability[0] == 3000


def _assumed_bind_then_informer_catches_up(m: Model) -> None:
    pod = build_pod("ns", "w", req={"cpu": "1"})
    m.pod(pod)
    m.check()
    m.assume("uid-ns-w", "b")
    s = m.check()
    assert (s.tasks[0].status, s.tasks[0].node, s.nodes.used[1][0]) == (TaskStatus.BOUND, 1, 1000)
    assert "nodeName" not in pod["spec"]  # the informer's object is not modified
    m.pod(build_pod("ns", "w", node="b", req={"cpu": "1"}))
    m.check()
    assert m.b.assumed() == {}


def _forgotten_bind_is_pending_again(m: Model) -> None:
    m.pod(build_pod("ns", "w", req={"cpu": "1"}))
    m.assume("uid-ns-w", "a")
    assert m.check().nodes.used[0][0] == 1000
    m.forget("uid-ns-w")
    s = m.check()
    assert s.tasks[0].status is TaskStatus.PENDING and s.nodes.used[0][0] == 0


def _forgotten_gang_pod_without_podgroup_leaves(m: Model) -> None:
    m.pod(build_pod("ns", "w", req={"cpu": "1"}, group="pg"))
    assert m.check().tasks == []  # pending, its PodGroup unknown
    m.assume("uid-ns-w", "a")
    assert [t.name for t in m.check().tasks] == ["w"]  # bound pods count whatever their gang
    m.forget("uid-ns-w")
    assert m.check().tasks == []


def _other_schedulers_pod_until_bound(m: Model) -> None:
    m.pod(build_pod("ns", "x", req={"cpu": "1"}, spec={"schedulerName": "other"}))
    assert m.check().tasks == []
    m.pod(build_pod("ns", "x", node="a", req={"cpu": "1"}, spec={"schedulerName": "other"}))
    assert m.check().nodes.used[0][0] == 1000


def _scheduler_name_change_moves_pod_into_its_queue(m: Model) -> None:
    # found by the property test: a kube-scheduler pod (placed without queue admission) that becomes
    # ours keeps the same metadata, yet must now follow its queue annotation and wait for admission
    ann = {"scheduling.volcano.sh/queue-name": "q1"}
    m.queue(build_queue("q1"))
    m.pod(build_pod("ns", "w", req={"cpu": "1"}, annotations=ann, spec={"schedulerName": "default-scheduler"}))
    assert m.check().jobs == {}  # not ours while pending
    m.pod(build_pod("ns", "w", req={"cpu": "1"}, annotations=ann, spec={"schedulerName": "volcano"}))
    job = m.check().jobs["ns/pod-w"]
    assert (job.queue, job.phase) == ("q1", "Pending")


def _terminal_pod_frees_its_node(m: Model) -> None:
    m.pod(build_pod("ns", "w", node="a", phase="Running", req={"cpu": "1"}))
    assert m.check().nodes.used[0][0] == 1000
    m.pod(build_pod("ns", "w", node="a", phase="Succeeded", req={"cpu": "1"}))
    s = m.check()
    assert s.nodes.used[0][0] == 0 and s.tasks[0].status is TaskStatus.SUCCEEDED


def _deleting_pod_is_releasing(m: Model) -> None:
    m.pod(build_pod("ns", "w", node="a", phase="Running", req={"cpu": "1"}))
    m.check()
    pod = build_pod("ns", "w", node="a", phase="Running", req={"cpu": "1"})
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    m.pod(pod)
    s = m.check()
    assert s.tasks[0].status is TaskStatus.RELEASING and s.nodes.releasing[0][0] == 1000
    m.remove("pods", "ns/w")
    assert m.check().nodes.used[0][0] == 0


def _node_deleted_under_its_pods(m: Model) -> None:
    m.pod(build_pod("ns", "on-a", node="a", req={"cpu": "1"}))
    m.pod(build_pod("ns", "on-b", node="b", req={"cpu": "2"}))
    m.check()
    m.remove("nodes", "a")
    s = m.check()
    assert s.nodes.names == ["b"] and [(t.name, t.node) for t in s.tasks] == [("on-b", 0)]
    assert s.nodes.used[0][0] == 2000


def _device_annotation_changes_spec_key(m: Model) -> None:
    m.pod(build_pod("ns", "w", node="a", req={"cpu": "1"}))
    before = m.check().tasks[0].spec_key
    m.pod(build_pod("ns", "w", node="a", req={"cpu": "1"}, annotations={"volcano.sh/gpu-index": "0,2"}))
    after = m.check().tasks[0].spec_key
    assert before != after and "gpu-index" in after[1]


def _removal_in_the_middle_reindexes(m: Model) -> None:
    for name in ("p0", "p1", "p2"):
        m.pod(build_pod("ns", name, req={"cpu": "1"}))
    m.check()
    m.remove("pods", "ns/p1")
    s = m.check()
    assert [(t.name, t.index) for t in s.tasks] == [("p0", 0), ("p2", 1)] and s.jobs["ns/pod-p2"].tasks == [1]


def _new_resource_adds_a_dimension(m: Model) -> None:
    m.pod(build_pod("ns", "w", node="a", req={"cpu": "1"}))
    m.check()
    m.pod(build_pod("ns", "gpu", req={"nvidia.com/gpu": "1"}))
    s = m.check()
    assert s.dims[-1] == "nvidia.com/gpu" and s.nodes.used.shape == (2, 4)


CARE_POINTS = [
    _priority_class_value_changes, _global_default_appears, _podgroup_arrives_after_its_pods,
    _podgroup_status_update, _queue_capability_changes, _assumed_bind_then_informer_catches_up,
    _forgotten_bind_is_pending_again, _forgotten_gang_pod_without_podgroup_leaves,
    _other_schedulers_pod_until_bound, _scheduler_name_change_moves_pod_into_its_queue, _terminal_pod_frees_its_node,
    _deleting_pod_is_releasing, _node_deleted_under_its_pods, _device_annotation_changes_spec_key,
    _removal_in_the_middle_reindexes, _new_resource_adds_a_dimension,
]


@pytest.mark.parametrize("scenario", CARE_POINTS, ids=[
    "priority-class-value-change-reprioritises", "global-default-class-applies-to-existing-pods",
    "podgroup-arriving-admits-its-pods-in-pod-order", "podgroup-status-update-rebuilds-its-job",
    "queue-update-rebuilds-queue", "assumed-bind-counts-until-informer-shows-it",
    "forgotten-bind-is-pending-again", "forgotten-gang-pod-without-podgroup-is-no-task",
    "other-schedulers-pod-only-once-bound", "scheduler-name-change-moves-pod-into-its-queue",
    "terminal-pod-frees-node",
    "deleting-pod-is-releasing-then-gone", "node-deletion-drops-its-pods-and-shifts-indices",
    "device-annotation-changes-spec-key", "removal-in-the-middle-reindexes-tasks-and-jobs",
    "new-resource-name-adds-a-dimension",
])
def test_care_point(scenario: Callable[[Model], None]) -> None:
    m = Model()
    _two_nodes(m)
    scenario(m)


def test_later_changes_do_not_touch_an_earlier_snapshot() -> None:
    m = Model()
    _two_nodes(m)
    m.pod(build_pod("ns", "w", node="a", req={"cpu": "1"}))
    first = m.check()
    jobs = {k: j.tasks for k, j in first.jobs.items()}
    kept = copy.deepcopy((first.nodes.used, [t.index for t in first.tasks], jobs))
    m.remove("pods", "ns/w")
    m.pod(build_pod("ns", "v", node="a", req={"cpu": "3"}))
    m.pod(build_pod("ns", "w", node="b", req={"cpu": "1"}))
    m.check()
    assert np.array_equal(first.nodes.used, kept[0]) and not first.nodes.used.flags.writeable
    assert [t.index for t in first.tasks] == kept[1]
    assert {k: j.tasks for k, j in first.jobs.items()} == kept[2]
    assert not first.tasks[0].request.flags.writeable


def test_unchanged_objects_reuse_their_tasks_and_jobs() -> None:
    m = Model()
    _two_nodes(m)
    m.pod(build_pod("ns", "a", node="a", req={"cpu": "1"}))
    first = m.check()
    m.pod(build_pod("ns", "b", req={"cpu": "1"}))
    second = m.check()
    assert second.tasks[0] is first.tasks[0] and second.jobs["ns/pod-a"] is first.jobs["ns/pod-a"]
    assert second.tasks is not first.tasks and second.jobs is not first.jobs


def test_from_objects_counts_duplicates_like_snapshot_from_objects() -> None:
    nodes = [build_node("b", {"cpu": "2"}), build_node("a", {"cpu": "4"})]
    pod = build_pod("ns", "w", node="a", req={"cpu": "1"})
    pcs = [build_priority_class("x", 1, True), build_priority_class("y", 2, True), build_priority_class("x", 3, True)]
    got = SnapshotBuilder.from_objects(nodes, [pod, pod], [], [], pcs, config=CONFIG)
    want = snapshot_from_objects(nodes, [pod, pod], [], [], pcs, config=CONFIG)
    assert not snapshot_diff(got, want)
    assert got.nodes.used[0][0] == 2000 and got.tasks[0].priority == 3
