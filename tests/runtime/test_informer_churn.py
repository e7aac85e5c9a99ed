"""An informer over the in-process stack keeps nothing for deleted objects, in its cache or indexes."""

from __future__ import annotations

import asyncio
import time

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.informer import Informer
from suanli.storage import Store

PODS = GVR("", "v1", "pods")


def _node_of(p: Obj) -> list[str]:
    node = (p.get("spec") or {}).get("nodeName") or ""
    return [str(node)] if node else []


async def _until(pred: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_churned_pods_leave_no_keys_in_the_informer_cache_or_indexes() -> None:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    client = LocalClient(service)
    await client.create(GVR("", "v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "default"}})
    inf = Informer(client, PODS, indexers={"node": _node_of})
    deleted: list[str] = []
    inf.add_handler(on_delete=lambda o: deleted.append(o["metadata"]["name"]))
    task = asyncio.create_task(inf.run())
    try:
        await inf.wait_synced()
        for batch in range(4):
            names = [f"p{batch}-{i}" for i in range(50)]
            for i, n in enumerate(names):
                await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                           "metadata": {"name": n, "namespace": "default"},
                                           "spec": {"nodeName": f"n{i % 5}",
                                                    "containers": [{"name": "c", "image": "busybox"}]}},
                                    "default")
            await _until(lambda names=names: all(inf.get("default", n) is not None for n in names))
            for n in names:
                await client.delete(PODS, n, "default", grace_period_seconds=0)
        await _until(lambda: len(deleted) == 200)
        assert len(inf) == 0
        assert inf._indices == {"namespace": {}, "node": {}}
        assert all(not stored for _name, _fn, _idx, stored in inf._value_indexes)
    finally:
        inf.stop()
        await task
        await store.stop()
