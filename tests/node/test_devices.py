"""Device plugins: advertisement gating, health, topology-aware allocation and Volcano gpushare."""

from __future__ import annotations

import json

import pytest

from suanli.apimachinery.objects import Obj
from suanli.node.devices import (
    ALLOCATION_ANNOTATION,
    GPU_INDEX_ANNOTATION,
    GPU_UNHEALTHY_ANNOTATION,
    PROFILE_ANNOTATION,
    UNHEALTHY_ANNOTATION,
    registry_for_profiles,
)
from suanli.node.profiles import DeviceSpec, GpuShareSpec, HardwareProfile

NPU = "huawei.com/Ascend910"
ASCEND = HardwareProfile(name="ascend", description="", capacity={}, devices=(
    DeviceSpec(NPU, 8, "ASCEND_VISIBLE_DEVICES", "npu", topology=((0, 1, 2, 3), (4, 5, 6, 7))),))
CPU_GPU = HardwareProfile(name="plain-gpu", description="", capacity={}, devices=(
    DeviceSpec("nvidia.com/gpu", 2, "NVIDIA_VISIBLE_DEVICES", None),))
SHARED = HardwareProfile(name="shared", description="", capacity={},
                         gpu_share=GpuShareSpec(4, 16000, "T4", device_class=None))
REGISTRY = registry_for_profiles([ASCEND, CPU_GPU, SHARED])


def node(profile: str, annotations: dict[str, str] | None = None, name: str = "n1") -> Obj:
    return {"metadata": {"name": name, "annotations": {PROFILE_ANNOTATION: profile, **(annotations or {})}}}


def operator_pod(component: str, cls: str = "npu", phase: str = "Running", node_name: str = "n1",
                 deleting: bool = False) -> Obj:
    m: Obj = {"name": f"{cls}-{component}", "namespace": "npu-operator", "uid": f"u-{cls}-{component}",
              "labels": {"suanli.io/device-class": cls, "suanli.io/operator-component": component}}
    if deleting:
        m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": m, "spec": {"nodeName": node_name}, "status": {"phase": phase}}


RUNNING = [operator_pod("driver"), operator_pod("device-plugin")]


def workload(name: str, resources: dict[str, str], annotations: dict[str, str] | None = None,
             phase: str = "Running") -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}", "annotations": annotations or {}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"limits": resources}}]},
            "status": {"phase": phase}}


def holding(name: str, ids: list[str], phase: str = "Running") -> Obj:
    return workload(name, {NPU: str(len(ids))}, {ALLOCATION_ANNOTATION: json.dumps({NPU: ids})}, phase)


@pytest.mark.parametrize(("pods", "annotations", "expected"), [
    (RUNNING, {}, ({NPU: 8}, {NPU: 8})),
    ([], {}, ({}, {})),
    ([operator_pod("driver")], {}, ({}, {})),
    ([operator_pod("driver"), operator_pod("device-plugin", phase="Pending")], {}, ({}, {})),
    ([operator_pod("driver"), operator_pod("device-plugin", deleting=True)], {}, ({}, {})),
    ([operator_pod("driver"), operator_pod("device-plugin", node_name="n2")], {}, ({}, {})),
    ([operator_pod("driver", cls="kae"), operator_pod("device-plugin", cls="kae")], {}, ({}, {})),
    (RUNNING, {UNHEALTHY_ANNOTATION: "3,5"}, ({NPU: 8}, {NPU: 6})),
    (RUNNING, {UNHEALTHY_ANNOTATION: f"{NPU}=1,nvidia.com/gpu=2"}, ({NPU: 8}, {NPU: 7})),
], ids=["driver-and-plugin-running-advertise", "no-operator-pods-nothing", "driver-only-nothing",
        "plugin-pending-nothing", "plugin-terminating-nothing", "plugin-on-other-node-nothing",
        "other-device-class-nothing", "unhealthy-ids-leave-allocatable", "qualified-unhealthy-ids"])
def test_npu_advertisement(pods: list[Obj], annotations: dict[str, str],
                           expected: tuple[dict[str, int], dict[str, int]]) -> None:
    adv = REGISTRY.advertised(node("ascend", annotations), pods)
    assert (adv.capacity, adv.allocatable) == expected


def test_device_without_class_always_advertised_and_unknown_profile_has_none() -> None:
    assert REGISTRY.advertised(node("plain-gpu"), []).capacity == {"nvidia.com/gpu": 2}
    assert REGISTRY.advertised(node("no-such-profile"), []).capacity == {}
    assert REGISTRY.advertised({"metadata": {"name": "bare"}}, []).capacity == {}


