"""The official ``kubernetes`` Python client (v37) against a real `suanli up`.

Covers CRUD on core and apps kinds, every patch content type, delete propagation,
``pods/binding`` and ``pods/eviction``, ``CustomObjectsApi`` on a CRD, and watch resume
(exact events after a recorded resourceVersion; 410 for a compacted resume point).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.conftest import Server
from tests.e2e._helpers import (
    SAMPLE_CRD_GROUP,
    ensure_crd,
    make_namespace,
    offline_compact,
    private_server,
    restart,
    sample_crd,
    wait_until,
)

pytestmark = pytest.mark.e2e

WIDGETS = "widgets"


def api_client(kubeconfig: Path) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[client.ApiClient]:
    c = api_client(server.kubeconfig)
    yield c
    c.close()


@pytest.fixture(scope="module")
def ns(server: Server) -> str:
    return make_namespace(server, "pyclient")


def cm(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {})


def pod(name: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="main", image="busybox")]))


def deployment(name: str, replicas: int = 1) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name="web", image="nginx:1", env=[client.V1EnvVar(name="A", value="1")]),
                    client.V1Container(name="sidecar", image="busybox"),
                ]))))


# ---------------------------------------------------------------------------- CRUD


def test_configmap_crud_round_trip(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(ns, cm("crud", {"k": "v"}, {"tier": "a"}))
    assert created.metadata.uid and created.metadata.resource_version
    got = core.read_namespaced_config_map("crud", ns)
    assert got.data == {"k": "v"}
    got.data["k"] = "w"
    replaced = core.replace_namespaced_config_map("crud", ns, got)
    assert replaced.data == {"k": "w"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    core.create_namespaced_config_map(ns, cm("crud-other", {}, {"tier": "b"}))
    listed = core.list_namespaced_config_map(ns, label_selector="tier=a")
    assert [i.metadata.name for i in listed.items] == ["crud"]

    core.delete_namespaced_config_map("crud", ns)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("crud", ns)
    assert exc.value.status == 404


def test_replace_with_stale_resource_version_is_conflict(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    first = core.create_namespaced_config_map(ns, cm("stale", {"n": "0"}))
    core.patch_namespaced_config_map("stale", ns, {"data": {"n": "1"}})
    first.data = {"n": "2"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("stale", ns, first)
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "Conflict"


def test_create_existing_name_is_already_exists(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, cm("dup"))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, cm("dup"))
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "AlreadyExists"


def test_pod_create_read_list_delete(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_pod(ns, pod("p-crud"))
    assert created.spec.containers[0].name == "main"
    assert core.read_namespaced_pod("p-crud", ns).metadata.uid == created.metadata.uid
    assert "p-crud" in [p.metadata.name for p in core.list_namespaced_pod(ns).items]
    core.delete_namespaced_pod("p-crud", ns, grace_period_seconds=0)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("p-crud", ns)
    assert exc.value.status == 404


def test_deployment_crud_and_generation(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(ns, deployment("d-crud", 2))
    assert created.metadata.generation == 1
    assert created.spec.replicas == 2
    # the deployment controller writes status concurrently: read-modify-write retries on 409
    for _attempt in range(20):
        got = apps.read_namespaced_deployment("d-crud", ns)
        got.spec.replicas = 3
        try:
            replaced = apps.replace_namespaced_deployment("d-crud", ns, got)
            break
        except ApiException as err:
            if err.status != 409:
                raise
    else:
        raise AssertionError("replace kept conflicting")
    assert replaced.spec.replicas == 3
    assert replaced.metadata.generation == 2
    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items if d.metadata.name == "d-crud"]


# ---------------------------------------------------------------------------- patches


def test_strategic_merge_patch_merges_containers_by_name(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("d-smp"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    out = apps.patch_namespaced_deployment("d-smp", ns, patch,
                                           _content_type="application/strategic-merge-patch+json")
    containers = {c.name: c for c in out.spec.template.spec.containers}
    assert set(containers) == {"web", "sidecar"}
    assert containers["web"].image == "nginx:2"
    assert [(e.name, e.value) for e in containers["web"].env] == [("A", "1")]


def test_merge_patch_replaces_lists_and_null_deletes(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("d-merge"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}}}}
    out = apps.patch_namespaced_deployment("d-merge", ns, patch, _content_type="application/merge-patch+json")
    assert [c.name for c in out.spec.template.spec.containers] == ["only"]

    core.create_namespaced_config_map(ns, cm("m-patch", {"a": "1", "b": "2"}))
    out_cm = core.patch_namespaced_config_map("m-patch", ns, {"data": {"a": None, "c": "3"}},
                                              _content_type="application/merge-patch+json")
    assert out_cm.data == {"b": "2", "c": "3"}


def test_json_patch_applies_and_failed_test_is_422(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(ns, cm("j-patch", {"a": "1"}))
    rv = created.metadata.resource_version
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": rv},
           {"op": "add", "path": "/data/b", "value": "2"},
           {"op": "remove", "path": "/data/a"}]
    out = core.patch_namespaced_config_map("j-patch", ns, ops, _content_type="application/json-patch+json")
    assert out.data == {"b": "2"}
    with pytest.raises(ApiException) as exc:  # the same test op again: resourceVersion moved on
        core.patch_namespaced_config_map("j-patch", ns, ops[:2], _content_type="application/json-patch+json")
    assert exc.value.status == 422


# ---------------------------------------------------------------------------- deletion


def test_delete_foreground_removes_dependents_before_owner(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(ns, cm("fg-owner"))
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="fg-owner", uid=owner.metadata.uid,
                                  block_owner_deletion=True)
    dep = cm("fg-dep")
    dep.metadata.owner_references = [ref]
    core.create_namespaced_config_map(ns, dep)
    core.delete_namespaced_config_map("fg-owner", ns, propagation_policy="Foreground")

    def gone(name: str) -> bool:
        try:
            core.read_namespaced_config_map(name, ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(lambda: gone("fg-owner"), what="foreground-deleted owner to disappear")
    assert gone("fg-dep")


def test_delete_orphan_keeps_dependents(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(ns, cm("or-owner"))
    dep = cm("or-dep")
    dep.metadata.owner_references = [client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="or-owner",
                                                              uid=owner.metadata.uid)]
    core.create_namespaced_config_map(ns, dep)
    core.delete_namespaced_config_map("or-owner", ns, propagation_policy="Orphan")

    def owner_gone() -> bool:
        try:
            core.read_namespaced_config_map("or-owner", ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(owner_gone, what="orphan-deleted owner to disappear")
    wait_until(lambda: not core.read_namespaced_config_map("or-dep", ns).metadata.owner_references,
               what="dependent's ownerReference to be removed")


# ---------------------------------------------------------------------------- pod subresources


def test_binding_sets_node_once(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(ns, pod("p-bind"))
    body = client.V1Binding(metadata=client.V1ObjectMeta(name="p-bind"),
                            target=client.V1ObjectReference(api_version="v1", kind="Node", name="node-a"))
    resp = core.create_namespaced_binding(ns, body, _preload_content=False)
    assert resp.status == 201
    assert core.read_namespaced_pod("p-bind", ns).spec.node_name == "node-a"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_binding(ns, body, _preload_content=False)
    assert exc.value.status == 409


def test_pod_binding_subresource(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(ns, pod("p-bind2"))
    body = client.V1Binding(metadata=client.V1ObjectMeta(name="p-bind2"),
                            target=client.V1ObjectReference(api_version="v1", kind="Node", name="node-b"))
    resp = core.create_namespaced_pod_binding("p-bind2", ns, body, _preload_content=False)
    assert resp.status == 201
    pod_now = core.read_namespaced_pod("p-bind2", ns)
    assert pod_now.spec.node_name == "node-b"
    assert any(c.type == "PodScheduled" and c.status == "True" for c in pod_now.status.conditions)


def test_eviction_deletes_pod(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(ns, pod("p-evict"))
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name="p-evict", namespace=ns))
    core.create_namespaced_pod_eviction("p-evict", ns, body, _preload_content=False)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("p-evict", ns)
    assert exc.value.status == 404


# ---------------------------------------------------------------------------- custom objects


def test_custom_objects_api_on_a_crd(server: Server, api: client.ApiClient, ns: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    crd = sample_crd(WIDGETS)
    ensure_crd(server, crd)
    wait_until(lambda: any(c.type == "Established" and c.status == "True" for c in
                           ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions or []),
               what="CRD established")
    co = client.CustomObjectsApi(api)
    body = {"apiVersion": f"{SAMPLE_CRD_GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1"},
            "spec": {"size": 3, "message": "hi"}, "status": {"ignored": True}}
    created = co.create_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, body)
    assert created["spec"] == {"size": 3, "message": "hi"}
    assert "status" not in created  # the main endpoint ignores status when /status exists
    listed = co.list_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    patched = co.patch_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, "w1",
                                                {"spec": {"size": 5}})
    assert patched["spec"] == {"size": 5, "message": "hi"}
    status = co.patch_namespaced_custom_object_status(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, "w1",
                                                      {"status": {"phase": "Ready"}, "spec": {"size": 99}})
    assert status["status"] == {"phase": "Ready"}
    assert status["spec"]["size"] == 5  # /status ignores everything but status
    got = co.get_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, "w1")
    assert got["metadata"]["generation"] == 2
    co.delete_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, "w1")
    with pytest.raises(ApiException) as exc:
        co.get_namespaced_custom_object(SAMPLE_CRD_GROUP, "v1", ns, WIDGETS, "w1")
    assert exc.value.status == 404


# ---------------------------------------------------------------------------- watch


def collect_until(w: watch.Watch, stream: Iterator[dict[str, Any]], sentinel: str) -> list[tuple[str, str, str]]:
    """Events ``(type, name, data.v)`` up to and including the ADDED of ``sentinel``."""
    out: list[tuple[str, str, str]] = []
    for ev in stream:
        if ev["type"] == "BOOKMARK":
            continue
        obj = ev["raw_object"]
        out.append((ev["type"], obj["metadata"]["name"], (obj.get("data") or {}).get("v", "")))
        if obj["metadata"]["name"] == sentinel:
            w.stop()
            break
    return out


def test_watch_resume_sees_exactly_later_events(api: client.ApiClient, server: Server) -> None:
    core = client.CoreV1Api(api)
    ns = make_namespace(server, "watch")
    core.create_namespaced_config_map(ns, cm("before", {"v": "0"}))
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, cm("a", {"v": "1"}))
    core.patch_namespaced_config_map("a", ns, {"data": {"v": "2"}})
    core.patch_namespaced_config_map("before", ns, {"data": {"v": "3"}})
    core.delete_namespaced_config_map("a", ns)
    core.create_namespaced_config_map(ns, cm("zz-end"))
    w = watch.Watch()
    events = collect_until(w, w.stream(core.list_namespaced_config_map, ns, resource_version=rv,
                                       timeout_seconds=10), "zz-end")
    assert events == [("ADDED", "a", "1"), ("MODIFIED", "a", "2"), ("MODIFIED", "before", "3"),
                      ("DELETED", "a", "2"), ("ADDED", "zz-end", "")]


def test_watch_without_resource_version_replays_state_then_live(api: client.ApiClient, server: Server) -> None:
    core = client.CoreV1Api(api)
    ns = make_namespace(server, "watch0")
    core.create_namespaced_config_map(ns, cm("x", {"v": "1"}))
    w = watch.Watch()
    stream = w.stream(core.list_namespaced_config_map, ns, timeout_seconds=10)
    first = next(stream)
    if first["raw_object"]["metadata"]["name"] == "kube-root-ca.crt":  # the root CA publisher's, in every namespace
        first = next(stream)
    assert (first["type"], first["raw_object"]["metadata"]["name"]) == ("ADDED", "x")
    core.create_namespaced_config_map(ns, cm("zz-end"))
    assert collect_until(w, stream, "zz-end") == [("ADDED", "zz-end", "")]


def test_watch_from_compacted_resource_version_raises_410(tmp_path: Path) -> None:
    """A resume point older than the restarted server's compacted log yields 410 Expired.

    How it is forced: writes on a private server, remember a resourceVersion, write more,
    stop the server, compact its log offline to the latest revision, restart on the same
    data dir. The restarted server's watch windows begin at the compact revision, so the
    remembered resourceVersion is expired. kubernetes v37 ``Watch.stream`` retries a 410
    once from the same resourceVersion (without ``timeout_seconds``) and then raises
    ``ApiException(status=410)``; with ``timeout_seconds`` it raises on the first 410.
    """
    with private_server(tmp_path, "compact") as srv:
        api = api_client(srv.kubeconfig)
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map("default", cm("c0"))
        old_rv = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(5):
            core.create_namespaced_config_map("default", cm(f"c{i + 1}"))
        api.close()
    assert offline_compact(srv.data_dir) > int(old_rv)
    srv2 = restart(srv)
    try:
        api = api_client(srv2.kubeconfig)
        core = client.CoreV1Api(api)
        for kwargs, attempts in (({}, 2), ({"timeout_seconds": 5}, 1)):
            calls: list[str] = []

            @functools.wraps(core.list_namespaced_config_map)
            def counting(*args: Any, _calls: list[str] = calls, **kw: Any) -> Any:
                _calls.append(kw["resource_version"])
                return core.list_namespaced_config_map(*args, **kw)

            w = watch.Watch()
            with pytest.raises(ApiException) as exc:
                for _ev in w.stream(counting, "default", resource_version=old_rv, **kwargs):
                    pytest.fail("no event may precede the 410")
            assert exc.value.status == 410
            assert calls == [old_rv] * attempts  # v37 retries once from the same point unless timeout_seconds
        # the documented recovery: list, then watch from the list's resourceVersion
        listed = core.list_namespaced_config_map("default")
        assert sorted(i.metadata.name for i in listed.items if i.metadata.name != "kube-root-ca.crt") == [
            f"c{i}" for i in range(6)]
        core.create_namespaced_config_map("default", cm("zz-end"))
        w = watch.Watch()
        events = collect_until(w, w.stream(core.list_namespaced_config_map, "default",
                                           resource_version=listed.metadata.resource_version,
                                           timeout_seconds=10), "zz-end")
        assert events == [("ADDED", "zz-end", "")]
        api.close()
    finally:
        srv2.stop()

