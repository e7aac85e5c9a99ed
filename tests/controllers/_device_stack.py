"""Test support for device-controller tests: the real in-process API stack and a stand-in pod runner.

``ApiStack`` builds Registry + Store(data_dir=None) + ApiService + LocalClient + GarbageCollector
exactly as ``cli/platform.py`` does. ``PodRunner`` stands in for the node agent (written
elsewhere): it marks pods bound to nodes Running + Ready and finishes graceful deletions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.controllers.garbage_collector import GarbageCollector
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.runtime.informer import Informer
from suanli.storage import Store

T = TypeVar("T")

NODES = GVR("", "v1", "nodes", namespaced=False)
PODS = GVR("", "v1", "pods")
DAEMONSETS = GVR("apps", "v1", "daemonsets")
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)


async def eventually(fn: Callable[[], Awaitable[T | None]], *, timeout: float = 5.0, what: str = "condition") -> T:
    """Re-evaluate ``fn`` until it returns a truthy value; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
        await asyncio.sleep(0.005)


class ApiStack:
    """The embedded API stack plus background components started with :meth:`start_component`."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        self.store = Store(None)
        self.service = ApiService(self.store, self.registry)
        self.client = LocalClient(self.service)
        self._tasks: list[asyncio.Task[Any]] = []
        self._stoppers: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        for ns in ("default", "kube-system"):
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.start_component(GarbageCollector(self.client, retry_delay=0.05, discovery_resync=0.2))

    def start_component(self, comp: Any) -> None:
        self._tasks.append(asyncio.create_task(comp.run()))
        self._stoppers.append(comp.stop)

    async def stop(self) -> None:
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                await stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, timeout=5)
        await self.service.drain_background()
        await self.store.stop()

    async def add_node(self, name: str, labels: dict[str, str] | None = None, *,
                       taints: list[Obj] | None = None, annotations: dict[str, str] | None = None) -> Obj:
        node: Obj = {"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
                     "spec": {"taints": taints} if taints else {}}
        return await self.client.create(NODES, node)

    async def label_node(self, name: str, labels: dict[str, str | None]) -> Obj:
        return await self.client.patch(NODES, name, {"metadata": {"labels": labels}})

    async def pods_on(self, namespace: str = "", label_selector: str = "") -> list[Obj]:
        items = (await self.client.list(PODS, namespace, label_selector=label_selector))["items"]
        return list(items)


class PodRunner:
    """Stand-in node agent: pods bound to a node become Running + Ready; deleted pods go away.

    ``hold`` names nodes whose pods are left Pending (to test unavailability).
    """

    def __init__(self, client: LocalClient, hold: set[str] | None = None) -> None:
        self.client = client
        self.hold = hold if hold is not None else set()
        self.informer = Informer(client, PODS)
        self.queue: asyncio.Queue[Obj] = asyncio.Queue()
        self.informer.add_handler(self.queue.put_nowait, lambda _o, n: self.queue.put_nowait(n), None)

    async def run(self) -> None:
        inf = asyncio.create_task(self.informer.run())
        try:
            while True:
                pod = await self.queue.get()
                with contextlib.suppress(ApiError):
                    await self._step(pod)
        finally:
            inf.cancel()

    async def stop(self) -> None:
        self.informer.stop()

    async def _step(self, pod: Obj) -> None:
        m = pod["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return
        if m.get("deletionTimestamp"):
            await self.client.delete(PODS, m["name"], m["namespace"], grace_period_seconds=0)
        elif node not in self.hold and (pod.get("status") or {}).get("phase") == "Pending":
            await set_pod_running(self.client, pod)


async def set_pod_running(client: LocalClient, pod: Obj) -> None:
    m = pod["metadata"]
    status = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
    await client.patch(PODS, m["name"], {"status": status}, m["namespace"], subresource="status")
