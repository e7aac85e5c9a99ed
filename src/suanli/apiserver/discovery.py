"""Legacy discovery documents (``/api``, ``/apis``, ``/api/v1``, ``/apis/{g}/{v}``).

Documents are rebuilt lazily whenever the registry changes (a CRD is created or
deleted), so new resources are discoverable at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suanli.kinds.registry import Registry, ResourceType

__all__ = ["Discovery"]

# Preferred order of groups in /apis, like upstream (others follow alphabetically).
_GROUP_ORDER = [
    "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy",
    "rbac.authorization.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
    "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "metrics.k8s.io",
]


def _version_key(v: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"alpha": 2, "beta": 1}.get(m.group(2) or "", 0)
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)


class Discovery:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._cache_gen = -1
        self._groups: dict[str, Any] = {}
        self._resource_lists: dict[tuple[str, str], dict[str, Any]] = {}
        #: group versions served by handlers outside the registry (aggregated APIs such as
        #: custom.metrics.k8s.io): ``(group, version) -> resources()``, asked on every request; a
        #: group is listed in ``/apis`` only while it has resources (kubectl's discovery fails on
        #: an empty resource list: "received empty response for: <group/version>")
        self.external: dict[tuple[str, str], Callable[[], list[dict[str, Any]]]] = {}

    def _refresh(self) -> None:
        if self._cache_gen == self.registry.generation:
            return
        by_group = self.registry.group_versions()
        groups: dict[str, Any] = {}
        for group, versions in by_group.items():
            if not group:
                continue
            ordered = sorted(versions, key=_version_key)
            gv = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
            groups[group] = {"name": group, "versions": gv, "preferredVersion": gv[0]}
        self._groups = groups
        self._resource_lists = {}
        for group, versions in by_group.items():
            for v in versions:
                self._resource_lists[(group, v)] = self._build_list(group, v)
        self._cache_gen = self.registry.generation

    def _build_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rt in sorted(self.registry.in_group_version(group, version), key=lambda r: r.plural):
            resources.append(self._entry(rt))
            for sub in rt.subresources:
                resources.append(self._sub_entry(rt, sub))
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

    @staticmethod
    def _entry(rt: ResourceType) -> dict[str, Any]:
        e: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                             "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            e["shortNames"] = list(rt.short_names)
        if rt.categories:
            e["categories"] = list(rt.categories)
        e["storageVersionHash"] = ""
        return e

    @staticmethod
    def _sub_entry(rt: ResourceType, sub: str) -> dict[str, Any]:
        verbs = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                 "binding": ["create"], "eviction": ["create"], "log": ["get"], "token": ["create"],
                 "finalize": ["update"]}.get(sub, ["get"])
        kind = {"scale": "Scale", "binding": "Binding", "eviction": "Eviction", "log": "Pod",
                "token": "TokenRequest"}.get(sub, rt.kind)  # nosec B105  # subresource names, not passwords
        group = {"scale": "autoscaling", "eviction": "policy", "token": "authentication.k8s.io"}.get(sub)  # nosec B105  # subresource names, not passwords
        version = {"scale": "v1", "eviction": "v1", "token": "v1"}.get(sub)  # nosec B105  # subresource names, not passwords
        e: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                             "kind": kind, "verbs": verbs}
        if group:
            e["group"] = group
            e["version"] = version
        return e

    def api_versions(self) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}

    def _all_groups(self) -> dict[str, Any]:
        groups = dict(self._groups)
        for (group, version), resources in self.external.items():
            if group not in groups and resources():
                gv = {"groupVersion": f"{group}/{version}", "version": version}
                groups[group] = {"name": group, "versions": [gv], "preferredVersion": gv}
        return groups

    def api_group_list(self) -> dict[str, Any]:
        self._refresh()
        groups = self._all_groups()
        order = {g: i for i, g in enumerate(_GROUP_ORDER)}
        names = sorted(groups, key=lambda g: (order.get(g, len(order)), g))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [groups[g] for g in names]}

    def api_group(self, group: str) -> dict[str, Any] | None:
        self._refresh()
        g = self._all_groups().get(group)
        if g is None:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **g}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        self._refresh()
        ext = self.external.get((group, version))
        if ext is not None and (group, version) not in self._resource_lists:
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
                    "resources": ext()}
        return self._resource_lists.get((group, version))
