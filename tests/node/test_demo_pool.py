"""The demo pool: node shapes and idempotent creation through the real in-process API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.demo import DEMO_POOL, demo_nodes, ensure_demo_pool, simulated_node
from suanli.node.profiles import load_profile
from suanli.storage import Store

NODES = GVR("", "v1", "nodes", namespaced=False)


@pytest.fixture
async def client() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None)
    await store.start()
    service = ApiService(store, registry)
    yield LocalClient(service)
    await service.drain_background()
    await store.stop()


def test_demo_pool_is_heterogeneous() -> None:
    profiles = {p for _, p in DEMO_POOL}
    assert {"ascend-910b", "kunpeng-920-kae", "nvidia-a100", "gpushare-t4", "manycore-256"} <= profiles
    names = [n["metadata"]["name"] for n in demo_nodes()]
    assert len(names) == len(set(names)) and "demo-ascend-0" in names


@pytest.mark.parametrize(("name", "profile"), DEMO_POOL, ids=[n for n, _ in DEMO_POOL])
def test_demo_node_follows_kwok_conventions_without_kwok_taint(name: str, profile: str) -> None:
    (node,) = [n for n in demo_nodes() if n["metadata"]["name"] == name]
    m = node["metadata"]
    assert m["annotations"] == {"kwok.x-k8s.io/node": "fake", "suanli.io/hardware-profile": profile}
    assert m["labels"]["type"] == "kwok" and m["labels"]["kubernetes.io/hostname"] == name
    assert m["labels"]["kubernetes.io/arch"] == load_profile(profile).labels["kubernetes.io/arch"]
    assert not node["spec"].get("taints")


def test_simulated_node_status_has_base_resources_only() -> None:
    node = simulated_node("x", "ascend-910b", labels={"zone": "a"})
    assert node["status"]["capacity"] == {"cpu": "192", "memory": "1536Gi", "pods": "110",
                                          "ephemeral-storage": "3576Gi"}
    assert node["status"]["allocatable"] == node["status"]["capacity"]
    assert node["status"]["nodeInfo"]["architecture"] == "arm64"
    assert node["metadata"]["labels"]["zone"] == "a"


async def test_ensure_demo_pool_creates_missing_nodes_once(client: LocalClient) -> None:
    assert await ensure_demo_pool(client) == [n for n, _ in DEMO_POOL]
    stored = {n["metadata"]["name"]: n for n in (await client.list(NODES))["items"]}
    assert sorted(stored) == sorted(n for n, _ in DEMO_POOL)
    assert stored["demo-a100-0"]["status"]["capacity"]["cpu"] == "256"  # status kept on create


async def test_ensure_demo_pool_leaves_existing_nodes_alone(client: LocalClient) -> None:
    await ensure_demo_pool(client)
    await client.patch(NODES, "demo-kae-0", {"metadata": {"labels": {"edited": "yes"}}})
    await client.delete(NODES, "demo-manycore-0")
    assert await ensure_demo_pool(client) == ["demo-manycore-0"]
    kae = await client.get(NODES, "demo-kae-0")
    assert kae["metadata"]["labels"]["edited"] == "yes"
