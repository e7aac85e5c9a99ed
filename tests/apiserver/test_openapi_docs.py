"""OpenAPI v3 root and group/version documents; real kubectl explain/create against them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from suanli.apiserver.openapi import openapi_document, openapi_document_json, openapi_root, schema_name
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.crd import default_crd, resource_types_from_crd
from suanli.kinds.registry import Registry

REF = "#/components/schemas/"


def queue_crd() -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "queues.scheduling.volcano.sh"},
        "spec": {
            "group": "scheduling.volcano.sh",
            "scope": "Cluster",
            "names": {"kind": "Queue", "plural": "queues", "shortNames": ["q"]},
            "versions": [
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Weight", "type": "integer", "jsonPath": ".spec.weight"}
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Queue groups PodGroups.",
                            "properties": {
                                "metadata": {"type": "object"},
                                "spec": {
                                    "type": "object",
                                    "description": "Desired queue behaviour.",
                                    "properties": {
                                        "weight": {
                                            "type": "integer",
                                            "description": "Share of the cluster.",
                                            "default": 1,
                                        },
                                        "reclaimable": {"type": "boolean"},
                                    },
                                },
                                "status": {"type": "object", "properties": {"state": {"type": "string"}}},
                            },
                        }
                    },
                }
            ],
        },
    }
    default_crd(crd)
    return crd


def make_registry(with_crd: bool = True) -> Registry:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    if with_crd:
        registry.add_all(resource_types_from_crd(queue_crd()))
    return registry


REGISTRY = make_registry()


def all_refs(value: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            out.add(value["$ref"])
        for child in value.values():
            out |= all_refs(child)
    elif isinstance(value, list):
        for child in value:
            out |= all_refs(child)
    return out


def test_root_lists_every_group_version() -> None:
    paths = openapi_root(REGISTRY)["paths"]
    assert {
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/autoscaling/v2",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/scheduling.k8s.io/v1",
        "apis/events.k8s.io/v1",
        "apis/metrics.k8s.io/v1beta1",
        "apis/scheduling.volcano.sh/v1beta1",
        "apis/policy/v1",
        "apis/storage.k8s.io/v1",
        "apis/networking.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
        "apis/node.k8s.io/v1",
        "apis/apiregistration.k8s.io/v1",
        "apis/certificates.k8s.io/v1",
        "apis/admissionregistration.k8s.io/v1",
        "apis/flowcontrol.apiserver.k8s.io/v1",
        "apis/resource.k8s.io/v1",
        "apis/resource.k8s.io/v1beta2",
    } == set(paths)
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    encoded = openapi_document_json(REGISTRY, "apps", "v1")
    assert encoded is not None and url.endswith(encoded[1])


def test_unknown_group_version_is_none() -> None:
    assert openapi_document(REGISTRY, "nope.example.com", "v1") is None


@pytest.mark.parametrize(
    ("group", "version"),
    [
        ("", "v1"),
        ("apps", "v1"),
        ("batch", "v1"),
        ("apiextensions.k8s.io", "v1"),
        ("scheduling.volcano.sh", "v1beta1"),
    ],
    ids=["core", "apps", "batch", "apiextensions", "crd-group"],
)
def test_document_refs_all_resolve(group: str, version: str) -> None:
    doc = openapi_document(REGISTRY, group, version)
    assert doc is not None
    assert doc["openapi"].startswith("3.0")
    schemas = doc["components"]["schemas"]
    refs = all_refs(doc)
    assert refs
    assert {r.removeprefix(REF) for r in refs} <= set(schemas)
    for name in ("ObjectMeta", "ListMeta", "Status", "DeleteOptions", "Time"):
        assert "io.k8s.apimachinery.pkg.apis.meta.v1." + name in schemas
    assert "io.k8s.apimachinery.pkg.util.intstr.IntOrString" in schemas
    assert "io.k8s.apimachinery.pkg.api.resource.Quantity" in schemas


@pytest.mark.parametrize(
    ("group", "version", "path", "kind"),
    [
        ("", "v1", "/api/v1/namespaces/{namespace}/pods/{name}", "Pod"),
        ("", "v1", "/api/v1/nodes/{name}", "Node"),
        ("apps", "v1", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "Deployment"),
        ("scheduling.volcano.sh", "v1beta1", "/apis/scheduling.volcano.sh/v1beta1/queues/{name}", "Queue"),
    ],
    ids=["pod", "node-cluster-scoped", "deployment", "crd-queue"],
)
def test_patch_operation_supports_field_validation(group: str, version: str, path: str, kind: str) -> None:
    doc = openapi_document(REGISTRY, group, version)
    assert doc is not None
    patch = doc["paths"][path]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}
    names = {(p["name"], p["in"]) for p in patch["parameters"]}
    assert {("fieldValidation", "query"), ("dryRun", "query"), ("fieldManager", "query")} <= names
    for method in ("put",):
        assert ("fieldValidation", "query") in {
            (p["name"], p["in"]) for p in doc["paths"][path][method]["parameters"]
        }


def test_collection_post_and_list() -> None:
    doc = openapi_document(REGISTRY, "", "v1")
    assert doc is not None
    coll = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]
    assert coll["post"]["x-kubernetes-action"] == "post"
    assert "fieldValidation" in {p["name"] for p in coll["post"]["parameters"]}
    assert coll["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": REF + "io.k8s.api.core.v1.PodList"
    }
    assert "/api/v1/pods" in doc["paths"]


def test_subresource_paths() -> None:
    core = openapi_document(REGISTRY, "", "v1")
    apps = openapi_document(REGISTRY, "apps", "v1")
    assert core is not None and apps is not None
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in core["paths"]
    assert (
        core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"][
            "x-kubernetes-group-version-kind"
        ]["kind"]
        == "Binding"
    )
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
    }


def test_list_kinds_have_gvk() -> None:
    doc = openapi_document(REGISTRY, "apps", "v1")
    assert doc is not None
    deployment_list = doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentList"]
    assert deployment_list["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "version": "v1", "kind": "DeploymentList"}
    ]
    assert deployment_list["properties"]["items"]["items"] == {"$ref": REF + "io.k8s.api.apps.v1.Deployment"}


def test_crd_schema_uses_object_meta() -> None:
    doc = openapi_document(REGISTRY, "scheduling.volcano.sh", "v1beta1")
    assert doc is not None
    queue = doc["components"]["schemas"]["sh.volcano.scheduling.v1beta1.Queue"]
    assert queue["properties"]["metadata"] == {
        "$ref": REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    assert queue["properties"]["spec"]["properties"]["weight"]["default"] == 1
    assert queue["x-kubernetes-group-version-kind"] == [
        {"group": "scheduling.volcano.sh", "version": "v1beta1", "kind": "Queue"}
    ]
    patch_types = set(
        doc["paths"]["/apis/scheduling.volcano.sh/v1beta1/queues/{name}"]["patch"]["requestBody"]["content"]
    )
    assert "application/strategic-merge-patch+json" not in patch_types
    rt = REGISTRY.get("scheduling.volcano.sh", "v1beta1", "queues")
    assert rt is not None and schema_name(rt) == "sh.volcano.scheduling.v1beta1.Queue"


def test_cache_invalidated_by_registry_generation() -> None:
    registry = make_registry(with_crd=False)
    first = openapi_root(registry)
    assert openapi_root(registry) is first
    assert "apis/scheduling.volcano.sh/v1beta1" not in first["paths"]
    registry.add_all(resource_types_from_crd(queue_crd()))
    second = openapi_root(registry)
    assert "apis/scheduling.volcano.sh/v1beta1" in second["paths"]
    assert second["paths"]["api/v1"] == first["paths"]["api/v1"]  # unchanged content, same hash
    registry.remove("scheduling.volcano.sh", "v1beta1", "queues")
    assert openapi_document(registry, "scheduling.volcano.sh", "v1beta1") is None


def test_hash_is_stable_across_registries() -> None:
    a = openapi_root(make_registry())["paths"]["api/v1"]
    b = openapi_root(make_registry())["paths"]["api/v1"]
    assert a == b


# -- real kubectl against a minimal discovery + openapi server ----------------------------


def _kubectl() -> str | None:
    here = Path(sys.executable).parent / "kubectl"
    return str(here) if here.exists() else shutil.which("kubectl")


def _discovery(registry: Registry, path: str) -> Any:
    if path == "/version":
        return {"major": "1", "minor": "35", "gitVersion": "v1.35.0", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    gvs = registry.group_versions()
    if path == "/apis":
        groups = [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
            }
            for g, vs in gvs.items()
            if g
        ]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    resources = [
        {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
            "shortNames": list(rt.short_names),
        }
        for rt in registry.in_group_version(group, version)
    ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


class _Handler(BaseHTTPRequestHandler):
    registry: Registry
    posts: list[str]

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/openapi/v3":
            body = openapi_root(self.registry)
        elif path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/") :].split("/")
            body = (
                openapi_document(self.registry, "", parts[1])
                if parts[0] == "api"
                else openapi_document(self.registry, parts[1], parts[2])
            )
        else:
            body = _discovery(self.registry, path)
        if body is None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "code": 404,
                    "reason": "NotFound",
                    "message": "not found",
                },
            )
        else:
            self._send(200, body)

    def do_POST(self) -> None:
        obj = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.posts.append(self.path)
        obj.setdefault("metadata", {}).update({"uid": "u1", "resourceVersion": "1"})
        self._send(201, obj)


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    binary = _kubectl()
    if binary is None:
        pytest.skip("kubectl not installed")
    posts: list[str] = []
    handler = type("H", (_Handler,), {"registry": make_registry(), "posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("kubectl")
    config = home / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_address[1]}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "--kubeconfig", str(config), "--cache-dir", str(home / "cache"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    yield run, posts
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            "pods.spec.containers",
            ["FIELD: containers <[]Container>", "name\t<string> -required-", "image\t<string>"],
        ),
        ("deploy.spec.strategy", ["rollingUpdate\t<RollingUpdateDeployment>"]),
        (
            "queues.spec",
            ["GROUP:      scheduling.volcano.sh", "Desired queue behaviour.", "weight\t<integer>"],
        ),
    ],
    ids=["pod-containers", "deployment-strategy-via-allof-ref", "crd-spec"],
)
def test_kubectl_explain(kubectl: tuple[Any, list[str]], target: str, expected: list[str]) -> None:
    run, _ = kubectl
    result = run("explain", target)
    assert result.returncode == 0, result.stderr
    for text in expected:
        assert text in result.stdout


@pytest.mark.parametrize(
    ("manifest", "path"),
    [
        (
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            "/api/v1/namespaces/default/pods",
        ),
        (
            {
                "apiVersion": "scheduling.volcano.sh/v1beta1",
                "kind": "Queue",
                "metadata": {"name": "q"},
                "spec": {"weight": 2},
            },
            "/apis/scheduling.volcano.sh/v1beta1/queues",
        ),
    ],
    ids=["builtin", "custom-resource"],
)
def test_kubectl_create_strict_uses_server_side_validation(
    kubectl: tuple[Any, list[str]], tmp_path: Path, manifest: dict[str, Any], path: str
) -> None:
    run, posts = kubectl
    file = tmp_path / "m.json"
    file.write_text(json.dumps(manifest))
    result = run("create", "-f", str(file), "--validate=strict")
    assert result.returncode == 0, result.stderr
    assert f"{path}?fieldManager=kubectl-create&fieldValidation=Strict" in posts
