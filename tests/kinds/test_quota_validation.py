"""ResourceQuota and LimitRange validation, the error cases of upstream's TestValidateResourceQuota
and TestValidateLimitRange (pkg/apis/core/validation/validation_test.go) with our field paths."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.kinds.defaults import apply_builtin_defaults, validate_builtin


def rq(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "ns"}, "spec": spec}


QUOTA_ERRORS = [
    ("negative-limits", rq(hard={"cpu": "-10"}), "spec.hard[cpu]", "must be greater than or equal to 0"),
    ("fractional-api-resource", rq(hard={"pods": "0.5"}), "spec.hard[pods]", "must be an integer"),
    ("fractional-extended-resource", rq(hard={"requests.huawei.com/Ascend910": "1.5"}),
     "spec.hard[requests.huawei.com/Ascend910]", "must be an integer"),
    ("invalid-quota-resource", rq(hard={"invalid": "1"}), "spec.hard[invalid]",
     "must be a standard resource for quota"),
    ("terminating-pair", rq(hard={"pods": "1"}, scopes=["Terminating", "NotTerminating"]), "spec.scopes",
     "conflicting scopes"),
    ("best-effort-pair", rq(hard={"pods": "1"}, scopes=["BestEffort", "NotBestEffort"]), "spec.scopes",
     "conflicting scopes"),
    ("best-effort-with-cpu", rq(hard={"cpu": "1"}, scopes=["BestEffort"]), "spec.scopes",
     "unsupported scope applied to resource"),
    ("terminating-with-services", rq(hard={"services": "1"}, scopes=["Terminating"]), "spec.scopes",
     "unsupported scope applied to resource"),
    ("unknown-scope", rq(hard={"pods": "1"}, scopes=["foo"]), "spec.scopes", "unsupported scope"),
    ("selector-in-without-values", rq(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In"}]}), "spec.scopeSelector.matchExpressions[0].values",
     "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"),
    ("selector-exists-with-values", rq(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "Exists", "values": ["a"]}]}),
     "spec.scopeSelector.matchExpressions[0].values",
     "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"),
    ("selector-bad-operator", rq(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "Equals", "values": ["a"]}]}),
     "spec.scopeSelector.matchExpressions[0].operator", "not a valid selector operator"),
]


@pytest.mark.parametrize(("obj", "field", "detail"), [c[1:] for c in QUOTA_ERRORS], ids=[c[0] for c in QUOTA_ERRORS])
def test_invalid_quotas_name_the_field(obj: dict[str, Any], field: str, detail: str) -> None:
    causes = validate_builtin("ResourceQuota", obj)
    assert [c.field for c in causes] == [field]
    assert causes[0].message.endswith(detail)


@pytest.mark.parametrize("obj", [
    rq(hard={"requests.cpu": "4", "requests.memory": "8Gi", "requests.huawei.com/Ascend910": "4", "pods": "20",
             "count/jobs.batch.volcano.sh": "5", "huawei.com/Ascend910": "1", "requests.hugepages-2Mi": "1Gi"}),
    rq(hard={"pods": "10", "cpu": "2"}, scopes=["NotTerminating", "NotBestEffort"]),
    rq(hard={"pods": "1"}, scopeSelector={"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}),
], ids=["department-quota", "compatible-scopes", "priority-class-selector"])
def test_valid_quotas(obj: dict[str, Any]) -> None:
    assert validate_builtin("ResourceQuota", obj) == []


def lr(*items: dict[str, Any]) -> dict[str, Any]:
    obj = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l", "namespace": "ns"},
           "spec": {"limits": list(items)}}
    apply_builtin_defaults("LimitRange", obj)
    return obj


LR_ERRORS = [
    ("min-greater-than-max", lr({"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}}),
     "spec.limits[0].min[cpu]", "min value 2 is greater than max value 1"),
    ("default-greater-than-max", lr({"type": "Container", "max": {"memory": "1Gi"}, "default": {"memory": "2Gi"},
                                     "defaultRequest": {"memory": "1Gi"}}),
     "spec.limits[0].default[memory]", "default value 2Gi is greater than max value 1Gi"),
    ("default-request-greater-than-default", lr({"type": "Container", "default": {"cpu": "1"},
                                                 "defaultRequest": {"cpu": "2"}}),
     "spec.limits[0].defaultRequest[cpu]", "default request value 2 is greater than default limit value 1"),
    ("ratio-below-one", lr({"type": "Container", "maxLimitRequestRatio": {"cpu": "800m"}}),
     "spec.limits[0].maxLimitRequestRatio[cpu]", "ratio 800m is less than 1"),
    ("pod-with-default", lr({"type": "Pod", "default": {"cpu": "1"}}), "spec.limits[0].default",
     "may not be specified when `type` is 'Pod'"),
    ("negative-max", lr({"type": "PersistentVolumeClaim", "max": {"storage": "-1Gi"}}),
     "spec.limits[0].max[storage]", "must be greater than or equal to 0"),
]


@pytest.mark.parametrize(("obj", "field", "detail"), [c[1:] for c in LR_ERRORS], ids=[c[0] for c in LR_ERRORS])
def test_invalid_limit_ranges_name_the_field(obj: dict[str, Any], field: str, detail: str) -> None:
    causes = validate_builtin("LimitRange", obj)
    assert [c.field for c in causes] == [field]
    assert causes[0].message.endswith(detail)


def test_limit_range_item_defaults_follow_upstream() -> None:
    obj = lr({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"memory": "1Gi"}},
             {"type": "Pod", "max": {"cpu": "4"}})
    container, pod = obj["spec"]["limits"]
    assert container["default"] == {"memory": "1Gi", "cpu": "2"}
    assert container["defaultRequest"] == {"memory": "1Gi", "cpu": "2"}
    assert "default" not in pod and "defaultRequest" not in pod
    assert validate_builtin("LimitRange", obj) == []
