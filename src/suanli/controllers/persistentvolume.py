"""PersistentVolume controller: binds claims to volumes and provisions local-path volumes.

Upstream ``pkg/controller/volume/persistentvolume`` semantics, simplified to one process:

* **Matching** (:func:`find_best_match`): a volume fits a claim when its ``storageClassName``
  equals the claim's (both empty counts), it is not bound to another claim, its ``volumeMode``
  equals the claim's, its access modes include every requested one, its ``storage`` capacity
  is at least the request and ``spec.selector`` (if any) matches its labels. A volume pre-bound
  to the claim (``claimRef`` naming it) wins; otherwise the smallest fitting volume.
* **Binding**: the volume gets ``claimRef`` and phase ``Bound``; the claim gets
  ``spec.volumeName``, annotations ``pv.kubernetes.io/bind-completed`` and
  ``pv.kubernetes.io/bound-by-controller``, and status ``Bound`` with the volume's capacity
  and access modes. A claim that names a volume (``spec.volumeName``) binds only to it.
* **Provisioning**: a claim of a class whose provisioner is :data:`PROVISIONER` with no fitting
  volume gets a new volume ``pvc-<claim uid>`` (hostPath, node affinity to the chosen node,
  the class's reclaim policy, annotation ``pv.kubernetes.io/provisioned-by``). With
  ``volumeBindingMode: WaitForFirstConsumer`` the claim waits for
  ``volume.kubernetes.io/selected-node`` (set by kube-scheduler; Suanli also sets it when a pod
  using the claim is bound to a node). On the host node (``host_node``) the volume is a
  directory under ``volume_root``; on simulated nodes the path is recorded, not created.
* **Release**: a bound volume whose claim is gone becomes ``Released``; with reclaim policy
  ``Delete`` a volume we provisioned is deleted (with its directory).

At start the controller creates the default StorageClass ``standard`` when no StorageClass
exists (annotation ``storageclass.kubernetes.io/is-default-class: "true"``). Claims get Events
as upstream's: ``WaitForFirstConsumer``, ``ProvisioningSucceeded``, ``ProvisioningFailed``
(unknown class), ``FailedBinding`` (no volume and no class).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import parse_quantity
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import PODS
from suanli.kinds.storageclass import DEFAULT_CLASS_ANNOTATION
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import PVCS, PVS, STORAGECLASSES

__all__ = [
    "DEFAULT_CLASS",
    "PROVISIONER",
    "PVCS",
    "PVS",
    "STORAGECLASSES",
    "PersistentVolumeController",
    "default_storage_class",
    "find_best_match",
    "volume_fits",
]

log = logging.getLogger(__name__)

PROVISIONER = "suanli.io/local-path"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
SIMULATED_ROOT = "/var/lib/suanli/local-path"


def default_storage_class() -> Obj:
    """The ``standard`` default class: local-path volumes bound where the first consumer runs."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


DEFAULT_CLASS = "standard"


def _storage(resources: Any) -> Fraction | None:
    try:
        raw = (resources or {}).get("storage")
        return None if raw is None else parse_quantity(raw)
    except (ValueError, TypeError, AttributeError):
        return None


def _bound_elsewhere(pv: Obj, claim: Obj) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        return False
    m = claim["metadata"]
    if ref.get("namespace") != m.get("namespace") or ref.get("name") != m.get("name"):
        return True
    return bool(ref.get("uid")) and ref.get("uid") != m.get("uid")


def volume_fits(pv: Obj, claim: Obj) -> bool:
    """Whether ``pv`` satisfies ``claim`` (class, binding, mode, access modes, size, selector)."""
    pspec, cspec = pv.get("spec") or {}, claim.get("spec") or {}
    if pv["metadata"].get("deletionTimestamp") or _bound_elsewhere(pv, claim):
        return False
    if (pspec.get("storageClassName") or "") != (cspec.get("storageClassName") or ""):
        return False
    if (pspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(pspec.get("accessModes") or []):
        return False
    want = _storage((cspec.get("resources") or {}).get("requests"))
    have = _storage(pspec.get("capacity"))
    if want is not None and (have is None or have < want):
        return False
    selector = cspec.get("selector")
    if isinstance(selector, dict) and selector:
        try:
            if not label_selector_from_object(selector).matches(pv["metadata"].get("labels") or {}):
                return False
        except ApiError:
            return False
    return True


def find_best_match(claim: Obj, volumes: Iterable[Obj]) -> Obj | None:
    """The volume to bind ``claim`` to: one pre-bound to it, else the smallest that fits."""
    best: Obj | None = None
    best_size: Fraction | None = None
    for pv in volumes:
        if not volume_fits(pv, claim):
            continue
        ref = (pv.get("spec") or {}).get("claimRef")
        if isinstance(ref, dict) and ref.get("name"):
            return pv  # pre-bound to this claim (volume_fits excluded other claims)
        if (pv.get("status") or {}).get("phase") not in (None, "Available", "Pending"):
            continue
        size = _storage((pv.get("spec") or {}).get("capacity")) or Fraction(0)
        if best is None or (best_size is not None and size < best_size):
            best, best_size = pv, size
    return best


def _claim_ref(claim: Obj) -> Obj:
    m = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": m["namespace"], "name": m["name"],
            "uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")}


