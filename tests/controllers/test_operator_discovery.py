"""Device operators find their nodes from what NFD publishes (raw NodeFeature features), not from user rules.

The NPU operator tells an Ascend chip from the Kunpeng ZIP engine (same PCI vendor 19e5 and class 1200)
by the PCI device id; the KAE operator finds KAE nodes by their loaded kernel modules or KAE PCI functions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers.operators import (
    KAE_OPERATOR,
    NPU_OPERATOR,
    KAEClusterPolicyController,
    NPUClusterPolicyController,
    operator_crds,
)
from suanli.controllers.operators.discovery import NODE_NAME_LABEL as OPERATOR_NODE_NAME_LABEL
from suanli.controllers.operators.discovery import FeatureDiscovery, PciMatch, feature_node_name
from suanli.node.nfd.crds import NODE_FEATURES, ensure_crds, nfd_crds
from suanli.node.nfd.features import NODE_NAME_LABEL, Features, node_feature_object
from suanli.node.profiles import load_profile
from tests.controllers.conftest import Api, eventually, running

NODES = GVR("", "v1", "nodes", namespaced=False)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
NPU = GVR("npu.openfuyao.com", "v1", "npuclusterpolicies", namespaced=False)
KAE = GVR("kae.openfuyao.com", "v1", "kaeclusterpolicies", namespaced=False)
NFD_NS = "node-feature-discovery"


def nf(pci: list[dict[str, str]] | None = None, modules: list[str] | None = None) -> Obj:
    features = Features(flags={"kernel.loadedmodule": set(modules or [])},
                        instances={"pci.device": [dict(d) for d in pci or []]})
    return node_feature_object("n", features)


ASCEND_910B = {"vendor": "19e5", "class": "1200", "device": "d802"}
ASCEND_310P = {"vendor": "19e5", "class": "1200", "device": "d500"}
KAE_ZIP = {"vendor": "19e5", "class": "1200", "device": "a250"}
KAE_HPRE = {"vendor": "19e5", "class": "1000", "device": "a258"}
HI1822_NIC = {"vendor": "19e5", "class": "0200", "device": "1822"}
T4 = {"vendor": "10de", "class": "0302", "device": "1eb8"}
OTHER_VENDOR_D802 = {"vendor": "8086", "class": "1200", "device": "d802"}

DISCOVERY_CASES: list[tuple[str, Obj, bool, bool]] = [
    # (id, NodeFeature, NPU operator discovers, KAE operator discovers)
    ("ascend-910b-is-npu-not-kae", nf([ASCEND_910B, HI1822_NIC]), True, False),
    ("ascend-310p-is-npu", nf([ASCEND_310P]), True, False),
    ("zip-engine-shares-vendor-and-class-but-is-not-npu", nf([KAE_ZIP]), False, True),
    ("hpre-pci-function-without-module-is-kae", nf([KAE_HPRE]), False, True),
    ("hisi-hpre-module-alone-is-kae", nf([], ["hisi_hpre"]), False, True),
    ("hisi-zip-module-is-kae", nf([], ["overlay", "hisi_zip"]), False, True),
    ("other-vendor-with-ascend-device-id-is-nothing", nf([OTHER_VENDOR_D802]), False, False),
    ("gpu-node-is-nothing", nf([T4], ["nvidia"]), False, False),
    ("no-features-is-nothing", {"spec": {}}, False, False),
    ("malformed-sections-are-ignored",
     {"spec": {"features": {"instances": {"pci.device": {"elements": "x"}}, "flags": []}}}, False, False),
]


@pytest.mark.parametrize(("obj", "npu", "kae"), [c[1:] for c in DISCOVERY_CASES], ids=[c[0] for c in DISCOVERY_CASES])
def test_raw_features_decide_which_operator_owns_the_node(obj: Obj, npu: bool, kae: bool) -> None:
    assert NPU_OPERATOR.feature_discovery.matches(obj) is npu
    assert KAE_OPERATOR.feature_discovery.matches(obj) is kae


@pytest.mark.parametrize(("profile", "npu", "kae"), [
    ("ascend-910b", True, False), ("kunpeng-920-kae", False, True), ("manycore-256", False, False),
    ("nvidia-a100", False, False), ("gpushare-t4", False, False)])
def test_shipped_profiles_are_discovered_by_the_right_operator(profile: str, npu: bool, kae: bool) -> None:
    obj = node_feature_object("n", Features.from_spec(load_profile(profile).features))
    assert (NPU_OPERATOR.feature_discovery.matches(obj), KAE_OPERATOR.feature_discovery.matches(obj)) == (npu, kae)


def test_pci_match_class_prefix_and_case() -> None:
    m = PciMatch("19e5", frozenset({"d802"}), "12")
    assert m.matches({"vendor": "19E5", "device": "D802", "class": "1200"})
    assert not m.matches({"vendor": "19e5", "device": "d802", "class": "0300"})
    assert not FeatureDiscovery().matches(nf([ASCEND_910B], ["hisi_hpre"]))


def test_node_name_label_matches_nfd() -> None:
    assert OPERATOR_NODE_NAME_LABEL == NODE_NAME_LABEL
    assert feature_node_name(node_feature_object("demo-ascend-0", Features())) == "demo-ascend-0"


# --------------------------------------------------------------------------------------------
# the controllers against the in-process API
# --------------------------------------------------------------------------------------------


def node(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


async def publish(api: Api, node_name: str, profile: str) -> None:
    """What NFD's reporter publishes for a node of ``profile`` (raw features only, no rules)."""
    obj = node_feature_object(node_name, Features.from_spec(load_profile(profile).features))
    await api.client.create(NODE_FEATURES, obj, NFD_NS)


