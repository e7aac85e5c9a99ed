"""The NFD kinds (``nfd.k8s-sigs.io/v1alpha1``) as CRDs, their GVRs, and start-up installation.

``nfd_crds()`` returns the CustomResourceDefinition objects (NodeFeature -- namespaced,
NodeFeatureRule -- cluster-scoped, NodeFeatureGroup -- namespaced) from the manifest
``suanli/kinds/manifests/nfd.yaml``. :func:`ensure_crds` creates missing CRDs through the
API and brings changed ones up to date; it is idempotent.
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.kinds.manifests import load_manifest
from suanli.wire import CRDS, NODE_FEATURE_GROUPS, NODE_FEATURE_RULES, NODE_FEATURES

__all__ = [
    "CRDS",
    "NODE_FEATURES",
    "NODE_FEATURE_GROUPS",
    "NODE_FEATURE_RULES",
    "ensure_crds",
    "nfd_crds",
]


def nfd_crds() -> list[Obj]:
    """Fresh copies of the three NFD CustomResourceDefinitions."""
    return load_manifest("nfd")


async def ensure_crds(client: Client, crds: list[Obj]) -> None:
    """Create each CRD unless present; replace the ``spec`` of a present one that differs.

    The types are served as soon as this returns (CRD creation registers them at once).
    """
    for crd in crds:
        name = crd["metadata"]["name"]
        try:
            await client.create(CRDS, crd)
            continue
        except ApiError as err:
            if err.code != 409:
                raise
        current = await client.get(CRDS, name)
        if _spec_subset(crd["spec"], current.get("spec") or {}):
            continue
        new = deep_copy(current)
        new["spec"] = deep_copy(crd["spec"])
        await client.update(CRDS, new)


def _spec_subset(want: object, have: object) -> bool:
    """True if every field of ``want`` is present with the same value in ``have`` (defaults may add more)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _spec_subset(v, have[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(
            _spec_subset(w, h) for w, h in zip(want, have, strict=True))
    return want == have
