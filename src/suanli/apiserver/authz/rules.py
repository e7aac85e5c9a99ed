"""RBAC policy rules and subjects, with upstream's matching semantics.

Ported behaviour (kubernetes pkg/apis/rbac/v1/evaluation_helpers.go and
plugin/pkg/auth/authorizer/rbac/rbac.go, rule.go):

* a verb or API group ``*`` matches any; resources compare as ``resource/subresource``, so a rule
  on ``pods`` does not cover ``pods/log``; ``*`` matches every resource and subresource and
  ``*/scale`` the ``scale`` subresource of any resource;
* ``resourceNames`` empty means every name; otherwise the request's name must be listed, so a
  request without a name (list, create, deletecollection) never matches such a rule;
* ``nonResourceURLs`` match exactly, or by prefix when they end in ``*``;
* a ``User`` subject matches the user name, a ``Group`` subject one of the groups, a
  ``ServiceAccount`` subject the user ``system:serviceaccount:<ns>:<name>`` where ``<ns>``
  defaults to the binding's namespace (so in a ClusterRoleBinding it must be given).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from suanli.apiserver.authz import Attributes

__all__ = ["Rule", "Subject", "applies_to", "rule_allows", "rules_allow", "service_account_user", "subject_user_key"]

SA_PREFIX = "system:serviceaccount:"


def service_account_user(namespace: str, name: str) -> str:
    """The user name of ServiceAccount ``namespace/name``."""
    return f"{SA_PREFIX}{namespace}:{name}"


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``PolicyRule`` (fields as in rbac/v1, as tuples in their given order)."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: Any) -> Rule:
        d = obj if isinstance(obj, dict) else {}
        return cls(_strs(d.get("verbs")), _strs(d.get("apiGroups")), _strs(d.get("resources")),
                   _strs(d.get("resourceNames")), _strs(d.get("nonResourceURLs")))

    def as_obj(self) -> dict[str, list[str]]:
        """The rule as rbac/v1 JSON (empty fields left out, as upstream serialises them)."""
        out: dict[str, list[str]] = {"verbs": list(self.verbs)}
        for key, vals in (("apiGroups", self.api_groups), ("resources", self.resources),
                          ("resourceNames", self.resource_names), ("nonResourceURLs", self.non_resource_urls)):
            if vals:
                out[key] = list(vals)
        return out

    def verb_matches(self, verb: str) -> bool:
        return "*" in self.verbs or verb in self.verbs

    def api_group_matches(self, group: str) -> bool:
        return "*" in self.api_groups or group in self.api_groups

    def resource_matches(self, combined: str, subresource: str) -> bool:
        for res in self.resources:
            if res == "*" or res == combined:
                return True
            if subresource and len(res) == len(subresource) + 2 and res.startswith("*/") and res.endswith(subresource):
                return True
        return False

    def resource_name_matches(self, name: str) -> bool:
        return not self.resource_names or name in self.resource_names

    def non_resource_url_matches(self, path: str) -> bool:
        for url in self.non_resource_urls:
            if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
                return True
        return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    """Upstream ``RuleAllows``: does ``rule`` permit the request ``attrs``?"""
    if attrs.resource_request:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (rule.verb_matches(attrs.verb) and rule.api_group_matches(attrs.api_group)
                and rule.resource_matches(combined, attrs.subresource) and rule.resource_name_matches(attrs.name))
    return rule.verb_matches(attrs.verb) and rule.non_resource_url_matches(attrs.path)


def rules_allow(attrs: Attributes, rules: Iterable[Rule]) -> bool:
    """Upstream ``RulesAllow``: any of ``rules`` permits ``attrs``."""
    return any(rule_allows(attrs, r) for r in rules)


@dataclass(frozen=True, slots=True)
class Subject:
    """A binding subject: ``kind`` User, Group or ServiceAccount."""

    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def from_obj(cls, obj: Any) -> Subject:
        d = obj if isinstance(obj, dict) else {}
        return cls(str(d.get("kind") or ""), str(d.get("name") or ""), str(d.get("namespace") or ""))

    def describe(self, binding_namespace: str) -> str:
        """As upstream's ``describeSubject`` (service accounts as ``name/namespace``)."""
        if self.kind == "ServiceAccount":
            return f'{self.kind} "{self.name}/{self.namespace or binding_namespace}"'
        return f'{self.kind} "{self.name}"'


def subject_user_key(subject: Subject, binding_namespace: str) -> tuple[str, str] | None:
    """The index key a subject matches on: ``("user", name)`` or ``("group", name)``; None when it
    can never match (unknown kind, or a ServiceAccount without a namespace in a cluster binding).

    User and ServiceAccount subjects both compare the user name (upstream ``appliesToUser``)."""
    if subject.kind == "User":
        return ("user", subject.name)
    if subject.kind == "Group":
        return ("group", subject.name)
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or binding_namespace
        return ("user", service_account_user(ns, subject.name)) if ns else None
    return None


def applies_to(user_name: str, groups: Iterable[str], subjects: Iterable[Subject], namespace: str) -> int | None:
    """Upstream ``appliesTo``: the index of the first subject naming the user (or one of its groups)
    in a binding of ``namespace`` ("" for a cluster binding), or None."""
    keys = {("user", user_name), *(("group", g) for g in groups)}
    for i, subject in enumerate(subjects):
        if subject_user_key(subject, namespace) in keys:
            return i
    return None
