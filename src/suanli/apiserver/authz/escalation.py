"""RBAC escalation prevention (upstream pkg/registry/rbac: policybased storage and validation).

A user may create or update a Role/ClusterRole only with rules it already holds (in the role's
namespace; cluster-wide for a ClusterRole) unless it is in ``system:masters`` or holds
``escalate`` on that role; setting an ``aggregationRule`` requires holding everything. A user may
create or update a binding only if it holds ``bind`` on the referenced role or every rule of that
role. Refusals are 403 with upstream's text, e.g. ``roles.rbac.authorization.k8s.io "r" is
forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions
not currently held:`` followed by one compact rule per line.

:class:`EscalationCheck` is a validating admission plug-in over the four RBAC kinds.
"""

from __future__ import annotations

from collections.abc import Iterable

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.authz import Attributes
from suanli.apiserver.authz.rbac import BUCKETS, PRIVILEGED_GROUP, RBAC_GROUP, RbacAuthorizer
from suanli.apiserver.authz.rules import Rule
from suanli.apiserver.context import UserInfo

__all__ = ["EscalationCheck", "breakdown", "compact_string", "covers"]

FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))


def breakdown(rule: Rule) -> list[Rule]:
    """Upstream ``BreakdownRule``: one rule per group, resource, verb (and name), and per URL and verb."""
    out: list[Rule] = []
    for g in rule.api_groups:
        for r in rule.resources:
            for v in rule.verbs:
                if rule.resource_names:
                    out.extend(Rule((v,), (g,), (r,), (n,)) for n in rule.resource_names)
                else:
                    out.append(Rule((v,), (g,), (r,)))
    for url in rule.non_resource_urls:
        out.extend(Rule((v,), non_resource_urls=(url,)) for v in rule.verbs)
    return out


def _resources_cover(owner: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if "*" in owner:
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def _rule_covers(owner: Rule, sub: Rule) -> bool:
    verbs = "*" in owner.verbs or all(v in owner.verbs for v in sub.verbs)
    groups = "*" in owner.api_groups or all(g in owner.api_groups for g in sub.api_groups)
    urls = all(any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.non_resource_urls)
    if not sub.resource_names:
        names = not owner.resource_names
    else:
        names = not owner.resource_names or all(n in owner.resource_names for n in sub.resource_names)
    return verbs and groups and _resources_cover(owner.resources, sub.resources) and urls and names


def covers(owner: Iterable[Rule], servant: Iterable[Rule]) -> tuple[bool, list[Rule]]:
    """Upstream ``Covers``: do ``owner`` rules hold every atomic permission of ``servant``? And which are missing."""
    owned = list(owner)
    missing = [sub for rule in servant for sub in breakdown(rule) if not any(_rule_covers(o, sub) for o in owned)]
    return not missing, missing


def _go_list(values: tuple[str, ...]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """Upstream ``CompactString``: ``{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}``."""
    parts = [f"{label}:{_go_list(vals)}" for label, vals in (
        ("APIGroups", rule.api_groups), ("Resources", rule.resources), ("ResourceNames", rule.resource_names),
        ("NonResourceURLs", rule.non_resource_urls), ("Verbs", rule.verbs)) if vals]
    return "{" + ", ".join(parts) + "}"


def _compact(rules: list[Rule]) -> list[Rule]:
    """Upstream ``CompactRules``: merge the verbs of single-group, single-resource (≤ 1 name) rules."""
    out: list[Rule] = []
    simple: dict[tuple[str, str, tuple[str, ...]], Rule] = {}
    for r in rules:
        if not r.non_resource_urls and len(r.api_groups) == 1 and len(r.resources) == 1 and len(r.resource_names) <= 1:
            key = (r.api_groups[0], r.resources[0], r.resource_names)
            have = simple.get(key)
            simple[key] = r if have is None else Rule(have.verbs + r.verbs, have.api_groups, have.resources,
                                                      have.resource_names)
        else:
            out.append(r)
    return out + list(simple.values())


class EscalationCheck:
    """Validating admission: no role or binding may grant more than its author holds."""

    name = "RBACEscalation"

    def __init__(self, authorizer: RbacAuthorizer) -> None:
        self.authorizer = authorizer
        self.resources = frozenset(BUCKETS)

    def validate(self, request: AdmissionRequest) -> None:
        if request.operation not in ("CREATE", "UPDATE") or request.subresource or request.obj is None:
            return
        user = request.user_info
        if PRIVILEGED_GROUP in user.groups:
            return
        plural = request.resource.plural
        qualified = f"{plural}.{RBAC_GROUP}"
        obj = request.obj
        if plural in ("roles", "clusterroles"):
            if self._allowed(user, "escalate", plural, request.namespace, request.name):
                return
            rules = [Rule.from_obj(r) for r in obj.get("rules") or [] if isinstance(r, dict)]
            if request.operation == "UPDATE" and request.old is not None and \
                    rules == [Rule.from_obj(r) for r in request.old.get("rules") or [] if isinstance(r, dict)] and \
                    obj.get("aggregationRule") == request.old.get("aggregationRule"):
                return  # rules unchanged: nothing granted
            self._confirm(user, request.namespace, rules, qualified, request.name)
            if plural == "clusterroles" and obj.get("aggregationRule"):
                ok, _ = covers(self.authorizer.rules_for(user, "")[0], FULL_AUTHORITY)
                if not ok:
                    raise ApiError(403, "Forbidden", f'{qualified} "{request.name}" is forbidden: must have '
                                   "cluster-admin privileges to use the aggregationRule", kind=plural,
                                   name=request.name, group=RBAC_GROUP)
            return
        ref = obj.get("roleRef") or {}
        ref_kind, ref_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        ref_plural = "clusterroles" if ref_kind == "ClusterRole" else "roles"
        if self._allowed(user, "bind", ref_plural, request.namespace, ref_name):
            return
        policy = self.authorizer.sync()
        if ref_kind == "ClusterRole":
            role_rules = policy.cluster_roles.get(ref_name)
            missing = f'clusterrole.{RBAC_GROUP} "{ref_name}" not found'
        else:
            role_rules = policy.roles.get((request.namespace, ref_name))
            missing = f'role.{RBAC_GROUP} "{ref_name}" not found'
        if role_rules is None:
            raise ApiError(403, "Forbidden", f'{qualified} "{request.name}" is forbidden: {missing}', kind=plural,
                           name=request.name, group=RBAC_GROUP)
        self._confirm(user, request.namespace, list(role_rules), qualified, request.name)

    def _allowed(self, user: UserInfo, verb: str, plural: str, namespace: str, name: str) -> bool:
        attrs = Attributes(user, verb, True, namespace, RBAC_GROUP, "v1", plural, "", name)
        return self.authorizer.authorize(attrs).allowed

    def _confirm(self, user: UserInfo, namespace: str, rules: list[Rule], qualified: str, name: str) -> None:
        owned, errors = self.authorizer.rules_for(user, namespace)
        ok, missing = covers(owned, rules)
        if ok:
            return
        lines = sorted({compact_string(r) for r in _compact(missing)})
        groups = "[" + " ".join(f'"{g}"' for g in user.groups) + "]"
        msg = (f'user "{user.name}" (groups={groups}) is attempting to grant RBAC permissions not currently held:\n'
               + "\n".join(lines))
        if errors:
            msg += f"; resolution errors: [{', '.join(errors)}]"
        raise ApiError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {msg}', kind=qualified.split(".")[0],
                       name=name, group=RBAC_GROUP)
