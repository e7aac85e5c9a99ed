"""Webhook ``matchConditions`` (cases after upstream's matchconditions matcher_test.go) and mutating
``reinvocationPolicy: IfNeeded`` (after upstream's TestWebhookReinvocationPolicy), through real HTTPS
calls from the in-process API stack."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tests.controllers.conftest import Api

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.matchconditions import evaluate_match_conditions
from suanli.apimachinery.objects import Obj
from suanli.apiserver.tls import ensure_tls_material

NS = "default"
CONFIGMAPS = GVR("", "v1", "configmaps")
VWC = GVR("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", namespaced=False)
MWC = GVR("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", namespaced=False)

Answer = Callable[[Obj], Obj]


class Hooks:
    """One HTTPS server; ``answers[path]`` decides the response for webhooks at ``/path``."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.calls: list[str] = []
        self.base = ""
        self.ca_bundle = ""

    def webhook(self, name: str, path: str, answer: Answer, **extra: Any) -> Obj:
        self.answers[path] = answer
        return {"name": name, "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "clientConfig": {"url": f"{self.base}/{path}", "caBundle": self.ca_bundle},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["configmaps"]}], **extra}


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    tls = ensure_tls_material(tmp_path, ["127.0.0.1"])
    state = Hooks()

    async def handle(req: web.Request) -> web.Response:
        review = await req.json()
        path = req.match_info["tail"]
        state.calls.append(path)
        response = {"uid": review["request"]["uid"], **state.answers[path](review["request"])}
        return web.json_response({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                  "response": response})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls.server_cert, tls.server_key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"https://127.0.0.1:{port}"
    state.ca_bundle = base64.b64encode(tls.ca_pem).decode()
    try:
        yield state
    finally:
        await runner.cleanup()


def config(kind: str, name: str, *webhooks: Obj) -> Obj:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name},
            "webhooks": list(webhooks)}


def cm(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


def deny(_r: Obj) -> Obj:
    return {"allowed": False, "status": {"message": "called"}}


def conditions(*exprs: str) -> list[Obj]:
    return [{"name": f"c{i}", "expression": e} for i, e in enumerate(exprs)]


@pytest.mark.parametrize(("exprs", "matches", "errors"), [
    ((), True, 0),
    (("true",), True, 0),
    (("true", "false"), False, 0),
    (("object.metadata.name == 'x'",), True, 0),
    (("oldObject == null", "request.operation == 'CREATE'"), True, 0),
    (("object.nope == 1",), True, 1),
    (("object.nope == 1", "false"), False, 0),
    (("'not a bool'",), True, 1),
], ids=["none", "true", "one-false", "object-variable", "old-object-and-request", "error", "false-wins-over-error",
        "non-bool"])
def test_match_conditions(exprs: tuple[str, ...], matches: bool, errors: int) -> None:
    result = evaluate_match_conditions(conditions(*exprs), {
        "object": {"metadata": {"name": "x"}}, "oldObject": None, "request": {"operation": "CREATE"}})
    assert (result.matches, len(result.errors)) == (matches, errors)


@pytest.mark.parametrize(("exprs", "policy", "outcome"), [
    (("object.metadata.name == 'skip-me'",), "Fail", "called"),
    (("object.metadata.name != 'skip-me'",), "Fail", "skipped"),
    (("has(object.metadata.labels) && object.metadata.labels['team'] == 'a'",), "Fail", "called"),
    (("request.userInfo.username == 'nobody'",), "Fail", "skipped"),
    (("object.nope == 1",), "Fail", "forbidden"),
    (("object.nope == 1",), "Ignore", "skipped"),
    (("object.nope == 1", "false"), "Fail", "skipped"),
], ids=["true-calls", "false-skips", "labels", "request-user-info", "error-fail-policy-forbids",
        "error-ignore-policy-skips", "false-beats-error"])
async def test_match_conditions_decide_whether_the_webhook_is_called(api: Api, hooks: Hooks, exprs: tuple[str, ...],
                                                                     policy: str, outcome: str) -> None:
    await api.client.create(VWC, config("ValidatingWebhookConfiguration", "cfg", hooks.webhook(
        "deny.example.com", "deny", deny, failurePolicy=policy, matchConditions=conditions(*exprs))))
    if outcome == "skipped":
        await api.client.create(CONFIGMAPS, cm("skip-me", team="a"), NS)
        assert hooks.calls == []
        return
    with pytest.raises(ApiError) as err:
        await api.client.create(CONFIGMAPS, cm("skip-me", team="a"), NS)
    if outcome == "called":
        assert err.value.message == 'admission webhook "deny.example.com" denied the request: called'
    else:
        assert err.value.code == 403
        assert err.value.message.startswith('configmaps "skip-me" is forbidden: expression \'object.nope == 1\' '
                                            "resulted in error: ")
        assert hooks.calls == []


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"matchConditions": [{"name": "a", "expression": "1 +"}]}, "webhooks[0].matchConditions[0].expression",
     "compilation failed"),
    ({"matchConditions": [{"name": "a", "expression": "true"}, {"name": "a", "expression": "true"}]},
     "webhooks[0].matchConditions[1].name", "Duplicate value"),
    ({"matchConditions": [{"name": "a", "expression": ""}]}, "webhooks[0].matchConditions[0].expression",
     "Required value"),
    ({"matchConditions": [{"name": f"c{i}", "expression": "true"} for i in range(65)]},
     "webhooks[0].matchConditions", "Too many: 65: must have at most 64 items"),
], ids=["does-not-compile", "duplicate-name", "empty-expression", "too-many"])
async def test_match_conditions_are_validated(api: Api, hooks: Hooks, change: Obj, field: str, message: str) -> None:
    with pytest.raises(ApiError) as err:
        await api.client.create(VWC, config("ValidatingWebhookConfiguration", "cfg",
                                            hooks.webhook("v.example.com", "v", deny, **change)))
    assert err.value.code == 422
    assert any(c.field == field and message in c.message for c in err.value.causes)


