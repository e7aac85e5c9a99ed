"""Patch strategy metadata lookups and CRD-schema-derived list metadata."""

from __future__ import annotations

import pytest

from suanli.apimachinery.patch import (
    ListStrategy,
    kind_key,
    kind_key_of,
    list_map_keys,
    list_meta_from_schema,
    register,
    strategy_for,
)

POD = ("spec",)
DEPLOY = ("spec", "template", "spec")
CRON = ("spec", "jobTemplate", "spec", "template", "spec")

LOOKUPS = [
    ("Pod", (*POD, "containers"), "map", "name"),
    ("apps/Deployment", (*DEPLOY, "containers"), "map", "name"),
    ("apps/StatefulSet", (*DEPLOY, "initContainers"), "map", "name"),
    ("batch/CronJob", (*CRON, "containers", "env"), "map", "name"),
    ("batch/Job", (*DEPLOY, "containers", "ports"), "map", "containerPort"),
    ("apps/DaemonSet", (*DEPLOY, "containers", "volumeMounts"), "map", "mountPath"),
    ("Pod", (*POD, "containers", "volumeDevices"), "map", "devicePath"),
    ("Pod", (*POD, "ephemeralContainers"), "map", "name"),
    ("apps/ReplicaSet", (*DEPLOY, "volumes"), "map", "name"),
    ("Pod", (*POD, "imagePullSecrets"), "map", "name"),
    ("Pod", (*POD, "hostAliases"), "map", "ip"),
    ("Pod", ("status", "conditions"), "map", "type"),
    ("Node", ("status", "conditions"), "map", "type"),
    ("apps/Deployment", ("status", "conditions"), "map", "type"),
    ("Node", ("status", "addresses"), "map", "type"),
    ("Pod", ("status", "podIPs"), "map", "ip"),
    ("Service", ("spec", "ports"), "map", "port"),
    ("example.com/Widget", ("metadata", "ownerReferences"), "map", "uid"),
    ("Pod", ("metadata", "finalizers"), "set", None),
    ("apps/Deployment", ("spec", "template", "metadata", "finalizers"), "set", None),
]
LOOKUP_IDS = [
    "pod containers by name",
    "deployment template containers by name",
    "statefulset initContainers by name",
    "cronjob nested env by name",
    "job container ports by containerPort",
    "daemonset volumeMounts by mountPath",
    "volumeDevices by devicePath",
    "ephemeralContainers by name",
    "replicaset volumes by name",
    "imagePullSecrets by name",
    "hostAliases by ip",
    "pod conditions by type",
    "node conditions by type",
    "deployment conditions by type",
    "node addresses by type",
    "podIPs by ip",
    "service ports by port",
    "custom resource ownerReferences by uid",
    "finalizers merged as set",
    "template metadata finalizers set",
]


@pytest.mark.parametrize(("kind", "path", "list_type", "merge_key"), LOOKUPS, ids=LOOKUP_IDS)
def test_strategy_for(kind: str, path: tuple[str, ...], list_type: str, merge_key: str | None) -> None:
    s = strategy_for(kind, path)
    assert s is not None and s.list_type == list_type and s.merge_key == merge_key


ATOMIC = [
    ("Pod", (*POD, "tolerations")),
    ("Node", ("spec", "taints")),
    ("Pod", (*POD, "containers", "args")),
    ("Pod", (*POD, "containers", "command")),
    ("example.com/Widget", ("spec", "containers")),
    ("Service", ("spec", "template", "spec", "containers")),
]
ATOMIC_IDS = [
    "tolerations atomic",
    "node taints atomic",
    "args atomic",
    "command atomic",
    "custom resource lists atomic without schema",
    "kind restriction respected",
]


@pytest.mark.parametrize(("kind", "path"), ATOMIC, ids=ATOMIC_IDS)
def test_atomic_lists(kind: str, path: tuple[str, ...]) -> None:
    s = strategy_for(kind, path)
    assert s is None or s.list_type == "atomic"
    assert list_map_keys(kind, path) is None


def test_list_map_keys_for_ssa() -> None:
    assert list_map_keys("Pod", (*POD, "containers")) == ("name",)
    assert list_map_keys("Pod", (*POD, "containers", "ports")) == ("containerPort", "protocol")
    assert list_map_keys("Service", ("spec", "ports")) == ("port", "protocol")
    assert list_map_keys("Pod", ("metadata", "finalizers")) is None


@pytest.mark.parametrize(
    ("given", "kind", "want"),
    [
        ("v1", "Pod", "Pod"),
        ("apps/v1", "Deployment", "apps/Deployment"),
        ("", "Pod", "Pod"),
        ("batch.volcano.sh/v1alpha1", "Job", "batch.volcano.sh/Job"),
        ("apps", "Deployment", "apps/Deployment"),
    ],
    ids=["core version", "grouped api version", "empty group", "crd group", "bare group"],
)
def test_kind_key(given: str, kind: str, want: str) -> None:
    assert kind_key(given, kind) == want


def test_kind_key_variants_are_normalised() -> None:
    for k in ("Pod", "/Pod", "core/Pod", "v1/Pod"):
        assert strategy_for(k, (*POD, "containers")) == ListStrategy.by_key("name")
    assert kind_key_of({"apiVersion": "batch/v1", "kind": "CronJob"}) == "batch/CronJob"


def test_register_adds_entry_for_new_kind() -> None:
    register(("tasks",), ListStrategy.by_key("name"), kinds=["test.suanli.io/Thing"])
    assert strategy_for("test.suanli.io/Thing", ("spec", "tasks")) == ListStrategy.by_key("name")
    assert strategy_for("Pod", ("spec", "tasks")) is None


SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "tasks": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "ports": {
                                "type": "array",
                                "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["port", "protocol"],
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "port": {"type": "integer"},
                                        "protocol": {"type": "string", "default": "TCP"},
                                    },
                                },
                            },
                            "args": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "legacy": {
                    "type": "array",
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "id",
                    "items": {"type": "object"},
                },
                "byZone": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id"],
                        "items": {"type": "object"},
                    },
                },
            },
        },
    },
}


def test_list_meta_from_schema() -> None:
    meta = list_meta_from_schema(SCHEMA)
    kind = "example.com/Widget"
    assert list_map_keys(kind, ("spec", "tasks"), meta) == ("name",)
    ports = strategy_for(kind, ("spec", "tasks", "ports"), meta)
    assert ports is not None and ports.map_keys == ("port", "protocol")
    assert ports.identity({"port": 80}) == {"port": 80, "protocol": "TCP"}
    assert strategy_for(kind, ("spec", "tasks", "args"), meta) is None
    tags = strategy_for(kind, ("spec", "tags"), meta)
    assert tags is not None and tags.list_type == "set"
    assert strategy_for(kind, ("spec", "legacy"), meta) == ListStrategy.by_key("id")
    assert list_map_keys(kind, ("spec", "byZone", "eu-1"), meta) == ("id",)
    # ObjectMeta entries still come from the built-in table
    assert list_map_keys(kind, ("metadata", "ownerReferences"), meta) == ("uid",)
    assert list_meta_from_schema(None)(("spec", "tasks")) is None
