"""The RBAC authorizer: Roles, ClusterRoles and their bindings, indexed by subject.

:class:`RbacPolicy` holds the four kinds decoded into :class:`~.rules.Rule` tuples, with the
bindings indexed by the subject key they match (user name — User and ServiceAccount subjects —
or group name), per namespace for RoleBindings. Answering a request therefore looks only at the
bindings naming the requesting user or one of its groups, never at all bindings.

:class:`RbacAuthorizer` keeps an :class:`RbacPolicy` current from store watches on the four
buckets. Before every decision it drains the watchers synchronously (no event-loop hop), so a
binding whose write has returned is in effect for the next request. Decisions follow upstream's
``RBACAuthorizer.Authorize``: cluster role bindings first, then role bindings of the request's
namespace; allowed with reason ``RBAC: allowed by …`` from the first rule that allows; denied
with no reason, or ``RBAC: <errors>`` when a referenced role is missing. ``system:masters``
is allowed before RBAC is consulted, as kube-apiserver's privileged-group authorizer does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from suanli.apiserver.authz import Attributes, Decision
from suanli.apiserver.authz.rules import Rule, Subject, rule_allows, subject_user_key
from suanli.apiserver.context import UserInfo
from suanli.storage import ExpiredError, Store, Watcher, WatchEvent

__all__ = ["BUCKETS", "RBAC_GROUP", "RbacAuthorizer", "RbacPolicy", "RuleSource"]

log = logging.getLogger(__name__)

RBAC_GROUP = "rbac.authorization.k8s.io"
PRIVILEGED_GROUP = "system:masters"
ROLES = f"{RBAC_GROUP}/roles"
CLUSTER_ROLES = f"{RBAC_GROUP}/clusterroles"
ROLE_BINDINGS = f"{RBAC_GROUP}/rolebindings"
CLUSTER_ROLE_BINDINGS = f"{RBAC_GROUP}/clusterrolebindings"
BUCKETS = (ROLES, CLUSTER_ROLES, ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS)

SubjectKey = tuple[str, str]
_CACHE_LIMIT = 16384


@dataclass(frozen=True, slots=True)
class _Binding:
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]

    def describe(self, matched: Subject) -> str:
        if self.namespace:
            return (f'RoleBinding "{self.name}/{self.namespace}" of {self.role_kind} "{self.role_name}" to '
                    f"{matched.describe(self.namespace)}")
        return (f'ClusterRoleBinding "{self.name}" of {self.role_kind} "{self.role_name}" to '
                f"{matched.describe('')}")


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Rules reached through one binding (``rules`` is empty and ``error`` set for a missing role)."""

    binding: str
    rules: tuple[Rule, ...]
    error: str = ""


def _binding(obj: dict[str, Any]) -> _Binding:
    meta = obj.get("metadata") or {}
    ref = obj.get("roleRef") or {}
    return _Binding(str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(ref.get("kind") or ""),
                    str(ref.get("name") or ""),
                    tuple(Subject.from_obj(s) for s in obj.get("subjects") or [] if isinstance(s, dict)))


def _rules(obj: dict[str, Any]) -> tuple[Rule, ...]:
    return tuple(Rule.from_obj(r) for r in obj.get("rules") or [] if isinstance(r, dict))


_Resolved = tuple[tuple[tuple[Rule, "_Binding", Subject], ...], tuple[str, ...]]


