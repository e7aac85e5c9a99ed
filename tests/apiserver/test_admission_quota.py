"""ResourceQuota admission through the real ApiService, with upstream's admission cases ported
(kubernetes staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/admission_test.go)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import deep_copy
from suanli.apiserver.admission import AdmissionChain
from suanli.apiserver.admission_namespace import NamespaceLifecycle
from suanli.apiserver.admission_quota import ResourceQuotaAdmission
from suanli.apiserver.context import RequestContext
from suanli.apiserver.service import ApiService
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

NS = "ns"


@pytest.fixture
async def svc() -> AsyncIterator[ApiService]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    service.admission.add_validating(NamespaceLifecycle())
    service.admission.add_final(ResourceQuotaAdmission(store))
    for name in (NS, "default"):
        await service.create(service.resource("", "v1", "namespaces"), "",
                             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield service
    await store.stop()


async def seed(svc: ApiService, name: str, hard: dict[str, str], used: dict[str, str] | None,
               **spec: Any) -> None:
    """A quota whose status the controller has already synced (``used`` None: not yet synced)."""
    rt = svc.resource("", "v1", "resourcequotas")
    obj = await svc.create(rt, NS, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                                    "spec": {"hard": hard, **spec}})
    status: dict[str, Any] = {"hard": hard}
    if used is not None:
        status["used"] = used
    await svc.update(rt, NS, name, {**obj, "status": status}, subresource="status")


def used(svc: ApiService, name: str) -> dict[str, str]:
    return dict(svc.get(svc.resource("", "v1", "resourcequotas"), NS, name).obj["status"]["used"])


def pod(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
        **spec: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "x", "resources": res}], **spec}}


async def create_pod(svc: ApiService, body: dict[str, Any], ctx: RequestContext | None = None) -> dict[str, Any]:
    return await svc.create(svc.resource("", "v1", "pods"), NS, body, ctx)


async def forbidden(coro: Any) -> str:
    with pytest.raises(ApiError) as err:
        await coro
    assert err.value.code == 403, err.value
    return err.value.message


BELOW = {"cpu": "3", "memory": "100Gi", "pods": "5"}
BELOW_USED = {"cpu": "1", "memory": "50Gi", "pods": "3"}


async def test_admit_below_quota_limit_charges_usage(svc: ApiService) -> None:
    await seed(svc, "quota", BELOW, BELOW_USED)
    await create_pod(svc, pod("p", {"cpu": "100m", "memory": "2Gi"}, {"cpu": "100m", "memory": "2Gi"}))
    assert used(svc, "quota") == {"cpu": "1100m", "memory": "52Gi", "pods": "4"}


async def test_dry_run_is_checked_but_not_charged(svc: ApiService) -> None:
    await seed(svc, "quota", BELOW, BELOW_USED)
    await create_pod(svc, pod("p", {"cpu": "100m", "memory": "2Gi"}), RequestContext(dry_run=True))
    assert used(svc, "quota") == BELOW_USED
    msg = await forbidden(create_pod(svc, pod("big", {"cpu": "3", "memory": "2Gi"}), RequestContext(dry_run=True)))
    assert "exceeded quota: quota" in msg


async def test_exceeding_the_quota_is_403_with_upstream_message(svc: ApiService) -> None:
    await seed(svc, "quota", BELOW, BELOW_USED)
    msg = await forbidden(create_pod(svc, pod("p", {"cpu": "3", "memory": "2Gi"})))
    assert msg == 'pods "p" is forbidden: exceeded quota: quota, requested: cpu=3, used: cpu=1, limited: cpu=3'
    assert used(svc, "quota") == BELOW_USED
    with pytest.raises(ApiError):
        svc.get(svc.resource("", "v1", "pods"), NS, "p")


async def test_extended_resource_quota_in_requests_form(svc: ApiService) -> None:
    await seed(svc, "npu", {"requests.huawei.com/Ascend910": "4"}, {"requests.huawei.com/Ascend910": "2"})
    npu = {"huawei.com/Ascend910": "2"}
    await create_pod(svc, pod("a", npu, npu))
    msg = await forbidden(create_pod(svc, pod("b", {"huawei.com/Ascend910": "1"}, {"huawei.com/Ascend910": "1"})))
    assert msg == ('pods "b" is forbidden: exceeded quota: npu, requested: requests.huawei.com/Ascend910=1, '
                   "used: requests.huawei.com/Ascend910=4, limited: requests.huawei.com/Ascend910=4")


async def test_quota_constraints_require_tracked_limits(svc: ApiService) -> None:
    await seed(svc, "compute", {"cpu": "3", "memory": "100Gi", "limits.cpu": "3", "limits.memory": "100Gi"},
               {"cpu": "0", "memory": "0", "limits.cpu": "0", "limits.memory": "0"})
    msg = await forbidden(create_pod(svc, pod("p", {"cpu": "1", "memory": "1Gi"})))
    assert msg == ('pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: main; '
                   "limits.memory for: main")


async def test_unsynced_quota_status_rejects(svc: ApiService) -> None:
    await seed(svc, "fresh", {"pods": "3"}, None)
    msg = await forbidden(create_pod(svc, pod("p")))
    assert msg == 'pods "p" is forbidden: status unknown for quota: fresh, resources: pods'


async def test_pod_in_namespace_without_quota_is_admitted(svc: ApiService) -> None:
    await create_pod(svc, pod("p", {"cpu": "100"}))


async def test_unrelated_resource_exceeding_quota_does_not_block(svc: ApiService) -> None:
    await seed(svc, "quota", {"services": "2", "pods": "10"}, {"services": "3", "pods": "1"})
    await create_pod(svc, pod("p"))
    assert used(svc, "quota") == {"services": "3", "pods": "2"}


@pytest.mark.parametrize(("scope", "spec", "charged"), [
    ("Terminating", {"activeDeadlineSeconds": 60}, True),
    ("Terminating", {}, False),
    ("NotTerminating", {}, True),
], ids=["terminating-pod-charged", "long-running-pod-ignored", "not-terminating-charged"])
async def test_terminating_scopes(svc: ApiService, scope: str, spec: dict[str, Any], charged: bool) -> None:
    await seed(svc, "quota", {"pods": "5"}, {"pods": "3"}, scopes=[scope])
    await create_pod(svc, pod("p", {"cpu": "1"}, **spec))
    assert used(svc, "quota") == {"pods": "4" if charged else "3"}


async def test_best_effort_quota_ignores_burstable_pods(svc: ApiService) -> None:
    await seed(svc, "quota", {"pods": "1"}, {"pods": "1"}, scopes=["BestEffort"])
    await create_pod(svc, pod("burstable", {"cpu": "100m"}))
    msg = await forbidden(create_pod(svc, pod("besteffort")))
    assert "exceeded quota: quota, requested: pods=1, used: pods=1, limited: pods=1" in msg


async def test_priority_class_scope_selector(svc: ApiService) -> None:
    await seed(svc, "high", {"pods": "1"}, {"pods": "1"},
               scopeSelector={"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In",
                                                    "values": ["high"]}]})
    await create_pod(svc, pod("low", priorityClassName="low"))
    await forbidden(create_pod(svc, pod("hi", priorityClassName="high")))


async def test_every_matching_quota_must_admit(svc: ApiService) -> None:
    await seed(svc, "wide", {"requests.cpu": "10"}, {"requests.cpu": "0"})
    await seed(svc, "narrow", {"requests.cpu": "1"}, {"requests.cpu": "0"})
    msg = await forbidden(create_pod(svc, pod("p", {"cpu": "2"})))
    assert "exceeded quota: narrow" in msg
    assert used(svc, "wide") == {"requests.cpu": "0"}
    await create_pod(svc, pod("q", {"cpu": "1"}))
    assert used(svc, "wide") == {"requests.cpu": "1"} and used(svc, "narrow") == {"requests.cpu": "1"}


async def test_object_counts_for_configmaps_and_volcano_jobs(svc: ApiService) -> None:
    await seed(svc, "counts", {"configmaps": "1", "count/jobs.batch": "0"}, {"configmaps": "0",
                                                                               "count/jobs.batch": "0"})
    cms = svc.resource("", "v1", "configmaps")
    await svc.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    msg = await forbidden(svc.create(cms, NS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}))
    assert msg == ('configmaps "b" is forbidden: exceeded quota: counts, requested: configmaps=1, '
                   "used: configmaps=1, limited: configmaps=1")
    jobs = svc.resource("batch", "v1", "jobs")
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}
    msg = await forbidden(svc.create(jobs, NS, body))
    assert msg.startswith('jobs.batch "j" is forbidden: exceeded quota: counts, requested: count/jobs.batch=1')


async def test_service_update_to_node_port_charges_the_delta(svc: ApiService) -> None:
    await seed(svc, "svc", {"services": "10", "services.nodeports": "1"}, {"services": "0", "services.nodeports": "0"})
    rt = svc.resource("", "v1", "services")
    created = await svc.create(rt, NS, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                        "spec": {"ports": [{"port": 80}]}})
    assert used(svc, "svc") == {"services": "1", "services.nodeports": "0"}
    changed = deep_copy(created)
    changed["spec"]["type"] = "NodePort"
    await svc.update(rt, NS, "s", changed)
    assert used(svc, "svc") == {"services": "1", "services.nodeports": "1"}


async def test_pod_update_that_raises_requests_is_charged_and_bounded(svc: ApiService) -> None:
    await seed(svc, "quota", {"requests.cpu": "2"}, {"requests.cpu": "0"})
    created = await create_pod(svc, pod("p", {"cpu": "1"}))
    assert used(svc, "quota") == {"requests.cpu": "1"}
    rt = svc.resource("", "v1", "pods")
    changed = deep_copy(created)
    changed["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1500m"
    await svc.update(rt, NS, "p", changed)
    assert used(svc, "quota") == {"requests.cpu": "1500m"}
    again = deep_copy(svc.get(rt, NS, "p").obj)
    again["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3"
    msg = await forbidden(svc.update(rt, NS, "p", again))
    assert msg == ('pods "p" is forbidden: exceeded quota: quota, requested: requests.cpu=1500m, '
                   "used: requests.cpu=1500m, limited: requests.cpu=2")


async def test_concurrent_creates_cannot_both_take_the_last_slot(svc: ApiService) -> None:
    await seed(svc, "quota", {"pods": "5"}, {"pods": "4"})
    results = await asyncio.gather(*(create_pod(svc, pod(f"p{i}")) for i in range(6)), return_exceptions=True)
    admitted = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, ApiError) and r.code == 403]
    assert len(admitted) == 1 and len(rejected) == 5
    assert used(svc, "quota") == {"pods": "5"}


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_immortal_namespaces_cannot_be_deleted(svc: ApiService, name: str) -> None:
    rt = svc.resource("", "v1", "namespaces")
    if name != "default":
        await svc.create(rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    msg = await forbidden(svc.delete(rt, "", name))
    assert msg == f'namespaces "{name}" is forbidden: this namespace may not be deleted'


async def test_create_in_missing_or_terminating_namespace(svc: ApiService) -> None:
    with pytest.raises(ApiError) as err:
        await svc.create(svc.resource("", "v1", "pods"), "nowhere", pod("p"))
    assert (err.value.code, err.value.message) == (404, 'namespaces "nowhere" not found')
    rt = svc.resource("", "v1", "namespaces")
    await svc.create(rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}})
    await svc.delete(rt, "", "going")
    msg = await forbidden(svc.create(svc.resource("", "v1", "pods"), "going", pod("p")))
    assert msg == ('pods "p" is forbidden: unable to create new content in namespace going because it is '
                   "being terminated")


async def test_final_plugins_run_after_validation_and_make_the_chain_apply(svc: ApiService) -> None:
    order: list[str] = []

    class Validating:
        name = "v"
        resources = frozenset({"configmaps", "secrets"})

        def validate(self, request: Any) -> None:
            order.append(f"validate:{request.resource.storage_key}")

    class Final:
        name = "f"
        resources = frozenset({"secrets"})

        async def admit(self, request: Any) -> None:
            order.append(f"final:{request.resource.storage_key}")

    chain = AdmissionChain()
    assert not chain.applies("secrets")
    chain.add_final(Final())
    assert chain.applies("secrets") and not chain.applies("configmaps")
    svc.admission = chain
    chain.add_validating(Validating())
    await svc.create(svc.resource("", "v1", "configmaps"), NS,
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    await svc.create(svc.resource("", "v1", "secrets"), NS,
                     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    assert order == ["validate:configmaps", "validate:secrets", "final:secrets"]
