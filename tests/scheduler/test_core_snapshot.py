"""snapshot_from_objects: requests, dimensions, usage, jobs, queues, priorities."""

from __future__ import annotations

import numpy as np
import pytest

from suanli.scheduler.core import TaskStatus
from suanli.scheduler.core.snapshot import pod_request

from ._builders import build_node, build_pod, build_podgroup, build_priority_class, build_queue, snap


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {
                "containers": [
                    {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                    {"resources": {"requests": {"cpu": "250m"}}},
                ]
            },
            {"cpu": 750.0, "memory": 2.0**30},
        ),
        (
            {
                "containers": [{"resources": {"requests": {"cpu": "1"}}}],
                "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "1Mi"}}}],
            },
            {"cpu": 2000.0, "memory": 2.0**20},
        ),
        ({"containers": [{"resources": {"limits": {"huawei.com/Ascend910": "4"}}}]}, {"huawei.com/Ascend910": 4.0}),
        ({"containers": [{"resources": {"requests": {"cpu": "1"}}}], "overhead": {"cpu": "100m"}}, {"cpu": 1100.0}),
        (
            {"containers": [{"resources": {"requests": {"cpu": "1e400", "memory": "-1e400"}}}]},
            {"cpu": float(2**63 - 1), "memory": -float(2**63 - 1)},
        ),
    ],
    ids=["containers-sum", "init-containers-max-rule", "limits-default-requests-for-extended", "overhead-added",
         "beyond-float64-saturates-at-int64-instead-of-failing-the-cycle"],
)
def test_pod_request(spec: dict[str, object], expected: dict[str, float]) -> None:
    assert pod_request({"spec": spec}) == expected


def test_dimensions_usage_and_terminal_pods() -> None:
    nodes = [
        build_node("a", {"cpu": "4", "memory": "8Gi", "huawei.com/Ascend910": "8"}),
        build_node("b", {"cpu": "2", "memory": "4Gi"}),
    ]
    pods = [
        build_pod("ns", "run", node="a", phase="Running", req={"cpu": "1", "huawei.com/Ascend910": "2"}),
        build_pod("ns", "done", node="a", phase="Succeeded", req={"cpu": "3"}),
        build_pod("ns", "wait", req={"cpu": "1", "example.com/foo": "1"}),
    ]
    s = snap(nodes, pods)
    assert s.dims == ("cpu", "memory", "pods", "example.com/foo", "huawei.com/Ascend910")
    assert s.nodes.allocatable[0].tolist() == [4000.0, 8 * 2.0**30, 110.0, 0.0, 8.0]
    assert s.nodes.used[0].tolist() == [1000.0, 0.0, 1.0, 0.0, 2.0]
    assert s.nodes.used[1].tolist() == [0.0] * 5
    status = {t.name: t.status for t in s.tasks}
    assert status == {"run": TaskStatus.RUNNING, "done": TaskStatus.SUCCEEDED, "wait": TaskStatus.PENDING}
    assert not s.nodes.allocatable.flags.writeable


def test_jobs_from_podgroups_and_plain_pods() -> None:
    pods = [
        build_pod("ns", "w0", req={"cpu": "1"}, group="pg", role="worker"),
        build_pod("ns", "w1", req={"cpu": "1"}, group="pg", role="worker"),
        build_pod("ns", "solo", req={"cpu": "1"}, annotations={"scheduling.volcano.sh/queue-name": "q2"}),
    ]
    pg = build_podgroup("ns", "pg", "q1", 2, {"worker": 2}, phase="Pending")
    s = snap([build_node("a", {"cpu": "4"})], pods, [pg], [build_queue("q1"), build_queue("q2")])
    job = s.jobs["ns/pg"]
    assert (job.queue, job.min_member, job.min_task_member, job.phase) == ("q1", 2, {"worker": 2}, "Pending")
    assert [s.tasks[i].name for i in job.tasks] == ["w0", "w1"]
    solo = s.jobs["ns/pod-solo"]
    assert solo.synthetic and solo.queue == "q2" and solo.min_member == 1
    assert "default" in s.queues  # synthesised


def test_priority_resolution_and_scheduler_name_filter() -> None:
    pcs = [build_priority_class("high", 1000), build_priority_class("base", 5, global_default=True)]
    pods = [
        build_pod("ns", "explicit", priority=7),
        build_pod("ns", "classed", priority_class="high"),
        build_pod("ns", "defaulted"),
        build_pod("ns", "foreign", spec={"schedulerName": "other"}),
    ]
    s = snap([build_node("a", {"cpu": "1"})], pods, pcs=pcs)
    assert {t.name: t.priority for t in s.tasks} == {"explicit": 7, "classed": 1000, "defaulted": 5}


def test_queue_vectors() -> None:
    q = build_queue("q", 3, {"cpu": "10"}, deserved={"cpu": "4", "nvidia.com/gpu": "2"}, guarantee={"cpu": "1"})
    s = snap([build_node("a", {"cpu": "16", "nvidia.com/gpu": "8"})], [], queues=[q])
    qi = s.queues["q"]
    gpu = s.dim_index["nvidia.com/gpu"]
    assert qi.weight == 3 and qi.capability[0] == 10000 and np.isinf(qi.capability[gpu])
    assert qi.deserved is not None and qi.deserved[gpu] == 2 and qi.guarantee[0] == 1000
