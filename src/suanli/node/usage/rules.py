"""kwok's usage kinds (``kwok.x-k8s.io/v1alpha1``): ResourceUsage and ClusterResourceUsage.

Served as CustomResourceDefinitions from ``suanli/kinds/manifests/kwok.yaml`` (installed at
start-up with the other shipped CRDs); :func:`kwok_usage_crds` returns them.
"""

from __future__ import annotations

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.kinds.manifests import load_manifest

__all__ = ["CLUSTER_RESOURCE_USAGES", "RESOURCE_USAGES", "kwok_usage_crds"]

RESOURCE_USAGES = GVR("kwok.x-k8s.io", "v1alpha1", "resourceusages", namespaced=True)
CLUSTER_RESOURCE_USAGES = GVR("kwok.x-k8s.io", "v1alpha1", "clusterresourceusages", namespaced=False)


def kwok_usage_crds() -> list[Obj]:
    """Fresh copies of the ResourceUsage and ClusterResourceUsage CRDs."""
    return load_manifest("kwok")
