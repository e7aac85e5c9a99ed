"""Namespace deletion: empty a terminating namespace, then release its ``kubernetes`` finalizer."""

from __future__ import annotations

import asyncio
import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._informers import gvr_of
from suanli.kinds.registry import Registry
from suanli.runtime.informer_factory import SharedInformerFactory, resolve_factory

__all__ = ["NamespaceController"]

log = logging.getLogger(__name__)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
FINALIZER = "kubernetes"


class NamespaceController:
    """Construct with a client and registry (and optionally a shared informer factory); ``await run()``."""

    def __init__(self, client: Client, registry: Registry, *, retry_delay: float = 0.5,
                 factory: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.registry = registry
        self.retry_delay = retry_delay
        self.factory, self._owns_factory = resolve_factory(client, factory)
        self.informer = self.factory.informer(NAMESPACES)
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._registration = self.informer.add_handler(
            self._maybe_enqueue, lambda _o, n: self._maybe_enqueue(n), lambda _o: None)

    def _maybe_enqueue(self, ns: Obj) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self._enqueue(ns["metadata"]["name"])

    def _enqueue(self, name: str) -> None:
        if name not in self._queued:
            self._queued.add(name)
            self._queue.put_nowait(name)

    async def run(self) -> None:
        self.factory.start()
        try:
            while True:
                name = await self._queue.get()
                self._queued.discard(name)
                try:
                    again = await self._reconcile(name)
                except Exception:
                    log.exception("namespace %s: cleanup failed", name)
                    again = True
                if again:
                    asyncio.get_running_loop().call_later(self.retry_delay, self._enqueue, name)
        finally:
            if self._owns_factory:
                await self.factory.stop()

    async def stop(self) -> None:
        self.informer.remove_handler(self._registration)
        if self._owns_factory:
            await self.factory.stop()

    async def _reconcile(self, name: str) -> bool:
        try:
            ns = await self.client.get(NAMESPACES, name)
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return False
        remaining = 0
        seen: set[str] = set()
        for rt in self.registry.all():
            if not rt.namespaced or rt.storage_key in seen or "list" not in rt.verbs:
                continue
            seen.add(rt.storage_key)
            gvr = gvr_of(rt)
            try:
                items = (await self.client.list(gvr, name))["items"]
            except ApiError as err:
                if err.code == 404:
                    continue
                raise
            for item in items:
                remaining += 1
                if item["metadata"].get("deletionTimestamp") and rt.storage_key != "pods":
                    continue
                try:
                    await self.client.delete(gvr, item["metadata"]["name"], name,
                                             propagation_policy="Background",
                                             grace_period_seconds=0 if rt.storage_key == "pods" else None)
                except ApiError as err:
                    if err.code != 404:
                        raise
        if remaining:
            return True
        new = deep_copy(ns)
        fins = [f for f in (new.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        new.setdefault("spec", {})["finalizers"] = fins
        try:
            await self.client.update(NAMESPACES, new, subresource="finalize")
        except ApiError as err:
            if err.code in (404,):
                return False
            if err.code == 409:
                return True
            raise
        return False
