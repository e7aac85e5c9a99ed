"""kube-apiserver's rules for extended resources (``nvidia.com/gpu``, ``huawei.com/Ascend910``) and
other non-overcommitable resources, ported from upstream ``TestValidateResourceRequirements`` cases."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.kinds.defaults import apply_builtin_defaults, overcommit_allowed, validate_builtin


def pod(resources: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]}}


def messages(resources: dict[str, Any], *, defaults: bool = True) -> list[str]:
    obj = pod(resources)
    if defaults:
        apply_builtin_defaults("Pod", obj)
    return [c.text() for c in validate_builtin("Pod", obj)]


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param({"requests": {"nvidia.com/gpu": "1"}},
                     ["spec.containers[0].resources.limits: Required value: Limit must be set for non "
                      "overcommitable resources"], id="gpu-request-without-limit-is-rejected"),
        pytest.param({"requests": {"huawei.com/Ascend910": "2"}},
                     ["spec.containers[0].resources.limits: Required value: Limit must be set for non "
                      "overcommitable resources"], id="npu-request-without-limit-is-rejected"),
        pytest.param({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}},
                     ['spec.containers[0].resources.requests: Invalid value: "1": must be equal to nvidia.com/gpu '
                      "limit of 2"], id="gpu-request-below-limit-is-rejected"),
        pytest.param({"requests": {"nvidia.com/gpu": "3"}, "limits": {"nvidia.com/gpu": "2"}},
                     ['spec.containers[0].resources.requests: Invalid value: "3": must be equal to nvidia.com/gpu '
                      "limit of 2"], id="gpu-request-above-limit-is-rejected"),
        pytest.param({"limits": {"nvidia.com/gpu": "500m"}},
                     ['spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: "500m": must be an '
                      "integer",
                      'spec.containers[0].resources.requests[nvidia.com/gpu]: Invalid value: "500m": must be an '
                      "integer"], id="fractional-gpu-is-rejected"),
        pytest.param({"requests": {"hugepages-2Mi": "2Mi", "memory": "1Gi"}, "limits": {"hugepages-2Mi": "4Mi"}},
                     ['spec.containers[0].resources.requests: Invalid value: "2Mi": must be equal to hugepages-2Mi '
                      "limit of 4Mi"], id="hugepages-request-must-equal-limit"),
        pytest.param({"limits": {"nvidia.com/gpu": "2"}}, [], id="gpu-limit-only-defaults-the-request"),
        pytest.param({"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": "2"}}, [],
                     id="gpu-request-equal-to-limit-is-accepted"),
        pytest.param({"requests": {"cpu": "500m"}, "limits": {"cpu": "1"}}, [], id="cpu-may-be-overcommitted"),
        pytest.param({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                     ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to '
                      "cpu limit of 1"], id="cpu-request-above-limit-is-rejected"),
        pytest.param({"requests": {"example.kubernetes.io/thing": "1"}}, [],
                     id="kubernetes-io-prefixed-resources-are-native"),
    ],
)
def test_pod_extended_resources(resources: dict[str, Any], expected: list[str]) -> None:
    assert messages(resources) == expected


def test_limit_only_pod_gets_requests_equal_to_limits() -> None:
    obj = pod({"limits": {"nvidia.com/gpu": "2"}})
    apply_builtin_defaults("Pod", obj)
    assert obj["spec"]["containers"][0]["resources"]["requests"] == {"nvidia.com/gpu": "2"}


def test_templates_are_validated_without_request_defaulting() -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                  "metadata": {"labels": {"a": "b"}},
                  "spec": {"containers": [{"name": "c", "image": "x",
                                           "resources": {"requests": {"nvidia.com/gpu": "1"}}}]}}}}
    causes = [c.text() for c in validate_builtin("apps/Deployment", deploy)]
    assert causes == ["spec.template.spec.containers[0].resources.limits: Required value: Limit must be set for "
                      "non overcommitable resources"]


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("cpu", True), ("memory", True), ("ephemeral-storage", True), ("hugepages-1Gi", False),
     ("nvidia.com/gpu", False), ("huawei.com/Ascend910", False), ("kubernetes.io/foo", True)],
)
def test_overcommit_allowed(name: str, allowed: bool) -> None:
    assert overcommit_allowed(name) is allowed
