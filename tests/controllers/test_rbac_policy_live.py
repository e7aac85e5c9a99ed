"""RBAC against the in-process API stack: bootstrap reconciliation, the ClusterRole aggregation
controller, escalation prevention and the access reviews, with the authorizer fed by store watches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.authz import Attributes
from suanli.apiserver.authz.bootstrap import AUTOUPDATE_ANNOTATION, reconcile_bootstrap_policy
from suanli.apiserver.authz.escalation import EscalationCheck
from suanli.apiserver.authz.rbac import RbacAuthorizer
from suanli.apiserver.authz.reviews import review
from suanli.apiserver.context import RequestContext, UserInfo
from suanli.controllers.clusterroleaggregation import ClusterRoleAggregationController
from suanli.kinds.volcano import volcano_crds
from tests.controllers.conftest import Api, eventually, running

CLUSTER_ROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles", namespaced=False)
ROLES = GVR("rbac.authorization.k8s.io", "v1", "roles")
ROLE_BINDINGS = GVR("rbac.authorization.k8s.io", "v1", "rolebindings")


@pytest.fixture
async def rbac(api: Api) -> AsyncIterator[RbacAuthorizer]:
    authz = RbacAuthorizer(api.store)
    authz.start()
    api.service.admission.add_validating(EscalationCheck(authz))
    await reconcile_bootstrap_policy(api.service, volcano_crds())
    yield authz
    authz.stop()


def _ctx(name: str, *groups: str) -> RequestContext:
    user = UserInfo(name, groups=(*groups, "system:authenticated"))
    return RequestContext(user=name, user_info=user)


def _rt(api: Api, plural: str) -> Any:
    rt = api.registry.get("rbac.authorization.k8s.io", "v1", plural)
    assert rt is not None
    return rt


async def test_reconciliation_adds_what_is_missing_and_keeps_user_additions(api: Api, rbac: RbacAuthorizer) -> None:
    rt = _rt(api, "clusterroles")
    basic = deep_copy(api.store.get(rt.storage_key, "", "system:basic-user").obj)  # type: ignore[union-attr]
    basic["rules"] = [*basic["rules"][:1], {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]
    await api.service.update(rt, "", "system:basic-user", basic)
    frozen = deep_copy(api.store.get(rt.storage_key, "", "system:discovery").obj)  # type: ignore[union-attr]
    frozen["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = "false"
    frozen["rules"] = []
    await api.service.update(rt, "", "system:discovery", frozen)
    await api.service.delete(rt, "", "view", {}, RequestContext())

    await reconcile_bootstrap_policy(api.service, volcano_crds())

    rules = api.store.get(rt.storage_key, "", "system:basic-user").obj["rules"]  # type: ignore[union-attr]
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]} in rules  # the user's addition
    assert {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]} in rules
    assert api.store.get(rt.storage_key, "", "system:discovery").obj["rules"] == []  # type: ignore[union-attr]
    assert api.store.get(rt.storage_key, "", "view") is not None


async def test_aggregation_follows_labelled_roles(api: Api, rbac: RbacAuthorizer) -> None:
    ctrl = ClusterRoleAggregationController(api.client)
    widget = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
              "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]}
    viewer = UserInfo("v", groups=("system:authenticated",))
    await api.client.create(ROLE_BINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "v", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "v"}]}, "default")
    ask = Attributes(viewer, "get", True, "default", "example.com", "v1", "widgets")
    async with running(ctrl):
        await eventually(lambda: rbac.authorize(Attributes(viewer, "list", True, "default", "", "v1", "pods")).allowed,
                         what="view aggregated from system:aggregate-to-view")
        assert not rbac.authorize(ask).allowed
        await api.client.create(CLUSTER_ROLES, widget)
        await eventually(lambda: rbac.authorize(ask).allowed, what="view to pick up widgets-view")
        admin = UserInfo("a", groups=("system:authenticated",))
        await api.client.create(ROLE_BINDINGS, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "a", "namespace": "default"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "a"}]}, "default")
        await eventually(lambda: rbac.authorize(Attributes(admin, "get", True, "default", "example.com", "v1",
                                                           "widgets")).allowed, what="admin to contain view")
        await api.client.delete(CLUSTER_ROLES, "widgets-view")
        await eventually(lambda: not rbac.authorize(ask).allowed, what="view to drop widgets-view")


async def _grant(api: Api, name: str, rules: list[dict[str, Any]]) -> None:
    await api.client.create(ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                    "metadata": {"name": name, "namespace": "default"}, "rules": rules}, "default")
    await api.client.create(ROLE_BINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "User", "name": "alice"}]}, "default")


RBAC_WRITE = {"verbs": ["create", "update"], "apiGroups": ["rbac.authorization.k8s.io"],
              "resources": ["roles", "rolebindings"]}


async def test_a_role_with_rules_the_author_lacks_is_forbidden(api: Api, rbac: RbacAuthorizer) -> None:
    await _grant(api, "alice", [RBAC_WRITE, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
    ok = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "ok"},
          "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}
    await api.service.create(_rt(api, "roles"), "default", ok, _ctx("alice"))
    bad = deep_copy(ok)
    bad["metadata"]["name"] = "bad"
    bad["rules"] = [{"verbs": ["get", "delete", "create"], "apiGroups": [""], "resources": ["pods"]}]
    with pytest.raises(ApiError) as err:
        await api.service.create(_rt(api, "roles"), "default", bad, _ctx("alice"))
    assert err.value.code == 403
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "bad" is forbidden: user "alice" (groups=["system:authenticated"]) is '
        'attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}')


async def test_escalate_lets_a_user_write_any_rules(api: Api, rbac: RbacAuthorizer) -> None:
    await _grant(api, "alice", [RBAC_WRITE, {"verbs": ["escalate"], "apiGroups": ["rbac.authorization.k8s.io"],
                                             "resources": ["roles"]}])
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "big"},
            "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}
    await api.service.create(_rt(api, "roles"), "default", role, _ctx("alice"))


async def test_binding_needs_the_roles_rules_or_bind(api: Api, rbac: RbacAuthorizer) -> None:
    await _grant(api, "alice", [RBAC_WRITE])
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "give-view"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": "system:aggregate-to-edit"},
               "subjects": [{"kind": "User", "name": "bob"}]}
    with pytest.raises(ApiError) as err:
        await api.service.create(_rt(api, "rolebindings"), "default", binding, _ctx("alice"))
    assert err.value.code == 403
    assert err.value.message.startswith('rolebindings.rbac.authorization.k8s.io "give-view" is forbidden: user '
                                        '"alice" (groups=["system:authenticated"]) is attempting to grant RBAC '
                                        "permissions not currently held:\n")
    missing = deep_copy(binding)
    missing["metadata"]["name"] = "dangling"
    missing["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "nope"}
    with pytest.raises(ApiError) as err:
        await api.service.create(_rt(api, "rolebindings"), "default", missing, _ctx("alice"))
    assert err.value.message == ('rolebindings.rbac.authorization.k8s.io "dangling" is forbidden: '
                                 'role.rbac.authorization.k8s.io "nope" not found')
    await _grant(api, "binder", [{"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"],
                                  "resources": ["clusterroles"], "resourceNames": ["system:aggregate-to-edit"]}])
    await api.service.create(_rt(api, "rolebindings"), "default", binding, _ctx("alice"))


async def test_masters_may_grant_anything(api: Api, rbac: RbacAuthorizer) -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "agg"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}
    await api.service.create(_rt(api, "clusterroles"), "", role, _ctx("root", "system:masters"))


REVIEWS: list[tuple[str, str, dict[str, Any], bool | str]] = [
    ("self review of a held right", "selfsubjectaccessreviews",
     {"resourceAttributes": {"verb": "create", "group": "authorization.k8s.io",
                             "resource": "selfsubjectaccessreviews"}}, True),
    ("self review of a missing right", "selfsubjectaccessreviews",
     {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}, False),
    ("self review of a non-resource URL", "selfsubjectaccessreviews",
     {"nonResourceAttributes": {"verb": "get", "path": "/apis"}}, True),
    ("subject review for a master", "subjectaccessreviews",
     {"groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}, True),
    ("subject review for a stranger", "subjectaccessreviews",
     {"user": "nobody", "resourceAttributes": {"verb": "get", "resource": "nodes"}}, False),
    ("both attribute kinds are invalid", "selfsubjectaccessreviews",
     {"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get", "path": "/"}},
     "spec.nonResourceAttributes: Invalid value"),
    ("neither attribute kind is invalid", "selfsubjectaccessreviews", {},
     "spec.resourceAttributes: Required value"),
    ("a subject review needs a user or group", "subjectaccessreviews",
     {"resourceAttributes": {"verb": "get"}}, "spec.user: Required value"),
    ("a local review refuses another namespace", "localsubjectaccessreviews",
     {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "other"}},
     "spec.resourceAttributes.namespace must match namespace: default"),
]


@pytest.mark.parametrize(("plural", "spec", "want"), [c[1:] for c in REVIEWS], ids=[c[0] for c in REVIEWS])
async def test_access_reviews(api: Api, rbac: RbacAuthorizer, plural: str, spec: dict[str, Any],
                              want: bool | str) -> None:
    me = UserInfo("me", groups=("system:authenticated",))
    body = {"apiVersion": "authorization.k8s.io/v1", "spec": spec}
    if isinstance(want, str):
        with pytest.raises(ApiError) as err:
            review(plural, body, requester=me, namespace="default", authorizer=rbac, resolver=rbac)
        assert want in err.value.message
        assert err.value.code in (400, 422)
        return
    out = review(plural, body, requester=me, namespace="default", authorizer=rbac, resolver=rbac)
    assert out["status"]["allowed"] is want


async def test_rules_review_lists_the_users_rules(api: Api, rbac: RbacAuthorizer) -> None:
    await _grant(api, "alice", [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"],
                                 "resourceNames": ["one"]}])
    alice = UserInfo("alice", groups=("system:authenticated",))
    out = review("selfsubjectrulesreviews", {"spec": {"namespace": "default"}}, requester=alice,
                 namespace="", authorizer=rbac, resolver=rbac)
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["one"]} in \
        out["status"]["resourceRules"]
    assert {"verbs": ["get"], "nonResourceURLs": ["/livez", "/readyz", "/healthz", "/version", "/version/"]} in \
        out["status"]["nonResourceRules"]
    assert out["status"]["incomplete"] is False
