"""The resource quota controller keeps status.hard/used true (cases after upstream's
pkg/controller/resourcequota/resource_quota_controller_test.go TestSyncResourceQuota)."""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apiserver.admission_quota import ResourceQuotaAdmission
from suanli.controllers.resourcequota import ResourceQuotaController, registry_resolver
from tests.controllers.conftest import Api, eventually, running

QUOTAS = GVR("", "v1", "resourcequotas")
PODS = GVR("", "v1", "pods")
DEPLOYMENTS = GVR("apps", "v1", "deployments")


def pod(name: str, cpu: str | None = "100m", memory: str | None = "1Gi", **spec: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if req:
        res = {"requests": req, "limits": req}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": res}], **spec}}


def quota(name: str, hard: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": hard, **spec}}


async def status(api: Api, name: str) -> dict[str, Any]:
    return dict((await api.client.get(QUOTAS, name, "default")).get("status") or {})


async def set_phase(api: Api, name: str, phase: str) -> None:
    await api.client.patch(PODS, name, {"status": {"phase": phase}}, "default", subresource="status")


def controller(api: Api, resync: float = 300.0) -> ResourceQuotaController:
    return ResourceQuotaController(api.client, registry_resolver(api.registry), resync=resync)


async def test_sync_counts_running_pods_and_skips_terminal_ones(api: Api) -> None:
    for name in ("running", "failed"):
        await api.client.create(PODS, pod(name), "default")
    await set_phase(api, "running", "Running")
    await set_phase(api, "failed", "Failed")
    await api.client.create(QUOTAS, quota("q", {"cpu": "3", "memory": "100Gi", "pods": "5", "count/pods": "5"}),
                            "default")
    async with running(controller(api)):
        st = await eventually(lambda: status(api, "q"), what="status")
    assert st == {"hard": {"count/pods": "5", "cpu": "3", "memory": "100Gi", "pods": "5"},
                  "used": {"count/pods": "2", "cpu": "100m", "memory": "1Gi", "pods": "1"}}


async def test_best_effort_scoped_quota_ignores_burstable_pods(api: Api) -> None:
    await api.client.create(PODS, pod("burstable"), "default")
    await api.client.create(PODS, pod("besteffort", cpu=None, memory=None), "default")
    await api.client.create(QUOTAS, quota("be", {"pods": "5"}, scopes=["BestEffort"]), "default")
    async with running(controller(api)):
        st = await eventually(lambda: status(api, "be"), what="status")
    assert st["used"] == {"pods": "1"}


async def test_usage_follows_deletes_terminal_phases_and_spec_changes(api: Api) -> None:
    api.service.admission.add_final(ResourceQuotaAdmission(api.store))
    await api.client.create(QUOTAS, quota("q", {"pods": "2", "requests.cpu": "1"}), "default")
    async with running(controller(api)):
        async def used() -> dict[str, str]:
            return dict((await status(api, "q")).get("used") or {})

        await eventually(lambda: _eq(used(), {"pods": "0", "requests.cpu": "0"}), what="initial sync")
        await api.client.create(PODS, pod("a", cpu="500m"), "default")
        await api.client.create(PODS, pod("b", cpu="500m"), "default")
        assert await used() == {"pods": "2", "requests.cpu": "1"}  # charged by admission at once
        try:
            await api.client.create(PODS, pod("c", cpu="100m"), "default")
            raise AssertionError("third pod admitted over quota")
        except ApiError as err:
            assert err.code == 403 and "exceeded quota: q" in err.message
        await set_phase(api, "a", "Succeeded")
        await eventually(lambda: _eq(used(), {"pods": "1", "requests.cpu": "500m"}), what="terminal pod released")
        await api.client.delete(PODS, "b", "default", grace_period_seconds=0)
        await eventually(lambda: _eq(used(), {"pods": "0", "requests.cpu": "0"}), what="deleted pod released")
        await api.client.create(PODS, pod("c", cpu="100m"), "default")
        await api.client.patch(QUOTAS, "q", {"spec": {"hard": {"pods": "10", "requests.cpu": "1",
                                                              "count/deployments.apps": "1",
                                                              "count/widgets.example.com": "3"}}}, "default")
        st = await eventually(lambda: _status_hard_has(status(api, "q"), "count/deployments.apps"), what="spec sync")
        assert st["used"] == {"count/deployments.apps": "0", "count/widgets.example.com": "0", "pods": "1",
                              "requests.cpu": "100m"}


async def test_object_count_of_another_kind_is_replenished_on_delete(api: Api) -> None:
    labels = {"app": "d"}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    await api.client.create(DEPLOYMENTS, dep, "default")
    await api.client.create(QUOTAS, quota("q", {"count/deployments.apps": "2"}), "default")
    async with running(controller(api)):
        await eventually(lambda: _eq(_used(status(api, "q")), {"count/deployments.apps": "1"}), what="count")
        await api.client.delete(DEPLOYMENTS, "d", "default")
        await eventually(lambda: _eq(_used(status(api, "q")), {"count/deployments.apps": "0"}), what="replenish")


async def test_periodic_resync_repairs_drifted_usage(api: Api) -> None:
    await api.client.create(PODS, pod("a"), "default")
    await api.client.create(QUOTAS, quota("q", {"pods": "5"}), "default")
    async with running(controller(api, resync=0.2)):
        await eventually(lambda: _eq(_used(status(api, "q")), {"pods": "1"}), what="sync")
        current = await api.client.get(QUOTAS, "q", "default")
        current["status"]["used"] = {"pods": "4"}  # drift: no spec change, so no event-driven sync
        await api.client.update(QUOTAS, current, "default", subresource="status")
        await eventually(lambda: _eq(_used(status(api, "q")), {"pods": "1"}), what="resync repaired usage")


async def _eq(value: Any, want: Any) -> bool:
    return bool(await value == want)


async def _used(st: Any) -> dict[str, str]:
    return dict((await st).get("used") or {})


async def _status_hard_has(st: Any, name: str) -> dict[str, Any] | None:
    s = await st
    return s if name in (s.get("hard") or {}) else None