async def labels(api: Api, name: str) -> dict[str, str]:
    return dict((await api.client.get(NODES, name))["metadata"].get("labels") or {})


@pytest.fixture
async def cluster(api: Api) -> AsyncIterator[Api]:
    await ensure_crds(api.client, [*nfd_crds(), *operator_crds()])
    await api.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NFD_NS}})
    pci_label = {"feature.node.kubernetes.io/pci-1200_19e5.present": "true"}  # what NFD's defaults add to both
    await api.client.create(NODES, node("ascend-0", **pci_label))
    await api.client.create(NODES, node("kae-0", **pci_label))
    await api.client.create(NODES, node("cpu-0"))
    await publish(api, "ascend-0", "ascend-910b")
    await publish(api, "kae-0", "kunpeng-920-kae")
    await publish(api, "cpu-0", "manycore-256")
    yield api


async def test_npu_policy_labels_only_the_ascend_node_from_nfd_features(cluster: Api) -> None:
    async with running(NPUClusterPolicyController(cluster.client, requeue_seconds=0.05)):
        await cluster.client.create(NPU, {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy",
                                          "metadata": {"name": "cluster"}, "spec": {}})

        async def deployed() -> dict[str, Any] | None:
            got = {n: (await labels(cluster, n)).get("openfuyao.com/npu.deploy.device-plugin")
                   for n in ("ascend-0", "kae-0", "cpu-0")}
            return got if got["ascend-0"] == "true" else None

        assert await eventually(deployed, what="device-plugin deploy label on the Ascend node") == {
            "ascend-0": "true", "kae-0": None, "cpu-0": None}
        assert (await labels(cluster, "ascend-0"))["openfuyao.com/npu.present"] == "true"
        assert "openfuyao.com/npu.present" not in await labels(cluster, "kae-0")

        # NFD withdrawing the features (the NodeFeature goes) takes the node out again
        await cluster.client.delete(NODE_FEATURES, "ascend-0", NFD_NS)

        async def withdrawn() -> bool:
            return "openfuyao.com/npu.present" not in await labels(cluster, "ascend-0")

        await eventually(withdrawn, what="presence label removed with the NodeFeature")
        assert "openfuyao.com/npu.deploy.driver" not in await labels(cluster, "ascend-0")


async def test_kae_policy_labels_only_the_kae_node_from_loaded_modules(cluster: Api) -> None:
    async with running(KAEClusterPolicyController(cluster.client, requeue_seconds=0.05)):
        await cluster.client.create(KAE, {"apiVersion": "kae.openfuyao.com/v1", "kind": "KAEClusterPolicy",
                                          "metadata": {"name": "kae"}, "spec": {}})

        async def deployed() -> bool:
            return (await labels(cluster, "kae-0")).get("openfuyao.com/kae.deploy.driver") == "true"

        await eventually(deployed, what="KAE driver deploy label on the KAE node")
        assert "openfuyao.com/kae.deploy.driver" not in await labels(cluster, "ascend-0")
        assert "openfuyao.com/kae.deploy.driver" not in await labels(cluster, "cpu-0")
