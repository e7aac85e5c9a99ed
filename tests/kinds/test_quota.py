"""Quota accounting (suanli.kinds.quota), with upstream's evaluator tables ported
(kubernetes pkg/quota/v1/evaluator/core/{pods,services,persistent_volume_claims}_test.go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from suanli.apimachinery.quantity import parse_quantity
from suanli.kinds.quota import (
    calculate_usage,
    count_resource_of,
    evaluator_for,
    pretty_print,
    quota_matches,
    tracked_resources,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def q(values: dict[str, str]) -> dict[str, Fraction]:
    return {k: parse_quantity(v) for k, v in values.items()}


def container(name: str = "", requests: dict[str, str] | None = None,
              limits: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "x", "resources": res, **extra}


def pod(containers: list[dict[str, Any]] | None = None, init: list[dict[str, Any]] | None = None,
        phase: str = "Running", meta: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"containers": containers or [], **spec}
    if init:
        s["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", **(meta or {})},
            "spec": s, "status": {"phase": phase}}


CPU_1M_2M = {"requests": {"cpu": "1m"}, "limits": {"cpu": "2m"}}
MEM_1M_2M = {"requests": {"memory": "1m"}, "limits": {"memory": "2m"}}
EPH = {"requests": {"ephemeral-storage": "32Mi"}, "limits": {"ephemeral-storage": "64Mi"}}
DONGLE = {"requests": {"example.com/dongle": "3"}, "limits": {"example.com/dongle": "3"}}
PAST = (NOW - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
JUST_NOW = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")

POD_USAGE = [
    ("init-container-cpu", pod(init=[container("i", **CPU_1M_2M)]),
     {"requests.cpu": "1m", "limits.cpu": "2m", "pods": "1", "cpu": "1m", "count/pods": "1"}),
    ("init-container-memory", pod(init=[container("i", **MEM_1M_2M)]),
     {"requests.memory": "1m", "limits.memory": "2m", "pods": "1", "memory": "1m", "count/pods": "1"}),
    ("init-container-ephemeral-storage", pod(init=[container("i", **EPH)]),
     {"ephemeral-storage": "32Mi", "requests.ephemeral-storage": "32Mi", "limits.ephemeral-storage": "64Mi",
      "pods": "1", "count/pods": "1"}),
    ("init-container-hugepages", pod(init=[container("i", requests={"hugepages-2Mi": "100Mi"})]),
     {"hugepages-2Mi": "100Mi", "requests.hugepages-2Mi": "100Mi", "pods": "1", "count/pods": "1"}),
    ("init-container-extended", pod(init=[container("i", **DONGLE)]),
     {"requests.example.com/dongle": "3", "pods": "1", "count/pods": "1"}),
    ("container-cpu", pod([container("c", **CPU_1M_2M)]),
     {"requests.cpu": "1m", "limits.cpu": "2m", "pods": "1", "cpu": "1m", "count/pods": "1"}),
    ("container-memory", pod([container("c", **MEM_1M_2M)]),
     {"requests.memory": "1m", "limits.memory": "2m", "pods": "1", "memory": "1m", "count/pods": "1"}),
    ("container-hugepages", pod([container("c", requests={"hugepages-2Mi": "100Mi"})]),
     {"hugepages-2Mi": "100Mi", "requests.hugepages-2Mi": "100Mi", "pods": "1", "count/pods": "1"}),
    ("container-extended", pod([container("c", **DONGLE)]),
     {"requests.example.com/dongle": "3", "pods": "1", "count/pods": "1"}),
    ("container-implicit-extended", pod([container("c", requests={"deviceclass.resource.kubernetes.io/dongle": "3"},
                                                   limits={"deviceclass.resource.kubernetes.io/dongle": "3"})]),
     {"requests.deviceclass.resource.kubernetes.io/dongle": "3", "pods": "1", "count/pods": "1"}),
    ("ascend-npu-only-in-requests-form", pod([container("c", requests={"huawei.com/Ascend910": "2"},
                                                        limits={"huawei.com/Ascend910": "2"})]),
     {"requests.huawei.com/Ascend910": "2", "pods": "1", "count/pods": "1"}),
    ("terminated-pod-only-counts-the-object", pod([container("c", **DONGLE)], phase="Succeeded"),
     {"count/pods": "1"}),
    ("failed-pod-only-counts-the-object", pod([container("c", **CPU_1M_2M)], phase="Failed"),
     {"count/pods": "1"}),
    ("init-container-maximums-override-sum-of-containers", pod(
        [container("a", {"cpu": "1", "memory": "50M", "example.com/dongle": "1"},
                   {"cpu": "2", "memory": "100M", "example.com/dongle": "1"}),
         container("b", {"cpu": "2", "memory": "25M", "example.com/dongle": "2"},
                   {"cpu": "5", "memory": "50M", "example.com/dongle": "2"})],
        init=[container("i1", {"cpu": "4", "memory": "100M", "example.com/dongle": "4"},
                        {"cpu": "8", "memory": "200M", "example.com/dongle": "4"}),
              container("i2", {"cpu": "1", "memory": "50M", "example.com/dongle": "2"},
                        {"cpu": "2", "memory": "100M", "example.com/dongle": "2"})]),
     {"requests.cpu": "4", "requests.memory": "100M", "limits.cpu": "8", "limits.memory": "200M", "pods": "1",
      "cpu": "4", "memory": "100M", "requests.example.com/dongle": "4", "count/pods": "1"}),
    ("deletion-past-grace-period-is-terminal", pod(
        [container("c", {"cpu": "1", "memory": "50M"}, {"cpu": "2", "memory": "100M"})],
        meta={"deletionTimestamp": PAST, "deletionGracePeriodSeconds": 30}),
     {"count/pods": "1"}),
    ("deletion-within-grace-period-still-counts", pod(
        [container("c", {"cpu": "1"}, {"cpu": "2"})],
        meta={"deletionTimestamp": JUST_NOW, "deletionGracePeriodSeconds": 30}),
     {"requests.cpu": "1", "limits.cpu": "2", "pods": "1", "cpu": "1", "count/pods": "1"}),
    ("pod-overhead-counts", pod([container("c", {"cpu": "1"}, {"cpu": "2"})], overhead={"cpu": "1"}),
     {"requests.cpu": "2", "limits.cpu": "3", "pods": "1", "cpu": "2", "count/pods": "1"}),
]


@pytest.mark.parametrize(("obj", "want"), [(p, w) for _, p, w in POD_USAGE], ids=[i for i, _, _ in POD_USAGE])
def test_pod_usage_matches_upstream(obj: dict[str, Any], want: dict[str, str]) -> None:
    assert evaluator_for("pods", "").usage(obj, NOW) == q(want)


CONSTRAINTS = [
    ("init-container-resource-missing", pod(init=[container("dummy", **CPU_1M_2M)]), ["memory"],
     "must specify memory for: dummy"),
    ("multiple-init-containers-missing", pod(init=[container("foo", **CPU_1M_2M), container("bar", **CPU_1M_2M)]),
     ["memory"], "must specify memory for: bar,foo"),
    ("container-resource-missing", pod([container("dummy", **CPU_1M_2M)]), ["memory"],
     "must specify memory for: dummy"),
    ("multiple-containers-missing", pod([container("foo", **CPU_1M_2M), container("bar", **CPU_1M_2M)]), ["memory"],
     "must specify memory for: bar,foo"),
    ("several-resources-missing", pod([container("foo"), container("bar")]), ["memory", "cpu"],
     "must specify cpu for: bar,foo; memory for: bar,foo"),
    ("limits-required-requests-given", pod([container("c", {"cpu": "1"})]), ["limits.cpu"],
     "must specify limits.cpu for: c"),
    ("extended-resources-never-required", pod([container("c")]), ["requests.huawei.com/Ascend910"], None),
    ("all-present", pod([container("c", {"cpu": "1", "memory": "1Gi"})]), ["cpu", "memory"], None),
]


@pytest.mark.parametrize(("obj", "required", "err"), [c[1:] for c in CONSTRAINTS], ids=[c[0] for c in CONSTRAINTS])
def test_pod_constraints_match_upstream(obj: dict[str, Any], required: list[str], err: str | None) -> None:
    assert evaluator_for("pods", "").constraints(required, obj) == err


def quota(hard: dict[str, str], scopes: list[str] | None = None, selector: list[dict[str, Any]] | None = None,
          status: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"hard": hard}
    if scopes:
        spec["scopes"] = scopes
    if selector:
        spec["scopeSelector"] = {"matchExpressions": selector}
    out: dict[str, Any] = {"metadata": {"name": "q", "namespace": "ns"}, "spec": spec}
    if status:
        out["status"] = {"hard": hard}
    return out


CPU1 = {"cpu": "1"}
HIGH_IN = [{"scopeName": "PriorityClass", "operator": "In", "values": ["high-priority"]}]


def make_pod(name: str, pc: str, res: dict[str, str] | None, phase: str) -> dict[str, Any]:
    c = container("c", res, res) if res else container("c")
    p = pod([c], phase=phase, priorityClassName=pc) if pc else pod([c], phase=phase)
    p["metadata"]["name"] = name
    return p


ALL_POD_NAMES = {"pods": "100", "count/pods": "100", "cpu": "100", "requests.cpu": "100", "limits.cpu": "100"}
USAGE_STATS = [
    ("nil-case", [], None, None, {}),
    ("all-pods-running", [make_pod("p1", "", CPU1, "Running"), make_pod("p2", "", CPU1, "Running")], None, None,
     {"pods": "2", "count/pods": "2", "cpu": "2", "requests.cpu": "2", "limits.cpu": "2"}),
    ("one-pod-terminal", [make_pod("p1", "", CPU1, "Running"), make_pod("p2", "", CPU1, "Succeeded")], None, None,
     {"pods": "1", "count/pods": "2", "cpu": "1", "requests.cpu": "1", "limits.cpu": "1"}),
    ("scope-selector-matches-some", [make_pod("p1", "high-priority", CPU1, "Running"),
                                     make_pod("p2", "high-priority", CPU1, "Succeeded"),
                                     make_pod("p3", "low-priority", CPU1, "Running")], None, HIGH_IN,
     {"pods": "1", "count/pods": "2", "cpu": "1", "requests.cpu": "1", "limits.cpu": "1"}),
    ("scope-name-and-selector", [make_pod("p1", "high-priority", CPU1, "Running"),
                                 make_pod("p2", "high-priority", CPU1, "Succeeded"),
                                 make_pod("p3", "low-priority", CPU1, "Running")], ["PriorityClass"], HIGH_IN,
     {"pods": "1", "count/pods": "2", "cpu": "1", "requests.cpu": "1", "limits.cpu": "1"}),
    ("several-scope-names", [make_pod("p1", "high-priority", CPU1, "Running"),
                             make_pod("p2", "high-priority", CPU1, "Succeeded"),
                             make_pod("p3", "low-priority", CPU1, "Running"),
                             make_pod("p4", "high-priority", None, "Failed")], ["PriorityClass", "BestEffort"], HIGH_IN,
     {"count/pods": "1"}),
]


@pytest.mark.parametrize(("pods", "scopes", "selector", "want"), [u[1:] for u in USAGE_STATS],
                         ids=[u[0] for u in USAGE_STATS])
def test_usage_stats_over_pods_match_upstream(pods: list[dict[str, Any]], scopes: list[str] | None,
                                              selector: list[dict[str, Any]] | None, want: dict[str, str]) -> None:
    used = calculate_usage(quota(ALL_POD_NAMES, scopes, selector), {("pods", ""): pods}, NOW)
    assert {k: v for k, v in used.items() if v} == q(want)
    assert set(used) == set(ALL_POD_NAMES)  # every hard resource gets a value, zero included


BEST_EFFORT = pod([container("c")])
BURSTABLE = pod([container("c", {"cpu": "1"})])
SCOPES = [
    ("terminating-needs-active-deadline", BEST_EFFORT, {"scopeName": "Terminating", "operator": "Exists"}, False),
    ("terminating-with-active-deadline", pod([container("c")], activeDeadlineSeconds=30),
     {"scopeName": "Terminating", "operator": "Exists"}, True),
    ("not-terminating", BEST_EFFORT, {"scopeName": "NotTerminating", "operator": "Exists"}, True),
    ("best-effort", BEST_EFFORT, {"scopeName": "BestEffort", "operator": "Exists"}, True),
    ("best-effort-rejects-burstable", BURSTABLE, {"scopeName": "BestEffort", "operator": "Exists"}, False),
    ("not-best-effort", BURSTABLE, {"scopeName": "NotBestEffort", "operator": "Exists"}, True),
    ("priority-class-exists", pod([], priorityClassName="class1"),
     {"scopeName": "PriorityClass", "operator": "Exists"}, True),
    ("priority-class-exists-without-class", BEST_EFFORT, {"scopeName": "PriorityClass", "operator": "Exists"}, False),
    ("priority-class-does-not-exist", BEST_EFFORT,
     {"scopeName": "PriorityClass", "operator": "DoesNotExist"}, True),
    ("priority-class-in", pod([], priorityClassName="class1"),
     {"scopeName": "PriorityClass", "operator": "In", "values": ["class1", "class2"]}, True),
    ("priority-class-in-other", pod([], priorityClassName="class3"),
     {"scopeName": "PriorityClass", "operator": "In", "values": ["class1"]}, False),
    ("priority-class-notin", pod([], priorityClassName="class3"),
     {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["class1"]}, True),
    ("priority-class-notin-without-class", BEST_EFFORT,
     {"scopeName": "PriorityClass", "operator": "NotIn", "values": ["class1"]}, True),
    ("cross-namespace-affinity", pod([], affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "zone", "namespaces": ["other"]}]}}),
     {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"}, True),
    ("cross-namespace-anti-affinity-selector", pod([], affinity={"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}}}]}}),
     {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"}, True),
    ("same-namespace-affinity", pod([], affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "zone"}]}}), {"scopeName": "CrossNamespacePodAffinity", "operator": "Exists"}, False),
]


@pytest.mark.parametrize(("obj", "selector", "want"), [s[1:] for s in SCOPES], ids=[s[0] for s in SCOPES])
def test_pod_scopes(obj: dict[str, Any], selector: dict[str, Any], want: bool) -> None:
    assert quota_matches(evaluator_for("pods", ""), quota({"pods": "1"}, selector=[selector]), obj) is want


def service(kind: str, ports: int, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "s"}, "spec": {"type": kind, "ports": [{"port": 80 + i} for i in range(ports)],
                                                 **spec}}


SERVICE_USAGE = [
    ("cluster-ip", service("ClusterIP", 1), {"services": "1", "count/services": "1"}),
    ("node-port", service("NodePort", 1), {"services": "1", "count/services": "1", "services.nodeports": "1"}),
    ("multi-node-port", service("NodePort", 2), {"services": "1", "count/services": "1", "services.nodeports": "2"}),
    ("load-balancer", service("LoadBalancer", 1),
     {"services": "1", "count/services": "1", "services.nodeports": "1", "services.loadbalancers": "1"}),
    ("load-balancer-without-node-ports", service("LoadBalancer", 2, allocateLoadBalancerNodePorts=False),
     {"services": "1", "count/services": "1", "services.nodeports": "0", "services.loadbalancers": "1"}),
]


@pytest.mark.parametrize(("obj", "want"), [s[1:] for s in SERVICE_USAGE], ids=[s[0] for s in SERVICE_USAGE])
def test_service_usage_matches_upstream(obj: dict[str, Any], want: dict[str, str]) -> None:
    assert evaluator_for("services", "").usage(obj, NOW) == q(want)


def claim(storage: str, cls: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": storage}}}
    if cls:
        spec["storageClassName"] = cls
    return {"metadata": {"name": "c"}, "spec": spec}


PVC_USAGE = [
    ("claim-without-class", claim("10Gi"),
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1", "requests.storage": "10Gi"}),
    ("claim-with-gold-class", claim("10Gi", "gold"),
     {"persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1", "requests.storage": "10Gi",
      "gold.storageclass.storage.k8s.io/requests.storage": "10Gi",
      "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1"}),
]


@pytest.mark.parametrize(("obj", "want"), [s[1:] for s in PVC_USAGE], ids=[s[0] for s in PVC_USAGE])
def test_claim_usage_matches_upstream(obj: dict[str, Any], want: dict[str, str]) -> None:
    assert evaluator_for("persistentvolumeclaims", "").usage(obj, NOW) == q(want)


@pytest.mark.parametrize(("plural", "group", "names", "want"), [
    ("pods", "", ["requests.huawei.com/Ascend910", "huawei.com/Ascend910", "limits.nvidia.com/gpu", "pods"],
     ["pods", "requests.huawei.com/Ascend910"]),
    ("pods", "", ["requests.openfuyao.com/kae.hpre", "requests.hugepages-2Mi", "count/pods"],
     ["count/pods", "requests.hugepages-2Mi", "requests.openfuyao.com/kae.hpre"]),
    ("configmaps", "", ["configmaps", "count/configmaps", "secrets"], ["configmaps", "count/configmaps"]),
    ("jobs", "batch.volcano.sh", ["count/jobs.batch.volcano.sh", "count/jobs.batch"], ["count/jobs.batch.volcano.sh"]),
    ("deployments", "apps", ["count/deployments.apps", "deployments"], ["count/deployments.apps"]),
], ids=["extended-only-in-requests-form", "prefixed-names", "legacy-object-count", "volcano-job-count",
        "deployment-count"])
def test_matching_resources(plural: str, group: str, names: list[str], want: list[str]) -> None:
    assert evaluator_for(plural, group).matching_resources(names) == want


def test_scoped_quota_never_matches_object_counts() -> None:
    ev = evaluator_for("configmaps", "")
    cm = {"metadata": {"name": "c"}}
    assert quota_matches(ev, quota({"configmaps": "2"}), cm)
    assert not quota_matches(ev, quota({"configmaps": "2"}, scopes=["BestEffort"]), cm)


def test_object_count_evaluators_handle_create_only_pods_also_update() -> None:
    assert evaluator_for("configmaps", "").handles("CREATE", "")
    assert not evaluator_for("configmaps", "").handles("UPDATE", "")
    assert evaluator_for("pods", "").handles("UPDATE", "")
    assert not evaluator_for("pods", "").handles("UPDATE", "status")


def test_tracked_resources_and_count_names() -> None:
    assert tracked_resources(["requests.cpu", "count/jobs.batch.volcano.sh", "secrets", "services.nodeports"]) == {
        ("pods", ""), ("jobs", "batch.volcano.sh"), ("secrets", ""), ("services", "")}
    assert count_resource_of("count/deployments.apps") == ("deployments", "apps")
    assert count_resource_of("requests.cpu") is None


def test_pretty_print_sorts_and_uses_canonical_quantities() -> None:
    assert pretty_print(q({"requests.memory": "1024Mi", "pods": "3", "requests.cpu": "0.5"})) == \
        "pods=3,requests.cpu=500m,requests.memory=1Gi"
