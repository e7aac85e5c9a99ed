"""HttpClient end to end over a real loopback socket against the protocol stub."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.gvr import GVR
from suanli.client.http import HttpClient, api_error_from_status
from suanli.client.kubeconfig import KubeConfig
from tests.client.stub_server import StubApiServer, run_stub

PODS = GVR("", "v1", "pods")


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


# -- Status <-> ApiError -------------------------------------------------------------------------

@pytest.mark.parametrize("error", [
    ApiError.not_found("pods", "web"),
    ApiError.already_exists("deployments", "api", group="apps"),
    ApiError.conflict("pods", "web", "the object has been modified"),
    ApiError.invalid("Pod", "web", [Cause("spec.containers[0].image", "Required value", "FieldValueRequired"),
                                    Cause("metadata.name", "Invalid value")]),
    ApiError.gone("too old resource version"),
    ApiError.too_many_requests("slow down", retry_after=7),
], ids=["not-found", "already-exists-with-group", "conflict", "invalid-with-causes", "gone", "retry-after"])
def test_status_round_trips_through_api_error(error: ApiError) -> None:
    back = api_error_from_status(error.status(), 999)
    assert back == error
    assert back.status() == error.status()


@pytest.mark.parametrize(("status", "http_code", "code", "reason"), [
    ({"kind": "Status", "message": "x"}, 404, 404, "NotFound"),
    ({"kind": "Status", "code": 410, "message": "x"}, 200, 410, "Expired"),
    ({"kind": "Status", "code": 418, "reason": "Teapot"}, 418, 418, "Teapot"),
    ({"kind": "Status"}, 599, 599, "Unknown"),
], ids=["code-from-http", "status-code-wins", "reason-kept", "unknown-code"])
def test_status_fills_missing_fields(status: dict[str, Any], http_code: int, code: int, reason: str) -> None:
    err = api_error_from_status(status, http_code)
    assert (err.code, err.reason) == (code, reason)


# -- CRUD and error mapping ----------------------------------------------------------------------

async def test_create_get_list_round_trip(client: HttpClient, stub: StubApiServer) -> None:
    created = await client.create(PODS, pod("a", app="web"), "default")
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["resourceVersion"] == str(stub.rv)
    got = await client.get(PODS, "a", "default")
    assert got == created
    listed = await client.list(PODS, "default", label_selector="app=web")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["a"]
    assert listed["metadata"]["resourceVersion"] == str(stub.rv)
    assert stub.sent("GET")[-1].query == {"labelSelector": "app=web"}
    assert stub.sent("POST")[0].headers["content-type"] == "application/json"


async def test_list_pages_with_limit_and_continue(client: HttpClient, stub: StubApiServer) -> None:
    for i in range(5):
        stub.seed("ns", f"p{i}")
    first = await client.list(PODS, "ns", limit=2)
    token = first["metadata"]["continue"]
    second = await client.list(PODS, "ns", limit=2, continue_token=token)
    assert [p["metadata"]["name"] for p in first["items"] + second["items"]] == ["p0", "p1", "p2", "p3"]
    assert stub.sent("GET")[-1].query == {"limit": "2", "continue": token}


async def test_update_uses_namespace_from_object(client: HttpClient, stub: StubApiServer) -> None:
    current = stub.seed("ns", "a")
    changed = {**current, "metadata": {**current["metadata"], "labels": {"x": "1"}}}
    out = await client.update(PODS, changed)
    assert out["metadata"]["labels"] == {"x": "1"}
    assert stub.sent("PUT")[0].path == "/api/v1/namespaces/ns/pods/a"


async def test_not_found_maps_to_404(client: HttpClient) -> None:
    with pytest.raises(ApiError) as info:
        await client.get(PODS, "missing", "default")
    assert (info.value.code, info.value.reason, info.value.name) == (404, "NotFound", "missing")


async def test_create_existing_maps_to_409_already_exists(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("default", "a")
    with pytest.raises(ApiError) as info:
        await client.create(PODS, pod("a"), "default")
    assert (info.value.code, info.value.reason) == (409, "AlreadyExists")


async def test_stale_update_maps_to_409_conflict(client: HttpClient, stub: StubApiServer) -> None:
    stale = stub.seed("default", "a")
    stub.modify("default", "a", x="1")
    with pytest.raises(ApiError) as info:
        await client.update(PODS, stale)
    assert (info.value.code, info.value.reason) == (409, "Conflict")


async def test_invalid_maps_to_422_with_causes(client: HttpClient) -> None:
    bad = pod("a")
    bad["spec"] = {}
    with pytest.raises(ApiError) as info:
        await client.create(PODS, bad, "default")
    err = info.value
    assert (err.code, err.reason, err.kind, err.name) == (422, "Invalid", "Pod", "a")
    assert err.causes == [Cause("spec.containers", "Required value", "FieldValueRequired")]


async def test_retry_after_is_carried(client: HttpClient, stub: StubApiServer) -> None:
    stub.fail_next(ApiError.too_many_requests("busy", retry_after=3))
    with pytest.raises(ApiError) as info:
        await client.list(PODS)
    assert (info.value.code, info.value.retry_after_seconds) == (429, 3)


async def test_missing_token_is_401() -> None:
    async with run_stub(token="s3cret") as stub:
        async with HttpClient(KubeConfig(server=stub.url)) as anonymous:
            with pytest.raises(ApiError) as info:
                await anonymous.list(PODS)
        assert info.value.code == 401
        async with HttpClient(KubeConfig(server=stub.url, token="s3cret")) as authed:
            assert (await authed.list(PODS))["items"] == []
        assert stub.requests[-1].headers["authorization"] == "Bearer s3cret"


async def test_unreachable_server_is_503() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with HttpClient(KubeConfig(server=f"http://127.0.0.1:{port}")) as c:
        with pytest.raises(ApiError) as info:
            await c.get(PODS, "a", "default")
    assert (info.value.code, info.value.reason) == (503, "ServiceUnavailable")


# -- patch, delete, bind -------------------------------------------------------------------------

@pytest.mark.parametrize(("patch_type", "body", "content_type", "query"), [
    ("merge", {"metadata": {"labels": {"x": "1"}}}, "application/merge-patch+json", {}),
    ("json", [{"op": "add", "path": "/metadata/labels/x", "value": "1"}], "application/json-patch+json", {}),
    ("strategic", {"metadata": {"labels": {"x": "1"}}}, "application/strategic-merge-patch+json", {}),
    ("apply", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"x": "1"}}},
     "application/apply-patch+yaml", {"fieldManager": "me", "force": "true"}),
], ids=["merge", "json-patch", "strategic", "apply-with-manager-and-force"])
async def test_patch_sends_content_type_of_patch_type(
        client: HttpClient, stub: StubApiServer, patch_type: Any, body: Any, content_type: str,
        query: dict[str, str]) -> None:
    stub.seed("ns", "a")
    manager = "me" if patch_type == "apply" else None
    out = await client.patch(PODS, "a", body, "ns", patch_type=patch_type, field_manager=manager, force=True)
    sent = stub.sent("PATCH")[-1]
    assert sent.headers["content-type"] == content_type
    assert sent.query == query
    assert sent.json() == body
    assert out["metadata"]["labels"]["x"] == "1"


async def test_apply_without_field_manager_is_refused_client_side(client: HttpClient) -> None:
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(PODS, "a", {}, "ns", patch_type="apply")


async def test_failed_json_patch_test_is_422(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}]
    with pytest.raises(ApiError) as info:
        await client.patch(PODS, "a", ops, "ns", patch_type="json")
    assert info.value.code == 422


async def test_patch_status_subresource_path(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    await client.patch(PODS, "a", {"status": {"phase": "Running"}}, "ns", subresource="status")
    assert stub.sent("PATCH")[-1].path == "/api/v1/namespaces/ns/pods/a/status"


async def test_delete_sends_delete_options(client: HttpClient, stub: StubApiServer) -> None:
    rv = stub.seed("ns", "a")["metadata"]["resourceVersion"]
    await client.delete(PODS, "a", "ns", propagation_policy="Foreground", grace_period_seconds=0,
                        preconditions={"resourceVersion": rv})
    assert stub.sent("DELETE")[0].json() == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0, "preconditions": {"resourceVersion": rv}}
    assert ("ns", "a") not in stub.objects


async def test_delete_precondition_mismatch_is_409(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    with pytest.raises(ApiError) as info:
        await client.delete(PODS, "a", "ns", preconditions={"resourceVersion": "1"})
    assert info.value.code == 409
    assert ("ns", "a") in stub.objects


async def test_bind_posts_binding(client: HttpClient, stub: StubApiServer) -> None:
    stub.seed("ns", "a")
    await client.bind("a", "ns", "node-1")
    sent = stub.sent("POST", "/binding")[0]
    assert sent.path == "/api/v1/namespaces/ns/pods/a/binding"
    assert sent.json() == {"apiVersion": "v1", "kind": "Binding",
                           "metadata": {"name": "a", "namespace": "ns"},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    assert stub.objects[("ns", "a")]["spec"]["nodeName"] == "node-1"
    with pytest.raises(ApiError) as info:
        await client.bind("a", "ns", "node-2")
    assert info.value.code == 409


# -- watch ---------------------------------------------------------------------------------------

async def test_watch_streams_events_and_bookmarks(client: HttpClient, stub: StubApiServer) -> None:
    start = str(stub.rv)
    stub.seed("ns", "before")  # replayed: it happened after `start`
    stream = client.watch(PODS, "ns", resource_version=start, timeout_seconds=30)
    seen: list[tuple[str, str]] = []
    async for event in stream:
        obj = event["object"]
        seen.append((event["type"], obj["metadata"].get("name", obj["metadata"]["resourceVersion"])))
        if len(seen) == 1:
            stub.modify("ns", "before", x="1")
            stub.bookmark()
            stub.remove("ns", "before")
            stub.drop_watches()
    assert seen == [("ADDED", "before"), ("MODIFIED", "before"), ("BOOKMARK", str(stub.rv - 1)),
                    ("DELETED", "before")]
    query = stub.sent("GET")[-1].query
    assert query == {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": start,
                     "timeoutSeconds": "30"}


async def test_watch_in_stream_410_raises_gone(client: HttpClient, stub: StubApiServer) -> None:
    old = str(stub.rv)
    stub.seed("ns", "a")
    stub.compact()
    with pytest.raises(ApiError) as info:
        async for _ in client.watch(PODS, "ns", resource_version=old):
            pass
    assert (info.value.code, info.value.reason) == (410, "Expired")


async def test_watch_open_then_compacted_raises_gone(client: HttpClient, stub: StubApiServer) -> None:
    stream = client.watch(PODS, "ns", resource_version=str(stub.rv))
    stub.seed("ns", "a")
    with pytest.raises(ApiError) as info:
        async for _ in stream:
            stub.compact()
    assert info.value.code == 410


async def test_watch_error_status_before_stream_raises(client: HttpClient, stub: StubApiServer) -> None:
    stub.token = "x"  # every request is now unauthorised
    with pytest.raises(ApiError) as info:
        async for _ in client.watch(PODS):
            pass
    assert info.value.code == 401


# -- discovery and escape hatches ----------------------------------------------------------------

async def test_discover_lists_top_level_resources(client: HttpClient) -> None:
    found = {(r["group"], r["version"], r["name"]) for r in await client.discover()}
    assert found == {("", "v1", "pods"), ("", "v1", "nodes"), ("apps", "v1", "deployments")}
    assert await client.gvr_for("apps/v1", "Deployment") == GVR("apps", "v1", "deployments", True)
    assert await client.gvr_for("v1", "Node") == GVR("", "v1", "nodes", False)


async def test_discover_is_cached_and_unknown_kind_is_404(client: HttpClient, stub: StubApiServer) -> None:
    await client.discover()
    before = len(stub.requests)
    await client.discover()
    assert len(stub.requests) == before
    with pytest.raises(ApiError) as info:
        await client.gvr_for("example.com/v1", "Widget")
    assert info.value.code == 404


async def test_get_raw_and_request(client: HttpClient) -> None:
    assert b'"versions":["v1"]' in await client.get_raw("/api")
    with pytest.raises(ApiError) as info:
        await client.request("GET", "/nope")
    assert info.value.code == 404