@pytest.mark.parametrize(("request_n", "others", "annotations", "expected"), [
    (2, [], {}, ["0", "1"]),
    (4, [holding("a", ["0"])], {}, ["4", "5", "6", "7"]),
    (2, [holding("a", ["0", "1", "4"])], {}, ["2", "3"]),
    (2, [holding("a", ["0", "1", "4"], phase="Succeeded")], {}, ["0", "1"]),
    (2, [], {UNHEALTHY_ANNOTATION: "0,1"}, ["2", "3"]),
    (8, [], {UNHEALTHY_ANNOTATION: "7"}, None),
    (3, [holding("a", ["0", "1", "2", "4", "5", "6"])], {}, None),
], ids=["first-free-in-group", "avoids-partly-used-group", "fills-fragmented-group-first",
        "finished-pods-release-devices", "skips-unhealthy", "unhealthy-makes-request-unsatisfiable", "too-few-free"])
def test_npu_allocation(request_n: int, others: list[Obj], annotations: dict[str, str],
                        expected: list[str] | None) -> None:
    the_node = node("ascend", annotations)
    pod = workload("p", {NPU: str(request_n)})
    got = REGISTRY.allocate(the_node, pod, [*RUNNING, *others, pod])
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got.devices == {NPU: expected}
    assert got.env == {"ASCEND_VISIBLE_DEVICES": ",".join(expected)}
    assert json.loads(got.annotations[ALLOCATION_ANNOTATION]) == {NPU: expected}


def test_allocation_refused_when_plugin_not_running_and_empty_without_requests() -> None:
    pod = workload("p", {NPU: "1"})
    assert REGISTRY.allocate(node("ascend"), pod, [operator_pod("driver")]) is None
    plain = workload("q", {"cpu": "1"})
    got = REGISTRY.allocate(node("ascend"), plain, RUNNING)
    assert got is not None and got.devices == {} and got.env == {}


def gpu_pod(name: str, *, mem: int = 0, number: int = 0, index: str | None = None) -> Obj:
    res = {**({"volcano.sh/gpu-memory": str(mem)} if mem else {}),
           **({"volcano.sh/gpu-number": str(number)} if number else {})}
    return workload(name, res, {GPU_INDEX_ANNOTATION: index} if index is not None else {})


@pytest.mark.parametrize(("pod", "others", "annotations", "expected"), [
    (gpu_pod("p", mem=4000), [], {}, "0"),
    (gpu_pod("p", mem=4000), [gpu_pod("a", mem=10000, index="2")], {}, "2"),
    (gpu_pod("p", mem=8000), [gpu_pod("a", mem=10000, index="2"), gpu_pod("b", mem=4000, index="1")], {}, "1"),
    (gpu_pod("p", mem=4000), [gpu_pod("a", number=1, index="0")], {}, "1"),
    (gpu_pod("p", number=2), [gpu_pod("a", mem=1000, index="0")], {}, "1,2"),
    (gpu_pod("p", number=2), [], {GPU_UNHEALTHY_ANNOTATION: "0,2"}, "1,3"),
    (gpu_pod("p", number=3), [], {GPU_UNHEALTHY_ANNOTATION: "0,2"}, None),
    (gpu_pod("p", mem=17000), [], {}, None),
    (gpu_pod("p", mem=4000, index="3"), [], {}, "3"),
], ids=["memory-first-card", "binpack-onto-used-card", "fullest-card-that-fits", "skips-whole-held-card",
        "number-needs-fully-idle-cards", "unhealthy-cards-excluded", "too-few-healthy-cards",
        "larger-than-a-card", "honours-scheduler-choice"])
def test_gpushare_allocation(pod: Obj, others: list[Obj], annotations: dict[str, str], expected: str | None) -> None:
    got = REGISTRY.allocate(node("shared", annotations), pod, [*others, pod])
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got.annotations[GPU_INDEX_ANNOTATION] == expected
    assert got.env == {"NVIDIA_VISIBLE_DEVICES": expected}


def test_gpushare_advertisement_excludes_unhealthy_cards() -> None:
    adv = REGISTRY.advertised(node("shared", {GPU_UNHEALTHY_ANNOTATION: "1"}), [])
    assert adv.capacity == {"volcano.sh/gpu-memory": 64000, "volcano.sh/gpu-number": 4}
    assert adv.allocatable == {"volcano.sh/gpu-memory": 48000, "volcano.sh/gpu-number": 3}


def test_gpu_class_waits_for_gpu_operator_unless_ungated() -> None:
    gated = HardwareProfile(name="t4", description="", capacity={}, gpu_share=GpuShareSpec(2, 15360, "T4"),
                            devices=(DeviceSpec("nvidia.com/gpu", 2, "NVIDIA_VISIBLE_DEVICES", "gpu"),))
    the_node = node("t4")
    gpu_operator = [operator_pod("driver", cls="gpu"), operator_pod("device-plugin", cls="gpu")]
    assert registry_for_profiles([gated]).advertised(the_node, []).capacity == {}
    assert registry_for_profiles([gated]).advertised(the_node, gpu_operator).capacity == {
        "nvidia.com/gpu": 2, "volcano.sh/gpu-memory": 30720, "volcano.sh/gpu-number": 2}
    ungated = registry_for_profiles([gated], operator_classes=frozenset({"npu", "kae"}))
    assert ungated.advertised(the_node, []).capacity["volcano.sh/gpu-number"] == 2
