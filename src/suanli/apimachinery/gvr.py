"""Resource coordinates shared by clients and servers."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GVR"]


@dataclass(frozen=True, slots=True)
class GVR:
    """A group/version/resource (plural) and whether it is namespaced.

    >>> GVR("apps", "v1", "deployments").api_version
    'apps/v1'
    """

    group: str
    version: str
    resource: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """REST path: ``/api/v1/namespaces/ns/pods/name/status`` (namespace ignored if cluster-scoped)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}/{self.version}" if self.group else f"{self.resource}/{self.version}"
