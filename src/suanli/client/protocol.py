"""The one client protocol every controller, agent and scheduler uses.

Two implementations: :class:`suanli.client.local.LocalClient` (in-process, calls the
API service directly, no JSON) and :class:`suanli.client.http.HttpClient` (any
Kubernetes API server through a kubeconfig). Failures raise
:class:`suanli.apimachinery.errors.ApiError` with the server's code and reason.

Objects returned by ``get``, ``list`` and writes are the caller's own with either client (a
LocalClient decodes a private copy of each). Watch events of a LocalClient carry the store's
shared objects, and objects an informer caches are shared by its handlers: never mutate them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj

__all__ = ["Client", "PatchType", "WatchEventDict"]

PatchType = Literal["merge", "json", "strategic", "apply"]
WatchEventDict = dict[str, Any]  # {"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK", "object": Obj}


class Client(Protocol):
    """Kubernetes API operations. ``namespace=""`` means cluster-scoped (or all namespaces for list/watch)."""

    async def get(self, gvr: GVR, name: str, namespace: str = "") -> Obj: ...

    async def list(
        self,
        gvr: GVR,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> Obj:
        """A ``<Kind>List`` with ``items`` and ``metadata.resourceVersion`` / ``continue``."""
        ...

    def watch(
        self,
        gvr: GVR,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[WatchEventDict]:
        """Stream events after ``resource_version``; an expired resume point raises ApiError(410)."""
        ...

    async def create(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj: ...

    async def create_owned(self, gvr: GVR, obj: Obj, namespace: str = "") -> Obj:
        """:meth:`create` of an object built for this call alone, handed over: the client may
        keep and modify it instead of copying it; the caller must not touch it afterwards."""
        ...

    async def update(self, gvr: GVR, obj: Obj, namespace: str = "", *, subresource: str = "") -> Obj: ...

    async def patch(
        self,
        gvr: GVR,
        name: str,
        patch: Any,
        namespace: str = "",
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
    ) -> Obj: ...

    async def delete(
        self,
        gvr: GVR,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> Obj: ...

    async def bind(self, name: str, namespace: str, node_name: str) -> None:
        """POST ``pods/{name}/binding`` to ``node_name``."""
        ...

    async def evict(self, name: str, namespace: str, *, grace_period_seconds: int | None = None) -> None:
        """POST ``pods/{name}/eviction`` (policy/v1 Eviction)."""
        ...

    async def discovery_document(self, path: str) -> dict[str, Any]:
        """The legacy discovery document at ``path`` (``/api``, ``/apis``, ``/api/v1``,
        ``/apis/<group>/<version>``); ``ApiError(404)`` when not served. See
        :mod:`suanli.client.discovery`."""
        ...

    async def close(self) -> None: ...
