"""A :class:`~suanli.client.protocol.Client` that records every request it passes on.

Each call becomes a :class:`Call` with the RBAC attributes kube-apiserver would check
(verb, API group, resource, subresource, namespace, name): ``bind`` is ``create pods/binding``,
``evict`` is ``create pods/eviction``, ``create_owned`` is ``create``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client, PatchType, WatchEventDict


@dataclass(frozen=True)
class Call:
    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    def __str__(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.verb} {res}.{self.group or 'core'}{where}" + (f" ({self.name})" if self.name else "")


class RecordingClient:
    """Pass every request to ``inner`` and add its :class:`Call` to ``calls``."""

    def __init__(self, inner: Client) -> None:
        self.inner = inner
        self.calls: set[Call] = set()

    def _add(self, verb: str, gvr: GVR, namespace: str, name: str = "", subresource: str = "") -> None:
        self.calls.add(Call(verb, gvr.group, gvr.resource, subresource, namespace, name))

    async def get(self, gvr: GVR, name: str, namespace: str = "") -> Obj:
        self._add("get", gvr, namespace, name)
        return await self.inner.get(gvr, name, namespace)

    async def list(self, gvr: GVR, namespace: str = "", **kw: Any) -> Obj:
        self._add("list", gvr, namespace)
        return await self.inner.list(gvr, namespace, **kw)

    def watch(self, gvr: GVR, namespace: str = "", **kw: Any) -> AsyncIterator[WatchEventDict]:
        self._add("watch", gvr, namespace)
        return self.inner.watch(gvr, namespace, **kw)

    async def create(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        self._add("create", gvr, namespace or str((obj.get("metadata") or {}).get("namespace") or ""))
        return await self.inner.create(gvr, obj, namespace)

    async def create_owned(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        self._add("create", gvr, namespace or str((obj.get("metadata") or {}).get("namespace") or ""))
        return await self.inner.create_owned(gvr, obj, namespace)

    async def update(self, gvr: GVR, obj: Obj, namespace: str = "", *, subresource: str = "") -> Obj:
        meta = obj.get("metadata") or {}
        self._add("update", gvr, namespace or str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                  subresource)
        return await self.inner.update(gvr, obj, namespace, subresource=subresource)

    async def patch(self, gvr: GVR, name: str, patch: Any, namespace: str = "", *, patch_type: PatchType = "merge",
                    subresource: str = "", field_manager: str | None = None, force: bool = False) -> Obj:
        self._add("patch", gvr, namespace, name, subresource)
        return await self.inner.patch(gvr, name, patch, namespace, patch_type=patch_type, subresource=subresource,
                                      field_manager=field_manager, force=force)

    async def delete(self, gvr: GVR, name: str, namespace: str = "", **kw: Any) -> Obj:
        self._add("delete", gvr, namespace, name)
        return await self.inner.delete(gvr, name, namespace, **kw)

    async def bind(self, name: str, namespace: str, node_name: str) -> None:
        self.calls.add(Call("create", "", "pods", "binding", namespace, name))
        await self.inner.bind(name, namespace, node_name)

    async def evict(self, name: str, namespace: str, *, grace_period_seconds: int | None = None) -> None:
        self.calls.add(Call("create", "", "pods", "eviction", namespace, name))
        await self.inner.evict(name, namespace, grace_period_seconds=grace_period_seconds)

    async def discovery_document(self, path: str) -> dict[str, Any]:
        # a non-resource GET (/api, /apis/...) that upstream's system:discovery role grants every
        # authenticated user: nothing for a component role to cover
        return await self.inner.discovery_document(path)

    async def close(self) -> None:
        await self.inner.close()


_: type[Client] = RecordingClient  # conforms to the Client protocol
