"""``PartialObjectMetadata`` responses (``Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1``).

client-go's metadata client (kube-controller-manager's garbage collector and quota controllers
use it for every served resource) asks for objects reduced to their metadata: a get answers a
``meta.k8s.io/v1`` ``PartialObjectMetadata``, a list a ``PartialObjectMetadataList`` whose items
are ``PartialObjectMetadata``, and every watch event (bookmarks included) carries a
``PartialObjectMetadata``. As kube-apiserver, the list form is chosen by
``as=PartialObjectMetadataList`` (or ``as=PartialObjectMetadata`` on a list path) and the object
keeps only ``metadata``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["partial_list", "partial_object", "wants_partial"]

_API_VERSION = "meta.k8s.io/v1"


def wants_partial(accept: str) -> bool:
    """Whether an Accept header asks for ``PartialObjectMetadata[List]`` in ``meta.k8s.io/v1``."""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") \
                and params.get("g") == "meta.k8s.io" and params.get("v") == "v1":
            return True
    return False


def partial_object(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` reduced to a ``PartialObjectMetadata`` (its metadata only)."""
    return {"kind": "PartialObjectMetadata", "apiVersion": _API_VERSION, "metadata": obj.get("metadata") or {}}


def partial_list(list_meta: dict[str, Any], objs: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``PartialObjectMetadataList`` with ``list_meta`` and one ``PartialObjectMetadata`` per object."""
    return {"kind": "PartialObjectMetadataList", "apiVersion": _API_VERSION, "metadata": list_meta,
            "items": [partial_object(o) for o in objs]}
