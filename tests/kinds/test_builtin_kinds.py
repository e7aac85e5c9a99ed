"""Built-in resource types and their generated OpenAPI definitions."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from suanli.apimachinery import schema as S
from suanli.kinds.builtin import builtin_definitions, builtin_resource_types, definition_name, resolve_ref
from suanli.kinds.registry import ResourceType

REPO = Path(__file__).resolve().parents[2]
TYPES = {(rt.group, rt.version, rt.plural): rt for rt in builtin_resource_types()}


def rt(group: str, version: str, plural: str) -> ResourceType:
    return TYPES[(group, version, plural)]


@pytest.mark.parametrize(
    ("key", "kind", "namespaced", "short", "categories"),
    [
        (("", "v1", "pods"), "Pod", True, ("po",), ("all",)),
        (("", "v1", "nodes"), "Node", False, ("no",), ()),
        (("", "v1", "namespaces"), "Namespace", False, ("ns",), ()),
        (("", "v1", "services"), "Service", True, ("svc",), ("all",)),
        (("", "v1", "endpoints"), "Endpoints", True, ("ep",), ()),
        (("", "v1", "configmaps"), "ConfigMap", True, ("cm",), ()),
        (("", "v1", "serviceaccounts"), "ServiceAccount", True, ("sa",), ()),
        (("", "v1", "events"), "Event", True, ("ev",), ()),
        (("apps", "v1", "deployments"), "Deployment", True, ("deploy",), ("all",)),
        (("apps", "v1", "replicasets"), "ReplicaSet", True, ("rs",), ("all",)),
        (("apps", "v1", "daemonsets"), "DaemonSet", True, ("ds",), ("all",)),
        (("apps", "v1", "statefulsets"), "StatefulSet", True, ("sts",), ("all",)),
        (("batch", "v1", "jobs"), "Job", True, (), ("all",)),
        (("batch", "v1", "cronjobs"), "CronJob", True, ("cj",), ("all",)),
        (
            ("autoscaling", "v2", "horizontalpodautoscalers"),
            "HorizontalPodAutoscaler",
            True,
            ("hpa",),
            ("all",),
        ),
        (("scheduling.k8s.io", "v1", "priorityclasses"), "PriorityClass", False, ("pc",), ()),
        (("coordination.k8s.io", "v1", "leases"), "Lease", True, (), ()),
        (("rbac.authorization.k8s.io", "v1", "clusterroles"), "ClusterRole", False, (), ()),
        (
            ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
            "CustomResourceDefinition",
            False,
            ("crd", "crds"),
            ("api-extensions",),
        ),
    ],
    ids=lambda v: v[2] if isinstance(v, tuple) and len(v) == 3 else None,
)
def test_upstream_names(
    key: tuple[str, str, str],
    kind: str,
    namespaced: bool,
    short: tuple[str, ...],
    categories: tuple[str, ...],
) -> None:
    r = TYPES[key]
    assert (r.kind, r.namespaced, r.short_names, r.categories) == (kind, namespaced, short, categories)
    assert r.singular == kind.lower()
    assert r.builtin


@pytest.mark.parametrize(
    ("key", "subresources"),
    [
        (("", "v1", "pods"), {"status", "binding", "log", "eviction"}),
        (("", "v1", "nodes"), {"status"}),
        (("apps", "v1", "deployments"), {"status", "scale"}),
        (("apps", "v1", "statefulsets"), {"status", "scale"}),
        (("batch", "v1", "jobs"), {"status"}),
        (("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {"status"}),
        (("", "v1", "configmaps"), set()),
    ],
    ids=["pods", "nodes", "deployments", "statefulsets", "jobs", "crds", "configmaps-none"],
)
def test_subresources(key: tuple[str, str, str], subresources: set[str]) -> None:
    assert set(TYPES[key].subresources) == subresources


def test_scale_specs_for_scalable_workloads() -> None:
    for plural in ("deployments", "replicasets", "statefulsets"):
        scale = rt("apps", "v1", plural).scale
        assert scale is not None and scale.spec_replicas_path == ".spec.replicas"
    assert rt("apps", "v1", "daemonsets").scale is None


def test_selectable_fields() -> None:
    pods = rt("", "v1", "pods").selectable_fields
    assert {"spec.nodeName", "spec.schedulerName", "status.phase", "status.nominatedNodeName"} <= set(pods)
    assert "involvedObject.uid" in rt("", "v1", "events").selectable_fields
    assert rt("", "v1", "secrets").selectable_fields == ("type",)
    assert all("metadata.name" not in r.selectable_fields for r in TYPES.values())


def test_generation_only_for_spec_kinds() -> None:
    assert rt("apps", "v1", "deployments").has_spec_generation
    assert not rt("", "v1", "configmaps").has_spec_generation
    assert not rt("", "v1", "secrets").has_spec_generation


def test_events_v1_has_its_own_bucket() -> None:
    assert rt("events.k8s.io", "v1", "events").storage_key != rt("", "v1", "events").storage_key


def test_every_type_has_a_gvk_tagged_schema() -> None:
    for r in TYPES.values():
        if r.group == "metrics.k8s.io":  # written only by node agents; served without a schema
            assert r.schema is None
            continue
        assert r.schema is not None, r.plural
        assert {"group": r.group, "kind": r.kind, "version": r.version} in r.schema[
            "x-kubernetes-group-version-kind"
        ]


def test_all_refs_resolve() -> None:
    defs = builtin_definitions()
    refs = set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', json.dumps(defs)))
    assert refs and refs <= set(defs)


@pytest.mark.parametrize(
    ("definition", "field", "extensions"),
    [
        (
            "io.k8s.api.core.v1.PodSpec",
            "containers",
            {
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
        (
            "io.k8s.api.core.v1.Container",
            "ports",
            {
                "x-kubernetes-patch-merge-key": "containerPort",
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            },
        ),
        ("io.k8s.api.core.v1.Container", "env", {"x-kubernetes-patch-merge-key": "name"}),
        ("io.k8s.api.core.v1.Container", "volumeMounts", {"x-kubernetes-patch-merge-key": "mountPath"}),
        ("io.k8s.api.core.v1.PodSpec", "volumes", {"x-kubernetes-patch-strategy": "merge,retainKeys"}),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "ownerReferences",
            {"x-kubernetes-patch-merge-key": "uid"},
        ),
        ("io.k8s.api.core.v1.PodStatus", "conditions", {"x-kubernetes-patch-merge-key": "type"}),
        ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", {"x-kubernetes-patch-strategy": "retainKeys"}),
    ],
    ids=[
        "containers",
        "ports",
        "env",
        "volumeMounts",
        "volumes",
        "ownerReferences",
        "conditions",
        "strategy",
    ],
)
def test_patch_extensions(definition: str, field: str, extensions: dict[str, Any]) -> None:
    prop = builtin_definitions()[definition]["properties"][field]
    assert {k: prop.get(k) for k in extensions} == extensions


@pytest.mark.parametrize(
    ("definition", "field", "target"),
    [
        ("io.k8s.api.core.v1.ServicePort", "targetPort", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"),
        (
            "io.k8s.api.apps.v1.RollingUpdateDeployment",
            "maxSurge",
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        ),
        ("io.k8s.api.core.v1.HTTPGetAction", "port", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"),
    ],
    ids=["service-targetPort", "maxSurge", "probe-port"],
)
def test_int_or_string_fields(definition: str, field: str, target: str) -> None:
    assert builtin_definitions()[definition]["properties"][field] == {
        "$ref": "#/components/schemas/" + target
    }
    assert builtin_definitions()[target]["x-kubernetes-int-or-string"] is True


def test_required_only_where_upstream_requires() -> None:
    defs = builtin_definitions()
    assert defs["io.k8s.api.core.v1.Container"]["required"] == ["name"]
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]
    assert "required" not in defs["io.k8s.api.apps.v1.Deployment"]
    assert "required" not in defs["io.k8s.apimachinery.pkg.apis.meta.v1.Condition"]  # status-only type


def test_no_upstream_prose_in_descriptions() -> None:
    for name, schema in builtin_definitions().items():
        assert schema.get("description", "") == name.rsplit(".", 1)[-1]


def test_generated_json_is_small() -> None:
    assert (REPO / "src/suanli/kinds/schemas/builtin.json").stat().st_size < 2_000_000


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "creationTimestamp": None, "labels": {"a": "b"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                "livenessProbe": {"httpGet": {"port": "http"}},
            }
        ],
        "nodeSelector": {"x": "y"},
    },
}


def test_valid_pod_validates() -> None:
    pod_schema = rt("", "v1", "pods").schema
    assert pod_schema is not None
    assert S.validate(POD, pod_schema, resolve_ref) == []


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"containers": [{"image": "x"}]}, "spec.containers[0].name"),
        (
            {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]},
            "spec.containers[0].ports[0].containerPort",
        ),
        (
            {"containers": [{"name": "c", "resources": {"limits": {"cpu": "lots"}}}]},
            "spec.containers[0].resources.limits[cpu]",
        ),
        ({"terminationGracePeriodSeconds": "30"}, "spec.terminationGracePeriodSeconds"),
    ],
    ids=["container-name-required", "port-type", "quantity-syntax", "int64-type"],
)
def test_invalid_pod_paths(patch: dict[str, Any], field: str) -> None:
    pod_schema = rt("", "v1", "pods").schema
    assert pod_schema is not None
    bad = {"spec": {**POD["spec"], **patch}}  # type: ignore[dict-item]
    assert [c.field for c in S.validate(bad, pod_schema, resolve_ref)] == [field]


def test_pod_unknown_fields_reported_with_paths() -> None:
    pod_schema = rt("", "v1", "pods").schema
    assert pod_schema is not None
    obj = {"spec": {"foo": 1, "containers": [{"name": "c", "bar": 2}]}, "metadata": {"name": "x", "baz": 3}}
    assert sorted(S.unknown_fields(obj, pod_schema, resolve_ref)) == [
        "metadata.baz",
        "spec.containers[0].bar",
        "spec.foo",
    ]


def test_pod_validation_well_under_a_millisecond() -> None:
    import time

    pod_schema = rt("", "v1", "pods").schema
    assert pod_schema is not None
    S.validate(POD, pod_schema, resolve_ref)
    start = time.perf_counter()
    for _ in range(500):
        S.validate(POD, pod_schema, resolve_ref)
        S.prune(POD, pod_schema, resolve_ref)
    assert (time.perf_counter() - start) / 500 < 0.0005


def test_definition_name() -> None:
    assert definition_name("apps", "v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert definition_name("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert definition_name("apiextensions.k8s.io", "v1", "CustomResourceDefinition") == (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    )


@pytest.mark.skipif(importlib.util.find_spec("kubernetes") is None, reason="kubernetes client not installed")
def test_committed_json_matches_generator() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_builtin_schemas", REPO / "scripts/gen_builtin_schemas.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.Generator().run() == builtin_definitions()
