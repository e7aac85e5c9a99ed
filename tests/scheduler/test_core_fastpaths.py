"""The cycle's fast paths agree with plain recomputation.

Covers the shortcuts that keep a cycle's cost proportional to pending work: the
vectorised rendering of decisions (task table, skipped jobs), lazily materialised
gang counts and drf allocations, the vectorised queue accounting, cached
placement entries refreshed row by row, and the scalar one-node score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.scheduler.core import Snapshot, parse_config, run_session
from suanli.scheduler.core.plugins._queues import QueueUsage
from suanli.scheduler.core.plugins.drf import dominant_share
from suanli.scheduler.core.reference import reference_decisions
from suanli.scheduler.core.resources import PODS
from suanli.scheduler.core.scheduler import decisions_of
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, READY_STATES, TaskStatus

from ._builders import build_node, build_pod, build_podgroup, build_queue, snap

ALLOCATE = """
actions: "{actions}"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: {queue_plugin}
  - name: nodeorder
    arguments:
      nodeaffinity.weight: 2
      mostrequested.weight: {most}
"""
ACTIONS = ["enqueue, allocate, backfill", "allocate, backfill", "enqueue, allocate, preempt, reclaim, backfill"]
PHASES = ["Pending", "Inqueue", "Running", "Completed"]
POD_STATES = ["pending", "pending", "running", "bound", "succeeded", "failed", "releasing"]


def _pod(draw: st.DrawFn, name: str, n_nodes: int, group: str | None, queue: str | None) -> dict[str, Any]:
    state = draw(st.sampled_from(POD_STATES))
    node = "" if state in ("pending",) else f"n{draw(st.integers(0, n_nodes - 1))}"
    phase = {"running": "Running", "succeeded": "Succeeded", "failed": "Failed"}.get(state, "Pending")
    req = {"cpu": f"{draw(st.sampled_from([0, 250, 1000]))}m", "memory": f"{draw(st.sampled_from([0, 512]))}Mi"}
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 5)) == 0:
        spec["containers"] = [
            {"name": "c", "resources": {"requests": req}, "ports": [{"containerPort": 80, "hostPort": 8080}]}
        ]
    ann = {"scheduling.volcano.sh/queue-name": queue} if queue else {}
    pod = build_pod(
        "ns", name, node=node, phase=phase, req=req, group=group, annotations=ann, spec=spec, ts=draw(st.integers(0, 9))
    )
    if state == "releasing":
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return pod


@st.composite
def clusters(draw: st.DrawFn) -> tuple[Snapshot, str]:
    """Real gangs in every phase, many singleton pods (bound and pending), pods in a
    missing queue, terminal and releasing pods, host ports."""
    n_nodes = draw(st.integers(1, 5))
    nodes = [
        build_node(f"n{i}", {"cpu": str(draw(st.sampled_from([1, 2, 4]))), "memory": "4Gi", "pods": "8"})
        for i in range(n_nodes)
    ]
    pods: list[dict[str, Any]] = []
    pgs = []
    for j in range(draw(st.integers(0, 3))):
        size = draw(st.integers(1, 3))
        queue = draw(st.sampled_from(["q1", "q2", "missing"]))
        minres = {"cpu": "500m"} if draw(st.booleans()) else None
        pgs.append(
            build_podgroup(
                "ns",
                f"pg{j}",
                queue,
                draw(st.integers(1, size)),
                phase=draw(st.sampled_from(PHASES)),
                min_resources=minres,
                ts=j,
            )
        )
        pods += [_pod(draw, f"pg{j}-{k}", n_nodes, f"pg{j}", None) for k in range(size)]
    for i in range(draw(st.integers(0, 10))):
        pods.append(_pod(draw, f"solo{i}", n_nodes, None, draw(st.sampled_from([None, "q2", "missing"]))))
    queues = [build_queue("q1", 1, {"cpu": "3"}, deserved={"cpu": "2"}), build_queue("q2", 2)]
    conf = ALLOCATE.format(
        actions=draw(st.sampled_from(ACTIONS)),
        queue_plugin=draw(st.sampled_from(["proportion", "capacity"])),
        most=draw(st.sampled_from([0, 1])),
    )
    return snap(nodes, pods, pgs, queues), conf


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(clusters())
def test_decisions_equal_the_task_by_task_rendering(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    ssn = run_session(s, parse_config(conf))
    assert decisions_of(ssn) == reference_decisions(ssn)


@SETTINGS
@given(clusters())
def test_lazy_gang_counts_equal_a_recount_of_final_statuses(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    ssn = run_session(s, parse_config(conf))
    for uid, job in s.jobs.items():
        c = ssn.counts(uid)
        statuses = [ssn.status[i] for i in job.tasks]
        assert c.ready == sum(1 for x in statuses if x in READY_STATES)
        assert c.pipelined == sum(1 for x in statuses if x is TaskStatus.PIPELINED)


@SETTINGS
@given(clusters())
def test_drf_lazy_allocations_equal_held_requests(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    ssn = run_session(s, parse_config(conf))
    drf: Any = next(p for p in ssn.plugins if p.name == "drf")
    held = (TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.PIPELINED)
    for uid, alloc in drf.alloc.items():
        want = sum((s.tasks[i].request for i in s.jobs[uid].tasks if ssn.status[i] in held), np.zeros(len(s.dims)))
        assert alloc.tolist() == want.tolist()
        if uid in drf.share:  # victims may materialise an allocation without its share
            assert drf.share[uid] == dominant_share(alloc, drf.total)


@SETTINGS
@given(clusters())
def test_queue_usage_equals_a_loop_over_tasks(case: tuple[Snapshot, str]) -> None:
    s, conf = case
    ssn = Session(s, parse_config(conf))
    usage = QueueUsage(ssn)
    for qname in s.queues:
        alloc, req, inq = np.zeros(len(s.dims)), np.zeros(len(s.dims)), np.zeros(len(s.dims))
        for job in s.jobs.values():
            if job.queue != qname:
                continue
            got = np.zeros(len(s.dims))
            for i in job.tasks:
                t = s.tasks[i]
                if t.status in OCCUPYING:
                    alloc += t.request
                if t.status in READY_STATES:
                    got += t.request
                if t.status not in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
                    req += t.request
            if job.phase == "Inqueue" and job.min_resources is not None:
                inq += np.maximum(job.min_resources - got, 0.0)
        for v in (alloc, req, inq):
            v[PODS] = 0.0
        assert usage.allocated[qname].tolist() == alloc.tolist()
        assert usage.request[qname].tolist() == req.tolist()
        assert usage.inqueue[qname].tolist() == inq.tolist()


def _many_placements(n_nodes: int, pending: int) -> Snapshot:
    nodes = [build_node(f"n{i:02d}", {"cpu": str(1 + i % 4), "memory": f"{2 + i % 3}Gi"}) for i in range(n_nodes)]
    pods = [
        build_pod("ns", f"b{i}", node=f"n{i % n_nodes:02d}", phase="Running", req={"cpu": "100m"})
        for i in range(n_nodes)
    ]
    sizes = [("250m", "256Mi"), ("500m", "128Mi"), ("100m", "1Gi")]
    pods += [
        build_pod("ns", f"p{i}", req={"cpu": sizes[i % 3][0], "memory": sizes[i % 3][1]}, ts=i % 60)
        for i in range(pending)
    ]
    return snap(nodes, pods)


@pytest.mark.parametrize(
    ("n_nodes", "pending"),
    [(1, 5), (16, 40), (40, 200)],
    ids=["one-node-refreshed-every-time", "few-rows-changed-between-lookups", "many-rows-changed-full-refresh"],
)
def test_cached_placement_entries_equal_a_fresh_computation(n_nodes: int, pending: int) -> None:
    ssn = run_session(
        _many_placements(n_nodes, pending),
        parse_config(ALLOCATE.format(actions="enqueue, allocate, backfill", queue_plugin="proportion", most=1)),
    )
    assert ssn.binds, "the scenario must place pods"
    for t in ssn.tasks:
        if t.status is not TaskStatus.PENDING:
            continue
        e = ssn._entry(t)
        assert e.pred.tolist() == ssn.predicate(t, None).tolist()
        assert e.fit_future.tolist() == ssn.fit(t, None).tolist()
        assert e.score.tolist() == ssn.node_scores(t, None).tolist()
        fresh = np.where(ssn.predicate(t, None) & ssn.fit(t, None), ssn.node_scores(t, None), -np.inf)
        assert e.masked.tolist() == fresh.tolist()


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"mostrequested.weight": 3, "leastrequested.weight": 0},
        {"balancedresource.weight": 2, "nodeaffinity.weight": 5},
    ],
    ids=["default-weights", "most-requested-only", "balanced-and-affinity"],
)
def test_one_node_score_is_bit_identical_to_the_vectorised_score(args: dict[str, Any]) -> None:
    nodes = [
        build_node("a", {"cpu": "3", "memory": "7Gi"}, {"zone": "x"}),
        build_node("b", {"cpu": "0", "memory": "1Gi"}),  # zero CPU: that term scores 0
        build_node("c", {"cpu": "1", "memory": "3Gi"}, {"zone": "x"}),
    ]
    pref = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}}
        ]
    }
    pods = [
        build_pod("ns", "old", node="c", phase="Running", req={"cpu": "900m", "memory": "1000Mi"}),
        build_pod("ns", "p", req={"cpu": "333m", "memory": "777Mi"}, spec={"affinity": {"nodeAffinity": pref}}),
        build_pod("ns", "big", req={"cpu": "2500m", "memory": "5Gi"}),  # overcommits c: used > allocatable
    ]
    conf = "actions: allocate\ntiers:\n- plugins:\n  - name: nodeorder\n    arguments: " + repr(args).replace("'", "")
    ssn = Session(snap(nodes, pods), parse_config(conf))
    plugin: Any = next(p for p in ssn.plugins if p.name == "nodeorder")
    for t in ssn.tasks:
        whole = plugin.score(t, None).tolist()
        for r in range(ssn.N):
            assert plugin._score_one(t, r) == whole[r]
            assert plugin.score(t, np.array([r])).tolist() == [whole[r]]
