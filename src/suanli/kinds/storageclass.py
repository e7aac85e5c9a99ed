"""Default StorageClass rules shared by admission, the PV controller and ``kubectl get`` rows.

A class is the default when annotated ``storageclass.kubernetes.io/is-default-class: "true"``
(or the beta annotation). With several defaults the newest wins (by ``creationTimestamp``, then
name), as upstream since 1.26.
"""

from __future__ import annotations

from suanli.apimachinery.objects import Obj

__all__ = ["DEFAULT_CLASS_ANNOTATION", "default_class_name", "is_default_class"]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
_BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"


def is_default_class(sc: Obj) -> bool:
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or ann.get(_BETA_DEFAULT_CLASS_ANNOTATION) == "true"


def default_class_name(classes: list[Obj]) -> str | None:
    """The name of the default class among ``classes`` (newest wins), or None."""
    defaults = [sc for sc in classes if is_default_class(sc)]
    if not defaults:
        return None
    newest = max(defaults, key=lambda sc: (str(sc["metadata"].get("creationTimestamp") or ""),
                                           str(sc["metadata"]["name"])))
    return str(newest["metadata"]["name"])
