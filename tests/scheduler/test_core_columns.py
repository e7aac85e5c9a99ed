"""Task columns: the one-shot derivation, the builder's incremental upkeep across bind cycles,
and that a session over a snapshot without precomputed columns decides the same."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import parse_config, schedule, snapshot_from_objects
from suanli.scheduler.core.snapshot import STATUS_CODE, Snapshot, TaskStatus, task_columns
from suanli.scheduler.core.snapshot_builder import SnapshotBuilder

from ._builders import build_node, build_pod, build_podgroup, build_queue
from ._snapshot_equal import snapshot_diff

NODES = [build_node(f"n{i}", {"cpu": "4", "memory": "8Gi"}) for i in range(3)]


def test_columns_worked_example() -> None:
    pods = [
        build_pod(
            "ns",
            "a",
            node="n0",
            phase="Running",
            req={"cpu": "100m"},
            annotations={"scheduling.volcano.sh/queue-name": "q0"},
        ),
        build_pod("ns", "b", req={"cpu": "200m"}, annotations={"scheduling.volcano.sh/queue-name": "q1"}),
        build_pod("ns", "c", req={"cpu": "300m"}, annotations={"scheduling.volcano.sh/queue-name": "gone"}),
    ]
    s = snapshot_from_objects(NODES, pods, [], [build_queue("q0"), build_queue("q1")], [])
    cols = s.cols
    assert cols.requests[:, 0].tolist() == [100.0, 200.0, 300.0]
    assert cols.queue_of.tolist() == [0, 1, -1]
    pending, running = STATUS_CODE[TaskStatus.PENDING], STATUS_CODE[TaskStatus.RUNNING]
    assert cols.codes.tolist() == [running, pending, pending]
    assert cols.pending == [1, 2]
    assert cols.active_jobs == ["ns/pod-b", "ns/pod-c"]
    assert cols.podgroup_jobs == []  # synthetic single-pod jobs are not PodGroups
    assert not cols.requests.flags.writeable


def _bind(pod: Obj, node: str) -> Obj:
    return {**pod, "spec": {**pod["spec"], "nodeName": node}, "status": {"phase": "Running"}}


Step = Callable[[SnapshotBuilder, int], None]


def _new_and_bind(b: SnapshotBuilder, cycle: int) -> None:
    for k in range(3):
        b.upsert_pod(build_pod("ns", f"p{cycle}-{k}", req={"cpu": "100m"}, ts=cycle))
    if cycle:
        for k in range(3):
            b.upsert_pod(_bind(build_pod("ns", f"p{cycle - 1}-{k}", req={"cpu": "100m"}, ts=cycle - 1), "n1"))


def _gang_moves_queue(b: SnapshotBuilder, cycle: int) -> None:
    _new_and_bind(b, cycle)
    b.upsert_podgroup(build_podgroup("ns", "g", "q1" if cycle % 2 else "default", 1, phase="Inqueue"))
    b.upsert_pod(build_pod("ns", "member", req={"cpu": "1"}, group="g"))


def _queues_come_and_go(b: SnapshotBuilder, cycle: int) -> None:
    _new_and_bind(b, cycle)
    b.upsert_queue(build_queue("q1", weight=cycle + 1))  # a status-only kind of change: same names
    if cycle == 2:
        b.remove_queue(build_queue("q1"))
    if cycle == 3:
        b.upsert_queue(build_queue("a-first"))


def _pod_deleted(b: SnapshotBuilder, cycle: int) -> None:
    _new_and_bind(b, cycle)
    if cycle == 2:
        b.remove_pod(build_pod("ns", "p0-1"))


@pytest.mark.parametrize(
    "step",
    [_new_and_bind, _gang_moves_queue, _queues_come_and_go, _pod_deleted],
    ids=[
        "new pods then their binds",
        "a gang's queue flips each cycle",
        "queues change and are renamed",
        "a bound pod is deleted mid-run",
    ],
)
def test_builder_columns_match_reference_every_cycle(step: Step) -> None:
    b = SnapshotBuilder()
    for n in NODES:
        b.upsert_node(n)
    b.upsert_queue(build_queue("default"))
    b.upsert_queue(build_queue("q1"))
    earlier: list[Snapshot] = []
    for cycle in range(5):
        step(b, cycle)
        got = b.snapshot()
        want = task_columns(got.tasks, got.jobs, got.queues, len(got.dims))
        got_cols = got.columns
        assert got_cols is not None
        for field in (
            "status",
            "node",
            "pending",
            "active_jobs",
            "pending_phase",
            "inqueue",
            "podgroup_jobs",
        ):
            assert getattr(got_cols, field) == getattr(want, field), field
        assert list(got_cols.job_phase.items()) == list(want.job_phase.items())
        for field in ("requests", "queue_of", "codes"):
            assert np.array_equal(getattr(got_cols, field), getattr(want, field)), field
        earlier.append(got)
    # snapshots handed out earlier keep their own columns
    first = earlier[0].columns
    assert first is not None and len(first.status) == len(earlier[0].tasks)


def test_snapshot_without_columns_decides_the_same() -> None:
    pods = [build_pod("ns", f"p{i}", req={"cpu": "1"}) for i in range(5)]
    pods.append(build_pod("ns", "bound", node="n0", phase="Running", req={"cpu": "2"}))
    pgs = [build_podgroup("ns", "g", "default", 2, phase="Pending")]
    pods += [build_pod("ns", f"g{i}", req={"cpu": "1"}, group="g") for i in range(2)]
    with_cols = snapshot_from_objects(NODES, pods, pgs, [build_queue("default")], [])
    without = snapshot_from_objects(NODES, pods, pgs, [build_queue("default")], [])
    without.columns = None
    cfg = parse_config(None)
    a, b = schedule(with_cols, cfg), schedule(without, cfg)
    assert a == b
    assert len(a.binds) == 7
    assert not snapshot_diff(with_cols, without)  # the lazily derived columns equal the eager ones
