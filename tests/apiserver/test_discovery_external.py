"""Groups served outside the registry (aggregated APIs such as custom.metrics.k8s.io) in legacy discovery."""

from __future__ import annotations

from typing import Any

from suanli.apiserver.discovery import Discovery
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry


def builtin_registry() -> Registry:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    return registry


def test_external_group_is_listed_with_its_dynamic_resources() -> None:
    discovery = Discovery(builtin_registry())
    resources: list[dict[str, Any]] = []
    discovery.external[("custom.metrics.k8s.io", "v1beta2")] = lambda: list(resources)
    # without resources the group is not listed (kubectl fails discovery on an empty resource list)
    assert "custom.metrics.k8s.io" not in {g["name"] for g in discovery.api_group_list()["groups"]}
    assert discovery.api_group("custom.metrics.k8s.io") is None
    assert discovery.resource_list("custom.metrics.k8s.io", "v1beta2") == {
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "custom.metrics.k8s.io/v1beta2",
        "resources": []}
    resources.append({"name": "pods/rps", "singularName": "", "namespaced": True, "kind": "MetricValueList",
                      "verbs": ["get"]})
    groups = {g["name"]: g for g in discovery.api_group_list()["groups"]}
    assert groups["custom.metrics.k8s.io"]["preferredVersion"] == {
        "groupVersion": "custom.metrics.k8s.io/v1beta2", "version": "v1beta2"}
    assert discovery.api_group("custom.metrics.k8s.io") is not None
    doc = discovery.resource_list("custom.metrics.k8s.io", "v1beta2")
    assert doc is not None and [r["name"] for r in doc["resources"]] == ["pods/rps"]  # read on every request


def test_registry_groups_win_over_an_external_entry_of_the_same_version() -> None:
    discovery = Discovery(builtin_registry())
    discovery.external[("apps", "v1")] = list
    doc = discovery.resource_list("apps", "v1")
    assert doc is not None and any(r["name"] == "deployments" for r in doc["resources"])
