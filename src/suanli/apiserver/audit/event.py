"""Audit events (``audit.k8s.io/v1`` ``Event``) for one HTTP request.

CONTRACT

* :meth:`Auditor.begin` evaluates the policy for the authenticated requestor (as kube-apiserver,
  which audits before impersonation) and returns ``None`` when the level is ``None``; otherwise an
  :class:`AuditRequest` that has already emitted ``RequestReceived`` (unless omitted).
* The request handler then reports what it learns: :meth:`AuditRequest.impersonated`,
  :meth:`~AuditRequest.authorized` (the ``authorization.k8s.io/decision`` annotation),
  :meth:`~AuditRequest.request_body`, :meth:`~AuditRequest.response_started` (long-running
  requests: watch, log) and exactly one of :meth:`~AuditRequest.complete` or
  :meth:`~AuditRequest.panic`. Each stage not in ``omitStages`` is one JSON line.
* Level ``Metadata`` records who, what, where and the response status; ``Request`` adds
  ``requestObject`` (a JSON request body); ``RequestResponse`` adds ``responseObject`` (a JSON
  response body). ``omitManagedFields`` drops ``metadata.managedFields`` from both (and from
  list items).
* Request headers are never recorded, so bearer tokens and client credentials never reach the
  log. Beyond upstream, the token fields of ``tokenreviews`` (``spec.token``) and of
  ``serviceaccounts/token`` (``status.token``) bodies are replaced by ``"REDACTED"``: an
  upstream ``Request``-level policy would log them.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import yaml

from suanli.apimachinery.protobuf import decode_k8s_protobuf
from suanli.apimachinery.randpool import random_bytes
from suanli.apiserver.audit.backend import LogBackend
from suanli.apiserver.audit.policy import Attributes, Policy, RuleEvaluation
from suanli.apiserver.authz.requestinfo import request_info
from suanli.apiserver.context import UserInfo

__all__ = ["AuditRequest", "Auditor"]

_DECISION = "authorization.k8s.io/decision"
_REDACTED = "REDACTED"


_second: list[Any] = [-1, ""]  # [whole second, its "%Y-%m-%dT%H:%M:%S" text]


def _now() -> str:
    """The current UTC time as RFC 3339 with microseconds (metav1.MicroTime); the per-second prefix is cached."""
    t = time.time()
    sec = int(t)
    if sec != _second[0]:
        _second[0], _second[1] = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_second[1]}.{int((t - sec) * 1e6):06d}Z"


def _audit_id() -> str:
    """A random (version 4) UUID, as upstream's ``uuid.NewRandom``."""
    b = bytearray(random_bytes(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _user(u: UserInfo) -> dict[str, object]:
    return u.as_review()


def _strip_managed_fields(obj: Any) -> Any:
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict) and "managedFields" in meta:
            obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
        items = obj.get("items")
        if isinstance(items, list):
            obj = {**obj, "items": [_strip_managed_fields(i) for i in items]}
    return obj


def _redact_tokens(obj: Any, resource: str, subresource: str) -> Any:
    if not isinstance(obj, dict):
        return obj
    if resource == "tokenreviews" and isinstance(obj.get("spec"), dict) and "token" in obj["spec"]:
        return {**obj, "spec": {**obj["spec"], "token": _REDACTED}}
    if subresource == "token" and isinstance(obj.get("status"), dict) and "token" in obj["status"]:
        return {**obj, "status": {**obj["status"], "token": _REDACTED}}
    return obj


def _request_object(body: bytes, content_type: str) -> Any:
    """The request body as JSON data (JSON, YAML or Kubernetes protobuf), or None if it does not decode."""
    ctype = content_type.split(";")[0].strip()
    if ctype == "application/vnd.kubernetes.protobuf":
        try:
            return decode_k8s_protobuf(body)
        except ValueError:
            return None
    if "yaml" in ctype:
        try:
            return orjson.loads(orjson.dumps(yaml.safe_load(body)))  # JSON data only
        except (yaml.YAMLError, TypeError, ValueError):
            return None
    return _json_body(body)


def _json_body(body: bytes) -> Any:
    if not body or body[:1] not in (b"{", b"["):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


class AuditRequest:
    """The audit record of one request (see the module docstring)."""

    __slots__ = ("_backend", "_done", "_eval", "_event", "_info_resource", "_info_subresource")

    def __init__(self, backend: LogBackend, evaluation: RuleEvaluation, event: dict[str, Any],
                 resource: str, subresource: str) -> None:
        self._backend = backend
        self._eval = evaluation
        self._event = event
        self._info_resource = resource
        self._info_subresource = subresource
        self._done = False

    @property
    def level(self) -> str:
        return self._eval.level

    @property
    def audit_id(self) -> str:
        return str(self._event["auditID"])

    def _emit(self, stage: str) -> None:
        if stage in self._eval.omit_stages:
            return
        ev = self._event
        ev["stage"] = stage
        ev["stageTimestamp"] = _now()
        self._backend.emit(orjson.dumps(ev) + b"\n")

    def impersonated(self, requestor: UserInfo, effective: UserInfo) -> None:
        if effective is not requestor:
            self._event["impersonatedUser"] = _user(effective)

    def authorized(self, allowed: bool) -> None:
        self._event.setdefault("annotations", {})[_DECISION] = "allow" if allowed else "forbid"

    def _body_object(self, obj: Any) -> Any:
        obj = _redact_tokens(obj, self._info_resource, self._info_subresource)
        return _strip_managed_fields(obj) if self._eval.omit_managed_fields else obj

    def request_body(self, body: bytes, content_type: str) -> None:
        """Fill ``objectRef`` name/namespace from the body and keep it at level Request and above."""
        if not body:
            return
        obj = _request_object(body, content_type)
        if not isinstance(obj, dict):
            return
        ref = self._event.get("objectRef")
        meta = obj.get("metadata")
        if ref is not None and isinstance(meta, dict):
            for key in ("namespace", "name", "uid", "resourceVersion"):
                if not ref.get(key) and isinstance(meta.get(key), str) and meta[key]:
                    ref[key] = meta[key]
        if self._eval.at_least("Request"):
            self._event["requestObject"] = self._body_object(obj)

    def response_started(self, code: int) -> None:
        self._event["responseStatus"] = {"metadata": {}, "code": code}
        self._emit("ResponseStarted")

    def complete(self, code: int, body: bytes | None, *, json_body: bool = True) -> None:
        """Emit ``ResponseComplete`` for a response with status ``code`` and ``body``."""
        if self._done:
            return
        self._done = True
        status: dict[str, Any] = {"metadata": {}, "code": code}
        obj = _json_body(body) if body and json_body and (code >= 400 or self._eval.at_least("RequestResponse")) \
            else None
        if code >= 400 and isinstance(obj, dict) and obj.get("kind") == "Status":
            for key in ("status", "message", "reason", "details"):
                if obj.get(key):
                    status[key] = obj[key]
        self._event["responseStatus"] = status
        if obj is not None and self._eval.at_least("RequestResponse"):
            self._event["responseObject"] = self._body_object(obj)
        self._emit("ResponseComplete")

    def panic(self, message: str) -> None:
        if self._done:
            return
        self._done = True
        self._event["responseStatus"] = {"metadata": {}, "status": "Failure", "message": message, "code": 500}
        self._emit("Panic")


class Auditor:
    """The policy and backend of one API server."""

    def __init__(self, policy: Policy, backend: LogBackend) -> None:
        self.policy = policy
        self.backend = backend

    def begin(self, *, method: str, path: str, raw_uri: str, query: dict[str, str], user: UserInfo | None,
              source_ips: list[str], user_agent: str, audit_id: str | None = None) -> AuditRequest | None:
        """Start the record of one request, or ``None`` when the policy says level ``None``."""
        info = request_info(method, path, query)
        attrs = Attributes(user, info.verb, info.resource_request, info.path, info.namespace, info.api_group,
                           info.resource, info.subresource, info.name)
        evaluation = self.policy.evaluate(attrs)
        if evaluation.level == "None":
            return None
        received = _now()
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": evaluation.level,
            "auditID": audit_id or _audit_id(), "stage": "",
            "requestURI": raw_uri, "verb": info.verb,
            "user": _user(user) if user is not None else {}, "sourceIPs": source_ips,
        }
        if user_agent:
            event["userAgent"] = user_agent
        if info.resource_request:
            ref = {"resource": info.resource, "namespace": info.namespace, "name": info.name,
                   "apiGroup": info.api_group, "apiVersion": info.api_version, "subresource": info.subresource}
            event["objectRef"] = {k: v for k, v in ref.items() if v}
        event["requestReceivedTimestamp"] = received
        event["stageTimestamp"] = received
        req = AuditRequest(self.backend, evaluation, event, info.resource, info.subresource)
        req._emit("RequestReceived")
        return req

    def close(self) -> None:
        self.backend.close()
