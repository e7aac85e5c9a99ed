"""PersistentVolume binder and local-path provisioner; DefaultStorageClass admission.

Matching cases follow upstream ``pkg/controller/volume/persistentvolume/index_test.go``
(smallest fitting volume, class, access modes, volume mode, selector, pre-bound volumes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission_storage import DefaultStorageClass, store_class_lister
from suanli.controllers._pods import PODS
from suanli.controllers.persistentvolume import (
    PROVISIONER,
    PVCS,
    PVS,
    SELECTED_NODE,
    STORAGECLASSES,
    PersistentVolumeController,
    default_storage_class,
    find_best_match,
)
from suanli.kinds.storageclass import default_class_name
from tests.controllers.conftest import Api, eventually, running

NS = "default"
EVENTS = GVR("", "v1", "events")


def pv(name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str = "",
       labels: dict[str, str] | None = None, claim: str | None = None, mode: str = "Filesystem") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                 "volumeMode": mode, "hostPath": {"path": f"/tmp/{name}"}}
    if claim:
        spec["claimRef"] = {"namespace": NS, "name": claim}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec, "status": {"phase": "Available"}}


def pvc(name: str, size: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",), cls: str | None = "",
        selector: Obj | None = None, mode: str = "Filesystem") -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, "volumeMode": mode}
    if cls is not None:
        spec["storageClassName"] = cls
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"}, "spec": spec}


VOLUMES = [
    pv("small", "1Gi"), pv("medium", "5Gi"), pv("large", "10Gi"),
    pv("rwx", "5Gi", modes=("ReadWriteOnce", "ReadWriteMany")),
    pv("gold", "5Gi", cls="gold"), pv("labelled", "20Gi", labels={"tier": "fast"}),
    pv("block", "5Gi", mode="Block"), pv("prebound", "50Gi", claim="wants-prebound"),
]


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        pytest.param(pvc("c", "1Gi"), "small", id="exact-size-fits"),
        pytest.param(pvc("c", "2Gi"), "medium", id="smallest-larger-volume-wins"),
        pytest.param(pvc("c", "11Gi"), "labelled", id="only-the-big-volume-is-large-enough"),
        pytest.param(pvc("c", "100Gi"), None, id="nothing-large-enough"),
        pytest.param(pvc("c", "1Gi", modes=("ReadWriteMany",)), "rwx", id="access-modes-must-be-offered"),
        pytest.param(pvc("c", "1Gi", cls="gold"), "gold", id="class-must-match"),
        pytest.param(pvc("c", "1Gi", cls="silver"), None, id="no-volume-of-the-class"),
        pytest.param(pvc("c", "1Gi", selector={"matchLabels": {"tier": "fast"}}), "labelled",
                     id="selector-restricts-volumes"),
        pytest.param(pvc("c", "1Gi", mode="Block"), "block", id="volume-mode-must-match"),
        pytest.param(pvc("wants-prebound", "1Gi"), "prebound", id="pre-bound-volume-wins-over-smaller"),
    ],
)
def test_find_best_match(claim: Obj, expected: str | None) -> None:
    found = find_best_match(claim, VOLUMES)
    assert (found["metadata"]["name"] if found else None) == expected


def test_volume_bound_to_another_claim_is_skipped() -> None:
    taken = pv("taken", "1Gi", claim="someone-else")
    assert find_best_match(pvc("c", "1Gi"), [taken]) is None


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        pytest.param([], None, id="no-classes"),
        pytest.param([{"metadata": {"name": "a"}}], None, id="no-default-annotation"),
        pytest.param([{"metadata": {"name": "a", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}}], "a", id="annotated-class"),
        pytest.param([
            {"metadata": {"name": "old", "creationTimestamp": "2026-01-01T00:00:00Z",
                          "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
            {"metadata": {"name": "new", "creationTimestamp": "2026-02-01T00:00:00Z",
                          "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}}],
            "new", id="newest-default-wins"),
    ],
)
def test_default_class_name(classes: list[Obj], expected: str | None) -> None:
    assert default_class_name(classes) == expected


@pytest.fixture
def admission(api: Api) -> Api:
    api.service.admission.add_mutating(DefaultStorageClass(store_class_lister(api.store)))
    return api


@pytest.mark.parametrize(
    ("cls", "expected"),
    [pytest.param(None, "standard", id="missing-class-gets-the-default"),
     pytest.param("", "", id="empty-class-stays-empty"),
     pytest.param("gold", "gold", id="named-class-is-kept")],
)
async def test_default_storage_class_admission(admission: Api, cls: str | None, expected: str) -> None:
    await admission.client.create(STORAGECLASSES, default_storage_class())
    body = pvc("c", "1Gi", cls=cls)
    del body["metadata"]["uid"]
    created = await admission.client.create(PVCS, body, NS)
    assert created["spec"]["storageClassName"] == expected


async def claim_phase(api: Api, name: str) -> str | None:
    return ((await api.client.get(PVCS, name, NS)).get("status") or {}).get("phase")


async def test_static_volume_is_bound_to_a_matching_claim(api: Api) -> None:
    ctrl = PersistentVolumeController(api.client, ensure_default_class=False)
    async with running(ctrl):
        for v in (pv("small", "1Gi"), pv("big", "10Gi")):
            await api.client.create(PVS, v)
        body = pvc("data", "2Gi")
        del body["metadata"]["uid"]
        await api.client.create(PVCS, body, NS)
        await eventually(lambda: _is(claim_phase(api, "data"), "Bound"), what="claim bound")
        claim = await api.client.get(PVCS, "data", NS)
        assert claim["spec"]["volumeName"] == "big"
        assert claim["status"]["capacity"] == {"storage": "10Gi"}
        assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        vol = await api.client.get(PVS, "big")
        assert vol["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
        assert vol["status"]["phase"] == "Bound"
        # the claim goes away: the (Retain) volume is Released, not deleted
        await api.client.delete(PVCS, "data", NS)

        async def released() -> bool:
            return ((await api.client.get(PVS, "big")).get("status") or {}).get("phase") == "Released"

        await eventually(released, what="volume released")


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_wait_for_first_consumer_provisions_on_the_pods_node(api: Api, tmp_path: Path) -> None:
    ctrl = PersistentVolumeController(api.client, host_node="host", volume_root=tmp_path)
    async with running(ctrl):
        await eventually(lambda: _has_class(api), what="default class created")
        body = pvc("data", "1Gi", cls="standard")
        del body["metadata"]["uid"]
        await api.client.create(PVCS, body, NS)
        await eventually(lambda: _event_reasons(api, "data"), what="an Event for the waiting claim")
        assert await _event_reasons(api, "data") == {"WaitForFirstConsumer"}
        claim = await api.client.get(PVCS, "data", NS)
        assert (claim.get("status") or {}).get("phase") == "Pending"
        assert not (await api.client.list(PVS))["items"]  # waiting for the first consumer
        await api.client.create(PODS, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": NS},
            "spec": {"nodeName": "host", "containers": [{"name": "c", "image": "x"}],
                     "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}, NS)
        await eventually(lambda: _is(claim_phase(api, "data"), "Bound"), what="claim provisioned and bound")
        claim = await api.client.get(PVCS, "data", NS)
        assert claim["metadata"]["annotations"][SELECTED_NODE] == "host"
        vol = await api.client.get(PVS, claim["spec"]["volumeName"])
        assert vol["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
        assert vol["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == PROVISIONER
        assert vol["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        terms = vol["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["values"] == ["host"]
        path = Path(vol["spec"]["hostPath"]["path"])
        assert path.is_dir() and path.parent == tmp_path
        await eventually(lambda: _has_reason(api, "data", "ProvisioningSucceeded"), what="provisioning Event")
        # reclaim policy Delete: the volume and its directory go with the claim
        await api.client.delete(PVCS, "data", NS)

        async def volume_gone() -> bool:
            return not (await api.client.list(PVS))["items"]

        await eventually(volume_gone, what="provisioned volume deleted")
        assert not path.exists()


async def test_simulated_node_volume_is_recorded_not_created(api: Api, tmp_path: Path) -> None:
    ctrl = PersistentVolumeController(api.client, host_node="host", volume_root=tmp_path)
    async with running(ctrl):
        await eventually(lambda: _has_class(api), what="default class created")
        body = pvc("data", "1Gi", cls="standard")
        del body["metadata"]["uid"]
        body["metadata"]["annotations"] = {SELECTED_NODE: "sim-0"}
        await api.client.create(PVCS, body, NS)
        await eventually(lambda: _is(claim_phase(api, "data"), "Bound"), what="claim bound")
        claim = await api.client.get(PVCS, "data", NS)
        vol = await api.client.get(PVS, claim["spec"]["volumeName"])
        assert vol["spec"]["hostPath"]["path"].startswith("/var/lib/suanli/local-path/")
        assert not any(tmp_path.iterdir())


async def _has_class(api: Api) -> bool:
    return bool((await api.client.list(STORAGECLASSES))["items"])


async def _event_reasons(api: Api, claim: str) -> set[str]:
    events = (await api.client.list(EVENTS, NS))["items"]
    return {e["reason"] for e in events if e["involvedObject"]["name"] == claim
            and e["involvedObject"]["kind"] == "PersistentVolumeClaim"}


async def _has_reason(api: Api, claim: str, reason: str) -> bool:
    return reason in await _event_reasons(api, claim)


async def test_claim_of_an_unknown_class_gets_a_warning(api: Api) -> None:
    ctrl = PersistentVolumeController(api.client, ensure_default_class=False)
    async with running(ctrl):
        body = pvc("data", "1Gi", cls="missing")
        del body["metadata"]["uid"]
        await api.client.create(PVCS, body, NS)
        await eventually(lambda: _has_reason(api, "data", "ProvisioningFailed"), what="ProvisioningFailed Event")
        assert await claim_phase(api, "data") == "Pending"
