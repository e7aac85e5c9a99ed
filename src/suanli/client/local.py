"""In-process :class:`~suanli.client.protocol.Client` over :class:`ApiService` (no socket).

Semantics are exactly those of the HTTP API (the same service code runs), and so is
ownership of what a call returns: ``get``, ``list`` items and the results of writes are the
caller's own copies, so mutating one cannot change the store's object (which would also turn
the caller's next update of it into a no-op). Copies are decoded from the JSON the store keeps
of each object (``StoredObject.raw``), a few µs per object. Watch events carry the store's
objects themselves: they feed informer caches, which are read-only to their handlers as in
client-go, and copying them would cost every in-process watcher a decode per event and hold a
second copy of every watched object. Inputs passed to ``create``, ``update`` and ``patch`` are
copied first, so callers keep ownership of theirs; ``create_owned`` is the copy-free variant
for inputs built for the call alone (and returns the stored object itself, read-only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apiserver.context import RequestContext
from suanli.apiserver.discovery import Discovery
from suanli.apiserver.service import ApiService
from suanli.apiserver.watch import open_watch
from suanli.client.protocol import PatchType, WatchEventDict
from suanli.kinds.registry import ResourceType
from suanli.storage import StoredObject

__all__ = ["LocalClient"]


def _own(so: StoredObject) -> Obj:
    """A private copy of a stored object, decoded from its stored JSON."""
    obj: Obj = orjson.loads(so.raw)
    return obj


def _own_obj(obj: Obj) -> Obj:
    """A private copy of an object that may not be stored (dry runs, delete results)."""
    copy: Obj
    try:
        copy = orjson.loads(orjson.dumps(obj))
    except TypeError:  # not JSON (e.g. an integer beyond 64 bits): copy the tree
        copy = deep_copy(obj)
    return copy


class LocalClient:
    """A Client bound to one in-process API service; ``field_manager`` names its writes."""

    def __init__(self, service: ApiService, *, field_manager: str = "suanli",
                 bookmark_interval: float = 30.0) -> None:
        self.service = service
        self.field_manager = field_manager
        self.bookmark_interval = bookmark_interval
        self._discovery = Discovery(service.registry)

    def _rt(self, gvr: GVR) -> ResourceType:
        return self.service.resource(gvr.group, gvr.version, gvr.resource)

    def _own_result(self, rt: ResourceType, obj: Obj) -> Obj:
        """A private copy of a write's result: from the stored JSON when ``obj`` is the stored object."""
        meta = obj.get("metadata") or {}
        so = self.service.store.get(rt.storage_key, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        return _own(so) if so is not None and so.obj is obj else _own_obj(obj)

    def _ctx(self, manager: str | None = None, force: bool = False) -> RequestContext:
        return RequestContext(field_manager=manager or self.field_manager, field_validation="Ignore",
                              force=force)

    async def get(self, gvr: GVR, name: str, namespace: str = "") -> Obj:
        return _own(self.service.get(self._rt(gvr), namespace, name))

    async def list(self, gvr: GVR, namespace: str = "", *, label_selector: str = "", field_selector: str = "",
                   limit: int | None = None, continue_token: str | None = None) -> Obj:
        rt = self._rt(gvr)
        page = self.service.list(rt, namespace, label_selector=label_selector, field_selector=field_selector,
                                 limit=limit, continue_token=continue_token)
        return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": page.list_meta,
                "items": [_own(so) for so in page.items]}

    async def watch(self, gvr: GVR, namespace: str = "", *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int | None = None,
                    allow_bookmarks: bool = True) -> AsyncIterator[WatchEventDict]:
        rt = self._rt(gvr)
        ls, fs = self.service.parse_selectors(rt, label_selector, field_selector)
        session = open_watch(self.service.store, rt, namespace, resource_version=resource_version,
                             label_selector=ls, field_selector=fs, send_initial_events=None,
                             allow_bookmarks=allow_bookmarks,
                             timeout=float(timeout_seconds) if timeout_seconds is not None else None,
                             bookmark_interval=self.bookmark_interval)
        try:
            async for ev in session.events():
                if ev.type == "ERROR":
                    err = ev.error or {}
                    raise ApiError(int(err.get("code", 500)), str(err.get("reason", "")),
                                   str(err.get("message", "")))
                if ev.type == "BOOKMARK":
                    yield {"type": "BOOKMARK", "object": ev.bookmark_object(rt)}
                else:
                    assert ev.obj is not None
                    yield {"type": ev.type, "object": ev.obj.obj}
        finally:
            session.close()

    async def create(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        rt = self._rt(gvr)
        ns = namespace or str((obj.get("metadata") or {}).get("namespace") or "")
        return self._own_result(rt, await self.service.create(rt, ns, deep_copy(obj), self._ctx()))

    async def create_owned(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        """Like :meth:`create`, but ``obj`` is handed over instead of copied.

        The caller must have built ``obj`` for this call alone (no part of it shared with
        anything else) and must not touch it afterwards: the service defaults and stores
        it in place. Results are identical to :meth:`create` (used by the event recorder).
        """
        rt = self._rt(gvr)
        ns = namespace or str((obj.get("metadata") or {}).get("namespace") or "")
        return await self.service.create(rt, ns, obj, self._ctx())

    async def update(self, gvr: GVR, obj: Obj, namespace: str = "", *, subresource: str = "") -> Obj:
        rt = self._rt(gvr)
        meta = obj.get("metadata") or {}
        ns = namespace or str(meta.get("namespace") or "")
        return self._own_result(rt, await self.service.update(rt, ns, str(meta.get("name") or ""), deep_copy(obj),
                                                              self._ctx(), subresource=subresource))

    async def patch(self, gvr: GVR, name: str, patch: Any, namespace: str = "", *,
                    patch_type: PatchType = "merge", subresource: str = "", field_manager: str | None = None,
                    force: bool = False) -> Obj:
        rt = self._rt(gvr)
        return self._own_result(rt, await self.service.patch(rt, namespace, name, patch_type, deep_copy(patch),
                                                             self._ctx(field_manager, force),
                                                             subresource=subresource))

    async def delete(self, gvr: GVR, name: str, namespace: str = "", *, propagation_policy: str | None = None,
                     grace_period_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None) -> Obj:
        options: Obj = {}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        rt = self._rt(gvr)
        obj, _ = await self.service.delete(rt, namespace, name, options, self._ctx())
        return self._own_result(rt, obj)

    async def bind(self, name: str, namespace: str, node_name: str) -> None:
        await self.service.bind(namespace, name, {"apiVersion": "v1", "kind": "Binding",
                                                  "metadata": {"name": name, "namespace": namespace},
                                                  "target": {"apiVersion": "v1", "kind": "Node",
                                                             "name": node_name}}, self._ctx())

    async def evict(self, name: str, namespace: str, *, grace_period_seconds: int | None = None) -> None:
        eviction: Obj = {"apiVersion": "policy/v1", "kind": "Eviction",
                         "metadata": {"name": name, "namespace": namespace}}
        if grace_period_seconds is not None:
            eviction["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        await self.service.evict(namespace, name, eviction, self._ctx())

    async def discovery_document(self, path: str) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        doc: dict[str, Any] | None = None
        if parts == ["api"]:
            doc = self._discovery.api_versions()
        elif parts == ["apis"]:
            doc = self._discovery.api_group_list()
        elif len(parts) == 2 and parts[0] == "api":
            doc = self._discovery.resource_list("", parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = self._discovery.resource_list(parts[1], parts[2])
        if doc is None:
            raise ApiError.no_route(path)
        return doc

    async def close(self) -> None:
        return None
