"""API discovery through the Client protocol, as client-go's discovery client reads it.

Every :class:`~suanli.client.protocol.Client` answers ``discovery_document(path)`` for the
legacy discovery paths kube-apiserver serves (``/api``, ``/apis``, ``/api/v1``,
``/apis/<group>/<version>``). :func:`server_resources` turns those into
:class:`APIResource` entries (top-level resources of every served group version, with the
group's preferred version marked), so components that must see every kind — the garbage
collector, the namespace controller — work against any API server, not only ours.

:func:`preferred_resources` keeps one version per group resource (the preferred one, like
``ServerPreferredResources``); :class:`RESTMapper` resolves ``(apiVersion, kind)``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR

__all__ = ["APIResource", "DiscoveryDocuments", "RESTMapper", "preferred_resources", "server_resources"]


class DiscoveryDocuments(Protocol):
    async def discovery_document(self, path: str) -> dict[str, Any]:
        """The JSON document at a discovery ``path``; ``ApiError(404)`` when not served."""
        ...


@dataclass(frozen=True)
class APIResource:
    """One top-level served resource of one group version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]
    preferred: bool = True

    @property
    def gvr(self) -> GVR:
        return GVR(self.group, self.version, self.resource, self.namespaced)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``resource.group`` (``pods`` for the core group), the GC's and RBAC's name for it."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


async def server_resources(client: DiscoveryDocuments) -> list[APIResource]:
    """Every top-level resource of every group version the server serves.

    Group versions whose document fails (an aggregated API that is down) are skipped, as
    upstream's GC and namespace controller tolerate partial discovery.
    """
    gvs: list[tuple[str, str, bool]] = []
    core = await client.discovery_document("/api")
    gvs += [("", str(v), i == 0) for i, v in enumerate(core.get("versions") or [])]
    groups = await client.discovery_document("/apis")
    for g in groups.get("groups") or []:
        preferred = str((g.get("preferredVersion") or {}).get("version") or "")
        for v in g.get("versions") or []:
            version = str(v.get("version"))
            gvs.append((str(g.get("name")), version, version == preferred or not preferred))

    async def one(group: str, version: str, preferred: bool) -> list[APIResource]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc = await client.discovery_document(path)
        except ApiError:
            return []
        return [APIResource(group, version, str(r["name"]), str(r.get("kind") or ""), bool(r.get("namespaced")),
                            frozenset(str(v) for v in r.get("verbs") or ()), preferred)
                for r in doc.get("resources") or [] if "/" not in str(r.get("name", ""))]

    found = await asyncio.gather(*(one(g, v, p) for g, v, p in gvs))
    return [r for rs in found for r in rs]


def preferred_resources(resources: list[APIResource], *, verbs: frozenset[str] = frozenset()) -> list[APIResource]:
    """The preferred version of each group resource that supports all of ``verbs``."""
    return [r for r in resources if r.preferred and verbs <= r.verbs]


class RESTMapper:
    """``(apiVersion, kind)`` → :class:`APIResource`, over one discovery answer."""

    def __init__(self, resources: list[APIResource]) -> None:
        self._by_kind = {(r.api_version, r.kind): r for r in resources}

    def resource_for(self, api_version: str, kind: str) -> APIResource | None:
        return self._by_kind.get((api_version, kind))
