"""Escalation checks: upstream policy_comparator_test.go's Covers tables, CompactString, and the
forbidden / impersonation filters' wording."""

from __future__ import annotations

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.authz import Attributes, Decision
from suanli.apiserver.authz.escalation import compact_string, covers
from suanli.apiserver.authz.filters import forbidden, impersonate
from suanli.apiserver.authz.rules import Rule
from suanli.apiserver.context import UserInfo


def r(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None,
      names: list[str] | None = None, urls: list[str] | None = None) -> Rule:
    return Rule(tuple(verbs), tuple(groups or ()), tuple(resources or ()), tuple(names or ()), tuple(urls or ()))


COVERS: list[tuple[str, list[Rule], list[Rule], bool, list[Rule]]] = [
    ("exact match", [r(["get"], ["v1"], ["builds"])], [r(["get"], ["v1"], ["builds"])], True, []),
    ("subresource wildcard", [r(["get"], ["v1"], ["*/scale"])], [r(["get"], ["v1"], ["foo/scale"])], True, []),
    ("multiple rules covering single rule",
     [r(["delete"], ["v1"], ["deployments"]), r(["delete"], ["v1"], ["builds"]),
      r(["update"], ["v1"], ["builds", "deployments"])],
     [r(["delete", "update"], ["v1"], ["builds", "deployments"])], True, []),
    ("multiple API groups covering single rule",
     [r(["delete"], ["group1"], ["deployments"]), r(["delete"], ["group1"], ["builds"]),
      r(["update"], ["group1"], ["builds", "deployments"]), r(["delete"], ["group2"], ["deployments"]),
      r(["delete"], ["group2"], ["builds"]), r(["update"], ["group2"], ["builds", "deployments"])],
     [r(["delete", "update"], ["group1", "group2"], ["builds", "deployments"])], True, []),
    ("single API group covering multiple",
     [r(["delete", "update"], ["group1", "group2"], ["builds", "deployments"])],
     [r(["delete"], ["group1"], ["deployments"]), r(["update"], ["group2"], ["builds"])], True, []),
    ("multiple rules missing single verb resource combination",
     [r(["delete", "update"], ["v1"], ["builds", "deployments"]), r(["delete"], ["v1"], ["pods"])],
     [r(["delete", "update"], ["v1"], ["builds", "pods"])], False, [r(["update"], ["v1"], ["pods"])]),
    ("API group star covering multiple", [r(["get"], ["*"], ["roles"])], [r(["get"], ["group1", "group2"], ["roles"])],
     True, []),
    ("enumeration not covering API group star", [r(["get"], ["dummy-group"], ["roles"])],
     [r(["get"], ["*"], ["roles"])], False, [r(["get"], ["*"], ["roles"])]),
    ("API group star covering star", [r(["get"], ["*"], ["roles"])], [r(["get"], ["*"], ["roles"])], True, []),
    ("verb star covering multiple", [r(["*"], ["v1"], ["roles"])], [r(["watch", "list"], ["v1"], ["roles"])], True,
     []),
    ("enumeration not covering verb star", [r(["get", "list", "watch", "create", "update", "delete",
                                               "exec"], ["v1"], ["roles"])],
     [r(["*"], ["v1"], ["roles"])], False, [r(["*"], ["v1"], ["roles"])]),
    ("resource star covering multiple", [r(["get"], ["v1"], ["*"])],
     [r(["get"], ["v1"], ["resourcegroup:deployments"])], True, []),
    ("enumeration not covering resource star", [r(["get"], ["v1"], ["roles", "resourcegroup:deployments"])],
     [r(["get"], ["v1"], ["*"])], False, [r(["get"], ["v1"], ["*"])]),
    ("resource name empty covering multiple", [r(["get"], ["v1"], ["pods"])],
     [r(["get"], ["v1"], ["pods"], ["foo", "bar"])], True, []),
    ("enumeration not covering resource name empty", [r(["get"], ["v1"], ["pods"], ["foo", "bar"])],
     [r(["get"], ["v1"], ["pods"])], False, [r(["get"], ["v1"], ["pods"])]),
    ("non-resource URLs", [r(["get"], urls=["/apis"])], [r(["get"], urls=["/apis"])], True, []),
    ("non-resource URLs star", [r(["get"], urls=["*"])], [r(["get"], urls=["/apis", "/apis/v1", "/"])], True, []),
    ("non-resource URLs star after prefix doesn't cover", [r(["get"], urls=["/apis/*"])],
     [r(["get"], urls=["/apis", "/apis/v1"])], False, [r(["get"], urls=["/apis"])]),
    ("non-resource URLs star after prefix", [r(["get"], urls=["/apis/*"])],
     [r(["get"], urls=["/apis/v1", "/apis/foo"])], True, []),
    ("non-resource URLs with other fields", [r(["get"], ["v1"], ["builds"], urls=["/apis"])],
     [r(["get"], ["v1"], ["builds"], urls=["/apis"])], True, []),
    ("non-resource URLs with other fields failure", [r(["get"], ["v1"], ["builds"])],
     [r(["get"], ["v1"], ["builds"], urls=["/apis"])], False, [r(["get"], urls=["/apis"])]),
]


