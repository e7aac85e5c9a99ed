"""ReplicationController controller: the ReplicaSet logic over a map selector."""

from __future__ import annotations

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import PODS, controller_of
from suanli.controllers.replicationcontroller import REPLICATIONCONTROLLERS, ReplicationControllerController
from tests.controllers.conftest import Api, eventually, running

NS = "default"


def rc(name: str, replicas: int, *, selector: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"replicas": replicas,
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


async def owned(api: Api, name: str) -> list[Obj]:
    owner = await api.client.get(REPLICATIONCONTROLLERS, name, NS)
    return [p for p in (await api.client.list(PODS, NS))["items"]
            if (controller_of(p) or {}).get("uid") == owner["metadata"]["uid"]
            and not p["metadata"].get("deletionTimestamp")]


async def test_selector_and_labels_default_from_the_template(api: Api) -> None:
    created = await api.client.create(REPLICATIONCONTROLLERS, rc("web", 2), NS)
    assert created["spec"]["selector"] == {"app": "web"}
    assert created["metadata"]["labels"] == {"app": "web"}


async def test_selector_must_match_the_template(api: Api) -> None:
    with pytest.raises(ApiError) as info:
        await api.client.create(REPLICATIONCONTROLLERS, rc("web", 1, selector={"app": "other"}), NS)
    assert info.value.code == 422
    assert "`selector` does not match template `labels`" in info.value.message


async def test_creates_scales_and_reports_status(api: Api) -> None:
    async with running(ReplicationControllerController(api.client)):
        await api.client.create(REPLICATIONCONTROLLERS, rc("web", 3), NS)

        async def count(n: int) -> list[Obj] | None:
            pods = await owned(api, "web")
            return pods if len(pods) == n else None

        pods = await eventually(lambda: count(3), what="3 pods")
        ref = controller_of(pods[0])
        assert ref is not None and (ref["apiVersion"], ref["kind"]) == ("v1", "ReplicationController")
        assert all(p["metadata"]["name"].startswith("web-") for p in pods)

        async def status_replicas(n: int) -> bool:
            st = (await api.client.get(REPLICATIONCONTROLLERS, "web", NS)).get("status") or {}
            return st.get("replicas") == n

        await eventually(lambda: status_replicas(3), what="status.replicas 3")
        await api.client.patch(REPLICATIONCONTROLLERS, "web", {"spec": {"replicas": 1}}, NS)
        await eventually(lambda: count(1), what="scaled down to 1")


async def test_scale_subresource_reports_the_map_selector(api: Api) -> None:
    await api.client.create(REPLICATIONCONTROLLERS, rc("web", 2), NS)
    rt = api.registry.get("", "v1", "replicationcontrollers")
    assert rt is not None
    scale = api.service.get_scale(rt, NS, "web")
    assert scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "app=web"
