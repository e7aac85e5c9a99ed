"""Endpoints and EndpointSlices follow the ready pods behind a Service."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import PODS, rfc3339
from suanli.controllers.endpoints import ENDPOINTS, ENDPOINTSLICES, SERVICES, EndpointsController, resolve_port
from tests.controllers.conftest import Api, eventually, running

NS = "default"


@pytest.mark.parametrize(
    ("service_port", "expected"),
    [
        pytest.param({"port": 80}, 80, id="unset-target-is-the-port"),
        pytest.param({"port": 80, "targetPort": 8080}, 8080, id="numeric-target"),
        pytest.param({"port": 80, "targetPort": "http"}, 8000, id="named-container-port"),
        pytest.param({"port": 80, "targetPort": "http", "protocol": "UDP"}, None, id="named-port-protocol-must-match"),
        pytest.param({"port": 80, "targetPort": "nope"}, None, id="missing-named-port"),
    ],
)
def test_resolve_port(service_port: Obj, expected: int | None) -> None:
    pod = {"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8000}]}]}}
    assert resolve_port(pod, service_port) == expected


async def make_pod(api: Api, name: str, ip: str, *, ready: bool, labels: dict[str, str] | None = None) -> None:
    await api.client.create(PODS, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels or {"app": "web"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x",
                                                   "ports": [{"name": "http", "containerPort": 8000}]}]}}, NS)
    await api.client.patch(PODS, name, {"status": {"phase": "Running", "podIP": ip, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(1e9)}]}}, NS,
        subresource="status")


async def endpoints(api: Api) -> Obj | None:
    try:
        return await api.client.get(ENDPOINTS, "web", NS)
    except ApiError:
        return None


async def slices(api: Api) -> list[Obj]:
    return list((await api.client.list(ENDPOINTSLICES, NS, label_selector="kubernetes.io/service-name=web"))["items"])


def addresses(ep: Obj, key: str) -> list[str]:
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get(key) or [])


async def test_endpoints_and_slices_track_pods(api: Api) -> None:
    await make_pod(api, "a", "10.0.0.1", ready=True)
    await make_pod(api, "b", "10.0.0.2", ready=False)
    await make_pod(api, "other", "10.0.0.3", ready=True, labels={"app": "other"})
    await api.client.create(SERVICES, {"apiVersion": "v1", "kind": "Service",
                                       "metadata": {"name": "web", "namespace": NS},
                                       "spec": {"selector": {"app": "web"},
                                                "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}, NS)
    async with running(EndpointsController(api.client)):
        async def both() -> tuple[Obj, Obj] | None:
            ep, sl = await endpoints(api), await slices(api)
            return (ep, sl[0]) if ep and sl and len(sl[0].get("endpoints") or []) == 2 else None

        ep, sl = await eventually(both, what="endpoints and slice")
        assert addresses(ep, "addresses") == ["10.0.0.1"]
        assert addresses(ep, "notReadyAddresses") == ["10.0.0.2"]
        assert ep["subsets"][0]["ports"] == [{"port": 8000, "protocol": "TCP", "name": "web"}]
        assert sl["addressType"] == "IPv4" and sl["ports"] == [{"port": 8000, "protocol": "TCP", "name": "web"}]
        assert {e["addresses"][0]: e["conditions"]["ready"] for e in sl["endpoints"]} == \
            {"10.0.0.1": True, "10.0.0.2": False}
        assert sl["metadata"]["ownerReferences"][0]["kind"] == "Service"
        # the pod becomes ready: both objects follow
        await api.client.patch(PODS, "b", {"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(1e9)}]}}, NS, subresource="status")

        async def all_ready() -> bool:
            ep2, sl2 = await endpoints(api), await slices(api)
            return bool(ep2 and addresses(ep2, "addresses") == ["10.0.0.1", "10.0.0.2"] and sl2
                        and all(e["conditions"]["ready"] for e in sl2[0]["endpoints"]))

        await eventually(all_ready, what="both ready")
        await api.client.delete(PODS, "a", NS, grace_period_seconds=0)

        async def one_left() -> bool:
            ep3 = await endpoints(api)
            return bool(ep3 and addresses(ep3, "addresses") == ["10.0.0.2"])

        await eventually(one_left, what="deleted pod removed")
        await api.client.delete(SERVICES, "web", NS)
        await eventually(lambda: _none(endpoints(api)), what="endpoints deleted with the service")


async def _none(value: Any) -> bool:
    return (await value) is None
