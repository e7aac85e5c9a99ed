"""kube-apiserver's audit ``Policy`` (``audit.k8s.io/v1``): parsing, validation and rule evaluation.

CONTRACT

* :func:`load_policy` reads a YAML/JSON ``Policy`` file; :func:`parse_policy` validates a decoded
  document as kube-apiserver does (levels, stages, non-resource URL shapes, resources vs
  non-resource URLs in one rule, resourceNames needing resources) and raises :class:`PolicyError`
  listing every problem as ``<field path>: <message>``.
* :meth:`Policy.evaluate` returns the :class:`RuleEvaluation` of the first rule that matches the
  request (upstream ``policyRuleEvaluator``): level ``None`` when no rule matches; ``omitStages`` is
  the union of the policy's and the rule's; ``omitManagedFields`` is the rule's when set, else the
  policy's. A rule matches when each constraint it sets holds: ``users`` (the user's name),
  ``userGroups`` (any of the user's groups), ``verbs``, then either resource constraints
  (``namespaces``/``resources``: resource requests only; ``resources[].resources`` entries
  ``pods``, ``pods/log``, ``*``, ``*/log``, ``pods/*``; ``resourceNames``) or ``nonResourceURLs``
  (non-resource requests only; exact or ``prefix*``). A request without a user (failed
  authentication) matches only rules without ``users``/``userGroups``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from suanli.apiserver.context import UserInfo

__all__ = ["LEVELS", "STAGES", "Attributes", "Policy", "PolicyError", "PolicyRule", "RuleEvaluation",
           "load_policy", "parse_policy"]

API_VERSION = "audit.k8s.io/v1"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
_RANK = {level: i for i, level in enumerate(LEVELS)}


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; ``errors`` lists ``<field path>: <message>``."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"invalid audit policy {source}: " + "; ".join(errors))


@dataclass(frozen=True)
class Attributes:
    """What a rule is matched against (a subset of the authorizer's attributes)."""

    user: UserInfo | None
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyRule:
    level: str
    users: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    resources: tuple[GroupResources, ...] = ()
    namespaces: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None

    def matches(self, a: Attributes) -> bool:
        if self.users and (a.user is None or a.user.name not in self.users):
            return False
        if self.user_groups and (a.user is None or not any(g in self.user_groups for g in a.user.groups)):
            return False
        if self.verbs and a.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return self._matches_resource(a)
        if self.non_resource_urls:
            return not a.resource_request and any(
                a.path == u or (u.endswith("*") and a.path.startswith(u[:-1])) for u in self.non_resource_urls)
        return True

    def _matches_resource(self, a: Attributes) -> bool:
        if not a.resource_request:
            return False
        if self.namespaces and a.namespace not in self.namespaces:
            return False
        if not self.resources:
            return True
        combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        for gr in self.resources:
            if gr.group != a.api_group:
                continue
            if not gr.resources:
                return True
            if gr.resource_names and a.name not in gr.resource_names:
                continue
            for res in gr.resources:
                if res in (combined, "*"):
                    return True
                if a.subresource and res.startswith("*/") and res[2:] == a.subresource:
                    return True
                if res.endswith("/*") and res[:-2] == a.resource:
                    return True
        return False


@dataclass(frozen=True)
class RuleEvaluation:
    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def at_least(self, level: str) -> bool:
        return _RANK[self.level] >= _RANK[level]


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, a: Attributes) -> RuleEvaluation:
        for rule in self.rules:
            if rule.matches(a):
                omf = rule.omit_managed_fields if rule.omit_managed_fields is not None else self.omit_managed_fields
                return RuleEvaluation(rule.level, self.omit_stages | rule.omit_stages, omf)
        return RuleEvaluation("None", self.omit_stages, self.omit_managed_fields)


