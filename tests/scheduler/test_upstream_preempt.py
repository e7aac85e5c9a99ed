"""Volcano's ``preempt`` action unit-test table (pkg/scheduler/actions/preempt/preempt_test.go,
``TestPreempt``, ``TestNormalPreemptRechecksPredicateAfterEviction`` and the queue-priority
case of ``TestTopologyAwarePreempt``), run through the pure core.

Inputs and expected evictions are upstream's; the code is ours. Upstream's
``minTaskMember: {"": n}`` entries are left out: in every case here either
``minMember`` is below their sum (Volcano then skips the per-task check) or they
equal ``minMember`` for the job's only task name. Not ported: the PodAntiAffinity
case (inter-pod affinity is not implemented) and the topology-aware algorithm's
own table (``enableTopologyAwarePreemption`` is not implemented; its other cases
repeat these).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import parse_config, schedule
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.registry import register_plugin
from suanli.scheduler.core.resources import BoolArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo, TaskStatus

from ._builders import build_node, build_priority_class, snap
from ._upstream_evict import cfg, pg, pod, queue

PCS = [build_priority_class("high-priority", 100000), build_priority_class("low-priority", 10)]

#: upstream's TestPreempt tier (only the plugins it registers take part)
TIER = {
    "conformance": ["Preemptable"],
    "gang": ["Preemptable", "JobPipelined", "JobStarving"],
    "priority": ["TaskOrder", "JobOrder", "Preemptable", "JobPipelined", "JobStarving"],
    "proportion": ["Overused", "Allocatable", "QueueOrder"],
}


def node(name: str, cpu: str, mem: str, pods: str = "10") -> Obj:
    return build_node(name, {"cpu": cpu, "memory": mem, "pods": pods})


@dataclass
class Case:
    nodes: list[Obj]
    pods: list[Obj]
    pgs: list[Obj]
    queues: list[Obj]
    evicted: list[str]
    pipelined: dict[str, str] = field(default_factory=dict)


HIGH, LOW = "high-priority", "low-priority"

CASES: dict[str, Case] = {
    "no-eviction-when-idle-resources-suffice": Case(
        [node("n1", "10", "10G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptor1", "", "1", "1G", "pg1"),
        ],
        [pg("pg1", "q1", 3)],
        [queue("q1")],
        [],
        {"preemptor1": "n1"},
    ),
    "no-eviction-when-every-job-is-already-pipelined": Case(
        [node("n1", "3", "3G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee3", "n1", "1", "1G", "pg2", preemptable=True),
            pod("preemptor2", "", "1", "1G", "pg2"),
        ],
        [pg("pg1", "q1", 1), pg("pg2", "q1", 1)],
        [queue("q1")],
        [],
    ),
    "evicts-the-one-preemptable-task-of-a-lower-priority-job": Case(
        [node("n1", "2", "2G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=False),
            pod("preemptor1", "", "1", "1G", "pg2"),
            pod("preemptor2", "", "1", "1G", "pg2"),
        ],
        [pg("pg1", "q1", 1, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1")],
        ["preemptee1"],
        {"preemptor1": "n1"},
    ),
    "evicts-enough-preemptable-tasks-for-a-large-task-skipping-non-preemptable": Case(
        [node("n1", "6", "6G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee3", "n1", "1", "1G", "pg1", preemptable=False),
            pod("preemptor1", "", "5", "5G", "pg2"),
        ],
        [pg("pg1", "q1", 1, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1")],
        ["preemptee1", "preemptee2"],
        {"preemptor1": "n1"},
    ),
    "queue-at-capability-evicts-its-lower-priority-job-although-the-node-has-room": Case(
        [node("n1", "12", "12G")],
        [
            pod("preemptee1", "n1", "3", "3G", "pg1", preemptable=True),
            pod("preemptor1", "", "3", "3G", "pg2"),
        ],
        [pg("pg1", "q1", 0, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "4", "memory": "4G"})],
        ["preemptee1"],
        {"preemptor1": "n1"},
    ),
    "no-eviction-when-the-queue-can-still-allocate": Case(
        [node("n1", "12", "12G")],
        [
            pod("preemptee1", "n1", "3", "3G", "pg1", preemptable=True),
            pod("preemptor1", "", "3", "3G", "pg2"),
        ],
        [pg("pg1", "q1", 1, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "6", "memory": "6G"})],
        [],
        {"preemptor1": "n1"},
    ),
    "skips-non-preemptable-and-higher-priority-tasks-of-the-victim-job": Case(
        [node("n1", "12", "12G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=False),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee3", "n1", "1", "1G", "pg1", preemptable=True, priority=100000),
            pod("preemptor1", "", "1", "1G", "pg2"),
        ],
        [pg("pg1", "q1", 1, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "3", "memory": "3G"})],
        ["preemptee2"],
        {"preemptor1": "n1"},
    ),
    "non-best-effort-preemptor-evicts-a-best-effort-pod-for-the-pod-slot": Case(
        [node("n1", "12", "12G", pods="1")],
        [
            pod("preemptee1", "n1", "", "", "pg1", preemptable=True),
            pod("preemptor1", "", "3", "3G", "pg2"),
        ],
        [pg("pg1", "q1", 0, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "6", "memory": "6G"})],
        ["preemptee1"],
    ),
    "best-effort-preemptor-evicts-a-best-effort-pod": Case(
        [node("n1", "12", "12G", pods="1")],
        [
            pod("preemptee1", "n1", "", "", "pg1", preemptable=True),
            pod("preemptor1", "", "", "", "pg2"),
        ],
        [pg("pg1", "q1", 0, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "6", "memory": "6G"})],
        ["preemptee1"],
    ),
    "preemption-policy-never-evicts-nothing": Case(
        [node("n1", "1", "1Gi", pods="1")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptor1", "", "1", "1G", "pg2", never=True),
        ],
        [pg("pg1", "q1", 0, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1")],
        [],
    ),
    "evictions-are-undone-when-the-queue-still-cannot-take-the-preemptor": Case(
        [node("n1", "10", "10G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptor1", "", "4", "4G", "pg2"),
        ],
        [pg("pg1", "q1", 1, prio=LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [queue("q1", 1, {"cpu": "3", "memory": "3G"})],
        [],
    ),
    "only-the-winning-nodes-evictions-are-committed": Case(
        [node("n1", "3", "3G"), node("n2", "4", "4G")],
        [
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptee2", "n2", "4", "4G", "pg3", preemptable=True),
            pod("preemptor1", "", "3", "3G", "pg2"),
        ],
        [pg("pg1", "q1", 0, prio=LOW), pg("pg2", "q1", 1, prio=HIGH), pg("pg3", "q1", 0, prio=LOW)],
        [queue("q1", 1, {"cpu": "6", "memory": "6G"})],
        ["preemptee2"],
        {"preemptor1": "n2"},
    ),
    "a-second-queue-does-not-hide-the-preemptor-of-another": Case(
        [node("n1", "2", "2G")],
        [
            pod("q1-runner1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("q2-preemptee1", "n1", "1", "1G", "pg2", preemptable=True),
            pod("q2-preemptor1", "", "1", "1G", "pg3"),
        ],
        [pg("pg1", "q1", 1), pg("pg2", "q2", 0, prio=LOW), pg("pg3", "q2", 1, prio=HIGH)],
        [queue("q1"), queue("q2", 1, {"cpu": "4", "memory": "4G"})],
        ["q2-preemptee1"],
        {"q2-preemptor1": "n1"},
    ),
    "victims-come-from-the-preemptors-own-queue-only": Case(
        [node("n1", "2", "2Gi", pods="2")],
        [
            pod("preemptee2", "n1", "1", "1G", "pg3", preemptable=True),
            pod("preemptee1", "n1", "1", "1G", "pg1", preemptable=True),
            pod("preemptor1", "", "1", "1G", "pg2"),
        ],
        [pg("pg3", "q2", 1, "Running", HIGH), pg("pg1", "q1", 0, "Running", LOW), pg("pg2", "q1", 1, prio=HIGH)],
        [
            queue("q1", 1, {"cpu": "1", "memory": "1G"}, priority=1, deserved={"cpu": "1", "memory": "1G"}),
            queue("q2", 1, {"cpu": "1", "memory": "1G"}, priority=10, deserved={"cpu": "1", "memory": "1G"}),
        ],
        ["preemptee1"],
        {"preemptor1": "n1"},
    ),
}


def _run(case: Case, tier: dict[str, list[str]]) -> tuple[list[str], dict[str, str]]:
    d = schedule(snap(case.nodes, case.pods, case.pgs, case.queues, PCS), cfg(["preempt"], tier))
    return sorted(e.name for e in d.evictions), {p.name: p.node for p in d.pipelined}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_preempt_table(case: Case) -> None:
    evicted, pipelined = _run(case, TIER)
    assert evicted == sorted(case.evicted)
    for name, where in case.pipelined.items():
        assert pipelined.get(name) == where


def test_preempt_evicts_least_important_first() -> None:
    """Among equal victims the newest/last task goes first (reverse task order); upstream
    lists ``preemptee2`` before ``preemptee1`` for the large task."""
    case = CASES["evicts-enough-preemptable-tasks-for-a-large-task-skipping-non-preemptable"]
    d = schedule(snap(case.nodes, case.pods, case.pgs, case.queues, PCS), cfg(["preempt"], TIER))
    assert [e.name for e in d.evictions] == ["preemptee2", "preemptee1"]


# ------------------------------------------------------------------- predicate re-check


class _HiddenDevicePlugin(BasePlugin):
    """Upstream's ``device-fit-after-eviction`` test plugin: ``preemptor`` fails (curably)
    on a node while ``preemptee`` holds it and is not releasing."""

    name = "test-hidden-device"

    def on_session_open(self, ssn: Session) -> None:
        def predicate(task: TaskInfo, rows: Sequence[int] | None) -> BoolArray:
            idx = range(ssn.N) if rows is None else list(rows)
            if task.name != "preemptor":
                return np.ones(len(idx), dtype=np.bool_)
            held = {
                ssn.task_node[t.index]
                for t in ssn.tasks
                if t.name == "preemptee" and ssn.status[t.index] is not TaskStatus.RELEASING
            }
            return np.array([i not in held for i in idx], dtype=np.bool_)

        ssn.add_predicate_fn(self.name, predicate, resolvable=True)  # type: ignore[arg-type]


register_plugin(_HiddenDevicePlugin.name, _HiddenDevicePlugin)


def test_preempt_rechecks_predicate_after_eviction() -> None:
    tier = {**TIER, "gang": ["JobPipelined", "JobStarving"], _HiddenDevicePlugin.name: ["Predicate"]}
    case = Case(
        [node("n1", "2", "2G")],
        [pod("preemptee", "n1", "1", "1G", "pg-low", preemptable=True), pod("preemptor", "", "1", "1G", "pg-high")],
        [pg("pg-low", "q1", 1, prio=LOW), pg("pg-high", "q1", 1, prio=HIGH)],
        [queue("q1")],
        ["preemptee"],
    )
    evicted, pipelined = _run(case, tier)
    assert evicted == ["preemptee"] and pipelined == {"preemptor": "n1"}


#: Volcano's default tiers (every extension point on) with preempt after allocate
DEFAULT_WITH_PREEMPT = parse_config(
    """
actions: "enqueue, allocate, preempt, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
"""
)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_preempt_table_under_the_default_tiers(case: Case) -> None:
    """The same evictions with a real configuration, where unset switches default to on."""
    d = schedule(snap(case.nodes, case.pods, case.pgs, case.queues, PCS), DEFAULT_WITH_PREEMPT)
    assert sorted(e.name for e in d.evictions) == sorted(case.evicted)
