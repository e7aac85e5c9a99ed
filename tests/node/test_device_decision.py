"""One owner for the device decision: the scheduler's deviceshare plugin decides, the node agent honours and
verifies (never re-picks), the topology the scheduler reads is the one the agent publishes from the profile.

The property test runs the real scheduling core and the real device registry on random nodes (interconnect
groups, unhealthy devices, devices held by running pods) and random requests: for any pod, the agent's
grant equals the scheduler's choice — and the agent's own pick (for a pod bound without a decision) too.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.scheduler._builders import build_node, build_pod, run

from suanli.apimachinery.devices import format_allocation, format_topology, parse_allocation
from suanli.apimachinery.objects import Obj
from suanli.node.devices import (
    ALLOCATION_ANNOTATION,
    GPU_INDEX_ANNOTATION,
    PROFILE_ANNOTATION,
    UNHEALTHY_ANNOTATION,
    registry_for_profiles,
)
from suanli.node.devices.api import TOPOLOGY_ANNOTATION, DeviceGrantError
from suanli.node.profiles import DeviceSpec, GpuShareSpec, HardwareProfile, load_profile

NPU = "huawei.com/Ascend910"
CONF = 'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: deviceshare\n'
ASCEND = HardwareProfile(name="ascend", description="", capacity={}, devices=(
    DeviceSpec(NPU, 8, "ASCEND_VISIBLE_DEVICES", None, topology=((0, 1, 2, 3), (4, 5, 6, 7))),))
SHARED = HardwareProfile(name="shared", description="", capacity={},
                         gpu_share=GpuShareSpec(4, 16000, "T4", device_class=None))
REGISTRY = registry_for_profiles([ASCEND, SHARED])


def agent_node(profile: str, annotations: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": "n1", "annotations": {PROFILE_ANNOTATION: profile, **(annotations or {})}}}


def pod(name: str, req: dict[str, str], annotations: dict[str, str] | None = None, *, bound: bool = True) -> Obj:
    return build_pod("ns", name, node="n1" if bound else "", phase="Running" if name.startswith("old") else "Pending",
                     req=req, annotations=annotations)


def holding(name: str, ids: list[int]) -> Obj:
    return pod(name, {NPU: str(len(ids))}, {ALLOCATION_ANNOTATION: format_allocation({NPU: ids})})


def test_agent_publishes_the_profile_topology_the_scheduler_reads() -> None:
    assert REGISTRY.topology(agent_node("ascend")) == {NPU: [[0, 1, 2, 3], [4, 5, 6, 7]]}
    assert REGISTRY.topology(agent_node("shared")) == {}
    kae = registry_for_profiles([load_profile("kunpeng-920-kae")])
    assert kae.topology(agent_node("kunpeng-920-kae"))["openfuyao.com/kae.hpre"] == [[0, 1, 2, 3]]


def test_agent_honours_a_decision_it_would_not_have_made() -> None:
    # the agent's own rule would pick 0,1; the scheduler decided 6,7
    decided = pod("p", {NPU: "2"}, {ALLOCATION_ANNOTATION: format_allocation({NPU: [6, 7]})})
    got = REGISTRY.allocate(agent_node("ascend"), decided, [decided])
    assert got is not None and got.devices == {NPU: ["6", "7"]}
    assert got.env == {"ASCEND_VISIBLE_DEVICES": "6,7"}
    assert got.annotations[ALLOCATION_ANNOTATION] == decided["metadata"]["annotations"][ALLOCATION_ANNOTATION]


@pytest.mark.parametrize(("annotation", "others", "node_annotations", "message"), [
    (format_allocation({NPU: [1]}), [], {}, "1 device(s) listed for a request of 2"),
    (format_allocation({NPU: [1, 1]}), [], {}, "a device is listed twice"),
    (format_allocation({NPU: [1, 9]}), [], {}, "device 9 does not exist or is unhealthy"),
    (format_allocation({NPU: [1, 2]}), [], {UNHEALTHY_ANNOTATION: "2"}, "device 2 does not exist or is unhealthy"),
    (format_allocation({NPU: [1, 2]}), [holding("old", [2, 3])], {}, "device 2 is already allocated to another pod"),
    ('{"huawei.com/Ascend910": "1,2"}', [], {}, "is malformed"),
], ids=["wrong-count", "duplicate", "no-such-device", "unhealthy-device", "held-by-another-pod", "malformed"])
def test_agent_rejects_a_decision_it_cannot_honour(annotation: str, others: list[Obj],
                                                   node_annotations: dict[str, str], message: str) -> None:
    decided = pod("p", {NPU: "2"}, {ALLOCATION_ANNOTATION: annotation})
    with pytest.raises(DeviceGrantError, match=re.escape(message)) as err:
        REGISTRY.allocate(agent_node("ascend", node_annotations), decided, [*others, decided])
    assert ALLOCATION_ANNOTATION in str(err.value)


def gpu_holder(req: str, qty: str, card: str) -> Obj:
    return pod("old", {f"volcano.sh/{req}": qty}, {GPU_INDEX_ANNOTATION: card})


@pytest.mark.parametrize(("req", "index", "others", "message"), [
    ({"volcano.sh/gpu-memory": "4000"}, "3", [gpu_holder("gpu-memory", "14000", "3")],
     "card 3 has 2000 MiB free, 4000 MiB requested"),
    ({"volcano.sh/gpu-memory": "4000"}, "0", [gpu_holder("gpu-number", "1", "0")],
     "card 0 does not exist, is unhealthy or is held whole by another pod"),
    ({"volcano.sh/gpu-number": "2"}, "1", [], "1 distinct card(s) needed 2"),
    ({"volcano.sh/gpu-number": "1"}, "2", [gpu_holder("gpu-memory", "1", "2")], "card 2 is not idle"),
    ({"volcano.sh/gpu-memory": "4000"}, "7", [], "card 7 does not exist"),
], ids=["card-no-longer-fits", "card-held-whole", "too-few-cards", "card-not-idle", "no-such-card"])
def test_agent_rejects_a_gpushare_decision_it_cannot_honour(req: dict[str, str], index: str, others: list[Obj],
                                                            message: str) -> None:
    decided = pod("p", req, {GPU_INDEX_ANNOTATION: index})
    with pytest.raises(DeviceGrantError, match=re.escape(message)):
        REGISTRY.allocate(agent_node("shared"), decided, [*others, decided])


# ------------------------------------------------------------------ property: grant == scheduler's choice


@st.composite
def npu_node(draw: st.DrawFn) -> tuple[HardwareProfile, set[int], list[list[int]]]:
    """A random whole-device node: count, interconnect groups, unhealthy devices and held devices."""
    count = draw(st.integers(1, 12))
    order = draw(st.permutations(range(count)))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, count - 1)), max_size=3)))
    groups = [sorted(order[a:b]) for a, b in zip([0, *cuts], [*cuts, count], strict=True) if order[a:b]]
    listed = groups[: draw(st.integers(0, len(groups)))]  # devices of unlisted groups form one extra group
    unhealthy = draw(st.sets(st.sampled_from(range(count)), max_size=count // 3))
    healthy = [i for i in range(count) if i not in unhealthy]
    held = draw(st.lists(st.sampled_from(healthy), unique=True)) if healthy else []
    parts: list[list[int]] = []
    while held:
        n = draw(st.integers(1, len(held)))
        parts.append(held[:n])
        held = held[n:]
    profile = HardwareProfile(name="rand", description="", capacity={}, devices=(
        DeviceSpec(NPU, count, "ASCEND_VISIBLE_DEVICES", None, topology=tuple(tuple(g) for g in listed)),))
    return profile, unhealthy, parts


@settings(max_examples=150, deadline=None)
@given(npu_node(), st.integers(1, 12))
def test_agent_grant_equals_the_scheduler_choice(node_spec: tuple[HardwareProfile, set[int], list[list[int]]],
                                                 k: int) -> None:
    profile, unhealthy, held = node_spec
    registry = registry_for_profiles([profile])
    node_ann = {UNHEALTHY_ANNOTATION: ",".join(str(i) for i in sorted(unhealthy))} if unhealthy else {}
    agent_view = agent_node("rand", node_ann)
    published = format_topology(registry.topology(agent_view))  # what the agent writes on the node
    agent_view["metadata"]["annotations"][TOPOLOGY_ANNOTATION] = published
    allocatable = registry.advertised(agent_view, []).allocatable[NPU]
    scheduler_view = build_node("n1", {"cpu": "64", NPU: str(allocatable)},
                                annotations={**agent_view["metadata"]["annotations"]})
    old = [holding(f"old{i}", ids) for i, ids in enumerate(held)]
    new = pod("p", {NPU: str(k)}, bound=False)

    decisions = run([scheduler_view], [*old, new], conf=CONF)
    own_pick = registry.allocate(agent_view, {**new, "spec": {**new["spec"], "nodeName": "n1"}}, old)
    if not decisions.binds:
        assert own_pick is None  # neither side finds room
        return
    chosen = parse_allocation(decisions.binds[0].annotations[ALLOCATION_ANNOTATION])
    assert chosen is not None
    bound = {**new, "spec": {**new["spec"], "nodeName": "n1"},
             "metadata": {**new["metadata"], "annotations": {**new["metadata"]["annotations"],
                                                             **decisions.binds[0].annotations}}}
    grant = registry.allocate(agent_view, bound, [*old, bound])
    assert grant is not None
    assert [int(i) for i in grant.devices[NPU]] == chosen[NPU]
    assert json.loads(grant.annotations[ALLOCATION_ANNOTATION]) == json.loads(
        decisions.binds[0].annotations[ALLOCATION_ANNOTATION])
    # a pod bound without a decision gets the same devices: one picking rule
    assert own_pick is not None and [int(i) for i in own_pick.devices[NPU]] == chosen[NPU]

