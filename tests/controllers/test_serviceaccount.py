"""The default ServiceAccount and kube-root-ca.crt ConfigMap in every namespace."""

from __future__ import annotations

from suanli.apimachinery.gvr import GVR
from suanli.controllers.serviceaccount import (
    CONFIGMAPS,
    ROOT_CA_CONFIGMAP,
    SERVICEACCOUNTS,
    RootCAPublisher,
    ServiceAccountsController,
)
from tests.controllers.conftest import Api, eventually, running

NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


async def _get(api: Api, gvr: GVR, name: str, ns: str) -> dict[str, object] | None:
    items = (await api.client.list(gvr, ns))["items"]
    return next((o for o in items if o["metadata"]["name"] == name), None)


async def test_default_service_account_in_every_namespace_and_recreated(api: Api) -> None:
    async with running(ServiceAccountsController(api.client)):
        await api.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        for ns in ("default", "team"):
            await eventually(lambda ns=ns: _get(api, SERVICEACCOUNTS, "default", ns), what=f"default SA in {ns}")
        await api.client.delete(SERVICEACCOUNTS, "default", "team")
        await eventually(lambda: _fresh(api), what="default SA recreated")


async def _fresh(api: Api) -> bool:
    sa = await _get(api, SERVICEACCOUNTS, "default", "team")
    return sa is not None and not sa["metadata"].get("deletionTimestamp")  # type: ignore[union-attr]


async def test_root_ca_configmap_published_and_edits_reverted(api: Api) -> None:
    async with running(RootCAPublisher(api.client, CA.encode())):
        await api.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
        cm = await eventually(lambda: _get(api, CONFIGMAPS, ROOT_CA_CONFIGMAP, "apps"), what="kube-root-ca.crt")
        assert cm["data"] == {"ca.crt": CA}
        assert "kube-apiserver" in cm["metadata"]["annotations"]["kubernetes.io/description"]
        await api.client.patch(CONFIGMAPS, ROOT_CA_CONFIGMAP, {"data": {"ca.crt": "forged", "extra": "x"}}, "apps")

        async def restored() -> bool:
            got = await _get(api, CONFIGMAPS, ROOT_CA_CONFIGMAP, "apps")
            return got is not None and got["data"] == {"ca.crt": CA}
        await eventually(restored, what="the CA restored")
        await api.client.delete(CONFIGMAPS, ROOT_CA_CONFIGMAP, "apps")
        await eventually(restored, what="the ConfigMap recreated")
