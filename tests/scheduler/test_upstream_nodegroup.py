"""Volcano ``pkg/scheduler/plugins/nodegroup/nodegroup_test.go`` (master), ported.

``TestNodeGroup``: per task and node, the plugin's score and whether the predicate
passes, as upstream, read from an open session. Not ported: ``TestNodeGroupResourceLimits``
and ``TestNodeGroupResourceLimitAllocationEvent`` (the per-node-group resource limits
annotation, which we do not support); docs/architecture.md, "Allocation semantics".
"""

from __future__ import annotations

from typing import Any

import pytest

from suanli.scheduler.core import parse_config
from suanli.scheduler.core.session import Session

from ._builders import snap
from ._upstream import conf, node, pg, pod, queue, res

GROUP = "volcano.sh/nodegroup-name"
NODES = [
    node("n1", res("2", "4Gi"), {GROUP: "group1"}),
    node("n2", res("4", "16Gi"), {GROUP: "group2"}),
    node("n3", res("4", "16Gi"), {GROUP: "group3"}),
    node("n4", res("4", "16Gi"), {GROUP: "group4"}),
    node("n5", res("4", "16Gi")),
]
R = "requiredDuringSchedulingIgnoredDuringExecution"
P = "preferredDuringSchedulingIgnoredDuringExecution"


def affinity(req: list[str], pref: list[str], anti_req: list[str], anti_pref: list[str]) -> dict[str, Any]:
    return {"nodeGroupAffinity": {R: req, P: pref}, "nodeGroupAntiAffinity": {R: anti_req, P: anti_pref}}


FULL = affinity(["group1", "group3"], ["group3"], ["group2", "group4"], ["group4"])
ROOT_Q = queue("root", affinity=FULL)
Q1 = queue("q1", affinity=FULL, parent="root")
Q2 = queue("q2", affinity=affinity(["group1"], ["group3"], ["group2"], ["group4"]), parent="root")
Q3 = queue("q3", affinity={"nodeGroupAffinity": {P: ["group1", "group3"]}})
NO_AFF_ROOT = queue("root-no-affinity")
NO_AFF = queue("q-no-affinity", parent="root")
Q1_CHILD = queue("q1-child", parent="q1")
NO_AFF_CHILD = queue("q-no-affinity-child", parent="q-no-affinity")

SUBSET = ({"n1": 100, "n2": 0, "n3": 150, "n4": -1, "n5": 0}, {"n1", "n3", "n4"})
CASES: dict[str, tuple[str, list[dict[str, Any]], dict[str, Any], bool, dict[str, float], set[str]]] = {
    # id: (queue of the pod, queues, arguments, hierarchy, scores, nodes that pass)
    "preferred-groups-inside-required-groups": ("q1", [Q1], {}, False, *SUBSET),
    "preferred-groups-outside-required-groups": (
        "q2", [Q2], {}, False, {"n1": 100, "n2": 0, "n3": 50, "n4": -1, "n5": 0}, {"n1", "n3", "n4"}),
    "queue-without-affinity-non-strict-passes-only-unlabelled-nodes": (
        "root-no-affinity", [NO_AFF_ROOT], {"strict": False}, False, dict.fromkeys(("n1", "n2", "n3", "n4", "n5"), 0),
        {"n5"}),
    "affinity-inherited-from-parent-queue": ("q1-child", [ROOT_Q, Q1, Q1_CHILD], {}, True, *SUBSET),
    "affinity-inherited-from-ancestor-when-parent-has-none": (
        "q-no-affinity-child", [ROOT_Q, NO_AFF, NO_AFF_CHILD], {}, True, *SUBSET),
    "queue-without-affinity-strict-passes-no-node": (
        "q-no-affinity", [NO_AFF], {}, False, dict.fromkeys(("n1", "n2", "n3", "n4", "n5"), 0), set()),
    "preferred-order-scores-earlier-groups-higher": (
        "q3", [Q3], {"enablePreferredOrder": True}, False, {"n1": 50, "n2": 0, "n3": 25, "n4": 0, "n5": 0},
        {"n1", "n3"}),
}


@pytest.mark.parametrize(("qname", "queues", "args", "hierarchy", "scores", "passing"), list(CASES.values()),
                         ids=list(CASES))
def test_nodegroup_table(qname: str, queues: list[dict[str, Any]], args: dict[str, Any], hierarchy: bool,
                         scores: dict[str, float], passing: set[str]) -> None:
    switches = ["NodeOrder", "Predicate", *(["Hierarchy"] if hierarchy else [])]
    cfg = parse_config(conf("allocate", ("nodegroup", switches, args)))
    s = snap(NODES, [pod("c1", "p", "", "Pending", res("2", "4Gi"), "pg")], [pg("pg", "c1", qname, 0)], queues)
    ssn = Session(s, cfg)
    task = s.tasks[0]
    names = s.nodes.names
    assert dict(zip(names, ssn.node_scores(task, None).tolist(), strict=True)) == scores
    assert {n for n, ok in zip(names, ssn.predicate(task, None).tolist(), strict=True) if ok} == passing
