"""ResourceQuota ``limitedResources`` (``--admission-control-config-file``): upstream's admission tests
ported — TestAdmitLimitedResourceNoQuota, ...NoQuotaIgnoresNonMatchingResources, ...WithQuota,
...WithMultipleQuota, ...WithQuotaThatDoesNotCover and the TestAdmitLimitedScopeWithCoverQuota table
(k8s.io/apiserver admission/plugin/resourcequota/admission_test.go) — run through the real ApiService."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission_namespace import NamespaceLifecycle
from suanli.apiserver.admission_quota import (
    LimitedResource,
    ResourceQuotaAdmission,
    load_limited_resources,
    parse_limited_resources,
)
from suanli.apiserver.service import ApiService
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

NS = "test"
Factory = Callable[[tuple[LimitedResource, ...]], Any]


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    stores: list[Store] = []

    async def build(limited: tuple[LimitedResource, ...]) -> ApiService:
        registry = Registry()
        registry.add_all(builtin_resource_types())
        store = Store(None, compaction_interval=0)
        await store.start()
        stores.append(store)
        svc = ApiService(store, registry)
        svc.admission.add_validating(NamespaceLifecycle())
        svc.admission.add_final(ResourceQuotaAdmission(store, limited))
        await svc.create(svc.resource("", "v1", "namespaces"), "",
                         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        return svc
    yield build
    for s in stores:
        await s.stop()


async def seed(svc: ApiService, name: str, hard: dict[str, str], used: dict[str, str], **spec: Any) -> None:
    rt = svc.resource("", "v1", "resourcequotas")
    obj = await svc.create(rt, NS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                                    "spec": {"hard": hard, **spec}})
    await svc.update(rt, NS, name, {**obj, "status": {"hard": hard, "used": used}}, subresource="status")


def pod(name: str, cpu: str = "", memory: str = "", priority: str = "") -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "x", "resources": {"requests": requests}}]}
    if priority:
        spec["priorityClassName"] = priority
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def admit(svc: ApiService, body: dict[str, Any]) -> str:
    """"" when admitted, else the error message."""
    try:
        await svc.create(svc.resource("", "v1", "pods"), NS, body)
    except ApiError as err:
        return err.message
    return ""


CPU = (LimitedResource("pods", match_contains=("cpu",)),)
REQUESTS_CPU = (LimitedResource("pods", match_contains=("requests.cpu",)),)


async def test_limited_resource_without_quota_is_refused(make: Factory) -> None:
    svc = await make(CPU)
    assert await admit(svc, pod("not-allowed-pod", "3", "2Gi")) == \
        'pods "not-allowed-pod" is forbidden: insufficient quota to consume: cpu,requests.cpu'


async def test_non_matching_limited_resources_are_ignored(make: Factory) -> None:
    svc = await make((LimitedResource("services", match_contains=("services",)),))
    assert await admit(svc, pod("allowed-pod", "3", "2Gi")) == ""


async def test_limited_resource_with_a_covering_quota_is_admitted(make: Factory) -> None:
    svc = await make(REQUESTS_CPU)
    await seed(svc, "quota", {"requests.cpu": "10"}, {"requests.cpu": "1"})
    assert await admit(svc, pod("allowed-pod", "3", "2Gi")) == ""


async def test_limited_resource_with_one_of_several_quotas_covering(make: Factory) -> None:
    svc = await make(REQUESTS_CPU)
    await seed(svc, "quota1", {"requests.cpu": "10"}, {"requests.cpu": "1"})
    await seed(svc, "quota2", {"memory": "10Gi"}, {"memory": "1Gi"})
    assert await admit(svc, pod("allowed-pod", "3", "2Gi")) == ""


async def test_limited_resource_with_a_quota_that_does_not_cover_it(make: Factory) -> None:
    svc = await make(CPU)
    await seed(svc, "quota", {"memory": "10Gi"}, {"memory": "1Gi"})
    assert await admit(svc, pod("not-allowed-pod", "3", "2Gi")) == \
        'pods "not-allowed-pod" is forbidden: insufficient quota to consume: cpu,requests.cpu'


PC_EXISTS = {"scopeName": "PriorityClass", "operator": "Exists"}
PC_IN = {"scopeName": "PriorityClass", "operator": "In", "values": ["cluster-services"]}
PC_IN_TWO = {"scopeName": "PriorityClass", "operator": "In", "values": ["another-priorityclass-name",
                                                                      "cluster-services"]}
PC_IN_OTHER = {"scopeName": "PriorityClass", "operator": "In", "values": ["another-priorityclass-name"]}
BEST_EFFORT = {"scopeName": "BestEffort", "operator": "Exists"}
TWO_SCOPES = (LimitedResource("pods", match_scopes=(BEST_EFFORT,)), LimitedResource("pods", match_scopes=(PC_IN,)))
BE_QUOTA = ("quota-besteffort", {"pods": "5"}, {"pods": "3"}, {"scopes": ["BestEffort"]})


def selector_quota(name: str, expr: dict[str, Any], hard: dict[str, str] | None = None,
                   used: dict[str, str] | None = None) -> tuple[str, dict[str, str], dict[str, str], dict[str, Any]]:
    return name, hard or {}, used or {}, {"scopeSelector": {"matchExpressions": [expr]}}


# (id, pod (cpu, memory, priority), quotas, limited, expected error ("" = admitted), expected code)
SCOPE_CASES: list[tuple[str, tuple[str, str, str], list[Any], tuple[LimitedResource, ...], str, int]] = [
    ("covering-quota-for-priorityclass-exists", ("3", "2Gi", "fake-priority"), [selector_quota("quota", PC_EXISTS)],
     (LimitedResource("pods", match_scopes=(PC_EXISTS,)),), "", 0),
    ("scope-covered-but-limited-cpu-not", ("3", "2Gi", "fake-priority"), [selector_quota("quota", PC_EXISTS)],
     (LimitedResource("pods", match_contains=("requests.cpu",), match_scopes=(PC_EXISTS,)),),
     "insufficient quota to consume: requests.cpu", 403),
    ("no-quota-for-priorityclass-exists", ("3", "2Gi", "fake-priority"), [],
     (LimitedResource("pods", match_scopes=(PC_EXISTS,)),),
     "insufficient quota to match these scopes: [{PriorityClass Exists []}]", 500),
    ("no-quota-for-besteffort", ("", "", "fake-priority"), [], (LimitedResource("pods", match_scopes=(BEST_EFFORT,)),),
     "insufficient quota to match these scopes: [{BestEffort Exists []}]", 500),
    ("quota-for-besteffort", ("", "", "fake-priority"), [BE_QUOTA],
     (LimitedResource("pods", match_scopes=(BEST_EFFORT,)),), "", 0),
    ("two-scopes-neither-matches-the-pod", ("100m", "1Gi", "fake-priority"), [], TWO_SCOPES, "", 0),
    ("two-scopes-only-besteffort-matches", ("", "", "fake-priority"), [], TWO_SCOPES,
     "insufficient quota to match these scopes: [{BestEffort Exists []}]", 500),
    ("two-scopes-only-priorityclass-matches", ("100m", "1Gi", "cluster-services"), [], TWO_SCOPES,
     "insufficient quota to match these scopes: [{PriorityClass In [cluster-services]}]", 500),
    ("two-scopes-both-match-no-quota", ("", "", "cluster-services"), [], TWO_SCOPES,
     "insufficient quota to match these scopes: [{BestEffort Exists []} {PriorityClass In [cluster-services]}]", 500),
    ("two-scopes-both-match-only-besteffort-quota", ("", "", "cluster-services"), [BE_QUOTA], TWO_SCOPES,
     "insufficient quota to match these scopes: [{PriorityClass In [cluster-services]}]", 500),
    ("two-scopes-both-match-only-priorityclass-quota", ("", "", "cluster-services"),
     [selector_quota("quota", PC_IN)], TWO_SCOPES,
     "insufficient quota to match these scopes: [{BestEffort Exists []}]", 500),
    ("two-scopes-both-match-both-quotas", ("", "", "cluster-services"), [BE_QUOTA, selector_quota("quota", PC_IN)],
     TWO_SCOPES, "", 0),
    ("no-limited-scope-configured", ("3", "2Gi", "fake-priority"), [], (), "", 0),
    ("covering-scope-but-quota-exceeded", ("3", "20Gi", "fake-priority"),
     [selector_quota("quota", PC_EXISTS, {"memory": "10Gi"}, {"memory": "1Gi"})],
     (LimitedResource("pods", match_scopes=(PC_EXISTS,)),),
     "forbidden: exceeded quota: quota, requested: memory=20Gi, used: memory=1Gi, limited: memory=10Gi", 403),
    ("other-priorityclass-than-limited", ("3", "2Gi", "fake-priority"), [selector_quota("quota", PC_IN)],
     (LimitedResource("pods", match_scopes=(PC_IN,)),), "", 0),
    ("limited-priorityclass-covered-by-in", ("3", "2Gi", "cluster-services"), [selector_quota("quota", PC_IN)],
     (LimitedResource("pods", match_scopes=(PC_IN_TWO,)),), "", 0),
    ("limited-priorityclass-quota-for-another", ("3", "2Gi", "cluster-services"),
     [selector_quota("quota", PC_IN_OTHER)], (LimitedResource("pods", match_scopes=(PC_IN_TWO,)),),
     "insufficient quota to match these scopes: [{PriorityClass In [another-priorityclass-name cluster-services]}]",
     500),
    ("pod-of-the-other-limited-priorityclass-covered", ("3", "2Gi", "another-priorityclass-name"),
     [selector_quota("quota", PC_IN_OTHER)], (LimitedResource("pods", match_scopes=(PC_IN_TWO,)),), "", 0),
    ("limited-priorityclass-no-quota", ("3", "2Gi", "cluster-services"), [],
     (LimitedResource("pods", match_scopes=(PC_IN_TWO,)),),
     "insufficient quota to match these scopes: [{PriorityClass In [another-priorityclass-name cluster-services]}]",
     500),
    ("limited-priorityclass-covered-by-exists", ("3", "2Gi", "cluster-services"),
     [selector_quota("quota", PC_EXISTS)], (LimitedResource("pods", match_scopes=(PC_IN_TWO,)),), "", 0),
]


@pytest.mark.parametrize(("pod_args", "quotas", "limited", "want", "code"), [c[1:] for c in SCOPE_CASES],
                         ids=[c[0] for c in SCOPE_CASES])
async def test_limited_scope_with_cover_quota(make: Factory, pod_args: tuple[str, str, str], quotas: list[Any],
                                              limited: tuple[LimitedResource, ...], want: str, code: int) -> None:
    svc = await make(limited)
    for name, hard, used, spec in quotas:
        await seed(svc, name, hard, used, **spec)
    name = "allowed-pod" if not want else "not-allowed-pod"
    try:
        await svc.create(svc.resource("", "v1", "pods"), NS, pod(name, *pod_args))
    except ApiError as err:
        assert want, f"admitted upstream, refused here: {err.message}"
        assert want in err.message and err.code == code
        return
    assert not want, f"refused upstream with {want!r}, admitted here"


def test_admission_configuration_file_inline_and_by_path(tmp_path: Path) -> None:
    quota_config = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
                    "limitedResources": [{"resource": "pods", "matchContains": ["huawei.com/Ascend910"]},
                                         {"resource": "pods", "matchScopes": [PC_IN]}]}
    inline = tmp_path / "inline.yaml"
    inline.write_text(json.dumps({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
                                  "plugins": [{"name": "ResourceQuota", "configuration": quota_config}]}))
    (tmp_path / "quota.yaml").write_text(json.dumps({**quota_config, "apiVersion":
                                                     "resourcequota.admission.k8s.io/v1beta1",
                                                     "kind": "Configuration"}))
    by_path = tmp_path / "by-path.yaml"
    by_path.write_text(json.dumps({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
                                   "plugins": [{"name": "ResourceQuota", "path": "quota.yaml"}]}))
    want = (LimitedResource("pods", match_contains=("huawei.com/Ascend910",)),
            LimitedResource("pods", match_scopes=(PC_IN,)))
    assert load_limited_resources(inline) == want
    assert load_limited_resources(by_path) == want


@pytest.mark.parametrize(("config", "message"), [
    ({"apiVersion": "v1", "kind": "ResourceQuotaConfiguration"}, "kind/apiVersion: Invalid value"),
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
      "limitedResources": [{"matchContains": ["cpu"]}]}, "limitedResources[0].resource: Required value"),
    ({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "ResourceQuotaConfiguration",
      "limitedResources": [{"resource": "pods", "matchScopes": [{"operator": "Exists"}]}]},
     "limitedResources[0].matchScopes[0]: Required value"),
], ids=["wrong-kind", "no-resource", "scope-without-name"])
def test_invalid_quota_configuration_names_the_field(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_limited_resources(config)