@pytest.mark.parametrize(("owner", "servant", "ok", "missing"), [c[1:] for c in COVERS], ids=[c[0] for c in COVERS])
def test_covers(owner: list[Rule], servant: list[Rule], ok: bool, missing: list[Rule]) -> None:
    assert covers(owner, servant) == (ok, missing)


def test_compact_string_is_upstreams() -> None:
    assert compact_string(r(["create", "delete"], [""], ["pods"])) == \
        '{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}'
    assert compact_string(r(["get"], urls=["/metrics"])) == '{NonResourceURLs:["/metrics"], Verbs:["get"]}'
    assert compact_string(r(["get"], ["apps"], ["deployments"], ["web"])) == \
        '{APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], Verbs:["get"]}'


ALICE = UserInfo("alice", groups=("system:authenticated",))

FORBIDDEN = [
    ("namespaced list", Attributes(ALICE, "list", True, "team-b", "", "v1", "pods"), "",
     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "team-b"',
     {"kind": "pods"}),
    ("named object in a group", Attributes(ALICE, "get", True, "team-b", "apps", "v1", "deployments", "", "web"), "",
     'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in '
     'the namespace "team-b"', {"kind": "deployments", "group": "apps", "name": "web"}),
    ("cluster scope with a subresource", Attributes(ALICE, "update", True, "", "", "v1", "nodes", "status", "n1"),
     "", 'nodes "n1" is forbidden: User "alice" cannot update resource "nodes/status" in API group "" at the cluster '
     'scope', {"kind": "nodes", "name": "n1"}),
    ("non-resource path", Attributes(ALICE, "get", resource_request=False, path="/metrics"), "",
     'forbidden: User "alice" cannot get path "/metrics"', None),
    ("a reason is appended after a colon", Attributes(ALICE, "list", True, "x", "", "v1", "pods"),
     'RBAC: role.rbac.authorization.k8s.io "gone" not found',
     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "x": '
     'RBAC: role.rbac.authorization.k8s.io "gone" not found', {"kind": "pods"}),
    ("html in names is escaped", Attributes(ALICE, "get", resource_request=False, path="/<b>"), "",
     'forbidden: User "alice" cannot get path "/&lt;b&gt;"', None),
]


@pytest.mark.parametrize(("attrs", "reason", "message", "details"), [c[1:] for c in FORBIDDEN],
                         ids=[c[0] for c in FORBIDDEN])
def test_forbidden_is_worded_like_kube_apiserver(attrs: Attributes, reason: str, message: str,
                                                 details: dict[str, str] | None) -> None:
    status = forbidden(attrs, reason).status()
    assert (status["code"], status["reason"], status["message"]) == (403, "Forbidden", message)
    assert status.get("details") == details


class _Recorder:
    """An authorizer that allows everything but ``deny`` and records what it was asked."""

    def __init__(self, deny: tuple[str, str] | None = None) -> None:
        self.asked: list[tuple[str, str, str, str, str, str]] = []
        self.deny = deny

    def authorize(self, a: Attributes) -> Decision:
        self.asked.append((a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name))
        return Decision((a.resource, a.name) != self.deny)


ADMIN_ISH = UserInfo("boss", groups=("system:authenticated",))


def test_impersonating_user_and_groups_checks_each_and_adds_system_authenticated() -> None:
    authz = _Recorder()
    got = impersonate(authz, ADMIN_ISH, [("impersonate-user", "alice"), ("impersonate-group", "dev"),
                                         ("impersonate-group", "qa"), ("impersonate-extra-scopes%2Fx", "a"),
                                         ("impersonate-uid", "42")])
    assert got == UserInfo("alice", "42", ("dev", "qa", "system:authenticated"), (("scopes/x", ("a",)),))
    assert authz.asked == [("impersonate", "", "users", "", "", "alice"), ("impersonate", "", "groups", "", "", "dev"),
                           ("impersonate", "", "groups", "", "", "qa"),
                           ("impersonate", "authentication.k8s.io", "userextras", "scopes/x", "", "a"),
                           ("impersonate", "authentication.k8s.io", "uids", "", "", "42")]


def test_impersonating_a_service_account_checks_serviceaccounts_and_fills_its_groups() -> None:
    authz = _Recorder()
    got = impersonate(authz, ADMIN_ISH, [("impersonate-user", "system:serviceaccount:ci:builder")])
    assert got.groups == ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated")
    assert authz.asked == [("impersonate", "", "serviceaccounts", "", "ci", "builder")]


def test_impersonation_without_the_right_is_forbidden_in_upstream_words() -> None:
    with pytest.raises(ApiError) as err:
        impersonate(_Recorder(deny=("groups", "admins")), ADMIN_ISH,
                    [("impersonate-user", "alice"), ("impersonate-group", "admins")])
    assert err.value.code == 403
    assert err.value.message == ('groups "admins" is forbidden: User "boss" cannot impersonate resource "groups" in '
                                 'API group "" at the cluster scope')


def test_groups_without_a_user_are_a_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        impersonate(_Recorder(), ADMIN_ISH, [("impersonate-group", "dev")])
    assert err.value.code == 400


def test_no_impersonation_headers_keep_the_requestor() -> None:
    assert impersonate(_Recorder(), ADMIN_ISH, [("authorization", "Bearer x")]) is ADMIN_ISH
