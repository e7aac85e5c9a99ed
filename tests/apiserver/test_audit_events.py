"""Audit events from the HTTP layer (in-process ASGI calls) and the event builder's redactions."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from suanli.apiserver.audit.event import Auditor
from suanli.apiserver.audit.policy import parse_policy
from suanli.apiserver.context import ADMIN
from suanli.apiserver.http import ApiApp
from suanli.apiserver.service import ApiService
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store


class Capture:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, line: bytes) -> None:
        assert line.endswith(b"\n")
        self.events.append(orjson.loads(line))


def auditor(rules: list[dict[str, Any]], **policy: Any) -> tuple[Auditor, Capture]:
    cap = Capture()
    doc = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules, **policy}
    return Auditor(parse_policy(doc), cap), cap  # type: ignore[arg-type]


async def call(app: ApiApp, method: str, path: str, body: Any = None,
               headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, dict[bytes, bytes]]:
    raw = orjson.dumps(body) if body is not None else b""
    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "client": ("10.0.0.7", 5000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
                         (b"user-agent", b"unit/1"), *(headers or [])]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


@pytest.fixture
async def app() -> Any:
    reg = Registry()
    reg.add_all(builtin_resource_types())
    store = Store(None)
    await store.start()
    service = ApiService(store, reg)
    await service.create(service.resource("", "v1", "namespaces"), "",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    yield ApiApp(service, token="admin-token-1")
    await store.stop()


AUTH = [(b"authorization", b"Bearer admin-token-1")]
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"k": "v"}}


async def test_request_response_level_with_omit_managed_fields(app: ApiApp) -> None:
    app.auditor, cap = auditor([{"level": "RequestResponse", "omitManagedFields": True}])
    status, headers = await call(app, "POST", "/api/v1/namespaces/default/configmaps", CM, AUTH)
    assert status == 201
    stages = [e["stage"] for e in cap.events]
    assert stages == ["RequestReceived", "ResponseComplete"]
    ev = cap.events[-1]
    assert headers[b"audit-id"].decode() == ev["auditID"] == cap.events[0]["auditID"]
    assert ev["user"]["username"] == ADMIN.name and ev["sourceIPs"] == ["10.0.0.7"]
    assert ev["requestObject"]["data"] == {"k": "v"}
    assert ev["responseObject"]["metadata"]["resourceVersion"]
    assert "managedFields" not in ev["responseObject"]["metadata"]
    assert ev["objectRef"]["name"] == "c1" and ev["responseStatus"] == {"metadata": {}, "code": 201}


async def test_failed_authentication_is_audited_without_a_user(app: ApiApp) -> None:
    app.auditor, cap = auditor([{"level": "Metadata"}], omitStages=["RequestReceived"])
    status, _ = await call(app, "GET", "/api/v1/namespaces", headers=[(b"authorization", b"Bearer wrong-token")])
    assert status == 401
    (ev,) = cap.events
    assert ev["user"] == {} and ev["responseStatus"]["code"] == 401
    assert "wrong-token" not in orjson.dumps(cap.events).decode()


async def test_level_none_and_user_rules_emit_nothing(app: ApiApp) -> None:
    app.auditor, cap = auditor([{"level": "None", "users": [ADMIN.name]}, {"level": "Metadata"}])
    assert (await call(app, "GET", "/api/v1/namespaces", headers=AUTH))[0] == 200
    assert cap.events == []


@pytest.mark.parametrize(("path", "request_obj", "response_obj", "leak"), [
    ("/apis/authentication.k8s.io/v1/tokenreviews",
     {"kind": "TokenReview", "spec": {"token": "tok-in-review"}},
     {"kind": "TokenReview", "spec": {"token": "tok-in-review"}, "status": {"authenticated": True}}, "tok-in-review"),
    ("/api/v1/namespaces/default/serviceaccounts/robot/token",
     {"kind": "TokenRequest", "spec": {"audiences": ["x"]}},
     {"kind": "TokenRequest", "status": {"token": "issued-jwt-123"}}, "issued-jwt-123"),
], ids=["tokenreview-spec-token", "tokenrequest-status-token"])
def test_tokens_in_bodies_are_redacted(path: str, request_obj: dict[str, Any], response_obj: dict[str, Any],
                                       leak: str) -> None:
    aud, cap = auditor([{"level": "RequestResponse"}])
    req = aud.begin(method="POST", path=path, raw_uri=path, query={}, user=ADMIN, source_ips=[], user_agent="")
    assert req is not None
    req.request_body(orjson.dumps(request_obj), "application/json")
    req.complete(201, orjson.dumps(response_obj))
    assert leak not in orjson.dumps(cap.events).decode()
    assert "REDACTED" in orjson.dumps(cap.events[-1]).decode()


def test_panic_stage_is_recorded_once() -> None:
    aud, cap = auditor([{"level": "Metadata"}], omitStages=["RequestReceived"])
    req = aud.begin(method="GET", path="/api/v1/pods", raw_uri="/api/v1/pods", query={}, user=ADMIN,
                    source_ips=["127.0.0.1"], user_agent="x")
    assert req is not None
    req.panic("APIServer panic'd: KeyError")
    req.complete(500, b"")
    assert [(e["stage"], e["responseStatus"]["code"]) for e in cap.events] == [("Panic", 500)]


async def upgrade(app: ApiApp, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """A WebSocket upgrade (kubectl exec/attach/port-forward) through the ASGI app; the messages sent."""
    scope = {"type": "websocket", "path": path, "query_string": query, "client": ("10.0.0.9", 5001),
             "headers": [(b"user-agent", b"kubectl/v1.37"), *headers], "subprotocols": ["v5.channel.k8s.io"]}
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(("headers", "code", "username"), [
    (AUTH, 404, ADMIN.name),
    ([(b"authorization", b"Bearer wrong-token")], 401, None),
], ids=["exec-on-a-missing-pod-by-the-admin", "exec-with-a-bad-token"])
async def test_websocket_exec_is_audited_like_any_request(app: ApiApp, headers: list[tuple[bytes, bytes]],
                                                          code: int, username: str | None) -> None:
    app.auditor, cap = auditor([{"level": "Metadata"}])
    await upgrade(app, "/api/v1/namespaces/default/pods/web-0/exec", b"command=sh&stdin=true&stdout=true", headers)
    assert [e["stage"] for e in cap.events] == ["RequestReceived", "ResponseComplete"]
    ev = cap.events[-1]
    assert ev["responseStatus"]["code"] == code and ev["sourceIPs"] == ["10.0.0.9"]
    assert ev["requestURI"] == "/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&stdout=true"
    assert ev["user"].get("username") == username
    if username is not None:
        assert ev["verb"] == "get"
        assert (ev["objectRef"]["resource"], ev["objectRef"]["subresource"], ev["objectRef"]["name"]) == \
            ("pods", "exec", "web-0")
    assert "wrong-token" not in orjson.dumps(cap.events).decode()
