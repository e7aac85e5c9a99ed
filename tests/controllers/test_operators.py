"""NPU / KAE device operators: label rules (table-driven) and the end-to-end consequence on devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers.daemonset import DaemonSetController
from suanli.controllers.operators import (
    KAE_OPERATOR,
    NPU_OPERATOR,
    KAEClusterPolicyController,
    NPUClusterPolicyController,
    operator_crds,
)
from suanli.controllers.operators.state import (
    COMPONENT_LABEL,
    DEVICE_CLASS_LABEL,
    active_policy,
    component_image,
    component_managed,
    daemonset_state,
    node_label_patch,
)
from suanli.node.devices import api as device_api
from suanli.node.devices import registry_for_profiles
from suanli.node.nfd.crds import nfd_crds
from suanli.node.profiles import DeviceSpec, HardwareProfile
from tests.controllers._device_stack import CRDS, DAEMONSETS, NODES, ApiStack, PodRunner, eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NPU = GVR("npu.openfuyao.com", "v1", "npuclusterpolicies", namespaced=False)
KAE = GVR("kae.openfuyao.com", "v1", "kaeclusterpolicies", namespaced=False)
D = "openfuyao.com/npu.deploy."
NPU_KEYS = [f"{D}{c}" for c in ("driver", "oci-runtime", "device-plugin", "noded", "exporter")]


def test_label_constants_match_the_device_contract() -> None:
    assert (DEVICE_CLASS_LABEL, COMPONENT_LABEL) == (device_api.DEVICE_CLASS_LABEL, device_api.COMPONENT_LABEL)


def _all(value: str | None) -> dict[str, str | None]:
    return dict.fromkeys(NPU_KEYS, value)


LABEL_CASES: list[tuple[dict[str, str], bool, bool, dict[str, str | None]]] = [
    ({}, True, True, {"openfuyao.com/npu.present": "true", **_all("true")}),
    ({f"{D}device-plugin": "false"}, True, True,
     {"openfuyao.com/npu.present": "true", **{k: "true" for k in NPU_KEYS if not k.endswith("device-plugin")}}),
    ({"openfuyao.com/npu.present": "true", **_all("true")}, True, True, {}),
    ({f"{D}operands": "false", f"{D}driver": "true", f"{D}exporter": "false"}, True, True,
     {"openfuyao.com/npu.present": "true", f"{D}driver": None, f"{D}exporter": None}),
    ({"openfuyao.com/npu.present": "true", **_all("true"), f"{D}noded": "false"}, False, True,
     {"openfuyao.com/npu.present": None, **{k: None for k in NPU_KEYS if not k.endswith("noded")}}),
    ({"openfuyao.com/npu.present": "true", f"{D}driver": "true"}, True, False,
     {"openfuyao.com/npu.present": None, f"{D}driver": None}),
    ({}, False, True, {}),
]


@pytest.mark.parametrize(("labels", "present", "active", "expected"), LABEL_CASES, ids=[
    "new-npu-node-gets-every-deploy-label", "explicit-false-opts-out-of-one-component", "already-labelled-no-change",
    "operands-false-strips-all-deploy-labels", "device-gone-removes-true-keeps-false",
    "no-active-policy-clears-labels", "cpu-node-untouched"])
def test_node_label_patch(labels: dict[str, str], present: bool, active: bool,
                          expected: dict[str, str | None]) -> None:
    assert node_label_patch(NPU_OPERATOR, labels, present=present, active=active) == expected


def _policy(name: str, created: str, deleting: bool = False) -> Obj:
    m: Obj = {"name": name, "creationTimestamp": created}
    if deleting:
        m["deletionTimestamp"] = "2024-01-02T00:00:00Z"
    return {"metadata": m}


@pytest.mark.parametrize(("policies", "expected"), [
    ([_policy("b", "2024-01-01T00:00:01Z"), _policy("a", "2024-01-01T00:00:02Z")], "b"),
    ([_policy("b", "2024-01-01T00:00:01Z"), _policy("a", "2024-01-01T00:00:01Z")], "a"),
    ([_policy("old", "2024-01-01T00:00:00Z", deleting=True), _policy("new", "2024-01-01T00:00:05Z")], "new"),
    ([], None),
], ids=["oldest-wins", "name-breaks-ties", "deleting-policy-never-active", "none"])
def test_active_policy(policies: list[Obj], expected: str | None) -> None:
    got = active_policy(policies)
    assert (got["metadata"]["name"] if got else None) == expected


def _ds(desired: int, available: int, updated: int, unavailable: int, observed: int = 1) -> Obj:
    return {"metadata": {"generation": 1}, "status": {
        "desiredNumberScheduled": desired, "numberAvailable": available, "updatedNumberScheduled": updated,
        "numberUnavailable": unavailable, "observedGeneration": observed}}


@pytest.mark.parametrize(("ds", "state"), [
    (_ds(0, 0, 0, 0), "ready"), (_ds(3, 2, 3, 1), "notReady"), (_ds(3, 3, 2, 0), "notReady"),
    (_ds(3, 3, 3, 0), "ready"), (_ds(3, 3, 3, 0, observed=0), "notReady"), (None, "notReady")],
    ids=["no-nodes-ready", "unavailable-not-ready", "not-all-updated", "all-available-ready",
         "stale-observed-generation", "missing"])
def test_daemonset_state(ds: Obj | None, state: str) -> None:
    assert daemonset_state(ds)[0] == state


@pytest.mark.parametrize(("section", "image", "policy"), [
    (None, "cr.openfuyao.cn/openfuyao/ascend-k8sdeviceplugin:latest", "IfNotPresent"),
    ({"imageSpec": {"repository": "reg.example/ascend", "image": "dp", "tag": "v6", "imagePullPolicy": "Always"}},
     "reg.example/ascend/dp:v6", "Always"),
    ({"repository": "reg.example", "name": "dp", "version": "1.0"}, "reg.example/dp:1.0", "IfNotPresent"),
    ({"imageSpec": {"image": "quay.io/x/dp:2"}}, "quay.io/x/dp:2", "IfNotPresent"),
], ids=["defaults", "image-spec-fields", "flat-name-version-aliases", "full-reference-as-is"])
def test_component_image(section: Any, image: str, policy: str) -> None:
    comp = next(c for c in NPU_OPERATOR.components if c.key == "devicePlugin")
    assert component_image(NPU_OPERATOR, comp, section) == (image, policy)


@pytest.mark.parametrize(("section", "managed"), [
    (None, True), ({}, True), ({"managed": False}, False), ({"enabled": False}, False), ({"managed": "false"}, False)],
    ids=["absent", "empty", "managed-false", "enabled-alias", "string-false"])
def test_component_managed(section: Any, managed: bool) -> None:
    assert component_managed(section) is managed


# --------------------------------------------------------------------------------------------
# end to end against the in-process API
# --------------------------------------------------------------------------------------------

ASCEND = HardwareProfile(name="test-ascend", description="", capacity={}, devices=(
    DeviceSpec("huawei.com/Ascend910", 8, "ASCEND_VISIBLE_DEVICES", "npu", topology=((0, 1, 2, 3), (4, 5, 6, 7))),))
KUNPENG = HardwareProfile(name="test-kunpeng", description="", capacity={}, devices=(
    DeviceSpec("openfuyao.com/kae.hpre", 2, "KAE_VISIBLE_DEVICES", "kae"),))
PROFILE = {device_api.PROFILE_ANNOTATION: "test-ascend"}


@pytest.fixture
async def stack() -> AsyncIterator[ApiStack]:
    s = ApiStack()
    await s.start()
    for crd in [*nfd_crds(), *operator_crds()]:
        await s.client.create(CRDS, crd)
    yield s
    await s.stop()


def example(name: str) -> Obj:
    return dict(yaml.safe_load((EXAMPLES / name).read_text()))


async def policy_status(stack: ApiStack, gvr: GVR, name: str) -> Obj:
    return dict((await stack.client.get(gvr, name)).get("status") or {})


async def advertised(stack: ApiStack, node_name: str) -> dict[str, int]:
    node = await stack.client.get(NODES, node_name)
    pods = [p for p in await stack.pods_on() if p["spec"].get("nodeName") == node_name]
    return registry_for_profiles([ASCEND, KUNPENG]).advertised(node, pods).capacity


async def components_on(stack: ApiStack, node_name: str, ns: str = "npu-operator") -> set[str]:
    return {p["metadata"]["labels"][COMPONENT_LABEL] for p in await stack.pods_on(ns)
            if p["spec"].get("nodeName") == node_name and not p["metadata"].get("deletionTimestamp")}


async def test_npu_policy_brings_devices_online_and_takes_them_away(stack: ApiStack) -> None:
    await stack.add_node("npu-0", {"huawei.com/npu.present": "true"}, annotations=PROFILE)
    await stack.add_node("npu-1", {"feature.node.kubernetes.io/pci-1200_19e5.present": "true",
                                   "accelerator": "huawei-Ascend910"}, annotations=PROFILE)
    await stack.add_node("kunpeng-0", {"feature.node.kubernetes.io/pci-1200_19e5.present": "true"})
    for comp in (PodRunner(stack.client), DaemonSetController(stack.client), NPUClusterPolicyController(stack.client)):
        stack.start_component(comp)
    assert await advertised(stack, "npu-0") == {}
    created = await stack.client.create(NPU, example("npu-cluster-policy.yaml"))
    name = created["metadata"]["name"]

    async def ready() -> Obj | None:
        st = await policy_status(stack, NPU, name)
        return st if st.get("state") == "ready" else None

    status = await eventually(ready, what="policy ready")
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "True", "Reconciled")
    assert status["components"]["device-plugin"]["state"] == "ready"
    assert status["components"]["vcscheduler"]["state"] == "disabled"
    expected = {"driver", "oci-runtime", "device-plugin", "noded", "exporter"}
    assert await components_on(stack, "npu-0") == expected
    assert await components_on(stack, "npu-1") == expected
    assert await components_on(stack, "kunpeng-0") == set()
    ds = await stack.client.get(DAEMONSETS, "npu-device-plugin", "npu-operator")
    assert ds["spec"]["template"]["spec"]["nodeSelector"] == {f"{D}device-plugin": "true"}
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "cr.openfuyao.cn/openfuyao/ascend-k8sdeviceplugin:v6.0.0"
    assert ds["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert await advertised(stack, "npu-0") == {"huawei.com/Ascend910": 8}
    assert await advertised(stack, "npu-1") == {"huawei.com/Ascend910": 8}
    kunpeng_labels = (await stack.client.get(NODES, "kunpeng-0"))["metadata"]["labels"]
    assert not any(k.startswith(D) for k in kunpeng_labels)

    # opting one node out of the device plugin removes that pod there only, and its devices
    await stack.label_node("npu-1", {f"{D}device-plugin": "false"})

    async def opted_out() -> bool:
        return await components_on(stack, "npu-1") == expected - {"device-plugin"}

    await eventually(opted_out, what="device plugin gone from npu-1")
    assert await components_on(stack, "npu-0") == expected
    assert await advertised(stack, "npu-1") == {}
    assert await advertised(stack, "npu-0") == {"huawei.com/Ascend910": 8}

    # deleting the policy removes every component, the devices and the deploy labels it set
    await stack.client.delete(NPU, name)

    async def gone() -> bool:
        return not await stack.pods_on("npu-operator") and not (await stack.client.list(
            DAEMONSETS, "npu-operator"))["items"]

    await eventually(gone, what="components removed")
    assert await advertised(stack, "npu-0") == {}

    async def labels_cleared() -> dict[str, str] | None:
        labels = dict((await stack.client.get(NODES, "npu-1"))["metadata"]["labels"])
        return labels if not any(v == "true" and k.startswith("openfuyao.com/npu.") for k, v in labels.items()) \
            else None

    labels = await eventually(labels_cleared, what="deploy labels cleared")
    assert labels[f"{D}device-plugin"] == "false"  # the user's explicit opt-out stays


async def test_singleton_second_policy_is_ignored_until_the_first_goes(stack: ApiStack) -> None:
    stack.start_component(NPUClusterPolicyController(stack.client))
    body = {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy", "spec": {}}
    first = await stack.client.create(NPU, {**body, "metadata": {"name": "zeta"}})
    second = await stack.client.create(NPU, {**body, "metadata": {"name": "alpha"}})
    key = [(o["metadata"]["creationTimestamp"], o["metadata"]["name"]) for o in (first, second)]
    winner, loser = ("zeta", "alpha") if key[0] < key[1] else ("alpha", "zeta")

    async def states() -> tuple[Any, Any] | None:
        got = ((await policy_status(stack, NPU, winner)).get("state"),
               (await policy_status(stack, NPU, loser)).get("state"))
        return got if got == ("ready", "ignored") else None

    await eventually(states, what="one active, one ignored")
    cond = (await policy_status(stack, NPU, winner))["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("True", "NoNPUNodes")
    await stack.client.delete(NPU, winner)

    async def promoted() -> bool:
        return (await policy_status(stack, NPU, loser)).get("state") == "ready"

    await eventually(promoted, what="remaining policy becomes active")


async def test_kae_unmanaged_component_is_disabled_and_operands_false_strips(stack: ApiStack) -> None:
    await stack.add_node("kp-0", {"openfuyao.com/kae.present": "true"},
                         annotations={device_api.PROFILE_ANNOTATION: "test-kunpeng"})
    await stack.add_node("kp-1", {"openfuyao.com/kae.present": "true", "openfuyao.com/kae.deploy.operands": "false"},
                         annotations={device_api.PROFILE_ANNOTATION: "test-kunpeng"})
    hold: set[str] = set()
    for comp in (PodRunner(stack.client, hold), DaemonSetController(stack.client),
                 KAEClusterPolicyController(stack.client)):
        stack.start_component(comp)
    policy = example("kae-cluster-policy.yaml")
    await stack.client.create(KAE, policy)
    name = policy["metadata"]["name"]

    async def state_is(want: str) -> Obj | None:
        st = await policy_status(stack, KAE, name)
        return st if st.get("state") == want else None

    await eventually(lambda: state_is("ready"), what="KAE ready")
    assert await components_on(stack, "kp-0", "kae-operator") == {"driver", "device-plugin"}
    assert await components_on(stack, "kp-1", "kae-operator") == set()
    assert await advertised(stack, "kp-0") == {"openfuyao.com/kae.hpre": 2}
    assert await advertised(stack, "kp-1") == {}

    await stack.client.patch(KAE, name, {"spec": {"devicePlugin": {"managed": False}}})

    async def disabled() -> Obj | None:
        st = await policy_status(stack, KAE, name)
        comp = (st.get("components") or {}).get("device-plugin") or {}
        return st if comp.get("state") == "disabled" and st.get("state") == "ready" else None

    await eventually(disabled, what="device plugin disabled")
    await eventually(lambda: _only(stack, "kp-0", {"driver"}), what="device-plugin pod removed")
    assert await advertised(stack, "kp-0") == {}


async def _only(stack: ApiStack, node: str, comps: set[str]) -> bool:
    return await components_on(stack, node, "kae-operator") == comps


async def test_not_ready_operand_is_reported(stack: ApiStack) -> None:
    await stack.add_node("kp-0", {"openfuyao.com/kae.present": "true"})
    for comp in (PodRunner(stack.client, {"kp-0"}), DaemonSetController(stack.client),
                 KAEClusterPolicyController(stack.client, requeue_seconds=0.05)):
        stack.start_component(comp)
    policy = example("kae-cluster-policy.yaml")
    await stack.client.create(KAE, policy)

    async def not_ready() -> Obj | None:
        st = await policy_status(stack, KAE, policy["metadata"]["name"])
        ok = st.get("state") == "notReady" and st["conditions"][0]["message"] == \
            "states not ready: [driver device-plugin]"
        return st if ok and st["components"]["driver"].get("message") == "0/1 pods available" else None

    status = await eventually(not_ready, what="notReady with both states listed")
    assert status["conditions"][0]["reason"] == "OperandNotReady"
    assert KAE_OPERATOR.namespace == status["namespace"]


async def test_crd_keeps_upstream_fields_and_defaults_managed(stack: ApiStack) -> None:
    body = {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy", "metadata": {"name": "upstream"},
            "spec": {"operator": {"initContainer": {"image": "x"}},
                     "devicePlugin": {"imageSpec": {"repository": "r", "image": "dp", "tag": "1", "digest": "sha"},
                                      "args": ["-volcanoType=true"], "logLevel": 3}}}
    got = await stack.client.create(NPU, body)
    assert got["spec"]["operator"] == {"initContainer": {"image": "x"}}
    assert got["spec"]["devicePlugin"]["managed"] is True
    assert got["spec"]["devicePlugin"]["imageSpec"]["digest"] == "sha"
    assert got["spec"]["devicePlugin"]["logLevel"] == 3
    kae = await stack.client.create(KAE, example("kae-cluster-policy.yaml"))
    assert kae["spec"]["driver"]["imageSpec"]["image"] == "kae-driver-installer"
