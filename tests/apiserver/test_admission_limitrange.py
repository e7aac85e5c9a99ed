"""LimitRanger admission: defaults and bounds, worded as upstream
(kubernetes plugin/pkg/admission/limitranger/admission.go and admission_test.go)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission_limitrange import (
    LIMIT_RANGER_ANNOTATION,
    LimitRangeDefaults,
    LimitRangeValidation,
    aggregate,
    default_pod,
    store_limit_ranges,
    validate_claim,
    validate_pod,
)
from suanli.apiserver.service import ApiService
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store


def limit_range(kind: str, *, min: dict[str, str] | None = None, max: dict[str, str] | None = None,
                default: dict[str, str] | None = None, default_request: dict[str, str] | None = None,
                ratio: dict[str, str] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind}
    for key, value in (("min", min), ("max", max), ("default", default), ("defaultRequest", default_request),
                       ("maxLimitRequestRatio", ratio)):
        if value is not None:
            item[key] = value
    return {"metadata": {"name": "lr", "namespace": "ns"}, "spec": {"limits": [item]}}


def container(name: str, requests: dict[str, str] | None = None,
              limits: dict[str, str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return {"name": name, "image": "x", "resources": res}


def pod(*containers: dict[str, Any], init: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = init
    return {"metadata": {"name": "p"}, "spec": spec}


CPU_REQ_LIM = ({"cpu": "100m"}, {"cpu": "200m"})
POD_CASES = [
    # (id, limit range, pod, expected error or "")
    ("container-within-min-max", limit_range("Container", min={"cpu": "50m"}, max={"cpu": "500m"}),
     pod(container("c", *CPU_REQ_LIM)), ""),
    ("container-request-below-min", limit_range("Container", min={"cpu": "200m"}),
     pod(container("c", {"cpu": "100m"}, {"cpu": "300m"})),
     "minimum cpu usage per Container is 200m, but request is 100m"),
    ("container-limit-below-min", limit_range("Container", min={"cpu": "200m"}),
     pod(container("c", {"cpu": "200m"}, {"cpu": "150m"})),
     "minimum cpu usage per Container is 200m, but limit is 150m"),
    ("container-min-without-request", limit_range("Container", min={"memory": "1Mi"}),
     pod(container("c")), "minimum memory usage per Container is 1Mi.  No request is specified"),
    ("container-limit-above-max", limit_range("Container", max={"cpu": "2"}),
     pod(container("c", {"cpu": "1"}, {"cpu": "3"})), "maximum cpu usage per Container is 2, but limit is 3"),
    ("container-request-above-max", limit_range("Container", max={"memory": "1Gi"}),
     pod(container("c", {"memory": "2Gi"}, {"memory": "1Gi"})),
     "maximum memory usage per Container is 1Gi, but request is 2Gi"),
    ("init-container-above-max", limit_range("Container", max={"cpu": "2"}),
     pod(container("c", {"cpu": "1"}, {"cpu": "1"}), init=[container("i", {"cpu": "1"}, {"cpu": "4"})]),
     "maximum cpu usage per Container is 2, but limit is 4"),
    ("ratio-exceeded", limit_range("Container", ratio={"cpu": "2"}),
     pod(container("c", {"cpu": "100m"}, {"cpu": "300m"})),
     "cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000"),
    ("ratio-without-limit", limit_range("Container", ratio={"memory": "2"}),
     pod(container("c", {"memory": "1Gi"})),
     "memory max limit to request ratio per Container is 2, but no limit is specified or limit is 0"),
    ("ratio-within", limit_range("Container", ratio={"cpu": "2"}), pod(container("c", *CPU_REQ_LIM)), ""),
    ("pod-sum-above-max", limit_range("Pod", max={"cpu": "2"}),
     pod(container("a", {"cpu": "1"}, {"cpu": "1500m"}), container("b", {"cpu": "1"}, {"cpu": "1"})),
     "maximum cpu usage per Pod is 2, but limit is 2500m"),
    ("pod-sum-below-min", limit_range("Pod", min={"memory": "1Gi"}),
     pod(container("a", {"memory": "256Mi"}), container("b", {"memory": "256Mi"})),
     "minimum memory usage per Pod is 1Gi, but request is 512Mi"),
    ("pod-init-container-max-counts", limit_range("Pod", max={"cpu": "2"}),
     pod(container("a", {"cpu": "1"}, {"cpu": "1"}), init=[container("i", {"cpu": "3"}, {"cpu": "3"})]),
     "maximum cpu usage per Pod is 2, but limit is 3"),
    ("several-violations-aggregate", limit_range("Container", max={"cpu": "1"}),
     pod(container("a", {"cpu": "1"}, {"cpu": "2"}), container("b", {"cpu": "1"}, {"cpu": "3"})),
     "[maximum cpu usage per Container is 1, but limit is 2, maximum cpu usage per Container is 1, but limit is 3]"),
]


@pytest.mark.parametrize(("lr", "obj", "err"), [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_pod_bounds(lr: dict[str, Any], obj: dict[str, Any], err: str) -> None:
    assert validate_pod(lr, obj) == err


@pytest.mark.parametrize(("lr", "storage", "err"), [
    (limit_range("PersistentVolumeClaim", min={"storage": "1Gi"}), "500Mi",
     "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"),
    (limit_range("PersistentVolumeClaim", max={"storage": "10Gi"}), "20Gi",
     "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"),
    (limit_range("PersistentVolumeClaim", min={"storage": "1Gi"}, max={"storage": "10Gi"}), "5Gi", ""),
    (limit_range("PersistentVolumeClaim", max={"storage": "10Gi"}), None,
     "maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified"),
], ids=["claim-below-min", "claim-above-max", "claim-within", "claim-without-request"])
def test_claim_bounds(lr: dict[str, Any], storage: str | None, err: str) -> None:
    claim: dict[str, Any] = {"spec": {"resources": {"requests": {"storage": storage}} if storage else {}}}
    assert validate_claim(lr, claim) == err


def test_defaults_fill_unset_requests_and_limits_and_annotate() -> None:
    lr = limit_range("Container", default={"cpu": "500m", "memory": "512Mi"}, default_request={"cpu": "250m"})
    p = pod(container("main", {"memory": "128Mi"}), init=[container("setup", None, {"cpu": "1"})])
    default_pod(lr, p)
    main, setup = p["spec"]["containers"][0], p["spec"]["initContainers"][0]
    assert main["resources"] == {"requests": {"memory": "128Mi", "cpu": "250m"},
                                 "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert setup["resources"] == {"limits": {"cpu": "1", "memory": "512Mi"},
                                  "requests": {"cpu": "250m", "memory": "512Mi"}}
    assert p["metadata"]["annotations"][LIMIT_RANGER_ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container main; cpu, memory limit for container main; "
        "cpu, memory request for init container setup; memory limit for init container setup")


def test_default_limit_defaults_the_request_as_upstream_item_defaulting() -> None:
    lr = limit_range("Container", max={"cpu": "2"})  # default <- max, defaultRequest <- default
    p = pod(container("c"))
    default_pod(lr, p)
    assert p["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "2"}, "requests": {"cpu": "2"}}


def test_aggregate_deduplicates() -> None:
    assert aggregate(["a", "", "a"]) == "a"
    assert aggregate([]) == ""
    assert aggregate(["a", "b", "a"]) == "[a, b]"


@pytest.fixture
async def svc() -> AsyncIterator[ApiService]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    ranges = store_limit_ranges(store)
    service.admission.add_mutating(LimitRangeDefaults(ranges))
    service.admission.add_validating(LimitRangeValidation(ranges))
    await service.create(service.resource("", "v1", "namespaces"), "",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    yield service
    await store.stop()


async def test_through_the_api_defaults_qos_and_403(svc: ApiService) -> None:
    lrs = svc.resource("", "v1", "limitranges")
    stored = await svc.create(lrs, "ns", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
                                          "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"},
                                                               "default": {"cpu": "1", "memory": "256Mi"}}]}})
    assert stored["spec"]["limits"][0]["defaultRequest"] == {"cpu": "1", "memory": "256Mi"}
    pods = svc.resource("", "v1", "pods")
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "main", "image": "x"}]}}
    created = await svc.create(pods, "ns", body)
    assert created["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "256Mi"},
                                                             "requests": {"cpu": "1", "memory": "256Mi"}}
    assert created["status"]["qosClass"] == "Guaranteed"
    big = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
           "spec": {"containers": [{"name": "main", "image": "x", "resources": {"limits": {"cpu": "3"}}}]}}
    with pytest.raises(ApiError) as err:
        await svc.create(pods, "ns", big)
    assert (err.value.code, err.value.message) == (
        403, 'pods "big" is forbidden: maximum cpu usage per Container is 2, but limit is 3')
