"""Property-based invariants of ``preempt`` and ``reclaim`` over random clusters with running,
partly preemptable load (hypothesis), and agreement of the fast core with the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scheduler.core import Snapshot, parse_config, run_session
from suanli.scheduler.core.reference import reference_schedule
from suanli.scheduler.core.scheduler import decisions_of
from suanli.scheduler.core.snapshot import TaskStatus

from ._builders import build_node, build_pod, build_podgroup, build_priority_class, build_queue, snap

NPU = "huawei.com/Ascend910"
CONF = """
actions: "enqueue, allocate, {actions}"
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
  - name: deviceshare
"""
PCS = [build_priority_class("low", 10), build_priority_class("high", 1000)]


@st.composite
def loaded_clusters(draw: st.DrawFn) -> tuple[Snapshot, str]:
    n_nodes = draw(st.integers(1, 3))
    nodes = []
    for i in range(n_nodes):
        alloc: dict[str, Any] = {"cpu": str(draw(st.sampled_from([2, 4]))), "memory": "8Gi", "pods": "8"}
        if draw(st.booleans()):
            alloc[NPU] = "4"
        nodes.append(build_node(f"n{i}", alloc))
    pods: list[dict[str, Any]] = []
    pgs: list[dict[str, Any]] = []
    for j in range(draw(st.integers(2, 5))):  # running load, one job each
        queue = draw(st.sampled_from(["q1", "q2"]))
        size = draw(st.integers(1, 4))
        pgs.append(build_podgroup("ns", f"run{j}", queue, draw(st.integers(0, 1)), phase="Running",
                                  priority_class=draw(st.sampled_from(["low", "low", "high"])), ts=j))
        req: dict[str, Any] = {"cpu": f"{draw(st.sampled_from([500, 1000]))}m"}
        if draw(st.integers(0, 2)) == 0:
            req[NPU] = "1"
        for k in range(size):
            ns = "kube-system" if draw(st.integers(0, 5)) == 0 else "ns"
            pods.append(build_pod(ns, f"run{j}-{k}", node=f"n{draw(st.integers(0, n_nodes - 1))}", phase="Running",
                                  req=req, group=f"run{j}", preemptable=draw(st.integers(0, 3)) > 0, ts=j))
            if ns == "kube-system":
                pgs.append(build_podgroup(ns, f"run{j}", queue, 0, phase="Running", ts=j))
    for j in range(draw(st.integers(1, 3))):  # waiting work
        queue = draw(st.sampled_from(["q1", "q2"]))
        size = draw(st.integers(1, 3))
        pgs.append(build_podgroup("ns", f"job{j}", queue, draw(st.integers(1, size)),
                                  priority_class=draw(st.sampled_from(["low", "high", "high"])), ts=10 + j))
        req = {"cpu": f"{draw(st.sampled_from([500, 1000, 2000]))}m"}
        if draw(st.integers(0, 2)) == 0:
            req[NPU] = str(draw(st.sampled_from([1, 2])))
        never = {"preemptionPolicy": "Never"} if draw(st.integers(0, 5)) == 0 else None
        for k in range(size):
            pods.append(build_pod("ns", f"job{j}-{k}", req=req, group=f"job{j}", ts=10 + j, spec=never))
    queues = [build_queue("q1", 1, deserved={"cpu": "2", NPU: "2"}), build_queue("q2", 2, deserved={"cpu": "4"})]
    conf = CONF.format(actions=draw(st.sampled_from(["preempt", "reclaim", "preempt, reclaim"])),
                       queue_plugin=draw(st.sampled_from(["proportion", "capacity"])))
    return snap(nodes, pods, pgs, queues, PCS), conf


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(loaded_clusters())
def test_evictions_respect_protection_and_make_room_where_a_task_is_pipelined(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    ssn = run_session(s, parse_config(conf))
    d = decisions_of(ssn)
    by_uid = {t.uid: t for t in s.tasks}
    pipelined_nodes = {p.node for p in d.pipelined}
    for e in d.evictions:
        victim = by_uid[e.uid]
        assert victim.preemptable and not victim.critical
        assert victim.status in (TaskStatus.RUNNING, TaskStatus.BOUND)
        assert e.node in pipelined_nodes, "victims are only evicted on the node a task is pipelined to"
        actor = e.message.rsplit(" ", 1)[-1]  # "... job <ns>/<name>"
        mine, theirs = s.jobs[actor], s.jobs[victim.job]
        if e.reason == "preempt":  # (priority is a tier-1 vote: when it allows none, drf's tier decides)
            assert mine.queue == theirs.queue
        else:
            assert mine.queue != theirs.queue
    # what is left plus what is pipelined fits every node (or at least adds nothing to a dimension the
    # random running load already over-commits)
    before = np.array(s.nodes.used, dtype=np.float64) - np.array(s.nodes.releasing, dtype=np.float64)
    used = before.copy()
    for e in d.evictions:
        used[s.node_index[e.node]] -= by_uid[e.uid].request
    for p in (*d.pipelined, *d.binds):
        used[s.node_index[p.node]] += by_uid[p.uid].request
    touched = sorted({s.node_index[e.node] for e in d.evictions})
    limit = np.maximum(s.nodes.allocatable, before)
    assert (used[touched] <= limit[touched] + 1e-6).all()


@SETTINGS
@given(loaded_clusters())
def test_fast_core_agrees_with_reference_under_eviction(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    cfg = parse_config(conf)
    assert decisions_of(run_session(s, cfg)) == decisions_of(reference_schedule(s, cfg))
