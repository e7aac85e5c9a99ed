"""Update rules run on every write path (PUT, merge patch, apply) and answer 422 worded as upstream."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from tests.controllers.conftest import Api

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.context import RequestContext


def rt(api: Api, plural: str) -> Any:
    found = api.registry.get("", "v1", plural)
    assert found is not None
    return found


async def test_node_pod_cidr_is_set_once_then_forbidden_to_change(api: Api) -> None:
    nodes = rt(api, "nodes")
    await api.service.create(nodes, "", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    await api.service.patch(nodes, "", "n1", "merge",
                            {"spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}})
    with pytest.raises(ApiError) as err:
        await api.service.patch(nodes, "", "n1", "merge",
                                {"spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24"]}})
    assert err.value.code == 422
    assert err.value.message == ('Node "n1" is invalid: spec.podCIDRs: Forbidden: node updates may not change '
                                 'podCIDR except from "" to valid')
    assert [c.as_dict() for c in err.value.causes] == [{
        "reason": "FieldValueForbidden", "field": "spec.podCIDRs",
        "message": 'Forbidden: node updates may not change podCIDR except from "" to valid'}]
    # other spec fields and status stay writable
    await api.service.patch(nodes, "", "n1", "merge", {"spec": {"unschedulable": True}})
    assert api.service.get(nodes, "", "n1").obj["spec"]["podCIDR"] == "10.244.1.0/24"


async def test_immutable_configmap_rejects_put_and_patch(api: Api) -> None:
    cms = rt(api, "configmaps")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "immutable": True}
    await api.service.create(cms, "default", cm)
    for attempt in ({"data": {"k": "w"}}, {"immutable": False}):
        with pytest.raises(ApiError) as err:
            await api.service.patch(cms, "default", "c", "merge", attempt)
        assert err.value.code == 422
        assert "Forbidden: field is immutable when `immutable` is set" in err.value.message
    with pytest.raises(ApiError):
        await api.service.update(cms, "default", "c", {**cm, "metadata": {"name": "c"}, "data": {"k": "x"}})
    # metadata stays mutable
    await api.service.patch(cms, "default", "c", "merge",
                            {"metadata": {"labels": {"a": "b"}}}, RequestContext())


async def test_secret_string_data_is_merged_into_data_and_counts_as_a_data_change(api: Api) -> None:
    secrets = rt(api, "secrets")
    created = await api.service.create(secrets, "default", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "MQ=="},
        "stringData": {"b": "two"}, "immutable": True})
    assert "stringData" not in created
    assert created["data"] == {"a": "MQ==", "b": base64.b64encode(b"two").decode()}
    with pytest.raises(ApiError) as err:
        await api.service.patch(secrets, "default", "s", "merge", {"stringData": {"a": "x"}})
    assert err.value.message == 'Secret "s" is invalid: data: Forbidden: field is immutable when `immutable` is set'
