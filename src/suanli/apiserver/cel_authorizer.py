"""The CEL ``authorizer`` variable (upstream ``k8s.io/apiserver/pkg/cel/library/authz.go``) for cel-python.

Expressions ask the API server's authorizer about the request's user::

    authorizer.group('apps').resource('deployments').namespace('ns').name('web').check('update').allowed()
    authorizer.path('/healthz').check('get').allowed()
    authorizer.serviceAccount('ns', 'builder').group('').resource('pods').check('list').reason()
    authorizer.requestResource.check('delete').allowed()    # the resource of the admission request

:func:`authorizer_value` builds the variable; :data:`LIBRARY` holds the receiver functions
(``path``, ``group``, ``serviceAccount``, ``resource``, ``subresource``, ``namespace``, ``name``,
``fieldSelector``, ``labelSelector``, ``check``, ``allowed``, ``reason``, ``errored``, ``error``)
to bind into the program. As upstream: a resource check asks with API version ``*``; an empty
path or resource, an invalid ServiceAccount name or namespace is an evaluation error; selectors
that do not parse carry none (the authorizer decides without them); ``errored()`` is false and
``error()`` empty (our authorizers do not fail); a function applied to the wrong receiver is
``no such overload``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from celpy import celtypes

from suanli.apiserver.authz import Attributes, Authorizer, Decision
from suanli.apiserver.authz.selectors import request_selectors
from suanli.apiserver.context import UserInfo

__all__ = ["LIBRARY", "authorizer_value"]

_SA_PREFIX = "system:serviceaccount:"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class AuthorizerVal(celtypes.MapType):
    """``authorizer``: a map so ``authorizer.requestResource`` reads as a field, with receiver functions."""

    def __init__(self, authorizer: Authorizer, user: UserInfo) -> None:
        super().__init__({})
        self.authorizer = authorizer
        self.user = user


@dataclass(frozen=True)
class PathCheck:
    authz: AuthorizerVal
    path: str


@dataclass(frozen=True)
class GroupCheck:
    authz: AuthorizerVal
    group: str


@dataclass(frozen=True)
class ResourceCheck:
    authz: AuthorizerVal
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    field_selector: str = ""
    label_selector: str = ""


@dataclass(frozen=True)
class DecisionVal:
    decision: Decision


def authorizer_value(authorizer: Authorizer, user: UserInfo,
                     request_resource: tuple[str, str, str, str, str] | None = None) -> AuthorizerVal:
    """The ``authorizer`` variable for ``user``; ``request_resource`` (group, resource, subresource,
    namespace, name) of the admission request becomes ``authorizer.requestResource``."""
    authz = AuthorizerVal(authorizer, user)
    if request_resource is not None:
        group, resource, sub, ns, name = request_resource
        cast(dict[Any, Any], authz)[celtypes.StringType("requestResource")] = \
            ResourceCheck(authz, group, resource, sub, ns, name)
    return authz


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("no such overload")
    return str(value)


def _expect(value: Any, cls: type[Any]) -> Any:
    if not isinstance(value, cls):
        raise TypeError("no such overload")
    return value


class _EvalError(Exception):
    """An evaluation error with upstream's message (cel-python reports it as the expression's error)."""


def _path(a: Any, path: Any) -> PathCheck:
    authz, p = _expect(a, AuthorizerVal), _str(path)
    if not p.strip():
        raise _EvalError("path must not be empty")
    return PathCheck(authz, p)


def _group(a: Any, group: Any) -> GroupCheck:
    return GroupCheck(_expect(a, AuthorizerVal), _str(group))


def _dns_label(text: str) -> bool:
    return len(text) <= 63 and _DNS_LABEL.match(text) is not None


def _dns_subdomain(text: str) -> bool:
    return len(text) <= 253 and all(_dns_label(part) for part in text.split("."))


def _service_account(a: Any, namespace: Any, name: Any) -> AuthorizerVal:
    authz, ns, n = _expect(a, AuthorizerVal), _str(namespace), _str(name)
    if not _dns_subdomain(n):
        raise _EvalError("Invalid service account name")
    if not _dns_label(ns):
        raise _EvalError("Invalid service account namespace")
    user = UserInfo(f"{_SA_PREFIX}{ns}:{n}", groups=("system:serviceaccounts", f"system:serviceaccounts:{ns}"))
    return AuthorizerVal(authz.authorizer, user)


def _resource(g: Any, resource: Any) -> ResourceCheck:
    check, r = _expect(g, GroupCheck), _str(resource)
    if not r.strip():
        raise _EvalError("resource must not be empty")
    return ResourceCheck(check.authz, check.group, r)


def _setter(field: str) -> Callable[[Any, Any], ResourceCheck]:
    def set_field(rc: Any, value: Any) -> ResourceCheck:
        check: ResourceCheck = _expect(rc, ResourceCheck)
        changes: dict[str, Any] = {field: _str(value)}
        return replace(check, **changes)
    return set_field


def _check(target: Any, verb: Any) -> DecisionVal:
    v = _str(verb)
    if isinstance(target, PathCheck):
        return DecisionVal(target.authz.authorizer.authorize(
            Attributes(target.authz.user, v, resource_request=False, path=target.path)))
    rc = _expect(target, ResourceCheck)
    query = {k: s for k, s in (("fieldSelector", rc.field_selector), ("labelSelector", rc.label_selector)) if s}
    fields, labels = request_selectors("list", query) if query else ((), ())
    return DecisionVal(rc.authz.authorizer.authorize(
        Attributes(rc.authz.user, v, True, rc.namespace, rc.group, "*", rc.resource, rc.subresource, rc.name, "",
                   fields, labels)))


def _allowed(d: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_expect(d, DecisionVal).decision.allowed)


def _reason(d: Any) -> celtypes.StringType:
    return celtypes.StringType(_expect(d, DecisionVal).decision.reason)


def _errored(d: Any) -> celtypes.BoolType:
    _expect(d, DecisionVal)
    return celtypes.BoolType(False)


def _error(d: Any) -> celtypes.StringType:
    _expect(d, DecisionVal)
    return celtypes.StringType("")


#: the receiver functions, as (name, function) pairs (hashable, so programs can be cached per library)
LIBRARY: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("path", _path), ("group", _group), ("serviceAccount", _service_account), ("resource", _resource),
    ("subresource", _setter("subresource")), ("namespace", _setter("namespace")), ("name", _setter("name")),
    ("fieldSelector", _setter("field_selector")), ("labelSelector", _setter("label_selector")),
    ("check", _check), ("allowed", _allowed), ("reason", _reason), ("errored", _errored), ("error", _error),
)
