"""Authentication through :class:`ApiApp` in-process (ASGI scope/receive/send) over a real service and store.

Covers how the request chain meets the HTTP layer: bearer tokens and TLS client certificates (the
ASGI TLS extension the uvicorn protocols fill), 401 for anything unknown or invalid, ``system:anonymous``
only with ``--anonymous``, and the authentication endpoints: TokenReview, SelfSubjectReview, TokenRequest.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from suanli.apiserver.authn import AuthnOptions, build_authentication
from suanli.apiserver.authn.peercert import peer_certificates
from suanli.apiserver.authn.static import TokenFile, parse_token_file
from suanli.apiserver.http import ApiApp
from suanli.apiserver.satokens import ServiceAccountTokens
from suanli.apiserver.service import ApiService
from suanli.apiserver.tls import ensure_tls_material, issue_client_certificate, load_ca
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

ADMIN_TOKEN = "admin-secret"
TOKENS = 'alice-token,alice,uid-a,"dev,ops"\n'


class Stack:
    def __init__(self, service: ApiService, data_dir: Path, *, anonymous: bool) -> None:
        self.service = service
        self.data_dir = data_dir
        material = ensure_tls_material(data_dir, [])
        self.ca = load_ca(data_dir)

        def lookup(bucket: str, namespace: str, name: str) -> dict[str, Any] | None:
            so = service.store.get(bucket, namespace, name)
            return None if so is None else so.obj

        self.app = ApiApp(service, token=ADMIN_TOKEN)
        self.app.authentication = build_authentication(
            AuthnOptions(anonymous=anonymous), admin_token=ADMIN_TOKEN, sa_tokens=ServiceAccountTokens(data_dir),
            lookup=lookup, ca_pem=material.ca_pem, token_file=TokenFile(parse_token_file(TOKENS)))

    def cert(self, user: str, *groups: str) -> str:
        return issue_client_certificate(self.ca, user, groups)[0].decode()

    async def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                      cert_pem: str | None = None) -> tuple[int, Any]:
        raw = orjson.dumps(body) if body is not None else b""
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "query_string": b"",
                                 "headers": headers}
        if cert_pem is not None:
            scope["extensions"] = {"tls": {"client_cert_chain": [cert_pem]}}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        await self.app(scope, receive, send)
        payload = b"".join(m.get("body", b"") for m in sent[1:])
        return int(sent[0]["status"]), orjson.loads(payload) if payload else None

    async def whoami(self, **cred: Any) -> tuple[int, Any]:
        code, body = await self.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                                        **cred)
        return code, (body["status"]["userInfo"] if code == 201 else body)


async def _stack(tmp_path: Path, anonymous: bool) -> AsyncIterator[Stack]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    for kind, plural, name in (("Namespace", "namespaces", "default"),):
        await service.create(service.resource("", "v1", plural), "", {"apiVersion": "v1", "kind": kind,
                                                                      "metadata": {"name": name}})
    await service.create(service.resource("", "v1", "serviceaccounts"), "default",
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
    try:
        yield Stack(service, tmp_path, anonymous=anonymous)
    finally:
        await service.drain_background()
        await store.stop()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async for s in _stack(tmp_path, anonymous=False):
        yield s


@pytest.fixture
async def anon_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async for s in _stack(tmp_path, anonymous=True):
        yield s


@pytest.mark.parametrize(("cred", "username", "groups"), [
    ({"token": ADMIN_TOKEN}, "system:admin", ["system:masters", "system:authenticated"]),
    ({"token": "alice-token"}, "alice", ["dev", "ops", "system:authenticated"]),
    ({"cert": ("bob", "team-a", "team-b")}, "bob", ["team-a", "team-b", "system:authenticated"]),
    ({"cert": ("carol",), "token": "wrong"}, "carol", ["system:authenticated"]),
], ids=["admin-token", "token-file-user", "client-certificate", "certificate-wins-over-bad-token"])
async def test_self_subject_review_names_the_caller(stack: Stack, cred: dict[str, Any], username: str,
                                                   groups: list[str]) -> None:
    cert = stack.cert(*cred["cert"]) if "cert" in cred else None
    code, info = await stack.whoami(token=cred.get("token"), cert_pem=cert)
    assert code == 201, info
    assert (info["username"], info["groups"]) == (username, groups)


@pytest.mark.parametrize("cred", [{}, {"token": "wrong"}, {"token": ""}], ids=["nothing", "unknown-token",
                                                                             "empty-bearer"])
async def test_unauthenticated_requests_get_401(stack: Stack, cred: dict[str, Any]) -> None:
    code, body = await stack.whoami(**cred)
    assert code == 401
    assert (body["kind"], body["reason"], body["message"]) == ("Status", "Unauthorized", "Unauthorized")


async def test_certificate_from_another_ca_gets_401(stack: Stack, tmp_path: Path) -> None:
    ensure_tls_material(tmp_path / "other", [])
    foreign = issue_client_certificate(load_ca(tmp_path / "other"), "mallory", ["system:masters"])[0].decode()
    assert (await stack.whoami(cert_pem=foreign))[0] == 401


@pytest.mark.parametrize(("token", "expected"), [(None, 201), ("wrong", 401)],
                         ids=["no-credentials-anonymous", "bad-token-still-401"])
async def test_anonymous_only_for_requests_without_credentials(anon_stack: Stack, token: str | None,
                                                               expected: int) -> None:
    code, info = await anon_stack.whoami(token=token)
    assert code == expected
    if code == 201:
        assert info == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}


async def test_token_request_then_token_review(stack: Stack) -> None:
    code, tr = await stack.request("POST", "/api/v1/namespaces/default/serviceaccounts/robot/token",
                                   {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                    "spec": {"audiences": ["vault"], "expirationSeconds": 900}},
                                   token=ADMIN_TOKEN)
    assert code == 201, tr
    assert (tr["kind"], tr["spec"]["expirationSeconds"]) == ("TokenRequest", 900)
    token = tr["status"]["token"]
    code, review = await stack.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                        "spec": {"token": token, "audiences": ["vault"]}}, token=ADMIN_TOKEN)
    assert code == 201
    status = review["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == ["vault"]
    assert status["user"]["username"] == "system:serviceaccount:default:robot"
    assert status["user"]["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                                        "system:authenticated"]
    # a token for "vault" does not authenticate requests to the API server (audience mismatch)
    assert (await stack.whoami(token=token))[0] == 401


@pytest.mark.parametrize(("spec", "authenticated", "error"), [
    ({"token": "alice-token"}, True, None),
    ({"token": "nope"}, False, "invalid bearer token"),
    ({"token": "alice-token", "audiences": ["vault"]}, False, "invalid bearer token"),
], ids=["token-file-user", "unknown-token", "audience-agnostic-token-for-foreign-audience"])
async def test_token_review(stack: Stack, spec: dict[str, Any], authenticated: bool, error: str | None) -> None:
    code, review = await stack.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                       {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                                        "spec": spec}, token=ADMIN_TOKEN)
    assert code == 201
    assert review["status"]["authenticated"] is authenticated
    assert review["status"].get("error") == error


@pytest.mark.parametrize(("method", "path", "body", "code", "message"), [
    ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"kind": "TokenReview", "spec": {}}, 400,
     "token is required for TokenReview in authentication"),
    ("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"kind": "Pod"}, 400, "kind: Invalid value"),
    ("GET", "/apis/authentication.k8s.io/v1/selfsubjectreviews", None, 405, "only create"),
    ("POST", "/api/v1/namespaces/default/serviceaccounts/ghost/token", {"kind": "TokenRequest"}, 404,
     'serviceaccounts "ghost" not found'),
    ("POST", "/api/v1/namespaces/default/serviceaccounts/robot/token",
     {"kind": "TokenRequest", "spec": {"expirationSeconds": 10}}, 422, "spec.expirationSeconds"),
], ids=["tokenreview-without-token", "wrong-kind", "get-on-create-only", "token-for-missing-account",
        "token-too-short"])
async def test_bad_authn_requests_are_statuses(stack: Stack, method: str, path: str, body: Any, code: int,
                                               message: str) -> None:
    got, status = await stack.request(method, path, body, token=ADMIN_TOKEN)
    assert got == code
    assert status["kind"] == "Status" and message in status["message"]


def test_peer_certificates_read_the_asgi_tls_extension(stack: Stack) -> None:
    pem = stack.cert("alice")
    assert peer_certificates({"extensions": {"tls": {"client_cert_chain": [pem]}}}) == \
        (ssl.PEM_cert_to_DER_cert(pem),)
    assert peer_certificates({}) == ()
    assert peer_certificates({"extensions": {"tls": {"client_cert_chain": []}}}) == ()
