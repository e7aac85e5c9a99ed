"""Webhook token authentication against a tiny real HTTP server that answers TokenReviews.

Expectations follow upstream ``plugin/pkg/authenticator/token/webhook`` (request shape, user
mapping, audiences, errors) and kube-apiserver's cache wrapper (TTL; errors are not cached).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from suanli.apiserver.authn.types import AuthenticationError, Credentials
from suanli.apiserver.authn.webhook import WebhookConfigError, WebhookTokenAuthenticator, load_webhook_config

#: token -> the TokenReview status the webhook answers with (or an int: that HTTP status)
ANSWERS: dict[str, Any] = {
    "alice-token": {"authenticated": True, "user": {"username": "alice", "uid": "42", "groups": ["dev"],
                                                     "extra": {"scopes": ["read", "write"]}}},
    "scoped-token": {"authenticated": True, "user": {"username": "svc"}, "audiences": ["vault"]},
    "refused-token": {"authenticated": False},
    "locked-token": {"authenticated": False, "error": "account locked"},
    "broken-token": 500,
    "nameless-token": {"authenticated": True, "user": {}},
}


class Hook:
    """The webhook: records every TokenReview it gets."""

    def __init__(self) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.reviews.append(review)
                hook.headers.append(dict(self.headers))
                answer = ANSWERS.get(review["spec"]["token"], {"authenticated": False})
                if isinstance(answer, int):
                    self.send_response(answer)
                    self.end_headers()
                    return
                body = json.dumps({**review, "status": answer}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/authenticate"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


@pytest.fixture
async def webhook(hook: Hook, clock: list[float]) -> Any:
    auth = WebhookTokenAuthenticator(hook.url, headers={"Authorization": "Bearer hook-secret"},
                                     implicit_audiences=("api",), cache_ttl=120, clock=lambda: clock[0])
    yield auth
    await auth.close()


async def test_authenticated_user_is_mapped(webhook: WebhookTokenAuthenticator, hook: Hook) -> None:
    resp = await webhook.authenticate(Credentials(token="alice-token", audiences=("api",)))
    assert resp is not None
    assert (resp.user.name, resp.user.uid, resp.user.groups) == ("alice", "42", ("dev",))
    assert dict(resp.user.extra) == {"scopes": ("read", "write")}
    assert resp.audiences == ("api",)
    (review,) = hook.reviews
    assert review == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": {"token": "alice-token", "audiences": ["api"]}}
    assert hook.headers[0]["Authorization"] == "Bearer hook-secret"


@pytest.mark.parametrize(("token", "wanted", "outcome"), [
    ("refused-token", (), None),
    ("locked-token", (), "account locked"),
    ("broken-token", (), "answered 500"),
    ("nameless-token", (), "without status.user.username"),
    ("scoped-token", ("vault", "api"), ("vault",)),
    ("scoped-token", ("api",), None),
    ("alice-token", ("other",), None),
], ids=["refused-not-mine", "refused-with-error", "server-error", "no-username", "answer-audiences-intersect",
        "answer-audiences-disjoint", "implicit-audiences-disjoint"])
async def test_webhook_answers(webhook: WebhookTokenAuthenticator, token: str, wanted: tuple[str, ...],
                               outcome: object) -> None:
    if isinstance(outcome, str):
        with pytest.raises(AuthenticationError, match=outcome):
            await webhook.authenticate(Credentials(token=token, audiences=wanted))
        return
    resp = await webhook.authenticate(Credentials(token=token, audiences=wanted))
    assert (resp.audiences if resp else None) == outcome


@pytest.mark.parametrize(("token", "reviews_after_ttl"), [("alice-token", 2), ("refused-token", 2)],
                         ids=["success-cached-for-ttl", "refusal-cached-for-ttl"])
async def test_answers_are_cached_for_the_ttl(webhook: WebhookTokenAuthenticator, hook: Hook, clock: list[float],
                                              token: str, reviews_after_ttl: int) -> None:
    first = await webhook.authenticate(Credentials(token=token))
    clock[0] += 119
    assert await webhook.authenticate(Credentials(token=token)) == first
    assert len(hook.reviews) == 1
    clock[0] += 2
    await webhook.authenticate(Credentials(token=token))
    assert len(hook.reviews) == reviews_after_ttl


async def test_cache_is_per_audience_set(webhook: WebhookTokenAuthenticator, hook: Hook) -> None:
    await webhook.authenticate(Credentials(token="alice-token", audiences=("api",)))
    await webhook.authenticate(Credentials(token="alice-token", audiences=("other",)))
    assert len(hook.reviews) == 2


async def test_errors_are_not_cached(webhook: WebhookTokenAuthenticator, hook: Hook) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            await webhook.authenticate(Credentials(token="broken-token"))
    assert len(hook.reviews) == 2


async def test_unreachable_webhook_is_an_error(clock: list[float]) -> None:
    auth = WebhookTokenAuthenticator("http://127.0.0.1:9/none", clock=lambda: clock[0])
    try:
        with pytest.raises(AuthenticationError, match="webhook token authenticator"):
            await auth.authenticate(Credentials(token="t"))
    finally:
        await auth.close()


async def test_no_token_is_not_mine(webhook: WebhookTokenAuthenticator, hook: Hook) -> None:
    assert await webhook.authenticate(Credentials()) is None
    assert hook.reviews == []


async def test_config_file_in_kubeconfig_format(tmp_path: Path, hook: Hook) -> None:
    path = tmp_path / "webhook.yaml"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Config",
                                "clusters": [{"name": "hook", "cluster": {"server": hook.url}}],
                                "users": [{"name": "api", "user": {"token": "hook-secret"}}],
                                "contexts": [{"name": "c", "context": {"cluster": "hook", "user": "api"}}],
                                "current-context": "c"}))
    auth = WebhookTokenAuthenticator.from_config(path)
    try:
        resp = await auth.authenticate(Credentials(token="alice-token"))
    finally:
        await auth.close()
    assert resp is not None and resp.user.name == "alice"
    assert hook.headers[0]["Authorization"] == "Bearer hook-secret"


@pytest.mark.parametrize(("doc", "message"), [
    ({"clusters": []}, "clusters: Required value"),
    ({"clusters": [{"cluster": {"server": "ftp://x"}}]}, "clusters\\[0\\].cluster.server: Invalid value"),
], ids=["no-clusters", "bad-server"])
def test_bad_config_names_the_field(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    path = tmp_path / "webhook.yaml"
    path.write_text(json.dumps(doc))
    with pytest.raises(WebhookConfigError, match=message):
        load_webhook_config(path)
