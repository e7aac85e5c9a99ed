"""Storage object in-use protection: kube-controller-manager's ``pvc-protection`` and
``pv-protection`` controllers.

The ``StorageObjectInUseProtection`` admission plug-in (``apiserver/admission_storage.py``)
gives every new claim the finalizer ``kubernetes.io/pvc-protection`` and every new volume
``kubernetes.io/pv-protection``; these controllers decide when they may go:

* **claims** (upstream ``pvcprotection``): a claim being deleted keeps its finalizer while a
  *scheduled* pod (``spec.nodeName`` set) in its namespace references it by
  ``persistentVolumeClaim.claimName`` — whatever the pod's phase, as upstream (delete the pod
  to release the claim) — or, for a generic ephemeral volume ``<pod>-<volume>`` owned by
  the pod, while that pod is not shut down (deleted with grace period 0). Otherwise the
  finalizer is removed and the claim disappears;
* **volumes** (upstream ``pvprotection``): a volume being deleted keeps its finalizer while its
  ``status.phase`` is ``Bound``;
* both add the finalizer to objects that are not being deleted and lack it (objects created
  before the admission plug-in ran).
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import PODS
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import PV_PROTECTION_FINALIZER as PV_PROTECTION
from suanli.wire import PVC_PROTECTION_FINALIZER as PVC_PROTECTION
from suanli.wire import PVCS, PVS

__all__ = ["PVC_PROTECTION", "PV_PROTECTION", "PVCProtectionController", "PVProtectionController",
           "pod_uses_claim"]

_CLAIM_INDEX = "claims"


def _volumes(pod: Obj) -> list[dict[str, Any]]:
    vols = (pod.get("spec") or {}).get("volumes")
    return [v for v in vols if isinstance(v, dict)] if isinstance(vols, list) else []


def _claim_names(pod: Obj) -> list[str]:
    """Claims ``pod`` may use: referenced ones and its generic ephemeral volumes' ``<pod>-<volume>``."""
    names = []
    for vol in _volumes(pod):
        ref = vol.get("persistentVolumeClaim")
        if isinstance(ref, dict) and ref.get("claimName"):
            names.append(str(ref["claimName"]))
        elif isinstance(vol.get("ephemeral"), dict):
            names.append(f"{pod['metadata'].get('name', '')}-{vol.get('name', '')}")
    return names


def _shut_down(pod: Obj) -> bool:
    meta = pod.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and meta.get("deletionGracePeriodSeconds") == 0


def pod_uses_claim(pod: Obj, claim: Obj) -> bool:
    """Upstream ``podUsesPVC``: only scheduled pods count; see the module docstring."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    name = claim["metadata"].get("name")
    pod_meta = pod.get("metadata") or {}
    for vol in _volumes(pod):
        ref = vol.get("persistentVolumeClaim")
        if isinstance(ref, dict) and ref.get("claimName") == name:
            return True
        if isinstance(vol.get("ephemeral"), dict) and not _shut_down(pod) and \
                f"{pod_meta.get('name', '')}-{vol.get('name', '')}" == name and \
                any(o.get("uid") == pod_meta.get("uid") and o.get("controller")
                    for o in claim["metadata"].get("ownerReferences") or []):
            return True
    return False


def _finalizers(obj: Obj) -> list[str]:
    return [str(f) for f in obj["metadata"].get("finalizers") or []]


class _Protection(QueueController):
    finalizer: str
    gvr: GVR

    async def _set_finalizers(self, obj: Obj, finalizers: list[str]) -> None:
        meta = obj["metadata"]
        patch: Obj = {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta.get("resourceVersion")}}
        try:
            await self.client.patch(self.gvr, meta["name"], patch, meta.get("namespace", ""))
        except ApiError as err:
            if err.code != 404:
                raise

    async def _sync(self, obj: Obj, in_use: bool) -> None:
        fins = _finalizers(obj)
        deleting = bool(obj["metadata"].get("deletionTimestamp"))
        if deleting and self.finalizer in fins and not in_use:
            await self._set_finalizers(obj, [f for f in fins if f != self.finalizer])
        elif not deleting and self.finalizer not in fins:
            await self._set_finalizers(obj, [*fins, self.finalizer])


class PVCProtectionController(_Protection):
    """Removes ``kubernetes.io/pvc-protection`` from deleted claims no scheduled pod uses."""

    name = "pvc-protection-controller"
    finalizer = PVC_PROTECTION
    gvr = PVCS

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.claims = self.watch(PVCS)
        self.pods = self.watch(PODS, indexers={_CLAIM_INDEX: lambda p: [
            f"{p['metadata'].get('namespace', '')}/{c}" for c in _claim_names(p)]})
        self.claims.add_handler(self._claim, lambda _o, n: self._claim(n), None)
        self.pods.add_handler(None, self._pod_updated, self._pod)

    def _claim(self, claim: Obj) -> None:
        self.queue.add(object_key(claim))

    def _pod(self, pod: Obj) -> None:
        ns = pod["metadata"].get("namespace", "")
        for name in _claim_names(pod):
            self.queue.add(f"{ns}/{name}")

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        # a pod that stops using a claim (deleted, shut down, …) may release it
        if _shut_down(new) or old.get("spec", {}).get("nodeName") != new.get("spec", {}).get("nodeName"):
            self._pod(new)

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        claim = self.claims.get(ns, name)
        if claim is None:
            return
        in_use = any(pod_uses_claim(p, claim) for p in self.pods.by_index(_CLAIM_INDEX, key))
        await self._sync(claim, in_use)


class PVProtectionController(_Protection):
    """Removes ``kubernetes.io/pv-protection`` from deleted volumes that are not Bound."""

    name = "pv-protection-controller"
    finalizer = PV_PROTECTION
    gvr = PVS

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.volumes = self.watch(PVS)
        self.volumes.add_handler(self._volume, lambda _o, n: self._volume(n), None)

    def _volume(self, pv: Obj) -> None:
        self.queue.add(object_key(pv))

    async def reconcile(self, key: str) -> None:
        pv = self.volumes.get("", key.rpartition("/")[2])
        if pv is None:
            return
        await self._sync(pv, (pv.get("status") or {}).get("phase") == "Bound")
