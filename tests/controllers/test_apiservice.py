"""Local APIServices follow the served group/versions (kube-apiserver autoregistration)."""

from __future__ import annotations

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.controllers.apiservice import APISERVICES, AUTOMANAGED, APIServiceRegistrar, local_apiservice
from suanli.kinds.registry import ResourceType
from tests.controllers.conftest import Api, eventually, running


@pytest.mark.parametrize(
    ("group", "version", "builtin", "name", "priorities", "label"),
    [
        pytest.param("", "v1", True, "v1.", (18000, 1), "onstart", id="core-group"),
        pytest.param("apps", "v1", True, "v1.apps", (17800, 15), "onstart", id="apps"),
        pytest.param("example.com", "v1alpha1", False, "v1alpha1.example.com", (1000, 100), "true", id="crd-group"),
    ],
)
def test_local_apiservice(group: str, version: str, builtin: bool, name: str, priorities: tuple[int, int],
                          label: str) -> None:
    svc = local_apiservice(group, version, builtin=builtin)
    assert svc["metadata"]["name"] == name
    assert (svc["spec"]["groupPriorityMinimum"], svc["spec"]["versionPriority"]) == priorities
    assert svc["metadata"]["labels"] == {AUTOMANAGED: label}
    assert "service" not in svc["spec"]


async def names(api: Api) -> set[str]:
    return {o["metadata"]["name"] for o in (await api.client.list(APISERVICES))["items"]}


async def test_registrar_follows_the_registry(api: Api) -> None:
    user: Obj = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                 "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
                 "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                          "versionPriority": 100, "service": {"namespace": "m", "name": "adapter"}}}
    await api.client.create(APISERVICES, user)
    async with running(APIServiceRegistrar(api.client, api.registry)):
        wanted = {"v1.", "v1.apps", "v1.policy", "v1.storage.k8s.io", "v1.apiextensions.k8s.io"}

        async def all_there() -> bool:
            return wanted <= await names(api)

        await eventually(all_there, what="built-in APIServices")
        core = await api.client.get(APISERVICES, "v1.")
        cond = core["status"]["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "True", "Local")
        rt = ResourceType(group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget",
                          namespaced=True, builtin=False)
        api.registry.add(rt)
        await eventually(lambda: _has(api, "v1.example.com"), what="CRD group APIService")
        api.registry.remove("example.com", "v1", "widgets")

        async def gone() -> bool:
            return "v1.example.com" not in await names(api)

        await eventually(gone, what="CRD group APIService removed")
        assert "v1beta1.custom.metrics.k8s.io" in await names(api)  # not automanaged: left alone


async def _has(api: Api, name: str) -> set[str] | None:
    got = await names(api)
    return got if name in got else None


async def test_name_must_be_version_dot_group(api: Api) -> None:
    body = local_apiservice("apps", "v1", builtin=True)
    body["metadata"]["name"] = "v1.wrong"
    with pytest.raises(ApiError) as info:
        await api.client.create(APISERVICES, body)
    assert info.value.code == 422
    assert 'must be `spec.version+"."+spec.group`: "v1.apps"' in info.value.message