def add_label(key: str, value: str) -> Answer:
    def answer(request: Obj) -> Obj:
        labels = (request["object"]["metadata"].get("labels") or {})
        if labels.get(key) == value:
            return {"allowed": True}
        patch = [{"op": "add", "path": f"/metadata/labels/{key}", "value": value}]
        return {"allowed": True, "patchType": "JSONPatch", "patch": _b64(patch)}
    return answer


def _b64(patch: list[Obj]) -> str:
    return base64.b64encode(json.dumps(patch).encode()).decode()


def count_label(key: str) -> Answer:
    """Patches ``key`` to the number of times it was called (a change every call)."""
    seen: list[int] = []

    def answer(_request: Obj) -> Obj:
        seen.append(1)
        patch = [{"op": "add", "path": f"/metadata/labels/{key}", "value": str(len(seen))}]
        return {"allowed": True, "patchType": "JSONPatch", "patch": _b64(patch)}
    return answer


def allow(_r: Obj) -> Obj:
    return {"allowed": True}


@pytest.mark.parametrize(("first", "second", "calls", "labels"), [
    (("IfNeeded", allow), ("Never", allow), ["w1", "w2"], {}),
    (("IfNeeded", allow), ("Never", add_label("b", "1")), ["w1", "w2", "w1"], {"b": "1"}),
    (("Never", allow), ("Never", add_label("b", "1")), ["w1", "w2"], {"b": "1"}),
    (("IfNeeded", add_label("a", "1")), ("Never", allow), ["w1", "w2"], {"a": "1"}),
    # round 2: w1 changes the object again, so w2 (IfNeeded, called in round 1) is called too; no round 3
    (("IfNeeded", count_label("a")), ("IfNeeded", add_label("b", "1")), ["w1", "w2", "w1", "w2"],
     {"a": "2", "b": "1"}),
], ids=["no-change-no-reinvocation", "later-change-reinvokes-if-needed", "never-policy-not-reinvoked",
        "own-change-does-not-reinvoke-itself", "reinvoked-once-only"])
async def test_reinvocation_policy(api: Api, hooks: Hooks, first: tuple[str, Answer], second: tuple[str, Answer],
                                   calls: list[str], labels: dict[str, str]) -> None:
    # configurations run in name order: "a-cfg" (w1) before "b-cfg" (w2)
    await api.client.create(MWC, config("MutatingWebhookConfiguration", "a-cfg", hooks.webhook(
        "w1.example.com", "w1", first[1], reinvocationPolicy=first[0])))
    await api.client.create(MWC, config("MutatingWebhookConfiguration", "b-cfg", hooks.webhook(
        "w2.example.com", "w2", second[1], reinvocationPolicy=second[0])))
    created = await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert hooks.calls == calls
    assert (created["metadata"].get("labels") or {}) == labels
