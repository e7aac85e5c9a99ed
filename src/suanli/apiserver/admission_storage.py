"""Storage admission: ``DefaultStorageClass`` (upstream ``plugin/pkg/admission/storage/storageclass/setdefault``)
and ``StorageObjectInUseProtection`` (finalizers on new claims and volumes, see below).

On PersistentVolumeClaim CREATE, a claim with no ``spec.storageClassName`` (absent or null —
an empty string explicitly asks for no class) gets the default StorageClass
(:func:`suanli.kinds.storageclass.default_class_name`). No default class → the claim is left
alone.
"""

from __future__ import annotations

from collections.abc import Callable

from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission import AdmissionRequest
from suanli.kinds.storageclass import default_class_name
from suanli.storage import Store
from suanli.wire import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER

__all__ = ["DefaultStorageClass", "StorageObjectInUseProtection", "store_class_lister"]

CLASSES_KEY = "storage.k8s.io/storageclasses"

ClassLister = Callable[[], list[Obj]]


def store_class_lister(store: Store) -> ClassLister:
    """A :data:`ClassLister` reading StorageClasses straight from ``store``."""
    return lambda: [so.obj for so in store.list(CLASSES_KEY, None).items]


class DefaultStorageClass:
    """Mutating plug-in: fill ``spec.storageClassName`` of new claims from the default class."""

    name = "DefaultStorageClass"
    resources = frozenset({"persistentvolumeclaims"})

    def __init__(self, classes: ClassLister) -> None:
        self._classes = classes

    def mutate(self, request: AdmissionRequest) -> None:
        if request.operation != "CREATE" or request.subresource or request.obj is None:
            return
        spec = request.obj.get("spec")
        if not isinstance(spec, dict) or spec.get("storageClassName") is not None:
            return
        name = default_class_name(self._classes())
        if name is not None:
            spec["storageClassName"] = name


class StorageObjectInUseProtection:
    """Mutating plug-in (upstream ``StorageObjectInUseProtection``): new claims get finalizer
    ``kubernetes.io/pvc-protection``, new volumes ``kubernetes.io/pv-protection`` (once). The
    ``pvc-protection`` / ``pv-protection`` controllers (``controllers/protection.py``) remove them."""

    name = "StorageObjectInUseProtection"
    resources = frozenset({"persistentvolumeclaims", "persistentvolumes"})
    _FINALIZERS = {"persistentvolumeclaims": PVC_PROTECTION_FINALIZER, "persistentvolumes": PV_PROTECTION_FINALIZER}

    def mutate(self, request: AdmissionRequest) -> None:
        finalizer = self._FINALIZERS.get(request.resource.storage_key)
        if request.operation != "CREATE" or request.subresource or request.obj is None or finalizer is None:
            return
        meta = request.obj.setdefault("metadata", {})
        fins = meta.get("finalizers")
        if not isinstance(fins, list):
            fins = meta["finalizers"] = []
        if finalizer not in fins:
            fins.append(finalizer)
