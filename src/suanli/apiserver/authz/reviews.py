"""Access reviews (``authorization.k8s.io/v1``): create-only, answered at once, never stored.

* ``SelfSubjectAccessReview`` — may the requesting user do ``spec.resourceAttributes`` or
  ``spec.nonResourceAttributes``? (``kubectl auth can-i``)
* ``LocalSubjectAccessReview`` — the same for ``spec.user``/``spec.groups`` in the namespace of
  the path (``spec.resourceAttributes.namespace`` must match it; non-resource checks refused).
* ``SubjectAccessReview`` — the same for ``spec.user``/``groups``/``uid``/``extra``.
* ``SelfSubjectRulesReview`` — every rule the requesting user holds in ``spec.namespace``
  (``kubectl auth can-i --list``).

``resourceAttributes.fieldSelector``/``labelSelector`` (1.31+) are validated as upstream and reach
the authorizer as its selector attributes (:mod:`.selectors`); RBAC ignores them.

Validation messages and the response shape follow upstream's ``pkg/apis/authorization/validation``
and ``pkg/registry/authorization``: the request object comes back with ``status`` filled.
"""

from __future__ import annotations

from typing import Any, Protocol

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authz import Attributes, Authorizer
from suanli.apiserver.authz.rules import Rule
from suanli.apiserver.authz.selectors import review_selectors, validate_review_selectors
from suanli.apiserver.context import UserInfo
from suanli.kinds.registry import ResourceType

__all__ = ["AUTHZ_GROUP", "REVIEW_KINDS", "RulesResolver", "access_review_types", "review"]

AUTHZ_GROUP = "authorization.k8s.io"
#: plural → (kind, namespaced)
REVIEW_KINDS = {
    "selfsubjectaccessreviews": ("SelfSubjectAccessReview", False),
    "localsubjectaccessreviews": ("LocalSubjectAccessReview", True),
    "subjectaccessreviews": ("SubjectAccessReview", False),
    "selfsubjectrulesreviews": ("SelfSubjectRulesReview", False),
}


class RulesResolver(Protocol):
    """An authorizer that can also list a user's rules (upstream ``RuleResolver``)."""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]: ...


def access_review_types() -> list[ResourceType]:
    """The four kinds for discovery (verbs: create only)."""
    return [ResourceType(AUTHZ_GROUP, "v1", kind, plural, kind.lower(), namespaced, verbs=("create",),
                         has_spec_generation=False)
            for plural, (kind, namespaced) in REVIEW_KINDS.items()]


def _invalid(kind: str, causes: list[Cause]) -> ApiError:
    return ApiError.invalid(kind, "", causes, group=AUTHZ_GROUP)


def _go_value(non: Any) -> str:
    """The attributes as Go's ``%#v`` prints them in upstream's field error."""
    d = non if isinstance(non, dict) else {}
    return f'&authorization.NonResourceAttributes{{Path:"{d.get("path") or ""}", Verb:"{d.get("verb") or ""}"}}'


def _attributes(kind: str, spec: dict[str, Any], user: UserInfo) -> Attributes:
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res is not None and non is not None:
        raise _invalid(kind, [Cause("spec.nonResourceAttributes", f"Invalid value: {_go_value(non)}: cannot be "
                                    "specified in combination with resourceAttributes")])
    if isinstance(res, dict):
        causes = validate_review_selectors(res)
        if causes:
            raise _invalid(kind, causes)
        fields, labels = review_selectors(res)
        return Attributes(user, str(res.get("verb") or ""), True, str(res.get("namespace") or ""),
                          str(res.get("group") or ""), str(res.get("version") or ""), str(res.get("resource") or ""),
                          str(res.get("subresource") or ""), str(res.get("name") or ""), "", fields, labels)
    if isinstance(non, dict):
        return Attributes(user, str(non.get("verb") or ""), resource_request=False, path=str(non.get("path") or ""))
    raise _invalid(kind, [Cause("spec.resourceAttributes",
                                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be "
                                "specified", "FieldValueRequired")])


def _subject(kind: str, spec: dict[str, Any]) -> UserInfo:
    user = str(spec.get("user") or "")
    groups = tuple(str(g) for g in spec.get("groups") or [])
    if not user and not groups:
        raise _invalid(kind, [Cause("spec.user", "Required value: at least one of user or group must be specified",
                                    "FieldValueRequired")])
    extra = spec.get("extra") or {}
    return UserInfo(user, str(spec.get("uid") or ""), groups,
                    tuple((str(k), tuple(str(x) for x in v or [])) for k, v in extra.items()) if isinstance(extra, dict)
                    else ())


def _rules_status(resolver: RulesResolver | None, user: UserInfo, namespace: str) -> dict[str, Any]:
    errors: list[str] = []
    if resolver is None:  # AlwaysAllow: everything
        rules = [Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",))]
    else:
        rules, errors = resolver.rules_for(user, namespace)
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    for r in rules:
        if r.resources:
            rr: dict[str, Any] = {"verbs": list(r.verbs), "apiGroups": list(r.api_groups),
                                  "resources": list(r.resources)}
            if r.resource_names:
                rr["resourceNames"] = list(r.resource_names)
            resource_rules.append(rr)
        if r.non_resource_urls:
            non_resource_rules.append({"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)})
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": bool(errors)}
    if errors:
        status["evaluationError"] = ", ".join(errors)
    return status


def review(plural: str, body: Any, *, requester: UserInfo, namespace: str, authorizer: Authorizer,
           resolver: RulesResolver | None) -> Obj:
    """Answer one review ``body`` posted to ``plural`` (in ``namespace`` for the local kind)."""
    kind = REVIEW_KINDS[plural][0]
    if not isinstance(body, dict):
        raise ApiError.bad_request(f"{kind} must be an object")
    if body.get("kind") not in (None, kind):
        raise ApiError.bad_request(f"the body of the request was in an unknown format: expected kind {kind}, "
                                   f"got {body.get('kind')}")
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    out: Obj = {"kind": kind, "apiVersion": f"{AUTHZ_GROUP}/v1",
                "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
                "spec": spec}
    if plural == "selfsubjectrulesreviews":
        out["status"] = _rules_status(resolver, requester, str(spec.get("namespace") or ""))
        return out
    if plural == "selfsubjectaccessreviews":
        attrs = _attributes(kind, spec, requester)
    else:
        subject = _subject(kind, spec)
        if plural == "localsubjectaccessreviews":
            if spec.get("nonResourceAttributes") is not None:
                raise _invalid(kind, [Cause("spec.nonResourceAttributes", f"Invalid value: "
                                            f"{_go_value(spec['nonResourceAttributes'])}: disallowed on this kind "
                                            "of request")])
            res = spec.get("resourceAttributes")
            if isinstance(res, dict):
                if res.get("namespace") and res["namespace"] != namespace:
                    raise ApiError.bad_request(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
                res["namespace"] = namespace
        attrs = _attributes(kind, spec, subject)
    decision = authorizer.authorize(attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    out["status"] = status
    return out
