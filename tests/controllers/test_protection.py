"""PVC and PV in-use protection: the admission plug-in and the two controllers, with the cases of
upstream's pvc_protection_controller_test.go and pv_protection_controller_test.go."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apiserver.admission import AdmissionRequest, Operation
from suanli.apiserver.admission_storage import StorageObjectInUseProtection
from suanli.controllers.protection import (
    PV_PROTECTION,
    PVC_PROTECTION,
    PVCProtectionController,
    PVProtectionController,
    pod_uses_claim,
)
from suanli.kinds.builtin import builtin_resource_types
from tests.controllers.conftest import Api, eventually, running

PVCS = GVR("", "v1", "persistentvolumeclaims")
PVS = GVR("", "v1", "persistentvolumes", namespaced=False)
PODS = GVR("", "v1", "pods")
RTS = {r.plural: r for r in builtin_resource_types()}


@pytest.mark.parametrize(("plural", "op", "sub", "finalizers", "expected"), [
    ("persistentvolumeclaims", "CREATE", "", None, [PVC_PROTECTION]),
    ("persistentvolumeclaims", "CREATE", "", [PVC_PROTECTION], [PVC_PROTECTION]),
    ("persistentvolumeclaims", "CREATE", "", ["other"], ["other", PVC_PROTECTION]),
    ("persistentvolumes", "CREATE", "", None, [PV_PROTECTION]),
    ("persistentvolumeclaims", "UPDATE", "", None, None),
    ("persistentvolumeclaims", "CREATE", "status", None, None),
    ("pods", "CREATE", "", None, None),
], ids=["claim-gets-finalizer", "claim-finalizer-not-duplicated", "claim-keeps-other-finalizers",
        "volume-gets-finalizer", "update-untouched", "subresource-untouched", "other-kinds-untouched"])
def test_admission_adds_protection_finalizers(plural: str, op: Operation, sub: str, finalizers: list[str] | None,
                                              expected: list[str] | None) -> None:
    meta: dict[str, Any] = {"name": "x"}
    if finalizers is not None:
        meta["finalizers"] = list(finalizers)
    obj: dict[str, Any] = {"metadata": meta}
    StorageObjectInUseProtection().mutate(AdmissionRequest(op, RTS[plural], "ns", "x", obj, None, sub))
    assert obj["metadata"].get("finalizers") == expected


def claim(name: str = "pvc1", uid: str = "c1", owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid}
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta}


def pod(node: str = "n1", claim_name: str = "pvc1", *, ns: str = "default", phase: str = "Running",
        ephemeral: bool = False, shut_down: bool = False) -> dict[str, Any]:
    vol: dict[str, Any] = {"name": "vol", "ephemeral": {"volumeClaimTemplate": {}}} if ephemeral else \
        {"name": "vol", "persistentVolumeClaim": {"claimName": claim_name}}
    meta: dict[str, Any] = {"name": "pod1", "namespace": ns, "uid": "p1"}
    if shut_down:
        meta.update(deletionTimestamp="2024-01-01T00:00:00Z", deletionGracePeriodSeconds=0)
    return {"metadata": meta, "spec": {"nodeName": node, "volumes": [vol, {"name": "e", "emptyDir": {}}]},
            "status": {"phase": phase}}


OWNED = [{"apiVersion": "v1", "kind": "Pod", "name": "pod1", "uid": "p1", "controller": True}]


@pytest.mark.parametrize(("p", "c", "uses"), [
    (pod(), claim(), True),
    (pod(claim_name="unrelated"), claim(), False),
    (pod(node=""), claim(), False),
    (pod(phase="Succeeded"), claim(), True),
    (pod(ephemeral=True), claim("pod1-vol", owners=OWNED), True),
    (pod(ephemeral=True), claim("pod1-vol"), False),
    (pod(ephemeral=True, shut_down=True), claim("pod1-vol", owners=OWNED), False),
], ids=["scheduled-pod-with-the-claim", "pod-with-unrelated-claim-and-emptydir", "unscheduled-pod",
        "finished-but-not-deleted-pod-still-uses", "ephemeral-volume-of-its-pod", "ephemeral-name-but-not-owned",
        "ephemeral-of-shut-down-pod"])
def test_pod_uses_claim(p: dict[str, Any], c: dict[str, Any], uses: bool) -> None:
    assert pod_uses_claim(p, c) is uses


async def _claim_obj(api: Api, name: str) -> dict[str, Any] | None:
    items = (await api.client.list(PVCS, "default"))["items"]
    return next((o for o in items if o["metadata"]["name"] == name), None)


def pvc_body(name: str, finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}


def pod_body(name: str, claim_name: str, node: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}],
                     "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim_name}}]}}


async def test_controller_adds_the_finalizer_to_old_claims(api: Api) -> None:
    await api.client.create(PVCS, pvc_body("old"), "default")
    async with running(PVCProtectionController(api.client)):
        await eventually(lambda: _has(api, "old", PVC_PROTECTION), what="finalizer added")


async def _has(api: Api, name: str, finalizer: str) -> bool:
    obj = await _claim_obj(api, name)
    return obj is not None and finalizer in (obj["metadata"].get("finalizers") or [])


async def test_deleted_claim_waits_for_the_pod_using_it(api: Api) -> None:
    await api.client.create(PVCS, pvc_body("data", [PVC_PROTECTION]), "default")
    await api.client.create(PVCS, pvc_body("free", [PVC_PROTECTION]), "default")
    await api.client.create(PODS, pod_body("user", "data"), "default")
    await api.client.create(PODS, pod_body("pending", "free", node=""), "default")
    ctrl = PVCProtectionController(api.client)
    async with running(ctrl):
        await api.client.delete(PVCS, "data", "default")
        await api.client.delete(PVCS, "free", "default")
        await eventually(lambda: _gone(api, "free"), what="unused claim (only an unscheduled pod) removed")
        await eventually(lambda: len(ctrl.queue) == 0 and not ctrl.queue._processing, what="queue idle")
        stuck = await _claim_obj(api, "data")
        assert stuck is not None and stuck["metadata"].get("deletionTimestamp")
        assert stuck["metadata"]["finalizers"] == [PVC_PROTECTION]
        await api.client.delete(PODS, "user", "default", grace_period_seconds=0)
        await eventually(lambda: _gone(api, "data"), what="claim removed once its pod is gone")


async def _gone(api: Api, name: str) -> bool:
    return await _claim_obj(api, name) is None


def pv_body(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "finalizers": [PV_PROTECTION]},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}}}


async def _pv(api: Api, name: str) -> dict[str, Any] | None:
    items = (await api.client.list(PVS))["items"]
    return next((o for o in items if o["metadata"]["name"] == name), None)


async def test_deleted_volume_waits_while_bound(api: Api) -> None:
    for name in ("bound", "available"):
        await api.client.create(PVS, pv_body(name))
    await api.client.patch(PVS, "bound", {"status": {"phase": "Bound"}}, subresource="status")
    ctrl = PVProtectionController(api.client)
    async with running(ctrl):
        await api.client.delete(PVS, "bound")
        await api.client.delete(PVS, "available")
        await eventually(lambda: _pv_gone(api, "available"), what="unbound volume removed")
        await eventually(lambda: len(ctrl.queue) == 0 and not ctrl.queue._processing, what="queue idle")
        assert (await _pv(api, "bound")) is not None
        await api.client.patch(PVS, "bound", {"status": {"phase": "Released"}}, subresource="status")
        await eventually(lambda: _pv_gone(api, "bound"), what="released volume removed")


async def _pv_gone(api: Api, name: str) -> bool:
    return await _pv(api, name) is None
