"""Informer helpers shared by controllers.

* :class:`AllInformers` — informers over every served resource type, found by API
  discovery and re-discovered periodically (CRDs), taken from a
  :class:`SharedInformerFactory`. Used by controllers that must see all kinds (the garbage
  collector).
* :func:`controller_uid_index` / :data:`CONTROLLER_INDEX` — the one "controller" index
  function, so every controller that indexes pods or ReplicaSets by their controller's UID
  shares one index on the shared informer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.discovery import APIResource, RESTMapper, preferred_resources, server_resources
from suanli.client.protocol import Client
from suanli.controllers._pods import controller_of
from suanli.runtime.informer import HandlerRegistration, Informer
from suanli.runtime.informer_factory import SharedInformerFactory, resolve_factory

__all__ = ["CONTROLLER_INDEX", "AllInformers", "controller_uid_index"]

log = logging.getLogger(__name__)

Handler = Callable[[APIResource, Obj | None, Obj | None], None]

CONTROLLER_INDEX = "controller"


def controller_uid_index(obj: Obj) -> list[str]:
    """``[uid]`` of the object's controlling ownerReference, ``[]`` without one."""
    ref = controller_of(obj)
    return [str(ref.get("uid"))] if ref is not None else []


class AllInformers:
    """One informer per deletable resource the API server serves; ``handler(res, old, new)`` sees
    every change (new None = deleted).

    The resources come from API discovery through the client (the preferred version of every
    group resource with ``delete``, ``list`` and ``watch``, as upstream's garbage collector
    picks them), re-read every ``resync`` seconds so CRDs created or deleted later are
    followed. Informers come from ``factory`` (shared with other consumers; started, not
    stopped, by :meth:`run`) or, without one, from a private factory that :meth:`stop` stops.
    When a resource disappears from discovery its handler is removed and its informer
    released (stopped if nobody else uses it).
    """

    #: group resources never followed (high-churn, never owners or dependents that matter)
    SKIP = frozenset({"events", "events.events.k8s.io", "nodes.metrics.k8s.io", "pods.metrics.k8s.io"})
    VERBS = frozenset({"delete", "list", "watch"})

    def __init__(self, client: Client, handler: Handler, skip: frozenset[str] = SKIP, *,
                 factory: SharedInformerFactory | None = None, resync: float = 30.0) -> None:
        self.client = client
        self.handler = handler
        self.skip = skip
        self.resync = resync
        self.factory, self._owns_factory = resolve_factory(client, factory)
        self.informers: dict[str, tuple[APIResource, Informer, HandlerRegistration]] = {}
        self.mapper = RESTMapper([])
        self.discovered = asyncio.Event()
        self._refresh = asyncio.Event()

    def refresh(self) -> None:
        """Re-read discovery now instead of at the next resync."""
        self._refresh.set()

    async def sync_informers(self) -> None:
        """Read discovery once and follow what it lists (a failed read keeps the current set)."""
        try:
            resources = await server_resources(self.client)
        except ApiError as err:
            log.warning("discovery failed: %s", err)
            return
        self.mapper = RESTMapper(resources)
        wanted = {r.group_resource: r for r in preferred_resources(resources, verbs=self.VERBS)
                  if r.group_resource not in self.skip}
        for key in list(self.informers):
            if key not in wanted or wanted[key].gvr != self.informers[key][0].gvr:
                self._drop(key)
        for key, res in wanted.items():
            if key in self.informers:
                continue
            inf = self.factory.informer(res.gvr)
            self.informers[key] = (res, inf, self._attach(inf, res))
        self.factory.start()
        self.discovered.set()

    def _drop(self, key: str) -> None:
        _, inf, registration = self.informers.pop(key)
        inf.remove_handler(registration)
        self.factory.release(inf)

    def _attach(self, inf: Informer, res: APIResource) -> HandlerRegistration:
        handler = self.handler  # bound once: partials call it without an extra Python frame per event

        def on_delete(obj: Obj) -> None:
            handler(res, obj, None)

        return inf.add_handler(partial(handler, res, None), partial(handler, res), on_delete)

    def cached(self, group_resource: str) -> list[Obj]:
        entry = self.informers.get(group_resource)
        return entry[1].list() if entry else []

    async def run(self) -> None:
        while True:
            await self.sync_informers()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), timeout=self.resync)
            self._refresh.clear()

    async def stop(self) -> None:
        for key in list(self.informers):
            self._drop(key)
        if self._owns_factory:
            await self.factory.stop()
