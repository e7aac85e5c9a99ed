"""kube-apiserver's API Priority and Fairness bootstrap configuration (``flowcontrol.apiserver.k8s.io/v1``).

The mandatory and suggested PriorityLevelConfigurations and FlowSchemas every kube-apiserver
(v1.29+) creates, with upstream's names and specs (``k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap``):

==========================  ==================  ====  ==============  ==================================
FlowSchema                  priority level      prec  distinguisher   subjects
==========================  ==================  ====  ==============  ==================================
exempt (mandatory)          exempt              1     —               group system:masters
probes                      exempt              2     —               everyone; GET /healthz /readyz /livez
system-leader-election      leader-election     100   ByUser          kcm, scheduler, kube-system SAs
endpoint-controller         workload-high       150   ByUser          kcm, endpoint(slicemirroring) SAs
workload-leader-election    leader-election     200   ByUser          kube-system SAs
system-node-high            node-high           400   ByUser          group system:nodes (nodes, leases)
system-nodes                system              500   ByUser          group system:nodes
kube-controller-manager     workload-high       800   ByNamespace     user system:kube-controller-manager
kube-scheduler              workload-high       800   ByNamespace     user system:kube-scheduler
kube-system-service-acc.    workload-high       900   ByNamespace     kube-system SAs
service-accounts            workload-low        9000  ByUser          group system:serviceaccounts
global-default              global-default      9900  ByUser          everyone
catch-all (mandatory)       catch-all           10000 ByUser          everyone
==========================  ==================  ====  ==============  ==================================

Priority levels (nominal shares / lendable %, queues x hand size x queue length limit):
``exempt`` (Exempt, 0/0), ``catch-all`` (5/0, Reject), ``system`` (30/33, 64x6x50), ``node-high``
(40/25, 64x6x50), ``leader-election`` (10/0, 16x4x50), ``workload-high`` (40/50, 128x6x50),
``workload-low`` (100/90, 128x6x50), ``global-default`` (20/50, 128x6x50).

Every object carries ``apf.kubernetes.io/autoupdate-spec: "true"``. Suanli stores and keeps
them (``controllers/flowcontrol.py``); it does not enforce priority and fairness.
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.objects import Obj

__all__ = ["AUTOUPDATE_ANNOTATION", "MANDATORY", "bootstrap_flow_schemas", "bootstrap_priority_levels"]

AUTOUPDATE_ANNOTATION = "apf.kubernetes.io/autoupdate-spec"
API_VERSION = "flowcontrol.apiserver.k8s.io/v1"
#: names of the mandatory objects (PriorityLevelConfigurations and FlowSchemas alike)
MANDATORY = frozenset({"exempt", "catch-all"})

_ALL_RESOURCES = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True, "namespaces": ["*"]}
_ALL_NON_RESOURCES = {"verbs": ["*"], "nonResourceURLs": ["*"]}
_EVERYONE = ("system:unauthenticated", "system:authenticated")


def _groups(*names: str) -> list[Obj]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[Obj]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_sas(*names: str) -> list[Obj]:
    return [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": n}} for n in names]


def _rule(verbs: list[str], groups: list[str], resources: list[str], namespaces: list[str] | None,
          cluster_scope: bool) -> Obj:
    rule: Obj = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if cluster_scope:
        rule["clusterScope"] = True
    if namespaces:
        rule["namespaces"] = namespaces
    return rule


def _all_rules(subjects: list[Obj]) -> Obj:
    return {"subjects": subjects, "resourceRules": [dict(_ALL_RESOURCES)],
            "nonResourceRules": [dict(_ALL_NON_RESOURCES)]}


def _fs(name: str, level: str, precedence: int, distinguisher: str, *rules: Obj) -> Obj:
    spec: Obj = {"priorityLevelConfiguration": {"name": level}, "matchingPrecedence": precedence,
                 "rules": list(rules)}
    if distinguisher:
        spec["distinguisherMethod"] = {"type": distinguisher}
    return {"apiVersion": API_VERSION, "kind": "FlowSchema",
            "metadata": {"name": name, "annotations": {AUTOUPDATE_ANNOTATION: "true"}}, "spec": spec}


def _limited(shares: int, lendable: int, queues: int | None = None, hand: int = 6, length: int = 50) -> Obj:
    response: Obj = {"type": "Reject"} if queues is None else \
        {"type": "Queue", "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": length}}
    return {"type": "Limited", "limited": {"nominalConcurrencyShares": shares, "lendablePercent": lendable,
                                           "limitResponse": response}}


def _pl(name: str, spec: Obj) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "PriorityLevelConfiguration",
            "metadata": {"name": name, "annotations": {AUTOUPDATE_ANNOTATION: "true"}}, "spec": spec}


def bootstrap_priority_levels() -> list[Obj]:
    """Fresh copies of the mandatory and suggested PriorityLevelConfigurations."""
    return [
        _pl("exempt", {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        _pl("catch-all", _limited(5, 0)),
        _pl("system", _limited(30, 33, 64)),
        _pl("node-high", _limited(40, 25, 64)),
        _pl("leader-election", _limited(10, 0, 16, hand=4)),
        _pl("workload-high", _limited(40, 50, 128)),
        _pl("workload-low", _limited(100, 90, 128)),
        _pl("global-default", _limited(20, 50, 128)),
    ]


def bootstrap_flow_schemas() -> list[Obj]:
    """Fresh copies of the mandatory and suggested FlowSchemas (matching precedence order)."""
    get_create_update = ["get", "create", "update"]
    leader_election: list[Any] = [
        _rule(get_create_update, [""], ["endpoints", "configmaps"], ["kube-system"], False),
        _rule(get_create_update, ["coordination.k8s.io"], ["leases"], ["*"], False),
    ]
    return [
        _fs("exempt", "exempt", 1, "", _all_rules(_groups("system:masters"))),
        _fs("probes", "exempt", 2, "", {"subjects": _groups(*_EVERYONE), "nonResourceRules": [
            {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]}),
        _fs("system-leader-election", "leader-election", 100, "ByUser", {
            "subjects": [*_users("system:kube-controller-manager", "system:kube-scheduler"), *_kube_system_sas("*")],
            "resourceRules": leader_election}),
        _fs("endpoint-controller", "workload-high", 150, "ByUser", {
            "subjects": [*_users("system:kube-controller-manager"),
                         *_kube_system_sas("endpoint-controller", "endpointslicemirroring-controller")],
            "resourceRules": [_rule(get_create_update, [""], ["endpoints"], ["*"], False)]}),
        _fs("workload-leader-election", "leader-election", 200, "ByUser", {
            "subjects": _kube_system_sas("*"),
            "resourceRules": [_rule(get_create_update, [""], ["endpoints", "configmaps"], ["*"], False),
                              _rule(get_create_update, ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
        _fs("system-node-high", "node-high", 400, "ByUser", {
            "subjects": _groups("system:nodes"),
            "resourceRules": [_rule(["*"], [""], ["nodes", "nodes/status"], ["*"], True),
                              _rule(["*"], ["coordination.k8s.io"], ["leases"], ["*"], False)]}),
        _fs("system-nodes", "system", 500, "ByUser", _all_rules(_groups("system:nodes"))),
        _fs("kube-controller-manager", "workload-high", 800, "ByNamespace",
            _all_rules(_users("system:kube-controller-manager"))),
        _fs("kube-scheduler", "workload-high", 800, "ByNamespace", _all_rules(_users("system:kube-scheduler"))),
        _fs("kube-system-service-accounts", "workload-high", 900, "ByNamespace", _all_rules(_kube_system_sas("*"))),
        _fs("service-accounts", "workload-low", 9000, "ByUser", _all_rules(_groups("system:serviceaccounts"))),
        _fs("global-default", "global-default", 9900, "ByUser", _all_rules(_groups(*_EVERYONE))),
        _fs("catch-all", "catch-all", 10000, "ByUser", _all_rules(_groups(*_EVERYONE))),
    ]
