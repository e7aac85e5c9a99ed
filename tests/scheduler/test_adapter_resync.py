"""The live adapter's periodic resync: the incremental snapshot is rebuilt from the informer caches,
and drift (a missed or misapplied event) is detected and repaired."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import volcano_crds
from suanli.node.nfd.crds import ensure_crds
from suanli.scheduler.adapter import LiveScheduler
from suanli.scheduler.core import snapshot_builder
from suanli.storage import Store

PODS = GVR("", "v1", "pods")
NODES = GVR("", "v1", "nodes", namespaced=False)


def _node(name: str) -> dict[str, Any]:
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _pod(name: str, node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"schedulerName": "nobody",
                            "containers": [{"name": "c", "image": "x",
                                            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.fixture
async def scheduler() -> AsyncIterator[tuple[LiveScheduler, LocalClient]]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    client = LocalClient(service)
    ns_rt = registry.get("", "v1", "namespaces")
    assert ns_rt is not None
    await service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    await ensure_crds(client, volcano_crds())
    sched = LiveScheduler(client, period=3600)  # cycles only when asked: the test drives resyncs itself
    task = asyncio.create_task(sched.run())
    await sched.ready.wait()
    try:
        yield sched, client
    finally:
        await sched.stop()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 5)
        await store.stop()


async def _until(cond: Any) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)  # yielding to the informers' tasks of this event loop
    raise AssertionError("condition not reached")


async def test_resync_of_a_consistent_snapshot_reports_no_drift(scheduler: tuple[LiveScheduler, LocalClient]) -> None:
    sched, client = scheduler
    await client.create(NODES, _node("n0"))
    await client.create(PODS, _pod("bound", "n0"), "default")
    await _until(lambda: len(sched.pods.list()) == 1 and len(sched.nodes.list()) == 1)
    assert sched.resync_snapshot() is False
    snap = sched.build_snapshot()
    assert snap.nodes.used[0][snap.dim_index["cpu"]] == 1000  # the bound pod's milli-CPU


async def test_resync_repairs_a_snapshot_that_missed_an_event(scheduler: tuple[LiveScheduler, LocalClient]) -> None:
    sched, client = scheduler
    await client.create(NODES, _node("n0"))
    await client.create(PODS, _pod("bound", "n0"), "default")
    await _until(lambda: len(sched.pods.list()) == 1 and len(sched.nodes.list()) == 1)
    pod = sched.pods.get("default", "bound")
    assert pod is not None
    sched.snapshots.remove_pod(pod)  # as if the builder had lost the pod's event
    assert sched.build_snapshot().nodes.used[0][sched.build_snapshot().dim_index["cpu"]] == 0
    assert sched.resync_snapshot() is True
    snap = sched.build_snapshot()
    assert [t.name for t in snap.tasks] == ["bound"]
    assert snap.nodes.used[0][snap.dim_index["cpu"]] == 1000


async def test_a_failed_cycle_does_not_wedge_later_snapshots(
    scheduler: tuple[LiveScheduler, LocalClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One object whose conversion raised (an overflowing quantity, found by fuzzing) used to leave the
    incremental snapshot half-updated, and every later cycle failed on it; after the failure handling the
    next snapshot is built from the informer caches."""
    sched, client = scheduler
    await client.create(NODES, _node("n0"))
    await client.create(PODS, _pod("a", "n0"), "default")
    await _until(lambda: len(sched.pods.list()) == 1 and len(sched.nodes.list()) == 1)
    sched.build_snapshot()
    real = snapshot_builder.pod_request
    calls = iter([True])

    def fail_once(view: Any) -> Any:
        if next(calls, False):
            raise OverflowError("int too large to convert to float")
        return real(view)

    monkeypatch.setattr(snapshot_builder, "pod_request", fail_once)
    await client.create(PODS, _pod("b", "n0"), "default")
    await _until(lambda: len(sched.pods.list()) == 2)
    with pytest.raises(OverflowError):
        sched.build_snapshot()
    sched._discard_incremental_state()  # what the cycle loop does after logging the failure
    snap = sched.build_snapshot()
    assert sorted(t.name for t in snap.tasks) == ["a", "b"]
    assert snap.nodes.used[0][snap.dim_index["cpu"]] == 2000
