"""The openFuyao guide's walkthrough as printed: its NodeFeatureRule, then its NPUClusterPolicy, applied with
kubectl to the demo pool, bring NPUs online on the Ascend nodes only (never on the KAE node, whose ZIP engine
matches the guide's vendor/class rule too); the KAE operator finds the KAE node from NFD's raw features and a
KAE pod runs there.

Policies and rules are cluster-wide, so this module runs on its own demo server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import ASCEND_NODES, EXAMPLES, fresh_demo_server, get_json, jsonpath, wait_phase

pytestmark = pytest.mark.e2e

GUIDE = EXAMPLES / "openfuyao-guide"
ASCEND = "huawei.com/Ascend910"
HPRE = "openfuyao.com/kae.hpre"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from fresh_demo_server(tmp_path_factory)


def advertising(kc: Kubectl, resource: str) -> dict[str, str]:
    return {n["metadata"]["name"]: n["status"]["allocatable"][resource]
            for n in get_json(kc, "nodes")["items"] if resource in (n["status"].get("allocatable") or {})}


def test_guide_rule_and_npu_cluster_policy_bring_npus_online_on_ascend_nodes_only(kc: Kubectl) -> None:
    kc("apply", "-f", str(GUIDE / "custom-npu-rule.yaml"))
    # The guide's vendor/class rule labels the KAE node as well (its ZIP engine is 19e5/1200) ...
    wait_until(lambda: set(kc("get", "nodes", "-l", "feature.node.kubernetes.io/npu-device=true", "-o",
                              "name").split()) == {f"node/{n}" for n in (*ASCEND_NODES, "demo-kae-0")},
               timeout=20, what="the guide's rule labelling the 19e5/1200 nodes")
    kc("apply", "-f", str(GUIDE / "npu-cluster-policy.yaml"))
    wait_until(lambda: (jsonpath(kc, "npuclusterpolicy", "cluster", path="{.status.state}") == "ready"
                        and advertising(kc, ASCEND) == dict.fromkeys(ASCEND_NODES, "8")),
               timeout=40, what="NPUClusterPolicy cluster ready with 8 NPUs on each Ascend node")
    # ... but only the Ascend nodes are NPU nodes: discovery reads the PCI device ids NFD publishes.
    present = kc("get", "nodes", "-l", "openfuyao.com/npu.present=true", "-o", "name").split()
    assert sorted(present) == [f"node/{n}" for n in ASCEND_NODES]
    assert "openfuyao.com/npu.deploy.driver" not in get_json(kc, "node", "demo-kae-0")["metadata"]["labels"]
    reason = jsonpath(kc, "npuclusterpolicy", "cluster", path="{.status.conditions[?(@.type=='Ready')].reason}")
    assert reason == "Reconciled"


def test_kae_operator_finds_the_kae_node_from_nfd_and_a_kae_pod_runs(kc: Kubectl, hk: K) -> None:
    kc("apply", "-f", str(EXAMPLES / "kae-cluster-policy.yaml"))
    wait_until(lambda: set(advertising(kc, HPRE)) == {"demo-kae-0"}, timeout=40,
               what="KAE HPRE engines online on the KAE node only")
    hk("apply", "-f", str(EXAMPLES / "kae-nginx-deployment.yaml"))

    def running() -> list[str] | None:
        pods = hk.json("pods", "-l", "app=kae-nginx")["items"]
        ok = [p["spec"]["nodeName"] for p in pods if p["status"].get("phase") == "Running"]
        return ok or None

    assert wait_until(running, timeout=30, what="the KAE nginx pod Running") == ["demo-kae-0"]


@pytest.fixture
def guide_applied(kc: Kubectl) -> None:
    """The guide's two manifests are applied and 8 NPUs are online on each Ascend node (idempotent)."""
    kc("apply", "-f", str(GUIDE / "custom-npu-rule.yaml"), "-f", str(GUIDE / "npu-cluster-policy.yaml"))
    wait_until(lambda: advertising(kc, ASCEND) == dict.fromkeys(ASCEND_NODES, "8"), timeout=40,
               what="8 NPUs on each Ascend node")


def npu_pod(name: str, count: int, **extra: Any) -> dict[str, Any]:
    meta = {"name": name, **({"annotations": extra["annotations"]} if "annotations" in extra else {})}
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "ascend/mindspore:2.3",
                                            "resources": {"limits": {ASCEND: str(count)}}}]}
    if "node" in extra:
        spec["nodeName"] = extra["node"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@pytest.mark.usefixtures("guide_applied")
def test_nodes_publish_their_interconnect_topology_and_npus_come_from_one_group(hk: K) -> None:
    for node in ASCEND_NODES:
        topology = hk.kubectl("get", "node", node, "-o",
                              "jsonpath={.metadata.annotations.suanli\\.io/device-topology}")
        assert json.loads(topology) == {ASCEND: [[0, 1, 2, 3], [4, 5, 6, 7]]}
    hk.apply(npu_pod("pair", 2))
    wait_phase(hk, "pair", "Running", timeout=30)
    pod = hk.json("pod", "pair")
    devices = [int(i) for i in json.loads(pod["metadata"]["annotations"]["suanli.io/allocated-devices"])[ASCEND]]
    assert len(devices) == 2 and (set(devices) <= {0, 1, 2, 3} or set(devices) <= {4, 5, 6, 7}), devices


@pytest.mark.usefixtures("guide_applied")
def test_pod_with_a_decision_the_node_cannot_honour_fails_with_the_reason(hk: K) -> None:
    bogus = {"suanli.io/allocated-devices": json.dumps({ASCEND: ["9"]})}
    hk.apply(npu_pod("bogus", 1, node="demo-ascend-1", annotations=bogus))
    wait_phase(hk, "bogus", "Failed", timeout=30)
    status = hk.json("pod", "bogus")["status"]
    assert status["reason"] == "UnexpectedAdmissionError"
    assert "device 9 does not exist or is unhealthy" in status["message"], status["message"]
    assert "suanli.io/allocated-devices" in status["message"]