def _strings(value: Any, path: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{path}: Invalid value: {value!r}: must be a list of strings")
        return ()
    return tuple(value)


def _stages(value: Any, path: str, errors: list[str]) -> frozenset[str]:
    stages = _strings(value, path, errors)
    for i, s in enumerate(stages):
        if s not in STAGES:
            errors.append(f'{path}[{i}]: Unsupported value: "{s}": supported values: '
                          + ", ".join(f'"{x}"' for x in STAGES))
    return frozenset(stages)


def _rule(doc: Any, path: str, errors: list[str]) -> PolicyRule | None:
    if not isinstance(doc, dict):
        errors.append(f"{path}: Invalid value: {doc!r}: must be an object")
        return None
    level = doc.get("level")
    if not level:
        errors.append(f"{path}.level: Required value")
    elif level not in LEVELS:
        errors.append(f'{path}.level: Unsupported value: "{level}": supported values: '
                      + ", ".join(f'"{x}"' for x in LEVELS))
    groups: list[GroupResources] = []
    for i, gr in enumerate(doc.get("resources") or []):
        gpath = f"{path}.resources[{i}]"
        if not isinstance(gr, dict):
            errors.append(f"{gpath}: Invalid value: {gr!r}: must be an object")
            continue
        resources = _strings(gr.get("resources"), f"{gpath}.resources", errors)
        names = _strings(gr.get("resourceNames"), f"{gpath}.resourceNames", errors)
        if names and not resources:
            errors.append(f"{gpath}.resourceNames: Invalid value: {list(names)!r}: using resourceNames "
                          "requires at least one resource")
        group = gr.get("group") or ""
        if not isinstance(group, str):
            errors.append(f"{gpath}.group: Invalid value: {group!r}: must be a string")
            group = ""
        groups.append(GroupResources(group, resources, names))
    urls = _strings(doc.get("nonResourceURLs"), f"{path}.nonResourceURLs", errors)
    namespaces = _strings(doc.get("namespaces"), f"{path}.namespaces", errors)
    if urls and (groups or namespaces):
        errors.append(f"{path}.nonResourceURLs: Invalid value: {list(urls)!r}: rules cannot apply to both "
                      "regular resources and non-resource URLs")
    for i, url in enumerate(urls):
        if not url.startswith("/") and url != "*":
            errors.append(f'{path}.nonResourceURLs[{i}]: Invalid value: "{url}": non-resource URL rules must '
                          'begin with a "/" character')
        elif "*" in url[:-1]:
            errors.append(f'{path}.nonResourceURLs[{i}]: Invalid value: "{url}": non-resource URL wildcards '
                          '"*" must be the final character of the rule')
    omf = doc.get("omitManagedFields")
    if omf is not None and not isinstance(omf, bool):
        errors.append(f"{path}.omitManagedFields: Invalid value: {omf!r}: must be a boolean")
        omf = None
    return PolicyRule(
        level=str(level or "None"), users=_strings(doc.get("users"), f"{path}.users", errors),
        user_groups=_strings(doc.get("userGroups"), f"{path}.userGroups", errors),
        verbs=_strings(doc.get("verbs"), f"{path}.verbs", errors), resources=tuple(groups),
        namespaces=namespaces, non_resource_urls=urls,
        omit_stages=_stages(doc.get("omitStages"), f"{path}.omitStages", errors), omit_managed_fields=omf)


def parse_policy(doc: Any, source: str = "<policy>") -> Policy:
    """Validate a decoded ``Policy`` document (see the module docstring)."""
    if not isinstance(doc, dict) or doc.get("kind") != "Policy" or doc.get("apiVersion") != API_VERSION:
        got = (doc.get("apiVersion"), doc.get("kind")) if isinstance(doc, dict) else doc
        raise PolicyError(source, [f"apiVersion/kind: expected {API_VERSION} Policy, got {got!r}"])
    errors: list[str] = []
    rules_doc = doc.get("rules")
    if rules_doc is not None and not isinstance(rules_doc, list):
        raise PolicyError(source, [f"rules: Invalid value: {rules_doc!r}: must be a list"])
    rules = [_rule(r, f"rules[{i}]", errors) for i, r in enumerate(rules_doc or [])]
    omit = _stages(doc.get("omitStages"), "omitStages", errors)
    omf = doc.get("omitManagedFields", False)
    if not isinstance(omf, bool):
        errors.append(f"omitManagedFields: Invalid value: {omf!r}: must be a boolean")
    if errors:
        raise PolicyError(source, errors)
    return Policy(tuple(r for r in rules if r is not None), omit, bool(omf))


def load_policy(path: Path | str) -> Policy:
    """Read and validate the policy file ``path``."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(str(path), [str(exc)]) from exc
    return parse_policy(doc, str(path))
