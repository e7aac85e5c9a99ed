"""StatefulSet controller: the pure sync plan (tables after upstream's stateful_set_control_test.go and
stateful_set_utils_test.go) and the controller against the in-process API stack."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import PODS, rfc3339
from suanli.controllers.statefulset import (
    CONTROLLER_REVISIONS,
    PVCS,
    REVISION_LABEL,
    STATEFULSETS,
    Action,
    StatefulSetController,
    claim_name,
    compute_status,
    max_unavailable_of,
    new_pod,
    parent_and_ordinal,
    plan,
)
from tests.controllers.conftest import Api, eventually, running

NS = "default"
NOW = 1_700_000_000.0


def sts_obj(replicas: int = 3, *, policy: str = "OrderedReady", strategy: Obj | None = None,
            **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": NS, "uid": "set-uid", "generation": 1},
        "spec": {"replicas": replicas, "podManagementPolicy": policy, "serviceName": "web",
                 "selector": {"matchLabels": {"app": "web"}},
                 "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                 **spec},
    }


def pod(ordinal: int, state: str = "ready", revision: str = "r1", name: str = "web") -> Obj:
    """``state``: ready | pending | running (not ready) | failed | succeeded | terminating."""
    p: Obj = {"metadata": {"name": f"{name}-{ordinal}", "namespace": NS, "labels": {REVISION_LABEL: revision}},
              "status": {"phase": "Pending"}}
    if state in ("ready", "terminating"):
        p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                           "lastTransitionTime": rfc3339(NOW - 100)}]}
    elif state == "running":
        p["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    elif state == "failed":
        p["status"] = {"phase": "Failed"}
    elif state == "succeeded":
        p["status"] = {"phase": "Succeeded"}
    if state == "terminating":
        p["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    return p


@pytest.mark.parametrize(("name", "parent", "ordinal"), [
    ("foo-1", "foo", 1),
    ("foo-bar-10", "foo-bar", 10),
    ("foo", "", -1),
    ("1-bar", "", -1),
    ("foo-", "", -1),
], ids=["simple", "dashed-parent", "no-ordinal", "ordinal-first", "empty-ordinal"])
def test_parent_and_ordinal_parsed_from_the_pod_name(name: str, parent: str, ordinal: int) -> None:
    assert parent_and_ordinal({"metadata": {"name": name}}) == (parent, ordinal)


def test_new_pod_has_stable_identity_and_claim_volumes() -> None:
    sts = sts_obj(volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    sts["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}, {"name": "x", "emptyDir": {}}]
    p = new_pod(sts, sts["spec"]["template"], 4, "web-abc")
    assert p["metadata"]["name"] == "web-4" and "generateName" not in p["metadata"]
    assert p["metadata"]["labels"] == {"app": "web", "statefulset.kubernetes.io/pod-name": "web-4",
                                       "apps.kubernetes.io/pod-index": "4", REVISION_LABEL: "web-abc"}
    assert p["spec"]["hostname"] == "web-4" and p["spec"]["subdomain"] == "web"
    assert p["spec"]["volumes"] == [{"name": "x", "emptyDir": {}},
                                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-4"}}]
    assert claim_name("data", "web", 4) == "data-web-4"


PART2 = {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
ON_DELETE = {"type": "OnDelete"}


def MAXU(value: int | str, partition: int = 0) -> Obj:
    return {"type": "RollingUpdate", "rollingUpdate": {"partition": partition, "maxUnavailable": value}}

#: (id, set, pods, update revision, expected actions); the current revision is always "r1"
PLAN_CASES: list[tuple[str, Obj, list[Obj], str, list[Action]]] = [
    ("ordered-creates-only-ordinal-0-first", sts_obj(3), [], "r1", [Action("create", 0, "r1")]),
    ("ordered-waits-while-0-pending", sts_obj(3), [pod(0, "pending")], "r1", []),
    ("ordered-waits-while-0-running-not-ready", sts_obj(3), [pod(0, "running")], "r1", []),
    ("ordered-creates-1-once-0-ready", sts_obj(3), [pod(0)], "r1", [Action("create", 1, "r1")]),
    ("ordered-fills-the-lowest-gap", sts_obj(3), [pod(0), pod(2)], "r1", [Action("create", 1, "r1")]),
    ("ordered-waits-for-a-terminating-replica", sts_obj(2), [pod(0, "terminating")], "r1", []),
    ("parallel-creates-all-at-once", sts_obj(3, policy="Parallel"), [], "r1",
     [Action("create", i, "r1") for i in range(3)]),
    ("parallel-creates-past-unready-pods", sts_obj(3, policy="Parallel"), [pod(0, "pending")], "r1",
     [Action("create", 1, "r1"), Action("create", 2, "r1")]),
    ("ordered-scale-down-deletes-highest-first", sts_obj(1), [pod(0), pod(1), pod(2)], "r1",
     [Action("delete", 2, reason="scale-down")]),
    ("ordered-scale-down-waits-for-terminating", sts_obj(1), [pod(0), pod(1), pod(2, "terminating")], "r1", []),
    ("ordered-scale-down-deletes-first-unhealthy", sts_obj(1), [pod(0), pod(1), pod(2, "running")], "r1",
     [Action("delete", 2, reason="scale-down")]),
    ("ordered-scale-down-deletes-ready-highest-before-unhealthy-lower", sts_obj(1),
     [pod(0), pod(1, "running"), pod(2)], "r1", [Action("delete", 2, reason="scale-down")]),
    ("ordered-scale-down-waits-when-highest-is-not-the-first-unhealthy", sts_obj(1),
     [pod(0), pod(1, "pending"), pod(2, "running")], "r1", []),
    ("ordered-scale-down-waits-for-unhealthy-replica", sts_obj(1), [pod(0, "pending"), pod(1)], "r1", []),
    ("parallel-scale-down-deletes-all-condemned", sts_obj(1, policy="Parallel"), [pod(0), pod(1), pod(2)], "r1",
     [Action("delete", 2, reason="scale-down"), Action("delete", 1, reason="scale-down")]),
    ("failed-pod-is-deleted-for-recreation", sts_obj(2), [pod(0, "failed"), pod(1)], "r1",
     [Action("delete", 0, reason="recreate")]),
    ("succeeded-pod-is-deleted-for-recreation", sts_obj(1), [pod(0, "succeeded")], "r1",
     [Action("delete", 0, reason="recreate")]),
    ("steady-state-does-nothing", sts_obj(2), [pod(0), pod(1)], "r1", []),
    ("rolling-update-deletes-highest-ordinal-first", sts_obj(3), [pod(0), pod(1), pod(2)], "r2",
     [Action("delete", 2, reason="update")]),
    ("rolling-update-waits-for-recreated-pod", sts_obj(3), [pod(0), pod(1), pod(2, "pending", "r2")], "r2", []),
    ("rolling-update-continues-down", sts_obj(3), [pod(0), pod(1), pod(2, "ready", "r2")], "r2",
     [Action("delete", 1, reason="update")]),
    ("rolling-update-stops-at-partition", sts_obj(3, strategy=PART2), [pod(0), pod(1), pod(2, "ready", "r2")],
     "r2", []),
    ("partition-recreates-low-ordinals-at-current", sts_obj(3, strategy=PART2), [pod(1), pod(2, "ready", "r2")],
     "r2", [Action("create", 0, "r1")]),
    ("ordered-creates-above-partition-at-update", sts_obj(3, strategy=PART2), [pod(0), pod(1)], "r2",
     [Action("create", 2, "r2")]),
    ("on-delete-never-deletes-for-update", sts_obj(3, strategy=ON_DELETE), [pod(0), pod(1), pod(2)], "r2", []),
    ("on-delete-creates-at-update-revision", sts_obj(2, strategy=ON_DELETE), [pod(0)], "r2",
     [Action("create", 1, "r2")]),
    ("ordinals-start-shifts-identities", sts_obj(2, ordinals={"start": 5}), [pod(5)], "r1",
     [Action("create", 6, "r1")]),
    ("ordinals-start-condemns-lower-ordinals", sts_obj(1, ordinals={"start": 5}), [pod(0), pod(5)], "r1",
     [Action("delete", 0, reason="scale-down")]),
    ("max-unavailable-2-deletes-two-highest", sts_obj(5, strategy=MAXU(2)), [pod(i) for i in range(5)], "r2",
     [Action("delete", 4, reason="update"), Action("delete", 3, reason="update")]),
    ("max-unavailable-ordered-waits-for-unready-replica", sts_obj(5, strategy=MAXU(2)),
     [pod(0), pod(1), pod(2), pod(3), pod(4, "pending", "r2")], "r2", []),
    ("max-unavailable-parallel-counts-unavailable-replicas", sts_obj(5, policy="Parallel", strategy=MAXU(2)),
     [pod(0), pod(1), pod(2), pod(3), pod(4, "pending", "r2")], "r2", [Action("delete", 3, reason="update")]),
    ("max-unavailable-waits-when-budget-used", sts_obj(5, policy="Parallel", strategy=MAXU(2)),
     [pod(0), pod(1), pod(2), pod(3, "running", "r2"), pod(4, "pending", "r2")], "r2", []),
    ("max-unavailable-unready-low-ordinal-uses-budget", sts_obj(5, policy="Parallel", strategy=MAXU(2)),
     [pod(0, "running"), pod(1), pod(2), pod(3), pod(4)], "r2", [Action("delete", 4, reason="update")]),
    ("max-unavailable-percent-of-replicas", sts_obj(5, strategy=MAXU("50%")), [pod(i) for i in range(5)], "r2",
     [Action("delete", 4, reason="update"), Action("delete", 3, reason="update")]),
    ("max-unavailable-stops-at-partition", sts_obj(5, strategy=MAXU(3, partition=3)), [pod(i) for i in range(5)],
     "r2", [Action("delete", 4, reason="update"), Action("delete", 3, reason="update")]),
    ("max-unavailable-skips-updated-pods", sts_obj(4, strategy=MAXU(2)),
     [pod(0), pod(1), pod(2, "ready", "r2"), pod(3, "ready", "r2")], "r2",
     [Action("delete", 1, reason="update"), Action("delete", 0, reason="update")]),
    ("pods-without-ordinals-are-ignored", sts_obj(1), [pod(0), {"metadata": {"name": "web"}, "status": {}}], "r1",
     []),
]


@pytest.mark.parametrize(("value", "replicas", "expected"), [
    (None, 10, 1), (3, 10, 3), (3, 0, 3), (0, 0, 1), ("10%", 25, 2), ("100%", 5, 5), ("50%", 5, 2),
    ("10%", 5, 1), ("1%", 0, 1),
])
def test_max_unavailable_as_upstream_get_stateful_set_max_unavailable(value: Any, replicas: int,
                                                                       expected: int) -> None:
    rolling: Obj = {"partition": 0} if value is None else {"partition": 0, "maxUnavailable": value}
    sts = sts_obj(replicas, strategy={"type": "RollingUpdate", "rollingUpdate": rolling})
    assert max_unavailable_of(sts) == expected


@pytest.mark.parametrize(("sts", "pods", "update", "want"), [c[1:] for c in PLAN_CASES],
                         ids=[c[0] for c in PLAN_CASES])
def test_plan(sts: Obj, pods: list[Obj], update: str, want: list[Action]) -> None:
    assert plan(sts, pods, "r1", update, now=NOW) == want


def test_plan_waits_for_min_ready_seconds_before_the_next_ordinal() -> None:
    sts = sts_obj(2, minReadySeconds=300)
    assert plan(sts, [pod(0)], "r1", "r1", now=NOW) == []  # ready 100 s ago, needs 300
    assert plan(sts, [pod(0)], "r1", "r1", now=NOW + 201) == [Action("create", 1, "r1")]


def test_plan_does_nothing_for_a_set_being_deleted() -> None:
    sts = sts_obj(3)
    sts["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    assert plan(sts, [], "r1", "r1", now=NOW) == []


STATUS_CASES = [
    ("all-updated-and-ready-completes-the-rollout", [pod(0, "ready", "r2"), pod(1, "ready", "r2")],
     {"replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "r2"}),
    ("mid-rollout-keeps-current", [pod(0), pod(1, "ready", "r2")],
     {"replicas": 2, "readyReplicas": 2, "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1"}),
    ("terminating-pods-count-as-replicas-not-revisions", [pod(0), pod(1, "terminating")],
     {"replicas": 2, "readyReplicas": 2, "currentReplicas": 1, "updatedReplicas": 0, "currentRevision": "r1"}),
    ("unready-pods-are-not-ready", [pod(0, "pending", "r2")],
     {"replicas": 1, "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 1, "currentRevision": "r1"}),
]


@pytest.mark.parametrize(("pods", "want"), [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_compute_status(pods: list[Obj], want: dict[str, Any]) -> None:
    status = compute_status(sts_obj(2), pods, "r1", "r2", now=NOW)
    assert {k: status[k] for k in want} == want
    assert status["updateRevision"] == "r2" and status["observedGeneration"] == 1


def test_on_delete_keeps_its_current_revision_when_all_pods_are_updated() -> None:
    status = compute_status(sts_obj(1, strategy={"type": "OnDelete"}), [pod(0, "ready", "r2")], "r1", "r2", now=NOW)
    assert status["currentRevision"] == "r1" and status["updatedReplicas"] == 1


# -- the controller against the API ---------------------------------------------------------------


def manifest(replicas: int, **spec: Any) -> Obj:
    obj = sts_obj(replicas, **spec)
    obj["metadata"] = {"name": "web", "namespace": NS}
    return obj


async def live_pods(api: Api) -> dict[str, Obj]:
    return {p["metadata"]["name"]: p for p in (await api.client.list(PODS, NS))["items"]
            if not p["metadata"].get("deletionTimestamp")}


async def make_ready(api: Api, name: str) -> None:
    await api.client.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(NOW)}]}}, NS, subresource="status")


async def kubelet_step(api: Api) -> set[str]:
    """Make every live pod Running and Ready, and finish deletions; the names of live pods."""
    pods = (await api.client.list(PODS, NS))["items"]
    for p in pods:
        if p["metadata"].get("deletionTimestamp"):
            continue
        if (p.get("status") or {}).get("phase") != "Running":
            await make_ready(api, p["metadata"]["name"])
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


async def test_ordered_scale_up_one_at_a_time_then_down_in_reverse(api: Api) -> None:
    ctrl = StatefulSetController(api.client)
    async with running(ctrl):
        await api.client.create(STATEFULSETS, manifest(3), NS)
        await eventually(lambda: live_pods(api), what="web-0")
        assert set(await live_pods(api)) == {"web-0"}  # nothing more until web-0 is ready
        seen: list[str] = []
        for want in ("web-0", "web-1", "web-2"):
            await eventually(lambda w=want: _has(api, w), what=want)
            seen.append(want)
            await make_ready(api, want)
        assert seen == ["web-0", "web-1", "web-2"]

        async def status_is(n: int) -> bool:
            st = (await api.client.get(STATEFULSETS, "web", NS)).get("status") or {}
            return st.get("readyReplicas") == n and st.get("replicas") == n and st.get("currentReplicas") == n
        await eventually(lambda: status_is(3), what="3 ready replicas")
        st = (await api.client.get(STATEFULSETS, "web", NS))["status"]
        assert st["currentRevision"] == st["updateRevision"] and st["observedGeneration"] == 1
        revs = (await api.client.list(CONTROLLER_REVISIONS, NS))["items"]
        assert [r["metadata"]["name"] for r in revs] == [st["updateRevision"]] and revs[0]["revision"] == 1
        pods = await live_pods(api)
        assert {p["metadata"]["labels"][REVISION_LABEL] for p in pods.values()} == {st["updateRevision"]}

        await api.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)
        events = await _deletions_in_order(api, ["web-2", "web-1"])
        assert events == ["web-2", "web-1"]
        await eventually(lambda: status_is(1), what="1 replica")


async def _has(api: Api, name: str) -> bool:
    return name in await live_pods(api)


async def _deletions_in_order(api: Api, names: list[str]) -> list[str]:
    """Delete pods the controller marked, one by one as a kubelet would; the order they were condemned."""
    order: list[str] = []
    for _ in names:
        async def marked() -> str | None:
            for p in (await api.client.list(PODS, NS))["items"]:
                if p["metadata"].get("deletionTimestamp") and p["metadata"]["name"] not in order:
                    return str(p["metadata"]["name"])
            gone = [n for n in names if n not in order and not await _exists(api, n)]
            return gone[0] if gone else None
        name = await eventually(marked, what="a condemned pod")
        order.append(name)
    return order


async def _exists(api: Api, name: str) -> bool:
    return any(p["metadata"]["name"] == name for p in (await api.client.list(PODS, NS))["items"])


async def test_rolling_update_with_partition_updates_only_high_ordinals(api: Api) -> None:
    ctrl = StatefulSetController(api.client)
    async with running(ctrl):
        await api.client.create(STATEFULSETS, manifest(3, policy="Parallel"), NS)

        async def all_ready() -> Obj | None:
            await kubelet_step(api)
            st = (await api.client.get(STATEFULSETS, "web", NS)).get("status") or {}
            return st if st.get("readyReplicas") == 3 and st.get("updatedReplicas") == 3 else None
        first = await eventually(all_ready, what="3 ready pods")
        old_rev = first["updateRevision"]
        await api.client.patch(STATEFULSETS, "web", {"spec": {
            "updateStrategy": {"rollingUpdate": {"partition": 1}},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}, NS)

        async def partitioned() -> Obj | None:
            await kubelet_step(api)
            st = (await api.client.get(STATEFULSETS, "web", NS)).get("status") or {}
            return st if st.get("updatedReplicas") == 2 and st.get("readyReplicas") == 3 else None
        st = await eventually(partitioned, timeout=10, what="2 updated pods")
        assert st["updateRevision"] != old_rev and st["currentRevision"] == old_rev
        pods = await live_pods(api)
        assert pods["web-0"]["metadata"]["labels"][REVISION_LABEL] == old_rev
        assert pods["web-0"]["spec"]["containers"][0]["image"] == "nginx"
        for n in ("web-1", "web-2"):
            assert pods[n]["metadata"]["labels"][REVISION_LABEL] == st["updateRevision"]
            assert pods[n]["spec"]["containers"][0]["image"] == "nginx:2"
        revs = sorted((await api.client.list(CONTROLLER_REVISIONS, NS))["items"], key=lambda r: r["revision"])
        assert [(r["metadata"]["name"], r["revision"]) for r in revs] == [(old_rev, 1), (st["updateRevision"], 2)]

        await api.client.patch(STATEFULSETS, "web", {"spec": {"updateStrategy": {"rollingUpdate": {
            "partition": 0}}}}, NS)

        async def complete() -> Obj | None:
            await kubelet_step(api)
            st = (await api.client.get(STATEFULSETS, "web", NS)).get("status") or {}
            return st if st.get("currentRevision") == st.get("updateRevision") and st.get(
                "updatedReplicas") == 3 and st.get("readyReplicas") == 3 else None
        done = await eventually(complete, timeout=10, what="rollout complete")
        assert done["currentReplicas"] == 3


async def test_claims_created_per_ordinal_and_deleted_with_the_set_when_policy_says_so(api: Api) -> None:
    ctrl = StatefulSetController(api.client)
    async with running(ctrl):
        await api.client.create(STATEFULSETS, manifest(
            2, policy="Parallel",
            volumeClaimTemplates=[{"metadata": {"name": "data"},
                                   "spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}}],
            persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"}), NS)

        async def claims() -> dict[str, Obj] | None:
            items = {c["metadata"]["name"]: c for c in (await api.client.list(PVCS, NS))["items"]}
            return items if len(items) == 2 else None
        found = await eventually(claims, what="2 claims")
        assert set(found) == {"data-web-0", "data-web-1"}
        assert found["data-web-0"]["metadata"]["labels"] == {"app": "web"}
        assert [r["kind"] for r in found["data-web-0"]["metadata"]["ownerReferences"]] == ["StatefulSet"]
        pods = await eventually(lambda: _two(api), what="2 pods")
        vols = pods["web-1"]["spec"]["volumes"]
        assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in vols
        await api.client.patch(STATEFULSETS, "web", {"spec": {"replicas": 1}}, NS)
        await eventually(lambda: _gone(api, "web-1"), what="web-1 deleted")
        assert "data-web-1" in {c["metadata"]["name"] for c in (await api.client.list(PVCS, NS))["items"]}


async def _two(api: Api) -> dict[str, Obj] | None:
    pods = await live_pods(api)
    return pods if len(pods) == 2 else None


async def _gone(api: Api, name: str) -> bool:
    return name not in await live_pods(api)
