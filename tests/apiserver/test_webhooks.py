"""Dynamic admission webhooks: rule matching (upstream ``rules_test.go`` cases) and real HTTPS calls
to an in-test AdmissionReview server, through the in-process API stack."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from tests.controllers.conftest import Api

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.context import RequestContext
from suanli.apiserver.tls import ensure_tls_material
from suanli.apiserver.webhooks import rule_matches
from suanli.controllers._pods import PODS

NS = "default"
CONFIGMAPS = GVR("", "v1", "configmaps")
VWC = GVR("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", namespaced=False)
MWC = GVR("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", namespaced=False)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)


def rule(ops: list[str], resources: list[str], *, groups: tuple[str, ...] = ("",), versions: tuple[str, ...] = ("v1",),
         scope: str = "*") -> Obj:
    return {"operations": ops, "apiGroups": list(groups), "apiVersions": list(versions), "resources": resources,
            "scope": scope}


@pytest.mark.parametrize(
    ("r", "request_", "matches"),
    [
        pytest.param(rule(["CREATE"], ["pods"]), ("CREATE", "", "v1", "pods", "", True), True,
                     id="exact-resource-and-operation"),
        pytest.param(rule(["UPDATE"], ["pods"]), ("CREATE", "", "v1", "pods", "", True), False,
                     id="other-operation"),
        pytest.param(rule(["*"], ["pods"]), ("DELETE", "", "v1", "pods", "", True), True, id="any-operation"),
        pytest.param(rule(["*"], ["pods"]), ("UPDATE", "", "v1", "pods", "status", True), False,
                     id="resource-does-not-cover-subresources"),
        pytest.param(rule(["*"], ["pods/status"]), ("UPDATE", "", "v1", "pods", "status", True), True,
                     id="named-subresource"),
        pytest.param(rule(["*"], ["pods/*"]), ("UPDATE", "", "v1", "pods", "status", True), True,
                     id="all-subresources-of-pods"),
        pytest.param(rule(["*"], ["pods/*"]), ("UPDATE", "", "v1", "pods", "", True), False,
                     id="subresource-wildcard-excludes-the-resource"),
        pytest.param(rule(["*"], ["*"]), ("UPDATE", "", "v1", "pods", "status", True), False,
                     id="star-excludes-subresources"),
        pytest.param(rule(["*"], ["*/*"]), ("UPDATE", "", "v1", "pods", "status", True), True,
                     id="star-slash-star-includes-subresources"),
        pytest.param(rule(["*"], ["*/status"]), ("UPDATE", "apps", "v1", "deployments", "status", True), False,
                     id="group-must-match"),
        pytest.param(rule(["*"], ["*/status"], groups=("*",)), ("UPDATE", "apps", "v1", "deployments", "status", True),
                     True, id="any-group-status-subresource"),
        pytest.param(rule(["*"], ["pods"], versions=("v2",)), ("CREATE", "", "v1", "pods", "", True), False,
                     id="version-must-match"),
        pytest.param(rule(["*"], ["*"], scope="Cluster"), ("CREATE", "", "v1", "pods", "", True), False,
                     id="cluster-scope-excludes-namespaced"),
        pytest.param(rule(["*"], ["*"], scope="Cluster"), ("CREATE", "", "v1", "nodes", "", False), True,
                     id="cluster-scope-includes-cluster-resources"),
        pytest.param(rule(["*"], ["*"], scope="Namespaced"), ("CREATE", "", "v1", "nodes", "", False), False,
                     id="namespaced-scope-excludes-cluster-resources"),
    ],
)
def test_rule_matches(r: Obj, request_: tuple[str, str, str, str, str, bool], matches: bool) -> None:
    assert rule_matches(r, *request_) is matches


@dataclass
class Hook:
    """An HTTPS AdmissionReview endpoint; ``answer(request) -> response fields`` decides."""

    answer: Callable[[Obj], Obj]
    url: str = ""
    port: int = 0
    ca_bundle: str = ""
    reviews: list[Obj] = field(default_factory=list)
    delay: float = 0.0


@pytest.fixture
async def hook(tmp_path: Path) -> AsyncIterator[Hook]:
    tls = ensure_tls_material(tmp_path, ["webhook.default.svc"])
    state = Hook(answer=lambda _r: {"allowed": True})

    async def handle(req: web.Request) -> web.Response:
        review = await req.json()
        state.reviews.append(review)
        if state.delay:
            await asyncio.sleep(state.delay)
        response = {"uid": review["request"]["uid"], **state.answer(review["request"])}
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
    server = site._server
    assert server is not None
    state.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"https://127.0.0.1:{state.port}/validate"
    state.ca_bundle = base64.b64encode(tls.ca_pem).decode()
    try:
        yield state
    finally:
        await runner.cleanup()


def configuration(kind: str, hook: Hook, **extra: Any) -> Obj:
    webhook: Obj = {"name": "check.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                    "clientConfig": {"url": hook.url, "caBundle": hook.ca_bundle},
                    "rules": [rule(["CREATE", "UPDATE"], ["configmaps"])], **extra}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": "cfg"},
            "webhooks": [webhook]}


def cm(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS,
                                                                   "labels": labels or {}}, "data": {"k": "v"}}


async def test_validating_webhook_denial_returns_its_status(api: Api, hook: Hook) -> None:
    hook.answer = lambda r: {"allowed": r["object"]["metadata"]["name"] != "bad",
                             "status": {"code": 403, "reason": "Forbidden", "message": "names may not be bad"}}
    await api.client.create(VWC, configuration("ValidatingWebhookConfiguration", hook))
    await api.client.create(CONFIGMAPS, cm("good"), NS)
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("bad"), NS)
    assert info.value.code == 403
    assert info.value.message == 'admission webhook "check.example.com" denied the request: names may not be bad'
    request = hook.reviews[-1]["request"]
    assert hook.reviews[-1]["apiVersion"] == "admission.k8s.io/v1"
    assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", NS, "bad")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}


async def test_denial_without_code_is_400_without_explanation(api: Api, hook: Hook) -> None:
    hook.answer = lambda _r: {"allowed": False}
    await api.client.create(VWC, configuration("ValidatingWebhookConfiguration", hook))
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert info.value.code == 400
    assert info.value.message == 'admission webhook "check.example.com" denied the request without explanation'


async def test_mutating_webhook_patch_is_applied_and_warnings_pass_through(api: Api, hook: Hook) -> None:
    patch = [{"op": "add", "path": "/metadata/labels/mutated", "value": "yes"}]
    hook.answer = lambda _r: {"allowed": True, "patchType": "JSONPatch", "warnings": ["be careful"],
                              "patch": base64.b64encode(json.dumps(patch).encode()).decode()}
    await api.client.create(MWC, configuration("MutatingWebhookConfiguration", hook))
    rt = api.registry.get("", "v1", "configmaps")
    assert rt is not None
    ctx = RequestContext()
    created = await api.service.create(rt, NS, cm("x"), ctx)
    assert created["metadata"]["labels"] == {"mutated": "yes"}
    assert ctx.warnings == ["be careful"]


@pytest.mark.parametrize(
    ("policy", "allowed"),
    [pytest.param("Fail", False, id="fail-policy-rejects"), pytest.param("Ignore", True, id="ignore-policy-admits")],
)
async def test_unreachable_webhook_follows_the_failure_policy(api: Api, hook: Hook, policy: str,
                                                              allowed: bool) -> None:
    cfg = configuration("ValidatingWebhookConfiguration", hook, failurePolicy=policy)
    cfg["webhooks"][0]["clientConfig"]["url"] = "https://127.0.0.1:1/nothing-listens"
    await api.client.create(VWC, cfg)
    if allowed:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
        return
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert info.value.code == 500
    assert 'failed calling webhook "check.example.com"' in info.value.message


async def test_slow_webhook_times_out(api: Api, hook: Hook) -> None:
    hook.delay = 2.0
    await api.client.create(VWC, configuration("ValidatingWebhookConfiguration", hook, timeoutSeconds=1))
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert info.value.code == 500 and "failed calling webhook" in info.value.message


async def test_untrusted_certificate_is_a_failed_call(api: Api, hook: Hook) -> None:
    cfg = configuration("ValidatingWebhookConfiguration", hook)
    del cfg["webhooks"][0]["clientConfig"]["caBundle"]  # system roots do not trust the test CA
    await api.client.create(VWC, cfg)
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert info.value.code == 500


async def test_selectors_limit_which_requests_are_sent(api: Api, hook: Hook) -> None:
    hook.answer = lambda _r: {"allowed": False}
    await api.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "guarded", "labels": {"guard": "on"}}})
    await api.client.create(VWC, configuration(
        "ValidatingWebhookConfiguration", hook, namespaceSelector={"matchLabels": {"guard": "on"}},
        objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]}))
    await api.client.create(CONFIGMAPS, cm("x"), NS)  # namespace not selected
    guarded = cm("y")
    guarded["metadata"]["namespace"] = "guarded"
    with pytest.raises(ApiError):
        await api.client.create(CONFIGMAPS, guarded, "guarded")
    skipped = cm("z", {"skip": "1"})
    skipped["metadata"]["namespace"] = "guarded"
    await api.client.create(CONFIGMAPS, skipped, "guarded")  # object not selected
    assert len(hook.reviews) == 1


async def test_service_reference_resolves_to_loopback_with_the_service_name(api: Api, hook: Hook) -> None:
    hook.answer = lambda _r: {"allowed": False, "status": {"message": "via service"}}
    await api.client.create(GVR("", "v1", "services"), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "webhook", "namespace": NS},
        "spec": {"ports": [{"port": 443, "targetPort": hook.port}]}}, NS)
    cfg = configuration("ValidatingWebhookConfiguration", hook)
    cfg["webhooks"][0]["clientConfig"] = {"caBundle": hook.ca_bundle,
                                          "service": {"namespace": NS, "name": "webhook", "path": "/check"}}
    await api.client.create(VWC, cfg)
    with pytest.raises(ApiError) as info:
        await api.client.create(CONFIGMAPS, cm("x"), NS)
    assert info.value.message.endswith("via service")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"name": "short"}, "webhooks[0].name", id="name-needs-three-segments"),
        pytest.param({"sideEffects": None}, "webhooks[0].sideEffects", id="side-effects-required"),
        pytest.param({"sideEffects": "Some"}, "webhooks[0].sideEffects", id="side-effects-none-or-dry-run"),
        pytest.param({"timeoutSeconds": 31}, "webhooks[0].timeoutSeconds", id="timeout-at-most-30s"),
        pytest.param({"failurePolicy": "Maybe"}, "webhooks[0].failurePolicy", id="failure-policy-fail-or-ignore"),
        pytest.param({"clientConfig": {"url": "http://x.example.com/"}}, "webhooks[0].clientConfig.url",
                     id="url-must-be-https"),
        pytest.param({"clientConfig": {}}, "webhooks[0].clientConfig", id="url-or-service-required"),
    ],
)
async def test_webhook_configuration_is_validated(api: Api, hook: Hook, change: Obj, field: str) -> None:
    cfg = configuration("ValidatingWebhookConfiguration", hook)
    for key, value in change.items():
        if value is None:
            del cfg["webhooks"][0][key]
        else:
            cfg["webhooks"][0][key] = value
    with pytest.raises(ApiError) as info:
        await api.client.create(VWC, cfg)
    assert info.value.code == 422
    assert [c.field for c in info.value.causes] == [field]


async def test_webhook_defaults(api: Api, hook: Hook) -> None:
    created = await api.client.create(MWC, configuration("MutatingWebhookConfiguration", hook))
    w = created["webhooks"][0]
    assert (w["failurePolicy"], w["matchPolicy"], w["timeoutSeconds"], w["reinvocationPolicy"]) == \
        ("Fail", "Equivalent", 10, "Never")
    assert w["namespaceSelector"] == {} and w["objectSelector"] == {} and w["rules"][0]["scope"] == "*"


async def test_pods_are_not_sent_to_a_configmap_webhook(api: Api, hook: Hook) -> None:
    hook.answer = lambda _r: {"allowed": False}
    await api.client.create(VWC, configuration("ValidatingWebhookConfiguration", hook))
    await api.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS},
                                   "spec": {"containers": [{"name": "c", "image": "x"}]}}, NS)
    assert hook.reviews == []
