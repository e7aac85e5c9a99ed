"""Authorization: the request attributes an :class:`Authorizer` decides on, and its decision.

The shapes follow kube-apiserver's ``authorizer.Attributes`` and ``authorizer.Decision``:
a resource request carries verb, API group/version, resource, subresource, namespace and name;
a non-resource request carries the path. :class:`AlwaysAllow` is the authorizer of
``--authorization-mode AlwaysAllow`` (and of in-process components, which act as
``system:admin``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from suanli.apiserver.context import UserInfo

__all__ = ["AlwaysAllow", "Attributes", "Authorizer", "Decision", "SelectorRequirement"]


class SelectorRequirement(NamedTuple):
    """One field or label selector requirement as an authorizer sees it (the SubjectAccessReview
    shape): ``operator`` ``In``/``NotIn``/``Exists``/``DoesNotExist`` (field selectors: ``In``/``NotIn``
    with one value)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


class Attributes(NamedTuple):
    """One request as the authorizer sees it (upstream's ``AttributesRecord``).

    ``verb`` is the Kubernetes verb (``get list watch create update patch delete deletecollection``,
    or ``impersonate``/``use``/``bind``/``escalate``/``approve``/``sign`` for special checks, or the
    lower-case HTTP method for a non-resource request). ``resource_request`` tells the two apart.
    ``field_selector``/``label_selector``: the selectors of a list/watch/deletecollection request
    (upstream's AuthorizeWithSelectors; RBAC ignores them, an authorizer that restricts by selector
    would read them). A named tuple: built for every request, so construction must be cheap.
    """

    user: UserInfo
    verb: str
    resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    field_selector: tuple[SelectorRequirement, ...] = ()
    label_selector: tuple[SelectorRequirement, ...] = ()


@dataclass(frozen=True)
class Decision:
    """``allowed`` or not; ``reason`` is appended to the 403 message when not empty."""

    allowed: bool
    reason: str = ""


class Authorizer(Protocol):
    """Decides whether one request may proceed. Must not block (it runs on the event loop)."""

    def authorize(self, attrs: Attributes) -> Decision: ...


class AlwaysAllow:
    """Allows every request (``--authorization-mode AlwaysAllow``)."""

    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(True)
