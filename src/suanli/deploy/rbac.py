"""Least-privilege RBAC for Suanli's components: one home for what each component may do.

Three components run on a Kubernetes cluster, each under its own ServiceAccount:

* ``scheduler`` (:data:`SCHEDULER`) -- the Volcano-compatible scheduler (``suanli scheduler``);
* ``controllers`` (:data:`CONTROLLERS`) -- the workload, Volcano, operator and NFD-master controllers
  (``suanli controllers``);
* ``agent`` (:data:`AGENT`) -- node agents with their device plugins and NFD worker (``suanli agent``).

Each :class:`ComponentRBAC` lists the cluster-wide rules (rendered as a ClusterRole) and the
rules confined to one namespace (rendered as Roles: leader-election Leases in ``kube-system``,
node Leases in ``kube-node-lease``, the scheduler ConfigMap in ``volcano-system``). The rules were
derived from the components' client calls and informers and are checked against them by
``tests/deploy/test_rbac_coverage.py``, which runs each component against a recording client.
Leader election follows client-go: ``get``/``update`` on the named Lease, ``create`` (which RBAC
cannot restrict by name) on Leases.

:func:`allows` answers whether a rule list permits one request with RBAC's matching rules
(``*`` wildcards, subresources named ``resource/subresource``, ``resourceNames``), so tests and the
embedded server can use the same lists. Rules are the RBAC authorizer's own
:class:`~suanli.apiserver.authz.rules.Rule` (one type for a PolicyRule).

>>> allows(SCHEDULER.cluster_rules, "create", "", "pods", subresource="binding")
True
>>> allows(SCHEDULER.cluster_rules, "delete", "", "pods")
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from suanli.apiserver.authz import Attributes
from suanli.apiserver.authz.bootstrap import crd_rules
from suanli.apiserver.authz.rules import Rule, rules_allow
from suanli.apiserver.context import ADMIN

__all__ = [
    "AGENT",
    "AGGREGATE_TO",
    "COMPONENTS",
    "CONTROLLERS",
    "LEADER_ELECTION_NAMESPACE",
    "SCHEDULER",
    "ComponentRBAC",
    "Rule",
    "aggregated_roles",
    "allows",
]

LEADER_ELECTION_NAMESPACE = "kube-system"
NODE_LEASE_NAMESPACE = "kube-node-lease"
SCHEDULER_CONFIG_NAMESPACE = "volcano-system"
NFD_NAMESPACE = "node-feature-discovery"

_READ = ("get", "list", "watch")
_EVENTS = ("create", "patch")  # runtime.events: create, then patch the count


def _r(groups: str | Sequence[str], resources: Sequence[str], verbs: Sequence[str],
       names: Sequence[str] = ()) -> Rule:
    gs = (groups,) if isinstance(groups, str) else tuple(groups)
    return Rule(verbs=tuple(verbs), api_groups=gs, resources=tuple(resources), resource_names=tuple(names))


@dataclass(frozen=True)
class ComponentRBAC:
    """The ServiceAccount of one component and what it may do.

    ``namespaced_rules`` maps a namespace to the rules of the Role bound there.
    """

    name: str
    service_account: str
    description: str
    cluster_rules: tuple[Rule, ...]
    namespaced_rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def rules_in(self, namespace: str) -> list[Rule]:
        """Rules in force for a request in ``namespace`` ("" = cluster-scoped)."""
        return [*self.cluster_rules, *self.namespaced_rules.get(namespace, ())]


def _leader_election(lease: str) -> tuple[Rule, ...]:
    return (_r("coordination.k8s.io", ["leases"], ["create"]),
            _r("coordination.k8s.io", ["leases"], ["get", "update"], [lease]))


#: The scheduler: reads pods, nodes, PodGroups, Queues and PriorityClasses; binds and evicts pods;
#: writes pod conditions, PodGroup and Queue status, and events (volcano-scheduler's ClusterRole).
SCHEDULER = ComponentRBAC(
    name="scheduler",
    service_account="suanli-scheduler",
    description="Volcano-compatible batch scheduler",
    cluster_rules=(
        _r("", ["pods"], [*_READ, "patch"]),
        _r("", ["pods/binding", "pods/eviction"], ["create"]),
        _r("", ["pods/status"], ["patch"]),
        _r("", ["nodes"], _READ),
        _r("", ["events"], _EVENTS),
        _r("scheduling.k8s.io", ["priorityclasses"], _READ),
        _r("scheduling.volcano.sh", ["podgroups", "queues"], _READ),
        _r("scheduling.volcano.sh", ["podgroups/status", "queues/status"], ["patch"]),
    ),
    namespaced_rules={
        LEADER_ELECTION_NAMESPACE: _leader_election("suanli-scheduler"),
        SCHEDULER_CONFIG_NAMESPACE: (_r("", ["configmaps"], _READ),),
    },
)

#: The controllers: kube-controller-manager's workload controllers, the garbage collector and
#: namespace controller (which, like upstream's, act on every resource), Volcano's job, PodGroup
#: and Queue controllers, the NPU/KAE operators and NFD's master.
CONTROLLERS = ComponentRBAC(
    name="controllers",
    service_account="suanli-controllers",
    description="workload, Volcano, operator and node-feature controllers",
    cluster_rules=(
        # The garbage collector and namespace controller act on every resource, as upstream's
        # generic-garbage-collector and namespace-controller roles do; "*" covers subresources
        # (status, finalize, scale) for these verbs, so only creations are listed one by one.
        _r("*", ["*"], [*_READ, "patch", "update", "delete", "deletecollection"]),
        _r("", ["pods", "services", "endpoints", "configmaps", "secrets", "serviceaccounts",
                "persistentvolumeclaims", "persistentvolumes", "replicationcontrollers"], ["create"]),
        # the NPU/KAE operators create the namespace of their operands (npu-operator, kae-operator)
        _r("", ["namespaces"], ["create"]),
        # the PersistentVolume controller creates the default StorageClass when there is none
        _r("storage.k8s.io", ["storageclasses"], ["create"]),
        _r("", ["events"], _EVENTS),
        _r("apps", ["deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"], ["create"]),
        _r("batch", ["jobs", "cronjobs"], ["create"]),
        _r("discovery.k8s.io", ["endpointslices"], ["create"]),
        _r("scheduling.volcano.sh", ["podgroups", "queues"], ["create"]),
        # the ClusterRole aggregation controller writes rules it does not hold itself (upstream's
        # clusterrole-aggregation-controller role has escalate for the same reason)
        _r("rbac.authorization.k8s.io", ["clusterroles"], ["escalate"]),
    ),
    namespaced_rules={LEADER_ELECTION_NAMESPACE: _leader_election("suanli-controllers")},
)

#: Node agents (kubelet's part): register and heartbeat their Nodes, run the pods bound to them and
#: report their status, publish NodeFeatures (nfd-worker) and resource metrics.
AGENT = ComponentRBAC(
    name="agent",
    service_account="suanli-agent",
    description="node agents, device plugins and the node-feature worker",
    cluster_rules=(
        _r("", ["nodes"], [*_READ, "create", "patch"]),
        _r("", ["nodes/status"], ["patch"]),
        _r("", ["pods"], [*_READ, "patch", "delete"]),
        _r("", ["pods/status"], ["patch"]),
        _r("", ["configmaps", "secrets"], ["get"]),  # volumes of pods on the host runtime
        _r("", ["namespaces"], ["get"]),
        _r("", ["events"], _EVENTS),
        # resource metrics objects (on a real cluster metrics.k8s.io is metrics-server's APIService)
        _r("metrics.k8s.io", ["nodes", "pods"], ["create", "update", "delete"]),
        # kwok's usage rules, read by the simulated-node agent on every metrics tick
        _r("kwok.x-k8s.io", ["resourceusages", "clusterresourceusages"], ["list"]),
        # the kubelet API (``--host``) checks its callers as upstream's system:node role allows
        _r("authentication.k8s.io", ["tokenreviews"], ["create"]),
        _r("authorization.k8s.io", ["subjectaccessreviews"], ["create"]),
    ),
    namespaced_rules={
        NODE_LEASE_NAMESPACE: (_r("coordination.k8s.io", ["leases"], ["get", "create", "update"]),),
        NFD_NAMESPACE: (_r("nfd.k8s-sigs.io", ["nodefeatures"], [*_READ, "create", "update", "delete"]),),
    },
)

COMPONENTS: tuple[ComponentRBAC, ...] = (SCHEDULER, CONTROLLERS, AGENT)

#: Label that folds a ClusterRole's rules into the user-facing ``admin``/``edit``/``view`` roles.
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-{}"


def aggregated_roles(crds: Iterable[Mapping[str, Any]]) -> dict[str, tuple[tuple[str, ...], tuple[Rule, ...]]]:
    """The rules that make ``admin``, ``edit`` and ``view`` cover the kinds of ``crds``.

    Returns ``{"view": (aggregate-to targets, rules), "edit": (...)}``: the read rules (each
    resource with its ``status`` and ``scale``) aggregate into view, edit and admin; the write
    rules into edit and admin. The rules are the embedded server's bootstrap ones
    (:func:`suanli.apiserver.authz.bootstrap.crd_rules`): one home for what a CRD's kinds grant.
    """
    items = [dict(c) for c in crds]

    def convert(write: bool) -> tuple[Rule, ...]:
        return tuple(crd_rules(items, write=write))

    return {"view": (("admin", "edit", "view"), convert(False)), "edit": (("admin", "edit"), convert(True))}


def allows(rules: Iterable[Rule], verb: str, group: str, resource: str, *, subresource: str = "",
           name: str = "") -> bool:
    """True if some rule grants ``verb`` on ``group``/``resource[/subresource]`` (named ``name``).

    The RBAC authorizer's own matcher (:func:`suanli.apiserver.authz.rules.rules_allow`):
    ``pods`` does not cover ``pods/status``; ``*/scale`` covers every ``scale``; a rule with
    ``resourceNames`` never grants requests without a name (list, create).
    """
    attrs = Attributes(ADMIN, verb, namespace="", api_group=group, resource=resource, subresource=subresource,
                       name=name)
    return rules_allow(attrs, rules)
