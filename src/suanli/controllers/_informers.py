"""Informer helpers shared by controllers.

* :class:`AllInformers` — informers over every served resource type, following registry
  changes (CRDs), taken from a :class:`SharedInformerFactory`. Used by controllers that
  must see all kinds (the garbage collector).
* :func:`controller_uid_index` / :data:`CONTROLLER_INDEX` — the one "controller" index
  function, so every controller that indexes pods or ReplicaSets by their controller's UID
  shares one index on the shared informer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._pods import controller_of
from suanli.kinds.registry import Registry, ResourceType
from suanli.runtime.informer import HandlerRegistration, Informer
from suanli.runtime.informer_factory import SharedInformerFactory, resolve_factory

__all__ = ["CONTROLLER_INDEX", "AllInformers", "controller_uid_index", "gvr_of"]

Handler = Callable[[ResourceType, Obj | None, Obj | None], None]

CONTROLLER_INDEX = "controller"


def controller_uid_index(obj: Obj) -> list[str]:
    """``[uid]`` of the object's controlling ownerReference, ``[]`` without one."""
    ref = controller_of(obj)
    return [str(ref.get("uid"))] if ref is not None else []


def gvr_of(rt: ResourceType) -> GVR:
    return GVR(rt.group, rt.version, rt.plural, rt.namespaced)


class AllInformers:
    """One informer per storage bucket; ``handler(rt, old, new)`` sees every change (new None = deleted).

    Informers come from ``factory`` (shared with other consumers; started, not stopped, by
    :meth:`run`) or, without one, from a private factory that :meth:`stop` stops. When a
    resource type disappears from the registry its handler is removed and its informer
    released (stopped if nobody else uses it).
    """

    def __init__(self, client: Client, registry: Registry, handler: Handler,
                 skip: frozenset[str] = frozenset({"events", "events.k8s.io/events", "metrics.k8s.io/nodes",
                                                   "metrics.k8s.io/pods"}),
                 *, factory: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.registry = registry
        self.handler = handler
        self.skip = skip
        self.factory, self._owns_factory = resolve_factory(client, factory)
        self.informers: dict[str, tuple[ResourceType, Informer, HandlerRegistration]] = {}
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
                self._drop(key)
        for key, rt in wanted.items():
            if key in self.informers:
                continue
            inf = self.factory.informer(gvr_of(rt))
            self.informers[key] = (rt, inf, self._attach(inf, rt))
        self.factory.start()

    def _drop(self, key: str) -> None:
        _, inf, registration = self.informers.pop(key)
        inf.remove_handler(registration)
        self.factory.release(inf)

    def _attach(self, inf: Informer, rt: ResourceType) -> HandlerRegistration:
        handler = self.handler  # bound once: partials call it without an extra Python frame per event

        def on_delete(obj: Obj) -> None:
            handler(rt, obj, None)

        return inf.add_handler(partial(handler, rt, None), partial(handler, rt), on_delete)

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
        for key in list(self.informers):
            self._drop(key)
        if self._owns_factory:
            await self.factory.stop()
