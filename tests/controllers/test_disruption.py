"""PodDisruptionBudgets: the eviction subresource (upstream ``eviction_test.go`` cases) and the
disruption controller (upstream ``disruption_test.go`` cases), against the in-process API stack."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import JOBS, PODS, REPLICASETS, rfc3339
from suanli.controllers.disruption import PDBS, DisruptionController, scaled_value
from suanli.kinds.pdb import check_and_decrement
from tests.controllers.conftest import Api, eventually, running

NS = "default"
EVENTS = GVR("", "v1", "events")


def pod(name: str, *, labels: dict[str, str] | None = None, phase: str = "Running", ready: bool = True,
        owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": NS, "labels": labels if labels is not None else {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "_status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(1e9)}]}}


async def make_pod(api: Api, p: Obj) -> None:
    status = p.pop("_status")
    await api.client.create(PODS, p, NS)
    await api.client.patch(PODS, p["metadata"]["name"], {"status": status}, NS, subresource="status")


def pdb(name: str = "budget", **spec: Any) -> Obj:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


async def make_pdb(api: Api, body: Obj, status: Obj | None) -> None:
    created = await api.client.create(PDBS, body, NS)
    if status is not None:
        status = {"observedGeneration": created["metadata"]["generation"], **status}
        await api.client.patch(PDBS, body["metadata"]["name"], {"status": status}, NS, subresource="status")


async def evict(api: Api, name: str) -> None:
    await api.service.evict(NS, name, {"apiVersion": "policy/v1", "kind": "Eviction",
                                       "metadata": {"name": name, "namespace": NS}})


async def pod_gone(api: Api, name: str) -> bool:
    try:
        got = await api.client.get(PODS, name, NS)
    except ApiError as err:
        return err.code == 404
    return bool(got["metadata"].get("deletionTimestamp"))


@pytest.mark.parametrize(
    ("pod_kwargs", "budget_status", "evicted"),
    [
        pytest.param({}, {"disruptionsAllowed": 0, "desiredHealthy": 1, "currentHealthy": 1}, False,
                     id="running-pod-with-no-disruptions-allowed-is-refused"),
        pytest.param({"phase": "Pending"}, {"disruptionsAllowed": 0}, True,
                     id="pending-pod-ignores-the-budget"),
        pytest.param({"phase": "Succeeded"}, {"disruptionsAllowed": 0}, True,
                     id="succeeded-pod-ignores-the-budget"),
        pytest.param({"phase": "Failed"}, {"disruptionsAllowed": 0}, True, id="failed-pod-ignores-the-budget"),
        pytest.param({}, {"disruptionsAllowed": 1, "desiredHealthy": 1, "currentHealthy": 2}, True,
                     id="running-pod-with-a-disruption-allowed-is-evicted"),
        pytest.param({"labels": {"app": "other"}}, {"disruptionsAllowed": 0}, True,
                     id="pod-not-selected-by-the-budget-is-evicted"),
        pytest.param({"ready": False}, {"disruptionsAllowed": 0, "desiredHealthy": 1, "currentHealthy": 1}, True,
                     id="unready-pod-is-evicted-while-the-budget-is-met"),
        pytest.param({"ready": False}, {"disruptionsAllowed": 0, "desiredHealthy": 2, "currentHealthy": 1}, False,
                     id="unready-pod-is-refused-while-the-budget-is-not-met"),
    ],
)
async def test_eviction_against_a_budget(api: Api, pod_kwargs: dict[str, Any], budget_status: Obj,
                                         evicted: bool) -> None:
    await make_pod(api, pod("p", **pod_kwargs))
    await make_pdb(api, pdb(minAvailable=1), budget_status)
    if evicted:
        await evict(api, "p")
        assert await pod_gone(api, "p")
        return
    with pytest.raises(ApiError) as info:
        await evict(api, "p")
    status = info.value.status()
    assert status["code"] == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"][0]["reason"] == "DisruptionBudget"
    assert not await pod_gone(api, "p")


async def test_unready_pod_with_always_allow_policy_is_evicted(api: Api) -> None:
    await make_pod(api, pod("p", ready=False))
    await make_pdb(api, pdb(minAvailable=3, unhealthyPodEvictionPolicy="AlwaysAllow"),
                   {"disruptionsAllowed": 0, "desiredHealthy": 3, "currentHealthy": 0})
    await evict(api, "p")
    assert await pod_gone(api, "p")


async def test_eviction_decrements_the_budget_and_records_the_pod(api: Api) -> None:
    await make_pod(api, pod("p"))
    await make_pdb(api, pdb(minAvailable=1), {"disruptionsAllowed": 1, "desiredHealthy": 1, "currentHealthy": 2})
    await evict(api, "p")
    status = (await api.client.get(PDBS, "budget", NS))["status"]
    assert status["disruptionsAllowed"] == 0
    assert set(status["disruptedPods"]) == {"p"}
    cond = next(c for c in status["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")


async def test_budget_not_yet_observed_answers_retry_later(api: Api) -> None:
    await make_pod(api, pod("p"))
    await api.client.create(PDBS, pdb(minAvailable=1), NS)  # no status: generation 1 not observed
    with pytest.raises(ApiError) as info:
        await evict(api, "p")
    assert info.value.code == 429 and info.value.retry_after_seconds == 10
    assert "is still being processed by the server" in info.value.status()["details"]["causes"][0]["message"]


async def test_two_budgets_for_one_pod_is_an_internal_error(api: Api) -> None:
    await make_pod(api, pod("p"))
    await make_pdb(api, pdb("a", minAvailable=1), {"disruptionsAllowed": 1})
    await make_pdb(api, pdb("b", minAvailable=1), {"disruptionsAllowed": 1})
    with pytest.raises(ApiError) as info:
        await evict(api, "p")
    assert info.value.code == 500
    assert "more than one PodDisruptionBudget" in info.value.message


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param({"disruptionsAllowed": -1, "observedGeneration": 1}, 403, id="negative-allowance-is-forbidden"),
        pytest.param({"disruptionsAllowed": 0, "observedGeneration": 1}, 429, id="zero-allowance-is-too-many"),
        pytest.param({"disruptionsAllowed": 1, "observedGeneration": 0}, 429, id="stale-status-is-too-many"),
    ],
)
def test_check_and_decrement_refusals(status: Obj, code: int) -> None:
    budget = {"metadata": {"name": "b", "generation": 1}, "status": status}
    with pytest.raises(ApiError) as info:
        check_and_decrement(budget, "p", "2026-01-01T00:00:00Z")
    assert info.value.code == code


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [(3, 10, 3), ("50%", 3, 2), ("0%", 5, 0), ("100%", 4, 4), ("34%", 3, 2)],
)
def test_scaled_value_rounds_up(value: Any, total: int, expected: int) -> None:
    assert scaled_value(value, total, round_up=True) == expected


async def pdb_status(api: Api) -> Obj:
    return (await api.client.get(PDBS, "budget", NS)).get("status") or {}


async def test_controller_counts_healthy_pods_for_min_available(api: Api) -> None:
    for i, ready in enumerate((True, True, False)):
        await make_pod(api, pod(f"p{i}", ready=ready))
    await api.client.create(PDBS, pdb(minAvailable=1), NS)
    async with running(DisruptionController(api.client)):
        async def settled() -> Obj | None:
            st = await pdb_status(api)
            return st if st.get("observedGeneration") == 1 else None

        st = await eventually(settled, what="PDB status")
        assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == \
            (2, 1, 3, 1)
        cond = next(c for c in st["conditions"] if c["type"] == "DisruptionAllowed")
        assert (cond["status"], cond["reason"]) == ("True", "SufficientPods")
        # evicting one healthy pod uses the allowance; the controller keeps it used
        await evict(api, "p0")
        with pytest.raises(ApiError) as info:
            await evict(api, "p1")
        assert info.value.code == 429


async def test_controller_scales_max_unavailable_by_the_controller_replicas(api: Api) -> None:
    rs = await api.client.create(REPLICASETS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}}, NS)
    for i in range(3):
        await make_pod(api, pod(f"p{i}", owner=rs))
    await api.client.create(PDBS, pdb(maxUnavailable="50%"), NS)
    async with running(DisruptionController(api.client)):
        async def settled() -> Obj | None:
            st = await pdb_status(api)
            return st if st.get("expectedPods") == 4 else None

        st = await eventually(settled, what="PDB status with expected pods")
        # 4 expected, 50% of 4 = 2 may be unavailable → 2 desired healthy, 3 healthy → 1 allowed
        assert (st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"]) == (2, 3, 1)


async def test_controller_reports_sync_failed_for_unknown_controller_kinds(api: Api) -> None:
    owner = await api.client.create(JOBS, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "t", "namespace": NS},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}, NS)
    await make_pod(api, pod("p0", owner=owner))
    await api.client.create(PDBS, pdb(maxUnavailable=1), NS)
    async with running(DisruptionController(api.client)):
        async def failed() -> Obj | None:
            st = await pdb_status(api)
            conds = [c for c in st.get("conditions") or [] if c.get("reason") == "SyncFailed"]
            return conds[0] if conds else None

        cond = await eventually(failed, what="SyncFailed condition")
        assert cond["status"] == "False" and "Job/t" in cond["message"]


async def test_budget_without_pods_gets_a_no_pods_event(api: Api) -> None:
    await api.client.create(PDBS, pdb(minAvailable=1), NS)
    async with running(DisruptionController(api.client)):
        async def no_pods_event() -> bool:
            events = (await api.client.list(EVENTS, NS))["items"]
            return any(e["reason"] == "NoPods" and e["involvedObject"]["kind"] == "PodDisruptionBudget"
                       and e["message"] == "No matching pods found" for e in events)

        await eventually(no_pods_event, what="NoPods Event")
        st = await eventually(lambda: _observed(api), what="status")
        assert (st["expectedPods"], st["disruptionsAllowed"]) == (0, 0)


async def _observed(api: Api) -> Obj | None:
    st = await pdb_status(api)
    return st if st.get("observedGeneration") == 1 else None