class PersistentVolumeController(QueueController):
    """Binds and provisions; keys are ``claim:<ns>/<name>`` and ``volume:<name>``."""

    name = "persistentvolume-binder-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 1,
                 factory: SharedInformerFactory | None = None, host_node: str | None = None,
                 volume_root: Path | None = None, ensure_default_class: bool = True) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.host_node = host_node
        self.volume_root = volume_root
        self.ensure_default_class = ensure_default_class
        self.events = EventRecorder(client, "persistentvolume-controller", clock=self.clock)
        self.pvs = self.watch(PVS)
        self.pvcs = self.watch(PVCS)
        self.classes = self.watch(STORAGECLASSES)
        self.pods = self.watch(PODS)
        self.pvs.add_handler(self._pv_changed, lambda _o, n: self._pv_changed(n), self._pv_changed)
        self.pvcs.add_handler(self._claim_changed, lambda _o, n: self._claim_changed(n), self._claim_changed)
        self.classes.add_handler(self._class_changed, lambda _o, n: self._class_changed(n), self._class_changed)
        self.pods.add_handler(self._pod_changed, lambda _o, n: self._pod_changed(n), None)

    async def run(self) -> None:
        if self.ensure_default_class:
            await self._ensure_default_class()
        await super().run()

    async def _ensure_default_class(self) -> None:
        try:
            if not (await self.client.list(STORAGECLASSES)).get("items"):
                await self.client.create(STORAGECLASSES, default_storage_class())
        except ApiError as err:
            if err.code != 409:
                log.warning("%s: cannot create the default StorageClass: %s", self.name, err)

    # -- handlers ------------------------------------------------------------------------------

    def _pv_changed(self, pv: Obj) -> None:
        self.queue.add("volume:" + pv["metadata"]["name"])
        ref = (pv.get("spec") or {}).get("claimRef")
        if isinstance(ref, dict) and ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace')}/{ref['name']}")
        else:  # a newly available volume may satisfy a pending claim
            for claim in self.pvcs.list():
                if (claim.get("status") or {}).get("phase") == "Pending":
                    self.queue.add("claim:" + object_key(claim))

    def _claim_changed(self, claim: Obj) -> None:
        self.queue.add("claim:" + object_key(claim))
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add("volume:" + str(name))

    def _class_changed(self, _sc: Obj) -> None:
        for claim in self.pvcs.list():
            if (claim.get("status") or {}).get("phase") == "Pending":
                self.queue.add("claim:" + object_key(claim))

    def _pod_changed(self, pod: Obj) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            return
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            claim = (vol or {}).get("persistentVolumeClaim") if isinstance(vol, dict) else None
            if isinstance(claim, dict) and claim.get("claimName"):
                self.queue.add(f"claim:{pod['metadata']['namespace']}/{claim['claimName']}")

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        what, _, rest = key.partition(":")
        if what == "claim":
            ns, _, name = rest.partition("/")
            claim = self.pvcs.get(ns, name)
            if claim is not None and not claim["metadata"].get("deletionTimestamp"):
                await self._sync_claim(claim)
        elif what == "volume":
            pv = self.pvs.get("", rest)
            if pv is not None and not pv["metadata"].get("deletionTimestamp"):
                await self._sync_volume(pv)

    async def _sync_claim(self, claim: Obj) -> None:
        spec = claim.get("spec") or {}
        if (claim.get("status") or {}).get("phase") == "Bound" and spec.get("volumeName"):
            pv = self.pvs.get("", str(spec["volumeName"]))
            if pv is None:
                await self._claim_status(claim, "Lost", None)
            return
        if spec.get("volumeName"):
            pv = self.pvs.get("", str(spec["volumeName"]))
            if pv is not None and not _bound_elsewhere(pv, claim):
                await self._bind(pv, claim)
            return
        pv = find_best_match(claim, self.pvs.list())
        sc = self.classes.get("", str(spec.get("storageClassName") or "")) if spec.get("storageClassName") else None
        wait = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        node = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if wait and not node:
            node = self._consumer_node(claim)
            if node:
                await self._annotate(claim, {SELECTED_NODE: node})
                return  # the annotated claim comes back through the informer
        if wait and not node:
            await self.events.record(claim, "Normal", "WaitForFirstConsumer",
                                     "waiting for first consumer to be created before binding")
            return
        if pv is not None:
            await self._bind(pv, claim)
        elif sc is not None and sc.get("provisioner") == PROVISIONER:
            await self._provision(claim, sc, node)
        elif spec.get("storageClassName") and sc is None:
            await self.events.record(claim, "Warning", "ProvisioningFailed",
                                     f'storageclass.storage.k8s.io "{spec["storageClassName"]}" not found')
        elif not spec.get("storageClassName"):
            await self.events.record(claim, "Normal", "FailedBinding",
                                     "no persistent volumes available for this claim and no storage class is set")

    def _consumer_node(self, claim: Obj) -> str | None:
        """The node of a bound pod using ``claim`` (Suanli's stand-in for kube-scheduler's annotation)."""
        name = claim["metadata"]["name"]
        for pod in self.pods.list(claim["metadata"]["namespace"]):
            node = (pod.get("spec") or {}).get("nodeName")
            if not node or pod["metadata"].get("deletionTimestamp"):
                continue
            for vol in (pod.get("spec") or {}).get("volumes") or []:
                ref = (vol or {}).get("persistentVolumeClaim") if isinstance(vol, dict) else None
                if isinstance(ref, dict) and ref.get("claimName") == name:
                    return str(node)
        return None

    async def _bind(self, pv: Obj, claim: Obj) -> None:
        pspec = pv.get("spec") or {}
        ref = pspec.get("claimRef") or {}
        if ref.get("uid") != claim["metadata"].get("uid") or (pv.get("status") or {}).get("phase") != "Bound":
            new_pv = {**pv, "spec": {**pspec, "claimRef": _claim_ref(claim)}}
            new_pv = await self.client.update(PVS, new_pv)
            await self.client.patch(PVS, pv["metadata"]["name"], {"status": {"phase": "Bound"}},
                                    subresource="status")
            pspec = new_pv.get("spec") or pspec
        m = claim["metadata"]
        if (claim.get("spec") or {}).get("volumeName") != pv["metadata"]["name"] or \
                (m.get("annotations") or {}).get(BIND_COMPLETED) != "yes":
            await self.client.patch(PVCS, m["name"], {
                "metadata": {"annotations": {BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes"}},
                "spec": {"volumeName": pv["metadata"]["name"]}}, m["namespace"])
        await self._claim_status(claim, "Bound", pspec)

    async def _claim_status(self, claim: Obj, phase: str, pspec: Obj | None) -> None:
        status: Obj = {"phase": phase}
        if pspec is not None:
            status["accessModes"] = list(pspec.get("accessModes") or [])
            status["capacity"] = dict(pspec.get("capacity") or {})
        old = claim.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        m = claim["metadata"]
        await self.client.patch(PVCS, m["name"], {"status": status}, m["namespace"], subresource="status")

    async def _annotate(self, claim: Obj, annotations: dict[str, str]) -> None:
        m = claim["metadata"]
        await self.client.patch(PVCS, m["name"], {"metadata": {"annotations": annotations}}, m["namespace"])

    async def _provision(self, claim: Obj, sc: Obj, node: str | None) -> None:
        m = claim["metadata"]
        name = f"pvc-{m['uid']}"
        if self.pvs.get("", name) is not None:
            return  # already provisioned; binding follows its informer event
        if node is None:
            node = self.host_node
        if node is not None and node == self.host_node and self.volume_root is not None:
            path = self.volume_root / name
            path.mkdir(parents=True, exist_ok=True)
            host_path = str(path)
        else:
            host_path = f"{SIMULATED_ROOT}/{name}"
        cspec = claim.get("spec") or {}
        storage = ((cspec.get("resources") or {}).get("requests") or {}).get("storage") or "0"
        spec: Obj = {
            "capacity": {"storage": storage},
            "accessModes": list(cspec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": cspec.get("volumeMode") or "Filesystem",
            "claimRef": _claim_ref(claim),
            "hostPath": {"path": host_path, "type": "DirectoryOrCreate"},
        }
        if node:
            spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
        pv: Obj = {"apiVersion": "v1", "kind": "PersistentVolume",
                   "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}}, "spec": spec}
        if (m.get("annotations") or {}).get(STORAGE_PROVISIONER) != PROVISIONER:
            await self._annotate(claim, {STORAGE_PROVISIONER: PROVISIONER})
        try:
            await self.client.create(PVS, pv)
        except ApiError as err:
            if err.code != 409:
                raise
            return
        await self.events.record(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    async def _sync_volume(self, pv: Obj) -> None:
        spec, phase = pv.get("spec") or {}, (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        if not isinstance(ref, dict) or not ref.get("name"):
            if phase != "Available":
                await self._volume_phase(pv, "Available")
            return
        claim = self.pvcs.get(str(ref.get("namespace")), str(ref["name"]))
        if claim is not None and (not ref.get("uid") or ref.get("uid") == claim["metadata"].get("uid")):
            return  # bound or being bound: the claim side finishes it
        if not ref.get("uid"):
            return
        if phase != "Released":
            await self._volume_phase(pv, "Released")
        if spec.get("persistentVolumeReclaimPolicy") == "Delete" and \
                (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER:
            self._remove_directory(spec)
            try:
                await self.client.delete(PVS, pv["metadata"]["name"])
            except ApiError as err:
                if err.code != 404:
                    raise

    def _remove_directory(self, spec: Obj) -> None:
        if self.volume_root is None:
            return
        path = Path(str((spec.get("hostPath") or {}).get("path") or ""))
        root = self.volume_root.resolve()
        if path.is_dir() and root in path.resolve().parents:
            shutil.rmtree(path, ignore_errors=True)

    async def _volume_phase(self, pv: Obj, phase: str) -> None:
        try:
            await self.client.patch(PVS, pv["metadata"]["name"], {"status": {"phase": phase}}, subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise
