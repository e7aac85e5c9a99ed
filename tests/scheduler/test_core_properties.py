"""Property-based invariants over random clusters and workloads (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scheduler.core import Decisions, Snapshot, parse_config, run_session, schedule
from suanli.scheduler.core.reference import reference_schedule
from suanli.scheduler.core.scheduler import decisions_of
from suanli.scheduler.core.snapshot import TaskStatus

from ._builders import build_node, build_pod, build_podgroup, build_queue, snap

NPU = "huawei.com/Ascend910"
FULL = """
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: {queue_plugin}
  - name: nodeorder
    arguments:
      nodeaffinity.weight: 2
  - name: binpack
    arguments:
      binpack.weight: {binpack_weight}
      binpack.resources: huawei.com/Ascend910
  - name: deviceshare
"""

ZONES = ["a", "b", "c"]


@st.composite
def clusters(draw: st.DrawFn) -> tuple[Snapshot, str]:
    n_nodes = draw(st.integers(1, 6))
    nodes = []
    for i in range(n_nodes):
        alloc: dict[str, Any] = {
            "cpu": str(draw(st.sampled_from([1, 2, 4, 8]))),
            "memory": f"{draw(st.sampled_from([2, 4, 8]))}Gi",
            "pods": str(draw(st.integers(1, 6))),
        }
        if draw(st.booleans()):
            alloc[NPU] = str(draw(st.sampled_from([2, 4, 8])))
        taints = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}] if draw(st.integers(0, 4)) == 0 else []
        nodes.append(
            build_node(
                f"n{i}",
                alloc,
                {"zone": draw(st.sampled_from(ZONES))},
                taints=taints,
                unschedulable=draw(st.integers(0, 6)) == 0,
            )
        )
    pods: list[dict[str, Any]] = []
    pgs: list[dict[str, Any]] = []
    for j in range(draw(st.integers(1, 5))):
        size = draw(st.integers(1, 4))
        min_member = draw(st.integers(1, size))
        queue = draw(st.sampled_from(["q1", "q2"]))
        pgs.append(
            build_podgroup(
                "ns", f"job{j}", queue, min_member, phase=draw(st.sampled_from(["Pending", "Inqueue"])), ts=j
            )
        )
        req: dict[str, Any] = {
            "cpu": f"{draw(st.sampled_from([0, 250, 500, 1000, 2000]))}m",
            "memory": f"{draw(st.sampled_from([0, 256, 1024]))}Mi",
        }
        if draw(st.integers(0, 3)) == 0:
            req[NPU] = str(draw(st.sampled_from([1, 2, 4])))
        spec: dict[str, Any] = {}
        if draw(st.integers(0, 3)) == 0:
            spec["nodeSelector"] = {"zone": draw(st.sampled_from(ZONES))}
        if draw(st.integers(0, 3)) == 0:
            spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        if draw(st.integers(0, 3)) == 0:
            spec["affinity"] = {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 5,
                            "preference": {
                                "matchExpressions": [
                                    {"key": "zone", "operator": "In", "values": [draw(st.sampled_from(ZONES))]}
                                ]
                            },
                        }
                    ]
                }
            }
        for k in range(size):
            pods.append(
                build_pod(
                    "ns",
                    f"job{j}-{k}",
                    req=req,
                    group=f"job{j}",
                    spec=spec,
                    ts=j,
                    priority=draw(st.sampled_from([0, 10])),
                )
            )
    # some already-running load
    for i in range(draw(st.integers(0, 3))):
        node = f"n{draw(st.integers(0, n_nodes - 1))}"
        pods.append(build_pod("ns", f"old{i}", node=node, phase="Running", req={"cpu": "250m"}))
    caps = draw(st.sampled_from([None, {"cpu": "2"}, {"cpu": "3", NPU: "4"}]))
    queues = [build_queue("q1", 1, caps, deserved={"cpu": "1"}), build_queue("q2", 2)]
    plugin = draw(st.sampled_from(["proportion", "capacity"]))
    conf = FULL.format(queue_plugin=plugin, binpack_weight=draw(st.sampled_from([0, 1, 5])))
    return snap(nodes, pods, pgs, queues), conf


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bound_usage(s: Snapshot, d: Decisions) -> np.ndarray[Any, Any]:
    used = np.array(s.nodes.used, dtype=np.float64)
    by_uid = {t.uid: t for t in s.tasks}
    for b in d.binds:
        used[s.node_index[b.node]] += by_uid[b.uid].request
    return used


@SETTINGS
@given(clusters())
def test_no_node_resource_or_device_is_over_allocated(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    d = schedule(s, parse_config(conf))
    used = _bound_usage(s, d)
    touched = sorted({s.node_index[b.node] for b in d.binds})  # pre-existing load may already overflow
    assert (used[touched] <= s.nodes.allocatable[touched] + 1e-6).all()
    ids: dict[str, list[int]] = {}
    for b in d.binds:
        raw = b.annotations.get("suanli.io/allocated-devices")
        if raw:
            ids.setdefault(b.node, []).extend(int(i) for i in json.loads(raw)[NPU])
    for node, got in ids.items():
        assert len(got) == len(set(got)) and all(
            0 <= i < s.nodes.allocatable[s.node_index[node], s.dim_index[NPU]] for i in got
        )


@SETTINGS
@given(clusters())
def test_gangs_are_never_partially_bound(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    d = schedule(s, parse_config(conf))
    bound = {b.uid for b in d.binds}
    for job in s.jobs.values():
        new = sum(1 for i in job.tasks if s.tasks[i].uid in bound)
        if new:
            already = sum(1 for i in job.tasks if s.tasks[i].status in (TaskStatus.RUNNING, TaskStatus.BOUND))
            # as Volcano's gang (IsReady), pending best-effort tasks count towards the minimum
            best_effort = sum(1 for i in job.tasks if s.tasks[i].best_effort and s.tasks[i].uid not in bound
                              and s.tasks[i].status is TaskStatus.PENDING)
            assert new + already + best_effort >= job.min_member


@SETTINGS
@given(clusters())
def test_queue_capability_is_never_exceeded(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    d = schedule(s, parse_config(conf))
    by_uid = {t.uid: t for t in s.tasks}
    alloc: dict[str, np.ndarray[Any, Any]] = {q: np.zeros(len(s.dims)) for q in s.queues}
    for t in s.tasks:
        if t.status in (TaskStatus.RUNNING, TaskStatus.BOUND):
            alloc[s.jobs[t.job].queue] += t.request
    for b in d.binds:
        t = by_uid[b.uid]
        alloc[s.jobs[t.job].queue] += t.request
    for name, q in s.queues.items():
        mask = np.isfinite(q.capability)
        mask[2] = False
        assert (alloc[name][mask] <= q.capability[mask] + 1e-6).all()


@SETTINGS
@given(clusters())
def test_fast_core_agrees_with_reference(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    cfg = parse_config(conf)
    fast = run_session(s, cfg)
    ref = reference_schedule(s, cfg)
    assert decisions_of(fast) == decisions_of(ref)
    for t in s.tasks:
        if fast.status[t.index] is TaskStatus.PENDING:
            assert fast.feasible(t).tolist() == ref.feasible(t).tolist()
            np.testing.assert_allclose(fast.node_scores(t, None), ref.scores(t), rtol=1e-9, atol=1e-9)  # type: ignore[attr-defined]


@SETTINGS
@given(clusters())
def test_same_input_same_decisions(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    assert schedule(s, parse_config(conf)) == schedule(s, parse_config(conf))
