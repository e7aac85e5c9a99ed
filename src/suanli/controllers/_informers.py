"""Informers over every served resource type, following registry changes (CRDs).

Shared by controllers that must see all kinds (garbage collector, namespace deleter).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.kinds.registry import Registry, ResourceType
from suanli.runtime.informer import Informer

__all__ = ["AllInformers"]

Handler = Callable[[ResourceType, Obj | None, Obj | None], None]


def gvr_of(rt: ResourceType) -> GVR:
    return GVR(rt.group, rt.version, rt.plural, rt.namespaced)


class AllInformers:
    """One informer per storage bucket; ``handler(rt, old, new)`` sees every change (new None = deleted)."""

    def __init__(self, client: Client, registry: Registry, handler: Handler,
                 skip: frozenset[str] = frozenset({"events", "events.k8s.io/events", "metrics.k8s.io/nodes",
                                                   "metrics.k8s.io/pods"})) -> None:
        self.client = client
        self.registry = registry
        self.handler = handler
        self.skip = skip
        self.informers: dict[str, tuple[ResourceType, Informer, asyncio.Task[None]]] = {}
        self._changed = asyncio.Event()
        registry.on_change(self._changed.set)

    def _wanted(self) -> dict[str, ResourceType]:
        out: dict[str, ResourceType] = {}
        for rt in sorted(self.registry.all(), key=lambda r: (r.storage_key, r.version)):
            if rt.storage_key in self.skip or "watch" not in rt.verbs:
                continue
            out.setdefault(rt.storage_key, rt)
        return out

    def sync_informers(self) -> None:
        wanted = self._wanted()
        for key in list(self.informers):
            if key not in wanted:
                _, inf, task = self.informers.pop(key)
                inf.stop()
                task.cancel()
        for key, rt in wanted.items():
            if key in self.informers:
                continue
            inf = Informer(self.client, gvr_of(rt))
            self._attach(inf, rt)
            self.informers[key] = (rt, inf, asyncio.create_task(inf.run()))

    def _attach(self, inf: Informer, rt: ResourceType) -> None:
        def on_add(obj: Obj) -> None:
            self.handler(rt, None, obj)

        def on_update(old: Obj, new: Obj) -> None:
            self.handler(rt, old, new)

        def on_delete(obj: Obj) -> None:
            self.handler(rt, obj, None)

        inf.add_handler(on_add, on_update, on_delete)

    def cached(self, storage_key: str) -> list[Obj]:
        entry = self.informers.get(storage_key)
        return entry[1].list() if entry else []

    async def run(self) -> None:
        self.sync_informers()
        while True:
            await self._changed.wait()
            self._changed.clear()
            self.sync_informers()

    async def stop(self) -> None:
        for _, inf, task in self.informers.values():
            inf.stop()
            task.cancel()
        for _, _, task in self.informers.values():
            with contextlib.suppress(BaseException):
                await task
        self.informers.clear()
