"""RBAC evaluation: upstream rbac_test.go's TestRuleMatches and TestAppliesTo tables, and the
policy's decisions (role bindings to cluster roles, service-account namespace defaulting, reasons)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apiserver.authz import Attributes
from suanli.apiserver.authz.bootstrap import bootstrap_cluster_role_bindings, bootstrap_cluster_roles
from suanli.apiserver.authz.rbac import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, ROLE_BINDINGS, ROLES, RbacPolicy
from suanli.apiserver.authz.rules import Rule, Subject, applies_to, rule_allows
from suanli.apiserver.context import UserInfo
from suanli.controllers.clusterroleaggregation import aggregated_rules

U = UserInfo("u", groups=("system:authenticated",))


def res(verb: str, group: str, resource: str, sub: str = "", name: str = "", ns: str = "") -> Attributes:
    return Attributes(U, verb, True, ns, group, "v1", resource, sub, name)


def url(verb: str, path: str) -> Attributes:
    return Attributes(U, verb, resource_request=False, path=path)


def rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None,
         names: list[str] | None = None, urls: list[str] | None = None) -> Rule:
    return Rule(tuple(verbs), tuple(groups or ()), tuple(resources or ()), tuple(names or ()), tuple(urls or ()))


_G2 = [("verb1", "group1", "resource1"), ("verb1", "group2", "resource1"), ("verb1", "group1", "resource2"),
       ("verb1", "group2", "resource2"), ("verb2", "group1", "resource1"), ("verb2", "group2", "resource1"),
       ("verb2", "group1", "resource2"), ("verb2", "group2", "resource2")]
_URLS = ["/foo", "/foo/bar", "/foo/baz", "/foo/bar/one", "/foo/baz/one"]

RULE_MATCHES: list[tuple[str, Rule, list[tuple[Attributes, bool]]]] = [
    ("star verb, exact match other", rule(["*"], ["group1"], ["resource1"]),
     [(res(*r), r[1] == "group1" and r[2] == "resource1") for r in _G2]),
    ("star group, exact match other", rule(["verb1"], ["*"], ["resource1"]),
     [(res(*r), r[0] == "verb1" and r[2] == "resource1") for r in _G2]),
    ("star resource, exact match other", rule(["verb1"], ["group1"], ["*"]),
     [(res(*r), r[0] == "verb1" and r[1] == "group1") for r in _G2]),
    ("tuple expansion", rule(["verb1", "verb2"], ["group1", "group2"], ["resource1", "resource2"]),
     [(res(*r), True) for r in _G2]),
    ("subresource expansion", rule(["*"], ["*"], ["resource1/subresource1"]),
     [(res("verb1", g, r, s), r == "resource1" and s == "subresource1") for g in ("group1", "group2")
      for r, s in (("resource1", "subresource1"), ("resource1", "subresource2"), ("resource2", "subresource1"))]),
    ("star nonresource, exact match other", rule(["verb1"], urls=["*"]),
     [(url(v, u), v == "verb1") for v in ("verb1", "verb2") for u in _URLS]),
    ("star nonresource subpath", rule(["verb1"], urls=["/foo/*"]),
     [(url("verb1", "/foo"), False), (url("verb1", "/foo/bar"), True), (url("verb1", "/foo/baz"), True),
      (url("verb1", "/foo/bar/one"), True), (url("verb1", "/foo/baz/one"), True), (url("verb1", "/notfoo"), False),
      (url("verb1", "/not/foo/*"), False), (url("verb2", "/foo/bar"), False)]),
    ("star verb, exact nonresource", rule(["*"], urls=["/foo", "/foo/bar/one"]),
     [(url(v, u), u in ("/foo", "/foo/bar/one")) for v in ("verb1", "verb2") for u in _URLS]),
    # Suanli additions for the semantics the issue names
    ("pods does not cover pods/log", rule(["get"], [""], ["pods"]),
     [(res("get", "", "pods"), True), (res("get", "", "pods", "log"), False)]),
    ("*/scale covers the scale of any resource", rule(["get"], ["*"], ["*/scale"]),
     [(res("get", "apps", "deployments", "scale"), True), (res("get", "apps", "deployments"), False),
      (res("get", "apps", "deployments", "status"), False)]),
    ("resourceNames never match a nameless request", rule(["get", "list", "create"], [""], ["pods"], ["web"]),
     [(res("get", "", "pods", name="web"), True), (res("get", "", "pods", name="db"), False),
      (res("list", "", "pods"), False), (res("create", "", "pods"), False)]),
]


@pytest.mark.parametrize(("r", "cases"), [(c[1], c[2]) for c in RULE_MATCHES], ids=[c[0] for c in RULE_MATCHES])
def test_rule_matches(r: Rule, cases: list[tuple[Attributes, bool]]) -> None:
    for attrs, want in cases:
        assert rule_allows(attrs, r) is want, attrs


def S(kind: str, name: str, ns: str = "") -> Subject:
    return Subject(kind, name, ns)


APPLIES_TO: list[tuple[str, list[Subject], str, tuple[str, ...], str, int | None]] = [
    ("single subject that matches username", [S("User", "foobar")], "foobar", (), "", 0),
    ("multiple subjects, one that matches username", [S("User", "barfoo"), S("User", "foobar")], "foobar", (), "", 1),
    ("multiple subjects, none that match username", [S("User", "barfoo"), S("User", "foobar")], "zimzam", (), "",
     None),
    ("multiple subjects, one that match group", [S("User", "barfoo"), S("Group", "foobar")], "zimzam", ("foobar",),
     "", 1),
    ("multiple subjects, one that match group, should ignore namespace", [S("User", "barfoo"), S("Group", "foobar")],
     "zimzam", ("foobar",), "namespace1", 1),
    ("multiple subjects with a service account that matches",
     [S("User", "barfoo"), S("Group", "foobar"), S("ServiceAccount", "default", "kube-system")],
     "system:serviceaccount:kube-system:default", (), "default", 2),
    ("* user subject name doesn't match all users", [S("User", "*")], "foobar", (), "default", None),
    ("binding to all authenticated and unauthenticated subjects matches authenticated user",
     [S("Group", "system:authenticated"), S("Group", "system:unauthenticated")], "foobar",
     ("system:authenticated",), "default", 0),
    ("binding to all authenticated and unauthenticated subjects matches anonymous user",
     [S("Group", "system:authenticated"), S("Group", "system:unauthenticated")], "system:anonymous",
     ("system:unauthenticated",), "default", 1),
    # namespace defaulting of ServiceAccount subjects
    ("a service account without namespace defaults to the binding's", [S("ServiceAccount", "ci")],
     "system:serviceaccount:team:ci", (), "team", 0),
    ("a service account without namespace in a cluster binding matches nobody", [S("ServiceAccount", "ci")],
     "system:serviceaccount:team:ci", (), "", None),
]


@pytest.mark.parametrize(("subjects", "user", "groups", "ns", "want"), [c[1:] for c in APPLIES_TO],
                         ids=[c[0] for c in APPLIES_TO])
def test_applies_to(subjects: list[Subject], user: str, groups: tuple[str, ...], ns: str, want: int | None) -> None:
    assert applies_to(user, groups, subjects, ns) == want


def _obj(kind: str, name: str, ns: str = "", **rest: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": ns} if ns else {"name": name}
    return {"kind": kind, "metadata": meta, **rest}


def _policy() -> RbacPolicy:
    p = RbacPolicy()
    p.apply(CLUSTER_ROLES, _obj("ClusterRole", "pod-reader", rules=[
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]), deleted=False)
    p.apply(ROLES, _obj("Role", "cm-writer", "team-a", rules=[
        {"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]}]), deleted=False)
    p.apply(ROLE_BINDINGS, _obj("RoleBinding", "alice-reads", "team-a",
                                roleRef={"kind": "ClusterRole", "name": "pod-reader"},
                                subjects=[{"kind": "User", "name": "alice"}]), deleted=False)
    p.apply(ROLE_BINDINGS, _obj("RoleBinding", "ci-writes", "team-a", roleRef={"kind": "Role", "name": "cm-writer"},
                                subjects=[{"kind": "ServiceAccount", "name": "ci"}]), deleted=False)
    p.apply(CLUSTER_ROLE_BINDINGS, _obj("ClusterRoleBinding", "ops-read", roleRef={"kind": "ClusterRole",
                                                                                     "name": "pod-reader"},
                                        subjects=[{"kind": "Group", "name": "ops"}]), deleted=False)
    p.apply(ROLE_BINDINGS, _obj("RoleBinding", "dangling", "team-b", roleRef={"kind": "Role", "name": "gone"},
                                subjects=[{"kind": "User", "name": "alice"}]), deleted=False)
    return p


ALICE = UserInfo("alice", groups=("system:authenticated",))
CI = UserInfo("system:serviceaccount:team-a:ci", groups=("system:serviceaccounts", "system:serviceaccounts:team-a",
                                                          "system:authenticated"))
OPS = UserInfo("bob", groups=("ops", "system:authenticated"))

DECISIONS = [
    ("a role binding grants a cluster role in its namespace", ALICE, "list", "pods", "team-a", True,
     'RBAC: allowed by RoleBinding "alice-reads/team-a" of ClusterRole "pod-reader" to User "alice"'),
    ("the same binding grants nothing in another namespace", ALICE, "list", "pods", "team-c", False, ""),
    ("nor cluster-wide", ALICE, "list", "pods", "", False, ""),
    ("a missing role is reported as the reason", ALICE, "list", "pods", "team-b", False,
     'RBAC: role.rbac.authorization.k8s.io "gone" not found'),
    ("a service account subject defaults to the binding namespace", CI, "create", "configmaps", "team-a", True,
     'RBAC: allowed by RoleBinding "ci-writes/team-a" of Role "cm-writer" to ServiceAccount "ci/team-a"'),
    ("a group cluster binding applies everywhere", OPS, "get", "pods", "anywhere", True,
     'RBAC: allowed by ClusterRoleBinding "ops-read" of ClusterRole "pod-reader" to Group "ops"'),
    ("verbs not in the rule are denied", OPS, "delete", "pods", "anywhere", False, ""),
]


@pytest.mark.parametrize(("user", "verb", "resource", "ns", "allowed", "reason"), [c[1:] for c in DECISIONS],
                         ids=[c[0] for c in DECISIONS])
def test_policy_decisions(user: UserInfo, verb: str, resource: str, ns: str, allowed: bool, reason: str) -> None:
    d = _policy().authorize(Attributes(user, verb, True, ns, "", "v1", resource))
    assert (d.allowed, d.reason) == (allowed, reason)


def test_deleting_a_binding_revokes_and_reindexes() -> None:
    p = _policy()
    attrs = Attributes(ALICE, "list", True, "team-a", "", "v1", "pods")
    assert p.authorize(attrs).allowed
    p.apply(ROLE_BINDINGS, _obj("RoleBinding", "alice-reads", "team-a"), deleted=True)
    assert not p.authorize(attrs).allowed
    assert ("user", "alice") not in p.index["team-a"]


def test_updating_a_role_changes_what_its_bindings_grant() -> None:
    p = _policy()
    attrs = Attributes(OPS, "watch", True, "x", "", "v1", "pods")
    assert not p.authorize(attrs).allowed
    p.apply(CLUSTER_ROLES, _obj("ClusterRole", "pod-reader", rules=[{"verbs": ["watch"], "apiGroups": [""],
                                                                     "resources": ["pods"]}]), deleted=False)
    assert p.authorize(attrs).allowed


def _bootstrapped() -> RbacPolicy:
    roles = bootstrap_cluster_roles([])
    for r in roles:
        if r.get("aggregationRule"):
            r["rules"] = aggregated_rules(r, roles)
    # aggregation chains (view → edit → admin) settle after a second pass, as the controller re-queues
    for r in roles:
        if r.get("aggregationRule"):
            r["rules"] = aggregated_rules(r, roles)
    p = RbacPolicy()
    for r in roles:
        p.apply(CLUSTER_ROLES, r, deleted=False)
    for b in bootstrap_cluster_role_bindings():
        p.apply(CLUSTER_ROLE_BINDINGS, b, deleted=False)
    for level in ("admin", "edit", "view"):
        p.apply(ROLE_BINDINGS, _obj("RoleBinding", level, "ns", roleRef={"kind": "ClusterRole", "name": level},
                                    subjects=[{"kind": "User", "name": level}]), deleted=False)
    return p


BOOTSTRAP = [
    ("view reads pods", "view", "get", "", "pods", "", True),
    ("view reads pods/log", "view", "get", "", "pods", "log", True),
    ("view cannot read secrets", "view", "get", "", "secrets", "", False),
    ("view cannot exec", "view", "create", "", "pods", "exec", False),
    ("edit execs into pods", "edit", "create", "", "pods", "exec", True),
    ("edit reads secrets", "edit", "get", "", "secrets", "", True),
    ("edit reads what view reads", "edit", "get", "", "pods", "log", True),
    ("edit cannot manage roles", "edit", "create", "rbac.authorization.k8s.io", "roles", "", False),
    ("edit manages leases", "edit", "update", "coordination.k8s.io", "leases", "", True),
    ("edit writes events", "edit", "create", "", "events", "", True),
    ("view cannot write events", "view", "create", "", "events", "", False),
    ("admin manages role bindings", "admin", "create", "rbac.authorization.k8s.io", "rolebindings", "", True),
    ("admin has everything edit has", "admin", "patch", "apps", "deployments", "scale", True),
    ("admin can check others' access locally", "admin", "create", "authorization.k8s.io",
     "localsubjectaccessreviews", "", True),
]


@pytest.mark.parametrize(("user", "verb", "group", "resource", "sub", "allowed"), [c[1:] for c in BOOTSTRAP],
                         ids=[c[0] for c in BOOTSTRAP])
def test_bootstrap_roles_aggregate_admin_over_edit_over_view(user: str, verb: str, group: str, resource: str,
                                                             sub: str, allowed: bool) -> None:
    attrs = Attributes(UserInfo(user, groups=("system:authenticated",)), verb, True, "ns", group, "v1", resource, sub)
    assert _bootstrapped().authorize(attrs).allowed is allowed


def test_every_authenticated_user_may_discover_and_review_itself() -> None:
    p = _bootstrapped()
    nobody = UserInfo("nobody", groups=("system:authenticated",))
    assert p.authorize(Attributes(nobody, "get", resource_request=False, path="/apis/apps/v1")).allowed
    assert p.authorize(Attributes(nobody, "create", True, "", "authorization.k8s.io", "v1",
                                  "selfsubjectaccessreviews")).allowed
    anonymous = UserInfo("system:anonymous", groups=("system:unauthenticated",))
    assert p.authorize(Attributes(anonymous, "get", resource_request=False, path="/healthz")).allowed
    assert not p.authorize(Attributes(anonymous, "get", resource_request=False, path="/apis")).allowed


def test_always_allow_answers_reviews_with_everything() -> None:
    from suanli.apiserver.authz import AlwaysAllow
    from suanli.apiserver.authz.reviews import review

    me = UserInfo("me", groups=("system:authenticated",))
    rules = review("selfsubjectrulesreviews", {"spec": {"namespace": "x"}}, requester=me, namespace="",
                   authorizer=AlwaysAllow(), resolver=None)["status"]
    assert rules["resourceRules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    assert rules["nonResourceRules"] == [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
    access = review("selfsubjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "delete",
                                                                                 "resource": "nodes"}}},
                    requester=me, namespace="", authorizer=AlwaysAllow(), resolver=None)
    assert access["status"] == {"allowed": True}
