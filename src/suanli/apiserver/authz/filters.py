"""The request filters between authentication and the handlers: impersonation and authorization.

* :func:`impersonate` — upstream's ``WithImpersonation``: ``Impersonate-User`` (a
  ``system:serviceaccount:<ns>:<name>`` user is the ServiceAccount ``<ns>/<name>``),
  ``Impersonate-Group`` (repeatable), ``Impersonate-Uid`` and ``Impersonate-Extra-<key>``
  (key percent-decoded and lower-cased). Each requested identity is authorised separately with
  verb ``impersonate`` on ``users``, ``groups`` or ``serviceaccounts`` (group ``""``) or on
  ``uids`` / ``userextras/<key>`` (group ``authentication.k8s.io``). The impersonated user gets
  ``system:authenticated`` unless it is ``system:anonymous`` or already has
  ``system:authenticated``/``system:unauthenticated``; a ServiceAccount without requested
  groups gets its fixed groups. Deviation: groups, uid or extras without a user is a 400 (upstream
  answers 500 Internal Error).
* :func:`authorize_request` — resolves the request (:mod:`.requestinfo`; list/watch selectors
  via :mod:`.selectors`), asks the authorizer, and raises :func:`forbidden` (kube-apiserver's
  wording) when it does not allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authz import Attributes, Authorizer
from suanli.apiserver.authz.requestinfo import RequestInfo, request_info
from suanli.apiserver.authz.rules import SA_PREFIX
from suanli.apiserver.authz.selectors import request_selectors
from suanli.apiserver.context import UserInfo

__all__ = ["IMPERSONATION_HEADERS", "attributes", "authorize_request", "forbidden", "forbidden_message",
           "impersonate"]

AUTHN_GROUP = "authentication.k8s.io"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
_EXTRA_PREFIX = "impersonate-extra-"
IMPERSONATION_HEADERS = ("impersonate-user", "impersonate-group", "impersonate-uid")
_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(attrs: Attributes) -> str:
    """Upstream ``forbiddenMessage``: who cannot do what, where."""
    user = attrs.user.name
    if not attrs.resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'


def forbidden(attrs: Attributes, reason: str) -> ApiError:
    """The 403 ``Status`` kube-apiserver answers (``responsewriters.Forbidden`` + ``NewForbidden``)."""
    msg = forbidden_message(attrs).translate(_SANITIZE)
    if reason:
        msg = f"{msg}: {reason}"
    resource = attrs.resource if attrs.resource_request else ""
    qualified = f"{resource}.{attrs.api_group}" if attrs.api_group and resource else resource
    if not qualified and not attrs.api_group:
        message = f"forbidden: {msg}"
    elif attrs.name:
        message = f'{qualified} "{attrs.name}" is forbidden: {msg}'
    else:
        message = f"{qualified} is forbidden: {msg}"
    return ApiError(403, "Forbidden", message, kind=resource, name=attrs.name,
                    group=attrs.api_group if attrs.resource_request else "")


def attributes(user: UserInfo, info: RequestInfo, query: dict[str, str] | None = None) -> Attributes:
    """The authorizer's view of a resolved request (with ``query``'s selectors for list/watch/deletecollection)."""
    if not info.resource_request:
        return Attributes(user, info.verb, resource_request=False, path=info.path)
    fields, labels = request_selectors(info.verb, query) if query else ((), ())
    return Attributes(user, info.verb, True, info.namespace, info.api_group, info.api_version, info.resource,
                      info.subresource, info.name, info.path, fields, labels)


def authorize_request(authorizer: Authorizer, user: UserInfo, method: str, path: str, query: dict[str, str], *,
                      verb: str | None = None) -> RequestInfo:
    """Resolve and authorise one request; ``verb`` overrides the resolved verb (e.g. ``create`` for an
    exec WebSocket upgrade). Raises the 403 when not allowed; returns the resolved request."""
    info = request_info(method, path, query)
    if verb is not None and info.resource_request:
        info = RequestInfo(True, info.path, verb, info.api_prefix, info.api_group, info.api_version, info.namespace,
                           info.resource, info.subresource, info.name, info.parts)
    attrs = attributes(user, info, query)
    decision = authorizer.authorize(attrs)
    if not decision.allowed:
        raise forbidden(attrs, decision.reason)
    return info


def _service_account(name: str) -> tuple[str, str] | None:
    if not name.startswith(SA_PREFIX):
        return None
    parts = name[len(SA_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def _check(authorizer: Authorizer, attrs: Attributes) -> None:
    decision = authorizer.authorize(attrs)
    if not decision.allowed:
        raise forbidden(attrs, decision.reason)


def impersonate(authorizer: Authorizer, requestor: UserInfo,
                headers: Sequence[tuple[str, str]]) -> UserInfo:
    """The identity to act as: ``requestor`` itself without impersonation headers, else the
    impersonated user once every requested part is authorised (raises 403/400 otherwise).
    ``headers`` are (lower-case name, value) pairs, repeated names kept."""
    for name, _ in headers:
        if name.startswith("impersonate-"):
            break
    else:
        return requestor
    user_name = ""
    groups: list[str] = []
    extras: dict[str, list[str]] = {}
    uid = ""
    seen = False
    for name, value in headers:
        if name == "impersonate-user":
            user_name, seen = value, True
        elif name == "impersonate-group":
            groups.append(value)
            seen = True
        elif name == "impersonate-uid":
            uid, seen = value, True
        elif name.startswith(_EXTRA_PREFIX):
            extras.setdefault(unquote(name[len(_EXTRA_PREFIX):]).lower(), []).append(value)
            seen = True
    if not seen:
        return requestor
    if not user_name:
        raise ApiError.bad_request("requested impersonation of groups, uid or extra fields without impersonating a "
                                   "user (Impersonate-User is required)")
    sa = _service_account(user_name)
    if sa is not None:
        _check(authorizer, Attributes(requestor, "impersonate", True, sa[0], "", "v1", "serviceaccounts", "", sa[1]))
    else:
        _check(authorizer, Attributes(requestor, "impersonate", True, "", "", "v1", "users", "", user_name))
    for g in groups:
        _check(authorizer, Attributes(requestor, "impersonate", True, "", "", "v1", "groups", "", g))
    for key, values in extras.items():
        for v in values:
            _check(authorizer, Attributes(requestor, "impersonate", True, "", AUTHN_GROUP, "v1", "userextras", key, v))
    if uid:
        _check(authorizer, Attributes(requestor, "impersonate", True, "", AUTHN_GROUP, "v1", "uids", "", uid))
    final_groups = list(groups)
    if sa is not None and not groups:
        final_groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa[0]}"]
    if user_name != ANONYMOUS_USER:
        if not any(g in (ALL_AUTHENTICATED, ALL_UNAUTHENTICATED) for g in final_groups):
            final_groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in final_groups:
        final_groups.append(ALL_UNAUTHENTICATED)
    return UserInfo(user_name, uid, tuple(final_groups), tuple((k, tuple(v)) for k, v in extras.items()))
