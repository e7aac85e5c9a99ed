"""The component roles in :mod:`suanli.deploy.rbac`: RBAC rule matching and the roles' shape.

The matching table ports the cases of kube-apiserver's rule evaluation
(``pkg/apis/rbac/v1/evaluation_helpers.go`` ``VerbMatches``/``APIGroupMatches``/
``ResourceMatches``/``ResourceNameMatches``): our inputs and expectations follow theirs.
"""

from __future__ import annotations

import pytest

from suanli.deploy.crds import served_crds
from suanli.deploy.manifests import render
from suanli.deploy.rbac import (
    AGENT,
    AGGREGATE_TO,
    COMPONENTS,
    CONTROLLERS,
    LEADER_ELECTION_NAMESPACE,
    SCHEDULER,
    ComponentRBAC,
    Rule,
    aggregated_roles,
    allows,
)


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> Rule:
    return Rule(verbs=tuple(verbs), api_groups=tuple(groups), resources=tuple(resources),
                resource_names=tuple(names or ()))


@pytest.mark.parametrize(("rule", "request_", "want"), [
    (_rule(["g"], ["r"], ["get"]), ("get", "g", "r", "", ""), True),
    (_rule(["g"], ["r"], ["*"]), ("delete", "g", "r", "", ""), True),
    (_rule(["*"], ["r"], ["get"]), ("get", "any.io", "r", "", ""), True),
    (_rule(["g"], ["*"], ["get"]), ("get", "g", "anything", "", ""), True),
    (_rule(["g"], ["r"], ["get"]), ("list", "g", "r", "", ""), False),
    (_rule(["g"], ["r"], ["get"]), ("get", "other", "r", "", ""), False),
    (_rule([""], ["pods"], ["get"]), ("get", "", "pods", "log", ""), False),
    (_rule([""], ["pods/log"], ["get"]), ("get", "", "pods", "log", ""), True),
    (_rule([""], ["pods/log"], ["get"]), ("get", "", "pods", "", ""), False),
    (_rule(["apps"], ["*/scale"], ["update"]), ("update", "apps", "deployments", "scale", ""), True),
    (_rule(["apps"], ["*/scale"], ["update"]), ("update", "apps", "deployments", "status", ""), False),
    (_rule(["*"], ["*"], ["get"]), ("get", "", "pods", "status", ""), True),
    (_rule(["coordination.k8s.io"], ["leases"], ["get"], ["a"]), ("get", "coordination.k8s.io", "leases", "", "a"),
     True),
    (_rule(["coordination.k8s.io"], ["leases"], ["get"], ["a"]), ("get", "coordination.k8s.io", "leases", "", "b"),
     False),
    (_rule(["coordination.k8s.io"], ["leases"], ["list"], ["a"]), ("list", "coordination.k8s.io", "leases", "", ""),
     False),
], ids=[
    "exact-match", "star-verb", "star-group", "star-resource", "other-verb-denied", "other-group-denied",
    "resource-does-not-cover-subresource", "subresource-rule-matches", "subresource-rule-does-not-cover-resource",
    "star-slash-subresource-matches-any-resource", "star-slash-subresource-is-that-subresource-only",
    "star-resource-covers-subresources", "resource-name-matches", "other-resource-name-denied",
    "resource-names-never-grant-unnamed-requests",
])
def test_rule_matching_follows_upstream(rule: Rule, request_: tuple[str, str, str, str, str], want: bool) -> None:
    verb, group, resource, sub, name = request_
    assert allows([rule], verb, group, resource, subresource=sub, name=name) is want


@pytest.mark.parametrize("rbac", COMPONENTS, ids=lambda r: r.name)
def test_component_service_accounts_are_named_for_the_component(rbac: ComponentRBAC) -> None:
    assert rbac.service_account == f"suanli-{rbac.name}"


@pytest.mark.parametrize(("rbac", "lease"), [(SCHEDULER, "suanli-scheduler"), (CONTROLLERS, "suanli-controllers")],
                         ids=["scheduler", "controllers"])
def test_leader_election_is_confined_to_its_lease_in_kube_system(rbac: ComponentRBAC, lease: str) -> None:
    rules = rbac.rules_in(LEADER_ELECTION_NAMESPACE)
    group = "coordination.k8s.io"
    # client-go's LeaseLock: get and update the named Lease, create it when missing
    assert allows(rules, "get", group, "leases", name=lease)
    assert allows(rules, "update", group, "leases", name=lease)
    assert allows(rules, "create", group, "leases")
    assert not allows(rbac.rules_in("default"), "create", group, "leases")


def test_scheduler_cannot_take_the_controllers_lease() -> None:
    # (the controllers' garbage-collector wildcard, like upstream's, updates any object, Leases included)
    assert not allows(SCHEDULER.rules_in(LEADER_ELECTION_NAMESPACE), "update", "coordination.k8s.io", "leases",
                      name="suanli-controllers")


