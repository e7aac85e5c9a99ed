"""The cluster-policy controller labels nodes incrementally: cost follows the nodes that changed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers.operators import NPUClusterPolicyController, operator_crds
from suanli.node.nfd.crds import ensure_crds, nfd_crds
from tests.controllers.conftest import Api, eventually, running

NODES = GVR("", "v1", "nodes", namespaced=False)
NPU = GVR("npu.openfuyao.com", "v1", "npuclusterpolicies", namespaced=False)
PRESENT = "openfuyao.com/npu.present"
DRIVER = "openfuyao.com/npu.deploy.driver"
CPU_NODES = 60


def node(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


async def labels(api: Api, name: str) -> dict[str, str]:
    return dict((await api.client.get(NODES, name))["metadata"].get("labels") or {})


async def idle(ctrl: NPUClusterPolicyController, nodes: int) -> bool:
    return len(ctrl.nodes) == nodes and not len(ctrl.queue) and not ctrl.queue._processing


@pytest.fixture
async def ctrl(api: Api) -> AsyncIterator[NPUClusterPolicyController]:
    await ensure_crds(api.client, [*nfd_crds(), *operator_crds()])
    c = NPUClusterPolicyController(api.client, requeue_seconds=0.05)
    async with running(c):
        yield c


async def test_nodes_added_without_a_policy_are_each_examined_about_once(
        api: Api, ctrl: NPUClusterPolicyController) -> None:
    for i in range(CPU_NODES):
        await api.client.create(NODES, node(f"cpu-{i}"))
    await eventually(lambda: idle(ctrl, CPU_NODES), what="controller idle")
    # one full first pass plus each node once more at most; a full pass per node event would be ~N²/2
    assert ctrl.nodes_examined <= 2 * CPU_NODES
    assert not any(k.startswith("openfuyao.com/npu") for k in await labels(api, "cpu-0"))


async def test_policy_toggles_label_every_node_and_new_nodes_alone(api: Api, ctrl: NPUClusterPolicyController) -> None:
    for i in range(CPU_NODES):
        await api.client.create(NODES, node(f"cpu-{i}"))
    await api.client.create(NODES, node("npu-0", **{"huawei.com/npu.present": "true"}))
    await eventually(lambda: idle(ctrl, CPU_NODES + 1), what="controller idle")
    policy = await api.client.create(NPU, {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy",
                                           "metadata": {"name": "p"}, "spec": {}})

    async def labelled(name: str) -> bool:
        got = await labels(api, name)
        return got.get(PRESENT) == "true" and got.get(DRIVER) == "true"

    await eventually(lambda: labelled("npu-0"), what="existing NPU node labelled on policy creation")
    await eventually(lambda: idle(ctrl, CPU_NODES + 1), what="controller idle")
    before = ctrl.nodes_examined
    await api.client.create(NODES, node("npu-1", **{"huawei.com/npu.present": "true"}))
    await eventually(lambda: labelled("npu-1"), what="new NPU node labelled")
    await eventually(lambda: idle(ctrl, CPU_NODES + 2), what="controller idle")
    assert ctrl.nodes_examined - before <= 4  # the new node (and its own relabel event), not all nodes
    assert not any(k.startswith("openfuyao.com/npu") for k in await labels(api, "cpu-3"))

    await api.client.delete(NPU, policy["metadata"]["name"])

    async def cleared() -> bool:
        for name in ("npu-0", "npu-1"):
            if any(k.startswith("openfuyao.com/npu") for k in await labels(api, name)):
                return False
        return True

    await eventually(cleared, what="labels removed from every node once no policy is active")


async def test_deleted_npu_node_no_longer_counts_as_present(api: Api, ctrl: NPUClusterPolicyController) -> None:
    await api.client.create(NODES, node("npu-0", **{"huawei.com/npu.present": "true"}))
    await api.client.create(NPU, {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy",
                                  "metadata": {"name": "p"}, "spec": {}})
    await eventually(lambda: ctrl.daemonsets.get("npu-operator", "npu-driver"), what="driver DaemonSet created")
    await api.client.delete(NODES, "npu-0")

    async def no_nodes() -> bool:
        st = (await api.client.get(NPU, "p")).get("status") or {}
        return any(c.get("reason") == "NoNPUNodes" for c in st.get("conditions") or [])

    await eventually(no_nodes, what="policy reports no NPU nodes")
