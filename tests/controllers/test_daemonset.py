"""DaemonSet controller: placement rules (table-driven) and behaviour against the real in-process API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers.daemonset import (
    HASH_LABEL,
    DaemonSetController,
    daemon_pod_tolerations,
    placement,
    pod_name_for_node,
    resolve_max_unavailable,
    template_hash,
)
from tests.controllers._device_stack import DAEMONSETS, NODES, PODS, ApiStack, PodRunner, eventually, set_pod_running


def node(name: str = "n1", labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def affinity(*terms: Obj) -> Obj:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}}


def expr(key: str, op: str, *values: str) -> Obj:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


NO_SCHED = {"key": "dedicated", "value": "npu", "effect": "NoSchedule"}
NO_EXEC = {"key": "dedicated", "value": "npu", "effect": "NoExecute"}

PLACEMENT_CASES: list[tuple[Obj, Obj, tuple[bool, bool]]] = [
    ({}, node(), (True, True)),
    ({"nodeSelector": {"npu": "yes"}}, node(labels={"npu": "yes"}), (True, True)),
    ({"nodeSelector": {"npu": "yes"}}, node(labels={"npu": "no"}), (False, False)),
    ({"nodeSelector": {"npu": "yes"}}, node(), (False, False)),
    (affinity({"matchExpressions": [expr("zone", "In", "a", "b")]}), node(labels={"zone": "b"}), (True, True)),
    (affinity({"matchExpressions": [expr("zone", "In", "a")]}), node(), (False, False)),
    (affinity({"matchExpressions": [expr("zone", "NotIn", "a")]}), node(), (True, True)),
    (affinity({"matchExpressions": [expr("zone", "Exists")]}), node(), (False, False)),
    (affinity({"matchExpressions": [expr("zone", "DoesNotExist")]}), node(), (True, True)),
    (affinity({"matchExpressions": [expr("cores", "Gt", "64")]}), node(labels={"cores": "128"}), (True, True)),
    (affinity({"matchExpressions": [expr("cores", "Lt", "64")]}), node(labels={"cores": "128"}), (False, False)),
    (affinity({"matchExpressions": [expr("cores", "Gt", "64")]}), node(labels={"cores": "many"}), (False, False)),
    (affinity({"matchFields": [expr("metadata.name", "In", "n1")]}), node("n1"), (True, True)),
    (affinity({"matchFields": [expr("metadata.name", "In", "n1")]}), node("n2"), (False, False)),
    (affinity({"matchExpressions": [expr("zone", "In", "x")]}, {"matchExpressions": [expr("zone", "In", "y")]}),
     node(labels={"zone": "y"}), (True, True)),
    (affinity({}), node(), (False, False)),
    ({"nodeName": "n2"}, node("n1"), (False, False)),
    ({}, node(taints=[NO_SCHED]), (False, True)),
    ({}, node(taints=[NO_EXEC]), (False, False)),
    ({}, node(taints=[{**NO_SCHED, "effect": "PreferNoSchedule"}]), (True, True)),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "npu"}]},
     node(taints=[NO_SCHED, NO_EXEC]), (True, True)),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}]}, node(taints=[NO_SCHED]),
     (False, True)),
    ({"tolerations": [{"operator": "Exists"}]}, node(taints=[NO_EXEC]), (True, True)),
    ({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]},
     node(taints=[NO_EXEC]), (False, False)),
    ({}, node(taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]), (True, True)),
    ({}, node(taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]), (True, True)),
    ({}, node(taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), (True, True)),
    ({}, node(taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]), (False, True)),
    ({"hostNetwork": True}, node(taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
     (True, True)),
]
PLACEMENT_IDS = [
    "no-constraints-runs", "node-selector-matches", "node-selector-wrong-value", "node-selector-missing-label",
    "affinity-in-matches", "affinity-in-missing-key-fails", "affinity-notin-missing-key-matches",
    "affinity-exists-missing-fails", "affinity-doesnotexist-matches", "affinity-gt-matches", "affinity-lt-fails",
    "affinity-gt-non-integer-fails", "match-fields-name-matches", "match-fields-other-name-fails",
    "terms-are-ored", "empty-term-matches-nothing", "template-nodename-elsewhere",
    "noschedule-taint-blocks-new-keeps-existing", "noexecute-taint-evicts", "prefer-noschedule-ignored",
    "toleration-equal-without-effect-tolerates-both", "toleration-wrong-value",
    "exists-without-key-tolerates-all", "toleration-effect-mismatch", "not-ready-tolerated",
    "unreachable-tolerated", "unschedulable-tolerated", "network-unavailable-needs-hostnetwork",
    "network-unavailable-tolerated-for-hostnetwork",
]


@pytest.mark.parametrize(("pod_spec", "the_node", "expected"), PLACEMENT_CASES, ids=PLACEMENT_IDS)
def test_placement(pod_spec: Obj, the_node: Obj, expected: tuple[bool, bool]) -> None:
    assert placement(pod_spec, the_node) == expected


@pytest.mark.parametrize(("raw", "desired", "expected"), [
    (None, 10, 1), (3, 10, 3), ("25%", 10, 3), ("10%", 5, 1), (0, 10, 1), ("100%", 4, 4)],
    ids=["default-one", "absolute", "percent-rounds-up", "small-percent-at-least-one", "zero-becomes-one",
         "all-at-once"])
def test_resolve_max_unavailable(raw: Any, desired: int, expected: int) -> None:
    rolling = {} if raw is None else {"maxUnavailable": raw}
    ds = {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}
    assert resolve_max_unavailable(ds, desired) == expected


def test_tolerations_are_added_once_and_template_hash_ignores_key_order() -> None:
    tols = daemon_pod_tolerations({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                     "effect": "NoExecute", "tolerationSeconds": 5}]})
    assert [t["key"] for t in tols].count("node.kubernetes.io/not-ready") == 1
    assert tols[0]["tolerationSeconds"] == 5
    assert template_hash({"a": 1, "b": {"c": 2}}) == template_hash({"b": {"c": 2}, "a": 1})
    assert template_hash({"a": 1}) != template_hash({"a": 2})
    assert pod_name_for_node("agent", "n1") != pod_name_for_node("agent", "n2")


# --------------------------------------------------------------------------------------------
# against the API
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def stack() -> AsyncIterator[ApiStack]:
    s = ApiStack()
    await s.start()
    yield s
    await s.stop()


def daemonset(name: str = "agent", *, node_selector: dict[str, str] | None = None, image: str = "agent:1",
              strategy: Obj | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "main", "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
                     **({"updateStrategy": strategy} if strategy else {})}}


async def by_node(stack: ApiStack, ds: str = "agent") -> dict[str, Obj]:
    """Live (non-terminating) pods of ``ds`` keyed by node."""
    return {p["spec"]["nodeName"]: p for p in await stack.pods_on("default", f"app={ds}")
            if not p["metadata"].get("deletionTimestamp")}


async def ds_status(stack: ApiStack, name: str = "agent") -> Obj:
    return dict((await stack.client.get(DAEMONSETS, name, "default")).get("status") or {})


async def test_one_pod_per_matching_node_with_owner_and_status(stack: ApiStack) -> None:
    for i, labels in enumerate([{"role": "npu"}, {"role": "npu"}, {"role": "cpu"}]):
        await stack.add_node(f"n{i}", labels)
    stack.start_component(PodRunner(stack.client))
    stack.start_component(DaemonSetController(stack.client))
    created = await stack.client.create(DAEMONSETS, daemonset(node_selector={"role": "npu"}), "default")

    async def settled() -> Obj | None:
        st = await ds_status(stack)
        return st if st.get("numberAvailable") == 2 and st.get("numberReady") == 2 else None

    status = await eventually(settled, what="two available pods")
    assert status["desiredNumberScheduled"] == 2
    assert status["currentNumberScheduled"] == 2
    assert status["updatedNumberScheduled"] == 2
    assert status["numberUnavailable"] == 0
    assert status["numberMisscheduled"] == 0
    assert status["observedGeneration"] == created["metadata"]["generation"]
    pods = await by_node(stack)
    assert sorted(pods) == ["n0", "n1"]
    pod = pods["n0"]
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "DaemonSet", "agent", created["metadata"]["uid"], True, True)
    assert pod["metadata"]["labels"][HASH_LABEL] == template_hash(created["spec"]["template"])
    assert any(t["key"] == "node.kubernetes.io/unreachable" for t in pod["spec"]["tolerations"])


async def test_pods_follow_node_labels_and_node_deletion(stack: ApiStack) -> None:
    await stack.add_node("n0", {"role": "npu"})
    await stack.add_node("n1", {"role": "cpu"})
    stack.start_component(PodRunner(stack.client))
    stack.start_component(DaemonSetController(stack.client))
    await stack.client.create(DAEMONSETS, daemonset(node_selector={"role": "npu"}), "default")
    await eventually(lambda: _nodes_are(stack, {"n0"}), what="pod on n0")
    await stack.label_node("n1", {"role": "npu"})
    await stack.label_node("n0", {"role": None})
    await eventually(lambda: _nodes_are(stack, {"n1"}), what="pod moved to n1")
    await stack.client.delete(NODES, "n1")
    await eventually(lambda: _nodes_are(stack, set()), what="pod of deleted node removed")


async def _nodes_are(stack: ApiStack, expected: set[str]) -> bool:
    pods = await stack.pods_on("default", "app=agent")
    return {p["spec"]["nodeName"] for p in pods} == expected


async def test_taints_block_new_pods_and_noexecute_evicts(stack: ApiStack) -> None:
    await stack.add_node("clean")
    await stack.add_node("tainted", taints=[NO_SCHED])
    stack.start_component(PodRunner(stack.client))
    stack.start_component(DaemonSetController(stack.client))
    await stack.client.create(DAEMONSETS, daemonset(), "default")
    await eventually(lambda: _nodes_are(stack, {"clean"}), what="pod only on the untainted node")
    # a NoSchedule taint added later keeps the running pod (counted as misscheduled)
    await stack.client.patch(NODES, "clean",
                             {"spec": {"taints": [NO_SCHED]}})

    async def misscheduled() -> bool:
        st = await ds_status(stack)
        return st.get("numberMisscheduled") == 1 and st.get("desiredNumberScheduled") == 0

    await eventually(misscheduled, what="pod kept as misscheduled")
    assert await _nodes_are(stack, {"clean"})
    await stack.client.patch(NODES, "clean",
                             {"spec": {"taints": [NO_EXEC]}})
    await eventually(lambda: _nodes_are(stack, set()), what="NoExecute evicts the pod")


async def test_rolling_update_respects_max_unavailable(stack: ApiStack) -> None:
    names = ["n0", "n1", "n2", "n3"]
    for n in names:
        await stack.add_node(n)
    runner = PodRunner(stack.client)
    stack.start_component(runner)
    stack.start_component(DaemonSetController(stack.client))
    await stack.client.create(DAEMONSETS, daemonset(), "default")

    async def all_available() -> bool:
        return (await ds_status(stack)).get("numberAvailable") == 4

    await eventually(all_available, what="initial rollout")
    old_hash = (await by_node(stack))["n0"]["metadata"]["labels"][HASH_LABEL]
    runner.hold.add("n0")  # the first replacement will not become ready
    await stack.client.patch(DAEMONSETS, "agent", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "agent:2"}]}}}}, "default", patch_type="strategic")

    async def first_replaced() -> Obj | None:
        pods = await by_node(stack)
        new = [n for n, p in pods.items() if p["metadata"]["labels"][HASH_LABEL] != old_hash]
        st = await ds_status(stack)
        return pods if new == ["n0"] and st.get("updatedNumberScheduled") == 1 and len(pods) == 4 else None

    pods = await eventually(first_replaced, what="exactly one pod replaced")
    assert sorted(n for n, p in pods.items() if p["metadata"]["labels"][HASH_LABEL] == old_hash) == ["n1", "n2", "n3"]
    status = await ds_status(stack)
    assert status["numberUnavailable"] == 1
    runner.hold.clear()
    await set_pod_running(stack.client, pods["n0"])

    async def rolled_out() -> bool:
        st = await ds_status(stack)
        return st.get("updatedNumberScheduled") == 4 and st.get("numberAvailable") == 4

    await eventually(rolled_out, what="complete rollout")
    assert all(p["spec"]["containers"][0]["image"] == "agent:2" for p in (await by_node(stack)).values())


async def test_on_delete_strategy_replaces_only_deleted_pods(stack: ApiStack) -> None:
    await stack.add_node("n0")
    await stack.add_node("n1")
    stack.start_component(PodRunner(stack.client))
    stack.start_component(DaemonSetController(stack.client))
    await stack.client.create(DAEMONSETS, daemonset(strategy={"type": "OnDelete"}), "default")

    async def available(n: int, updated: int, generation: int) -> bool:
        st = await ds_status(stack)
        return (st.get("numberAvailable"), st.get("updatedNumberScheduled"), st.get("observedGeneration")) == (
            n, updated, generation)

    await eventually(lambda: available(2, 2, 1), what="initial pods")
    await stack.client.patch(DAEMONSETS, "agent", {"spec": {"template": {"metadata": {"labels": {
        "app": "agent", "v": "2"}}}}}, "default")
    await eventually(lambda: available(2, 0, 2), what="template change observed, nothing replaced")
    victim = (await by_node(stack))["n1"]
    await stack.client.delete(PODS, victim["metadata"]["name"], "default")
    await eventually(lambda: available(2, 1, 2), what="deleted pod replaced with the new template")
    assert (await by_node(stack))["n1"]["metadata"]["labels"].get("v") == "2"
    assert "v" not in (await by_node(stack))["n0"]["metadata"]["labels"]