@dataclass
class RbacPolicy:
    """Decoded roles and subject-indexed bindings; mutate with :meth:`apply`, read with
    :meth:`authorize` / :meth:`rules_for`. One namespace key ``""`` holds the cluster role bindings."""

    cluster_roles: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    roles: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    bindings: dict[tuple[str, str], _Binding] = field(default_factory=dict)
    #: namespace ("" = cluster) → subject key → binding names (dict as an ordered set)
    index: dict[str, dict[SubjectKey, dict[str, None]]] = field(default_factory=dict)
    _cache: dict[tuple[str, tuple[str, ...], str], _Resolved] = field(default_factory=dict, repr=False)
    _decisions: dict[tuple[str, tuple[str, ...], tuple[Any, ...]], Decision] = field(default_factory=dict,
                                                                                      repr=False)

    def apply(self, bucket: str, obj: dict[str, Any], deleted: bool) -> None:
        """Add, replace or (``deleted``) remove one stored object of ``bucket``."""
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        self._cache.clear()
        self._decisions.clear()
        if bucket == CLUSTER_ROLES:
            if deleted:
                self.cluster_roles.pop(name, None)
            else:
                self.cluster_roles[name] = _rules(obj)
        elif bucket == ROLES:
            if deleted:
                self.roles.pop((ns, name), None)
            else:
                self.roles[(ns, name)] = _rules(obj)
        elif bucket in (ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS):
            ns = ns if bucket == ROLE_BINDINGS else ""
            self._unindex(ns, name)
            if not deleted:
                b = _binding(obj)
                self._index(b if b.namespace == ns else replace(b, namespace=ns))

    def _index(self, b: _Binding) -> None:
        self.bindings[(b.namespace, b.name)] = b
        by_subject = self.index.setdefault(b.namespace, {})
        for s in b.subjects:
            key = subject_user_key(s, b.namespace)
            if key is not None:
                by_subject.setdefault(key, {})[b.name] = None

    def _unindex(self, ns: str, name: str) -> None:
        old = self.bindings.pop((ns, name), None)
        if old is None:
            return
        by_subject = self.index.get(ns, {})
        for s in old.subjects:
            key = subject_user_key(s, ns)
            names = by_subject.get(key) if key is not None else None
            if names is not None:
                names.pop(name, None)
                if not names:
                    del by_subject[key]  # type: ignore[arg-type]

    def _role_rules(self, b: _Binding) -> tuple[tuple[Rule, ...] | None, str]:
        if b.role_kind == "ClusterRole":
            rules = self.cluster_roles.get(b.role_name)
            return rules, f'clusterrole.{RBAC_GROUP} "{b.role_name}" not found'
        if b.role_kind == "Role" and b.namespace:
            rules = self.roles.get((b.namespace, b.role_name))
            return rules, f'role.{RBAC_GROUP} "{b.role_name}" not found'
        return None, f"unsupported role reference kind: {b.role_kind!r}"

    def _matching(self, user: UserInfo, namespace: str) -> Iterator[tuple[_Binding, Subject]]:
        """Bindings that apply to ``user`` (cluster ones, then ``namespace``'s), each once, with the
        first subject that matched it."""
        keys: list[SubjectKey] = [("user", user.name), *(("group", g) for g in user.groups)]
        for ns in ("", namespace) if namespace else ("",):
            by_subject = self.index.get(ns)
            if not by_subject:
                continue
            seen: set[str] = set()
            for key in keys:
                for name in by_subject.get(key, ()):
                    if name in seen:
                        continue
                    seen.add(name)
                    b = self.bindings[(ns, name)]
                    yield b, next(s for s in b.subjects if subject_user_key(s, ns) == key)

    def _resolve(self, user: UserInfo, namespace: str) -> _Resolved:
        """Upstream ``VisitRulesFor`` flattened: every (rule, binding, subject) that applies to ``user``
        in ``namespace``, in visiting order, and the errors met. Cached per (user, groups, namespace)
        until the policy next changes (so a steady stream of one user's requests costs a dict lookup
        and a scan of that user's few rules)."""
        key = (user.name, user.groups, namespace)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        entries: list[tuple[Rule, _Binding, Subject]] = []
        errors: list[str] = []
        for b, subject in self._matching(user, namespace):
            rules, missing = self._role_rules(b)
            if rules is None:
                errors.append(missing)
            else:
                entries.extend((r, b, subject) for r in rules)
        out = (tuple(entries), tuple(errors))
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = out
        return out

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule that applies to ``user`` in ``namespace`` and the errors met (upstream ``RulesFor``)."""
        entries, errors = self._resolve(user, namespace)
        return [e[0] for e in entries], list(errors)

    def authorize(self, attrs: Attributes) -> Decision:
        """The RBAC decision alone (no privileged-group shortcut); decisions are memoised until the
        policy next changes."""
        user = attrs.user
        key = (user.name, user.groups, attrs[1:9] if attrs.resource_request else attrs[1:])  # path: non-resource only
        hit = self._decisions.get(key)
        if hit is not None:
            return hit
        decision = self._decide(attrs)
        if len(self._decisions) >= _CACHE_LIMIT:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision

    def _decide(self, attrs: Attributes) -> Decision:
        entries, errors = self._resolve(attrs.user, attrs.namespace)
        for rule, binding, subject in entries:
            if rule_allows(attrs, rule):
                return Decision(True, f"RBAC: allowed by {binding.describe(subject)}")
        return Decision(False, f"RBAC: [{', '.join(errors)}]" if len(errors) > 1 else
                        f"RBAC: {errors[0]}" if errors else "")


class RbacAuthorizer:
    """``--authorization-mode RBAC``: privileged group, then the RBAC policy kept from the store.

    Call :meth:`start` once the store runs (lists the four buckets and opens watches); until
    then every request not from ``system:masters`` is denied.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.policy = RbacPolicy()
        self._watchers: dict[str, Watcher] = {}

    def start(self) -> None:
        """(Re)build the policy from a list of the four buckets and watch them from there on."""
        for w in self._watchers.values():
            w.close()
        self.policy = RbacPolicy()
        for bucket in BUCKETS:  # list and watch without an await in between: gap-free
            listed = self.store.list(bucket)
            for so in listed.items:
                self.policy.apply(bucket, so.obj, deleted=False)
            self._watchers[bucket] = self.store.watch(bucket, since_rv=listed.revision)

    def stop(self) -> None:
        for w in self._watchers.values():
            w.close()
        self._watchers.clear()

    def sync(self) -> RbacPolicy:
        """Apply every committed change not yet seen; the current policy."""
        for bucket, w in self._watchers.items():
            try:
                events: list[WatchEvent] = w.drain()
            except ExpiredError:
                log.warning("rbac: watch on %s fell behind; relisting", bucket)
                self.start()
                return self.policy
            for ev in events:
                self.policy.apply(bucket, ev.obj.obj, deleted=ev.type == "DELETED")
        return self.policy

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule ``user`` holds in ``namespace`` (everything for ``system:masters``) and the errors met."""
        rules, errors = self.sync().rules_for(user, namespace)
        if PRIVILEGED_GROUP in user.groups:
            rules = [Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)), *rules]
        return rules, errors

    def authorize(self, attrs: Attributes) -> Decision:
        if PRIVILEGED_GROUP in attrs.user.groups:
            return Decision(True)
        return self.sync().authorize(attrs)
