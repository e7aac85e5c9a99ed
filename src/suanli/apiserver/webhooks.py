"""Dynamic admission: calls the webhooks of Mutating/ValidatingWebhookConfigurations.

Upstream ``staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook`` semantics:

* **Matching** (:func:`rule_matches`, :func:`webhook_matches`): a rule matches when its
  ``operations`` (``*`` or the operation), ``apiGroups``, ``apiVersions`` (``*`` or exact)
  and ``resources`` match — ``pods`` is the resource only, ``pods/status`` one subresource,
  ``pods/*`` every subresource, ``*`` every resource but no subresource, ``*/*`` everything,
  ``*/status`` every status subresource — and ``scope`` (``*``, ``Cluster``, ``Namespaced``)
  fits. ``namespaceSelector`` applies to namespaced objects (and to Namespaces themselves,
  by their own labels); ``objectSelector`` matches the labels of the new or the old object.
  Webhook configurations themselves are never sent to webhooks.
* **Calling**: an ``admission.k8s.io/v1`` AdmissionReview is POSTed over HTTPS to
  ``clientConfig.url``, or to ``clientConfig.service`` resolved to its first Endpoints
  address (loopback when it has none) with the certificate checked against
  ``<service>.<namespace>.svc``, trusting ``caBundle`` (system roots when empty), within
  ``timeoutSeconds``.
* **Outcome**: ``allowed: false`` → the webhook's Status with message
  ``admission webhook "<name>" denied the request: <message>`` (code ≥ 400, default 400);
  a mutating webhook's base64 ``JSONPatch`` is applied to the object; ``warnings`` are
  passed to the client. A failed call (connection, timeout, bad response) rejects with 500
  ``failed calling webhook`` under ``failurePolicy: Fail`` and is skipped under ``Ignore``.

* **matchConditions** (CEL, :mod:`suanli.apimachinery.matchconditions`): evaluated after rules and
  selectors, with the ``authorizer`` variable (:mod:`suanli.apiserver.cel_authorizer`) asking the
  API server's authorizer about the request's user; a false condition skips the webhook;
  evaluation errors follow ``failurePolicy`` (``Fail`` → 403, ``Ignore`` → skipped).

Mutating webhooks run in configuration-name then list order, with upstream's
``reinvocationPolicy: IfNeeded`` second round (see :meth:`WebhookDispatcher.mutate`); validating
webhooks run one after another (upstream runs them in parallel).
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
import orjson

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.matchconditions import evaluate_match_conditions
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.patch import apply_json_patch
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.authz import AlwaysAllow, Authorizer
from suanli.apiserver.cel_authorizer import LIBRARY, authorizer_value
from suanli.storage import Store

__all__ = ["MUTATING_KEY", "VALIDATING_KEY", "WebhookDispatcher", "rule_matches", "webhook_matches"]

log = logging.getLogger(__name__)

MUTATING_KEY = "admissionregistration.k8s.io/mutatingwebhookconfigurations"
VALIDATING_KEY = "admissionregistration.k8s.io/validatingwebhookconfigurations"
_EXEMPT = frozenset({MUTATING_KEY, VALIDATING_KEY})

def _resource_matches(patterns: list[Any], resource: str, subresource: str) -> bool:
    for pattern in patterns:
        if not isinstance(pattern, str):
            continue
        res, _, sub = pattern.partition("/")
        if pattern == "*/*":
            return True
        if not sub:  # no slash: main resource only
            if not subresource and res in ("*", resource):
                return True
            continue
        if res in ("*", resource) and sub in ("*", subresource) and subresource:
            return True
    return False


def rule_matches(rule: Obj, operation: str, group: str, version: str, resource: str, subresource: str,
                 namespaced: bool) -> bool:
    """Whether one ``rules[]`` entry (RuleWithOperations) covers the request."""
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if "*" not in groups and group not in groups:
        return False
    if "*" not in versions and version not in versions:
        return False
    if not _resource_matches(list(rule.get("resources") or []), resource, subresource):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or (scope == "Namespaced") == namespaced


def _selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(selector, dict) or not selector:
        return True
    return label_selector_from_object(selector).matches(labels)


def webhook_matches(hook: Obj, request: AdmissionRequest, namespace_labels: dict[str, Any] | None) -> bool:
    """Rules, then namespaceSelector (``namespace_labels`` None = not namespaced), then objectSelector."""
    rt = request.resource
    if not any(isinstance(r, dict) and rule_matches(r, request.operation, rt.group, rt.version, rt.plural,
                                                    request.subresource, rt.namespaced)
               for r in hook.get("rules") or []):
        return False
    if namespace_labels is not None and not _selector_matches(hook.get("namespaceSelector"), namespace_labels):
        return False
    selector = hook.get("objectSelector")
    if isinstance(selector, dict) and selector:
        candidates = [o for o in (request.obj, request.old) if isinstance(o, dict)]
        if not any(_selector_matches(selector, (o.get("metadata") or {}).get("labels") or {}) for o in candidates):
            return False
    return True


@lru_cache(maxsize=64)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_bundle:
        pem = base64.b64decode(ca_bundle).decode()
        ctx = ssl.create_default_context(cadata=pem)
    return ctx


@dataclass
class _Reinvocation:
    """Upstream's webhookReinvokeContext for one request."""

    previously_invoked: set[str] = field(default_factory=set)
    reinvoke: set[str] = field(default_factory=set)
    should_reinvoke: bool = False
    last_output: Obj | None = None

    def require_reinvoking_previous(self) -> None:
        self.reinvoke |= self.previously_invoked
        self.previously_invoked = set()


