"""``authentication.k8s.io/v1`` reviews: TokenReview and SelfSubjectReview (create-only, never stored).

* TokenReview (upstream ``pkg/registry/authentication/tokenreview``): runs the bearer-token
  authenticators on ``spec.token`` for ``spec.audiences`` (the API server's audiences when
  empty) and answers with ``status.authenticated``, ``status.user``, ``status.audiences`` and,
  on failure, ``status.error``. An empty token is a 400.
* SelfSubjectReview (``kubectl auth whoami``): ``status.userInfo`` of the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.authn.types import AuthenticationError, Authenticator, Credentials
from suanli.apiserver.context import UserInfo
from suanli.kinds.registry import ResourceType

__all__ = ["GROUP_VERSION", "authentication_review_types", "self_subject_review", "token_review"]

GROUP_VERSION = "authentication.k8s.io/v1"
#: plural -> kind of the create-only authentication reviews (all cluster-scoped)
REVIEW_KINDS = {"selfsubjectreviews": "SelfSubjectReview", "tokenreviews": "TokenReview"}


def authentication_review_types() -> list[ResourceType]:
    """The two kinds for discovery (verbs: create only), as kube-apiserver lists them."""
    group, version = GROUP_VERSION.split("/")
    return [ResourceType(group, version, kind, plural, kind.lower(), False, verbs=("create",),
                         has_spec_generation=False) for plural, kind in REVIEW_KINDS.items()]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_kind(body: Any, kind: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError.bad_request(f"the body must be an {GROUP_VERSION} {kind}")
    if body.get("kind") not in (None, kind):
        raise ApiError.bad_request(f"kind: Invalid value: {body.get('kind')!r}: must be {kind}")
    return body


async def token_review(body: Any, tokens: Authenticator, api_audiences: Sequence[str]) -> Obj:
    """Answer ``POST /apis/authentication.k8s.io/v1/tokenreviews`` using the token authenticators ``tokens``."""
    review = _check_kind(body, "TokenReview")
    spec = review.get("spec") or {}
    token = spec.get("token") if isinstance(spec, dict) else None
    if not isinstance(token, str) or not token:
        raise ApiError.bad_request("token is required for TokenReview in authentication")
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise ApiError.bad_request("spec.audiences: Invalid value: must be a list of strings")
    wanted = tuple(audiences) or tuple(api_audiences)
    status: dict[str, Any] = {"authenticated": False, "user": {}}
    try:
        resp = await tokens.authenticate(Credentials(token=token, audiences=wanted))
    except AuthenticationError as err:
        status["error"] = str(err)
    else:
        if resp is not None:
            status = {"authenticated": True, "user": resp.user.as_review(), "audiences": list(resp.audiences)}
    meta = dict(review.get("metadata") or {})
    meta["creationTimestamp"] = meta.get("creationTimestamp") or None
    return {"kind": "TokenReview", "apiVersion": GROUP_VERSION, "metadata": meta,
            "spec": {**spec, "audiences": list(audiences)} if audiences else dict(spec), "status": status}


def self_subject_review(body: Any, user: UserInfo) -> Obj:
    """Answer ``POST /apis/authentication.k8s.io/v1/selfsubjectreviews`` for the caller ``user``."""
    review = _check_kind(body, "SelfSubjectReview")
    meta = dict(review.get("metadata") or {})
    meta["creationTimestamp"] = _now()
    return {"kind": "SelfSubjectReview", "apiVersion": GROUP_VERSION, "metadata": meta,
            "status": {"userInfo": user.as_review()}}