@pytest.mark.parametrize(("rbac", "verb", "group", "resource", "sub", "namespace"), [
    (SCHEDULER, "delete", "", "pods", "", ""),
    (SCHEDULER, "get", "", "secrets", "", ""),
    (SCHEDULER, "create", "apps", "deployments", "", ""),
    (SCHEDULER, "update", "", "configmaps", "", "volcano-system"),
    (AGENT, "list", "", "secrets", "", ""),
    (AGENT, "create", "", "namespaces", "", ""),
    (AGENT, "create", "", "pods", "binding", ""),
    (AGENT, "update", "coordination.k8s.io", "leases", "", "kube-system"),
    (AGENT, "create", "nfd.k8s-sigs.io", "nodefeatures", "", "default"),
    (CONTROLLERS, "create", "", "pods", "binding", ""),
    (CONTROLLERS, "create", "rbac.authorization.k8s.io", "clusterroles", "", ""),
    (CONTROLLERS, "create", "coordination.k8s.io", "leases", "", "default"),
    (CONTROLLERS, "create", "batch.volcano.sh", "jobs", "", "team"),
    (SCHEDULER, "update", "", "pods", "status", "team"),
], ids=[
    "scheduler-cannot-delete-pods", "scheduler-cannot-read-secrets", "scheduler-cannot-create-deployments",
    "scheduler-only-reads-its-configmap", "agent-cannot-list-secrets", "agent-cannot-create-namespaces",
    "agent-cannot-bind-pods", "agent-leases-only-in-kube-node-lease", "agent-nodefeatures-only-in-nfd-namespace",
    "controllers-cannot-bind-pods", "controllers-cannot-escalate-through-rbac", "controllers-leases-only-for-election",
    "controllers-do-not-create-volcano-jobs", "scheduler-patches-status-never-replaces-it",
])
def test_components_are_denied_what_they_do_not_need(rbac: ComponentRBAC, verb: str, group: str, resource: str,
                                                     sub: str, namespace: str) -> None:
    assert not allows(rbac.rules_in(namespace), verb, group, resource, subresource=sub)


@pytest.mark.parametrize(("rbac", "verb", "group", "resource", "sub", "namespace", "name"), [
    (SCHEDULER, "create", "", "pods", "binding", "team", "p"),
    (SCHEDULER, "create", "", "pods", "eviction", "team", "p"),
    (SCHEDULER, "patch", "scheduling.volcano.sh", "podgroups", "status", "team", "pg"),
    (SCHEDULER, "watch", "", "configmaps", "", "volcano-system", ""),
    (AGENT, "create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""),
    (AGENT, "patch", "", "nodes", "status", "", "n1"),
    (AGENT, "update", "nfd.k8s-sigs.io", "nodefeatures", "", "node-feature-discovery", "n1"),
    (CONTROLLERS, "create", "scheduling.volcano.sh", "podgroups", "", "team", ""),
    (CONTROLLERS, "update", "", "namespaces", "finalize", "", "team"),
    (CONTROLLERS, "deletecollection", "", "pods", "", "team", ""),
], ids=[
    "scheduler-binds", "scheduler-evicts-for-preemption", "scheduler-writes-podgroup-status",
    "scheduler-watches-its-configmap", "agent-renews-node-leases", "agent-reports-node-status",
    "agent-publishes-nodefeatures", "controllers-create-podgroups", "namespace-controller-finalizes",
    "namespace-controller-empties-namespaces",
])
def test_components_are_granted_what_they_do(rbac: ComponentRBAC, verb: str, group: str, resource: str, sub: str,
                                              namespace: str, name: str) -> None:
    assert allows(rbac.rules_in(namespace), verb, group, resource, subresource=sub, name=name)


def test_only_the_controllers_hold_a_wildcard_rule() -> None:
    def wild(r: ComponentRBAC) -> bool:
        return any("*" in rule.resources for rule in r.cluster_rules)

    assert [r.name for r in COMPONENTS if wild(r)] == ["controllers"]


@pytest.mark.parametrize("crd", served_crds(), ids=lambda c: c["metadata"]["name"])
def test_admin_edit_and_view_cover_every_served_crd(crd: dict[str, object]) -> None:
    roles = aggregated_roles(served_crds())
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]  # type: ignore[index]
    view_targets, view = roles["view"]
    edit_targets, edit = roles["edit"]
    assert set(view_targets) == {"admin", "edit", "view"} and set(edit_targets) == {"admin", "edit"}
    serves_status = any("status" in (v.get("subresources") or {}) for v in crd["spec"]["versions"])  # type: ignore[index,union-attr]
    for verb in ("get", "list", "watch"):
        assert allows(view, verb, group, plural)
        assert allows(view, verb, group, plural, subresource="status") == serves_status  # only what is served
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert allows(edit, verb, group, plural)
        assert not allows(view, verb, group, plural)
    assert not allows(edit, "update", group, plural, subresource="status")  # status belongs to controllers


def test_aggregated_roles_are_shipped_with_their_labels() -> None:
    roles = {o["metadata"]["name"]: o for o in render() if o["kind"] == "ClusterRole"}
    view, edit = roles["suanli-aggregate-to-view"], roles["suanli-aggregate-to-edit"]
    assert {k for k, v in view["metadata"]["labels"].items() if v == "true"} == {
        AGGREGATE_TO.format(t) for t in ("admin", "edit", "view")}
    assert {k for k, v in edit["metadata"]["labels"].items() if v == "true"} == {
        AGGREGATE_TO.format(t) for t in ("admin", "edit")}
