"""LocalClient returns the caller's own objects (get, list, writes): mutating one never changes the store's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store
from suanli.wire import CONFIGMAPS, NAMESPACES


@pytest.fixture
async def client() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    c = LocalClient(ApiService(store, registry))
    await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    try:
        yield c
    finally:
        await store.stop()


def _cm(value: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"},
            "data": {"k": value}}


async def _from_get(c: LocalClient) -> Obj:
    return await c.get(CONFIGMAPS, "cm", "ns")


async def _from_list(c: LocalClient) -> Obj:
    items: list[Obj] = (await c.list(CONFIGMAPS, "ns"))["items"]
    return items[0]


async def _from_patch(c: LocalClient) -> Obj:
    return await c.patch(CONFIGMAPS, "cm", {"metadata": {"labels": {"a": "b"}}}, "ns")


@pytest.mark.parametrize("read", [
    pytest.param(_from_get, id="get"),
    pytest.param(_from_list, id="list-item"),
    pytest.param(_from_patch, id="patch-result"),
])
async def test_mutating_a_returned_object_leaves_the_store_alone_and_the_update_applies(
        client: LocalClient, read: Callable[[LocalClient], Awaitable[Obj]]) -> None:
    created = await client.create(CONFIGMAPS, _cm("old"), "ns")
    created["data"]["k"] = "mutated-create-result"
    obj = await asyncio.wait_for(read(client), 10)
    obj["data"]["k"] = "new"
    assert (await client.get(CONFIGMAPS, "cm", "ns"))["data"] == {"k": "old"}
    updated = await client.update(CONFIGMAPS, obj, "ns")
    assert updated["data"] == {"k": "new"}
    assert int(updated["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])


async def test_returned_objects_are_distinct_per_call(client: LocalClient) -> None:
    await client.create(CONFIGMAPS, _cm("v"), "ns")
    one: dict[str, Any] = await client.get(CONFIGMAPS, "cm", "ns")
    two: dict[str, Any] = await client.get(CONFIGMAPS, "cm", "ns")
    assert one == two
    assert one is not two and one["data"] is not two["data"]
