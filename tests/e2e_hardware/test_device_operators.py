"""Device operators bring hardware online: the upstream NPU/KAE cluster policies roll component DaemonSets out
to discovered nodes, devices become allocatable, per-node opt-out and policy deletion take them away.

Policies, rules and node labels are cluster-wide, so this module runs on its own demo server. Every test
establishes the state it needs through idempotent fixtures (apply + wait), so tests also pass alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Kubectl, Server
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import (
    ASCEND_NODES,
    EXAMPLES,
    fresh_demo_server,
    get_json,
    jsonpath,
    wait_phase,
)

pytestmark = pytest.mark.e2e

ASCEND = "huawei.com/Ascend910"
HPRE = "openfuyao.com/kae.hpre"
NPU_NS = "npu-operator"
KAE_NS = "kae-operator"
#: Components the upstream NPUClusterPolicy manages per node (vcscheduler, clusterD, resilience are off).
NPU_DAEMONSETS = {"npu-driver", "npu-oci-runtime", "npu-device-plugin", "npu-noded", "npu-exporter"}
KAE_DAEMONSETS = {"kae-driver", "kae-device-plugin"}
OPT_OUT = "openfuyao.com/npu.deploy.device-plugin"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from fresh_demo_server(tmp_path_factory)


def allocatable(kc: Kubectl) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: dict(n["status"].get("allocatable") or {}) for n in get_json(kc, "nodes")["items"]}


def nodes_advertising(kc: Kubectl, resource: str) -> dict[str, str]:
    return {node: alloc[resource] for node, alloc in allocatable(kc).items() if resource in alloc}


def pod_nodes(kc: Kubectl, namespace: str, selector: str) -> list[str]:
    """Nodes of the Running pods matching ``selector`` (sorted; duplicates kept)."""
    pods = get_json(kc, "pods", "-n", namespace, "-l", selector)["items"]
    return sorted(p["spec"].get("nodeName", "") for p in pods if p["status"].get("phase") == "Running")


def daemonsets(kc: Kubectl, namespace: str) -> set[str]:
    out = kc("get", "daemonsets", "-n", namespace, "-o", "name", "--ignore-not-found")
    return {line.rsplit("/", 1)[-1] for line in out.split()}


@pytest.fixture
def rules(kc: Kubectl) -> None:
    """The upstream Ascend/KAE NodeFeatureRule is applied and has labelled the nodes."""
    kc("apply", "-f", str(EXAMPLES / "nfd-rules-ascend-kae.yaml"))
    wait_until(
        lambda: (
            kc("get", "nodes", "-l", "huawei.com/npu.present=true", "-o", "name").split()
            and kc("get", "nodes", "-l", "openfuyao.com/kae.present=true", "-o", "name").split()
        ),
        timeout=20,
        what="discovery labels from the NodeFeatureRule",
    )


@pytest.fixture
def npu_online(kc: Kubectl, rules: None) -> None:
    """The NPU policy is applied, reports ready, and both Ascend nodes advertise 8 NPUs."""
    kc("apply", "-f", str(EXAMPLES / "npu-cluster-policy.yaml"))
    wait_until(
        lambda: (
            jsonpath(kc, "npuclusterpolicy", "npu-cluster-policy", path="{.status.state}") == "ready"
            and nodes_advertising(kc, ASCEND) == dict.fromkeys(ASCEND_NODES, "8")
        ),
        timeout=30,
        what="NPU policy ready and Ascend devices online",
    )


@pytest.fixture
def no_kae_policy(kc: Kubectl, rules: None) -> None:
    kc("delete", "kaeclusterpolicies", "--all", "--ignore-not-found")
    wait_until(lambda: not nodes_advertising(kc, HPRE), timeout=30, what="no node advertising KAE HPRE")


@pytest.mark.usefixtures("no_kae_policy")
def test_kae_nginx_deployment_stays_pending_while_no_kae_devices_are_online(hk: K) -> None:
    hk("apply", "-f", str(EXAMPLES / "kae-nginx-deployment.yaml"))
    wait_until(
        lambda: hk("get", "pods", "-l", "app=kae-nginx", "-o", "name").strip(),
        timeout=20,
        what="the Deployment's pod to be created",
    )
    rows = [line.split() for line in hk("get", "pods", "-l", "app=kae-nginx", "--no-headers").splitlines()]
    assert len(rows) == 1 and rows[0][1:3] == ["0/1", "Pending"], rows
    pod = hk.json("pods", "-l", "app=kae-nginx")["items"][0]
    assert not pod["spec"].get("nodeName")
    assert pod["spec"]["containers"][0]["resources"]["limits"][HPRE] in (1, "1")
    # The KAE node is discovered (labelled) but its engines are not allocatable without the operator.
    assert "demo-kae-0" in hk("get", "nodes", "-l", "openfuyao.com/kae.present=true", "-o", "name")
    assert HPRE not in allocatable(hk.kubectl)["demo-kae-0"]
    assert hk.json("deployment", "kae-nginx")["status"].get("availableReplicas", 0) == 0


@pytest.mark.usefixtures("npu_online")
def test_npu_policy_runs_every_component_on_the_two_ascend_nodes_only(kc: Kubectl) -> None:
    assert daemonsets(kc, NPU_NS) == NPU_DAEMONSETS

    def placement() -> dict[str, list[str]]:
        return {ds: pod_nodes(kc, NPU_NS, f"app={ds}") for ds in sorted(NPU_DAEMONSETS)}

    wanted = dict.fromkeys(sorted(NPU_DAEMONSETS), sorted(ASCEND_NODES))
    wait_until(lambda: placement() == wanted, timeout=20, what="every NPU component Running on both Ascend nodes")
    policy = get_json(kc, "npuclusterpolicy", "npu-cluster-policy")
    assert policy["status"]["state"] == "ready"
    assert policy["status"]["components"]["device-plugin"]["state"] == "ready"
    assert policy["status"]["components"]["vcscheduler"]["state"] == "disabled"
    ready = [c for c in policy["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert jsonpath(kc, "node", "demo-ascend-0", path="{.status.allocatable.huawei\\.com/Ascend910}") == "8"
    # Only the Ascend nodes gain NPUs.
    assert set(nodes_advertising(kc, ASCEND)) == set(ASCEND_NODES)


@pytest.mark.usefixtures("rules")
def test_kae_policy_brings_hpre_engines_online_on_the_kae_node(kc: Kubectl) -> None:
    kc("apply", "-f", str(EXAMPLES / "kae-cluster-policy.yaml"))
    wait_until(
        lambda: (
            jsonpath(kc, "kaeclusterpolicy", "kae-cluster-policy", path="{.status.state}") == "ready"
            and "demo-kae-0" in nodes_advertising(kc, HPRE)
        ),
        timeout=30,
        what="KAE policy ready with HPRE online",
    )
    assert daemonsets(kc, KAE_NS) == KAE_DAEMONSETS
    for ds in sorted(KAE_DAEMONSETS):
        assert pod_nodes(kc, KAE_NS, f"app={ds}") == ["demo-kae-0"]
    advertised = nodes_advertising(kc, HPRE)
    assert set(advertised) == {"demo-kae-0"}
    assert int(advertised["demo-kae-0"]) > 0


@pytest.mark.usefixtures("npu_online")
def test_pod_requesting_two_npus_gets_two_device_ids_and_runs(hk: K) -> None:
    hk.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "train"},
            "spec": {
                "nodeName": "demo-ascend-1",
                "containers": [
                    {
                        "name": "main",
                        "image": "ascend/mindspore:2.3",
                        "resources": {"limits": {ASCEND: "2"}, "requests": {ASCEND: "2"}},
                    }
                ],
            },
        }
    )
    wait_phase(hk, "train", "Running")
    annotation = hk("get", "pod", "train", "-o", "jsonpath={.metadata.annotations.suanli\\.io/allocated-devices}")
    devices = json.loads(annotation)[ASCEND]
    assert len(devices) == 2 and len(set(devices)) == 2, devices


@pytest.mark.usefixtures("npu_online")
def test_opting_a_node_out_of_the_device_plugin_removes_only_that_pod_and_its_npus(kc: Kubectl) -> None:
    try:
        kc("label", "node", "demo-ascend-0", f"{OPT_OUT}=false", "--overwrite")
        wait_until(
            lambda: (
                pod_nodes(kc, NPU_NS, "app=npu-device-plugin") == ["demo-ascend-1"]
                and nodes_advertising(kc, ASCEND) == {"demo-ascend-1": "8"}
            ),
            timeout=30,
            what="device plugin and NPUs gone from demo-ascend-0 only",
        )
        # Other components stay on the opted-out node.
        assert pod_nodes(kc, NPU_NS, "app=npu-driver") == sorted(ASCEND_NODES)
        assert pod_nodes(kc, NPU_NS, "app=npu-exporter") == sorted(ASCEND_NODES)
    finally:
        kc("label", "node", "demo-ascend-0", f"{OPT_OUT}-")
    # Opting back in (removing the label) restores the plugin and the devices.
    wait_until(
        lambda: (
            pod_nodes(kc, NPU_NS, "app=npu-device-plugin") == sorted(ASCEND_NODES)
            and nodes_advertising(kc, ASCEND) == dict.fromkeys(ASCEND_NODES, "8")
        ),
        timeout=30,
        what="device plugin and NPUs back on demo-ascend-0",
    )


@pytest.mark.usefixtures("npu_online")
def test_deleting_the_npu_policy_removes_components_and_devices_everywhere(kc: Kubectl) -> None:
    kc("delete", "npuclusterpolicy", "npu-cluster-policy")
    wait_until(lambda: not daemonsets(kc, NPU_NS), timeout=30, what="NPU DaemonSets deleted")
    wait_until(
        lambda: not kc("get", "pods", "-n", NPU_NS, "-o", "name").strip(), timeout=30, what="NPU component pods deleted"
    )
    wait_until(lambda: not nodes_advertising(kc, ASCEND), timeout=30, what="NPUs gone from every node")
    capacity = {n["metadata"]["name"]: n["status"]["capacity"] for n in get_json(kc, "nodes")["items"]}
    assert all(ASCEND not in c for c in capacity.values())
    # The per-component deploy labels the operator set are cleared too; discovery labels remain.
    labels = get_json(kc, "node", "demo-ascend-0")["metadata"]["labels"]
    assert not [k for k in labels if k.startswith("openfuyao.com/npu.deploy.")]
    assert labels["huawei.com/npu.present"] == "true"