class WebhookError(Exception):
    """Calling a webhook failed (the failure policy decides)."""


class WebhookDispatcher:
    """Runs the configured webhooks for one request; reads configurations from ``store``."""

    def __init__(self, store: Store, authorizer: Authorizer | None = None) -> None:
        self.store = store
        #: what the CEL ``authorizer`` of ``matchConditions`` asks (the API server's authorizer)
        self.authorizer: Authorizer = authorizer if authorizer is not None else AlwaysAllow()

    def _configs(self, bucket: str) -> list[Obj]:
        return [so.obj for so in self.store.list(bucket, None).items]

    def has_webhooks(self, storage_key: str) -> bool:
        """Cheap pre-check: any configuration exists (and the resource is not exempt)."""
        if storage_key in _EXEMPT:
            return False
        return bool(self.store.count(MUTATING_KEY) or self.store.count(VALIDATING_KEY))

    def _namespace_labels(self, request: AdmissionRequest) -> dict[str, Any] | None:
        rt = request.resource
        if rt.storage_key == "namespaces":
            obj = request.obj or request.old or {}
            return dict((obj.get("metadata") or {}).get("labels") or {})
        if not rt.namespaced:
            return None
        so = self.store.get("namespaces", "", request.namespace)
        return dict((so.obj["metadata"].get("labels") or {}) if so is not None else {})

    def _matching(self, bucket: str, request: AdmissionRequest) -> list[tuple[str, Obj]]:
        """``(config/webhook key, webhook)`` of every webhook to call, in upstream order. Rules and
        selectors first, then ``matchConditions`` (:mod:`suanli.apimachinery.matchconditions`)."""
        ns_labels = self._namespace_labels(request)
        out = []
        for cfg in sorted(self._configs(bucket), key=lambda c: str(c["metadata"]["name"])):
            for hook in cfg.get("webhooks") or []:
                if isinstance(hook, dict):
                    try:
                        if not webhook_matches(hook, request, ns_labels):
                            continue
                    except ApiError:
                        continue  # an unparsable selector never matches
                    if hook.get("matchConditions") and not self._conditions_match(hook, request):
                        continue
                    out.append((f"{cfg['metadata']['name']}/{hook.get('name')}", hook))
        return out

    def _conditions_match(self, hook: Obj, request: AdmissionRequest) -> bool:
        review = self._review(request, "")["request"]
        rt = request.resource
        authorizer = authorizer_value(self.authorizer, request.user_info,
                                      (rt.group, rt.plural, request.subresource, request.namespace, request.name))
        result = evaluate_match_conditions(
            [c for c in hook["matchConditions"] if isinstance(c, dict)],
            {"object": request.obj, "oldObject": request.old, "request": review},
            native={"authorizer": authorizer}, library=LIBRARY)
        if result.matches and result.errors:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                return False
            rt = request.resource
            message = result.errors[0] if len(result.errors) == 1 else "[" + ", ".join(result.errors) + "]"
            raise ApiError.forbidden(rt.plural, request.name,
                                     f'{rt.qualified} "{request.name}" is forbidden: {message}')
        return result.matches

    async def mutate(self, request: AdmissionRequest, rerun_in_tree: Callable[[], None] | None = None) -> None:
        """Call the mutating webhooks, then reinvoke as upstream (``reinvocationPolicy: IfNeeded``).

        A webhook whose patch changes the object makes every earlier-called ``IfNeeded`` webhook
        due for one more call; if any object change happened, the in-process mutating plug-ins
        (``rerun_in_tree``) run again, and — if they or the first round changed the object since
        those webhooks saw it — the due webhooks are called once more (a second round, never a
        third; a webhook not called in the first round is not called in the second).
        """
        state = _Reinvocation()
        await self._mutate_round(request, state, reinvoke=False)
        if not state.should_reinvoke or request.obj is None:
            return
        if rerun_in_tree is not None:
            rerun_in_tree()
            if request.obj != state.last_output:  # the in-process plug-ins changed the object
                state.require_reinvoking_previous()
        await self._mutate_round(request, state, reinvoke=True)

    async def _mutate_round(self, request: AdmissionRequest, state: _Reinvocation, *, reinvoke: bool) -> None:
        for key, hook in self._matching(MUTATING_KEY, request):
            if reinvoke and key not in state.reinvoke:
                continue
            response = await self._call_guarded(hook, request)
            if response is not None and request.obj is not None and self._apply_patch(hook, response, request.obj):
                state.require_reinvoking_previous()
                state.should_reinvoke = True
            if hook.get("reinvocationPolicy") == "IfNeeded":
                state.previously_invoked.add(key)
        state.last_output = deep_copy(request.obj) if request.obj is not None else None

    @staticmethod
    def _apply_patch(hook: Obj, response: Obj, obj: Obj) -> bool:
        """Apply the response's JSONPatch to ``obj`` in place; whether it changed the object."""
        patch = response.get("patch")
        if not patch:
            return False
        if response.get("patchType", "JSONPatch") != "JSONPatch":
            raise _call_failed(hook, f"unsupported patch type {response.get('patchType')!r}")
        try:
            ops = orjson.loads(base64.b64decode(patch))
            patched = apply_json_patch(obj, ops)
        except (ValueError, binascii.Error, ApiError) as err:
            raise _call_failed(hook, f"JSONPatch could not be applied: {err}") from None
        if patched == obj:
            return False
        obj.clear()
        obj.update(patched)
        return True

    async def validate(self, request: AdmissionRequest) -> None:
        for _, hook in self._matching(VALIDATING_KEY, request):
            await self._call_guarded(hook, request)

    async def _call_guarded(self, hook: Obj, request: AdmissionRequest) -> Obj | None:
        """The webhook's ``response`` if it allowed the request; raises on denial; None when a failed
        call is ignored."""
        try:
            response = await self._call(hook, request)
        except WebhookError as err:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                log.warning("ignoring failed webhook %s: %s", hook.get("name"), err)
                return None
            raise _call_failed(hook, str(err)) from None
        request.warnings.extend(str(w) for w in response.get("warnings") or [])
        if not response.get("allowed"):
            raise _denied(str(hook.get("name")), response.get("status"))
        return response

    def _review(self, request: AdmissionRequest, uid: str) -> Obj:
        rt = request.resource
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        gvr = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}
        body: Obj = {
            "uid": uid, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": request.name, "operation": request.operation,
            "userInfo": request.user_info.as_review(),
            "object": request.obj, "oldObject": request.old, "dryRun": request.dry_run,
            "options": {"kind": options_kind.get(request.operation, "CreateOptions"),
                        "apiVersion": "meta.k8s.io/v1"},
        }
        if request.subresource:
            body["subResource"] = body["requestSubResource"] = request.subresource
        if rt.namespaced:
            body["namespace"] = request.namespace
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body}

    def _target(self, hook: Obj) -> tuple[str, dict[str, Any]]:
        """URL to POST to and httpx request extensions (SNI host for service references)."""
        cc = hook.get("clientConfig") or {}
        if cc.get("url"):
            return str(cc["url"]), {}
        svc = cc.get("service") or {}
        name, ns = str(svc.get("name")), str(svc.get("namespace"))
        port = int(svc.get("port") or 443)
        path = str(svc.get("path") or "/")
        host = "127.0.0.1"
        eps = self.store.get("endpoints", ns, name)
        service = self.store.get("services", ns, name)
        target_port = port
        if service is not None:
            for p in (service.obj.get("spec") or {}).get("ports") or []:
                if p.get("port") == port and isinstance(p.get("targetPort"), int):
                    target_port = int(p["targetPort"])
        for subset in ((eps.obj.get("subsets") or []) if eps is not None else []):
            addrs = subset.get("addresses") or []
            if addrs and addrs[0].get("ip"):
                host = str(addrs[0]["ip"])
                break
        return f"https://{host}:{target_port}{path}", {"sni_hostname": f"{name}.{ns}.svc"}

    async def _call(self, hook: Obj, request: AdmissionRequest) -> Obj:
        uid = str(uuid.uuid4())
        url, extensions = self._target(hook)
        timeout = float(hook.get("timeoutSeconds") or 10)
        try:
            verify = _ssl_context(str((hook.get("clientConfig") or {}).get("caBundle") or ""))
        except (ValueError, ssl.SSLError, binascii.Error) as err:
            raise WebhookError(f"invalid caBundle: {err}") from None
        body = orjson.dumps(self._review(request, uid))
        try:
            async with httpx.AsyncClient(verify=verify, timeout=timeout) as client:
                resp = await client.post(url, content=body, extensions=extensions,
                                         headers={"Content-Type": "application/json",
                                                  "Accept": "application/json"})
        except httpx.HTTPError as err:
            raise WebhookError(f'failed to call webhook: Post "{url}": {err}') from None
        if resp.status_code != 200:
            raise WebhookError(f"received invalid webhook response: HTTP {resp.status_code}")
        try:
            review = orjson.loads(resp.content)
        except orjson.JSONDecodeError as err:
            raise WebhookError(f"received invalid webhook response: {err}") from None
        response = review.get("response") if isinstance(review, dict) else None
        if not isinstance(response, dict):
            raise WebhookError("webhook response was absent")
        if response.get("uid") != uid:
            raise WebhookError(f"expected response.uid={uid!r}, got {response.get('uid')!r}")
        return response


def _call_failed(hook: Obj, why: str) -> ApiError:
    return ApiError(500, "InternalError", f'Internal error occurred: failed calling webhook "{hook.get("name")}": '
                                          f"{why}")


def _denied(name: str, status: Any) -> ApiError:
    status = status if isinstance(status, dict) else {}
    code = status.get("code") if isinstance(status.get("code"), int) else 0
    code = max(int(code), 400)
    denied = f'admission webhook "{name}" denied the request'
    if status.get("message"):
        message = f"{denied}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied}: {status['reason']}"
    else:
        message = f"{denied} without explanation"
    return ApiError(code, str(status.get("reason") or ""), message)
