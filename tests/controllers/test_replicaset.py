"""ReplicaSet controller against the real in-process API stack."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import PODS, REPLICASETS, controller_of, deletion_order, rfc3339
from suanli.controllers.replicaset import ReplicaSetController, slow_start_batch
from tests.controllers.conftest import Api, eventually, running

NS = "default"


def rs_manifest(name: str, replicas: int, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            **spec,
        },
    }


async def owned_pods(api: Api, rs_name: str) -> list[Obj]:
    rs = await api.client.get(REPLICASETS, rs_name, NS)
    pods = (await api.client.list(PODS, NS))["items"]
    return [
        p
        for p in pods
        if (controller_of(p) or {}).get("uid") == rs["metadata"]["uid"] and not p["metadata"].get("deletionTimestamp")
    ]


async def count_is(api: Api, rs_name: str, n: int) -> list[Obj] | bool:
    """The owned pods once there are exactly ``n`` (``True`` for zero), else ``False``."""
    pods = await owned_pods(api, rs_name)
    if len(pods) != n:
        return False
    return pods or True


async def make_ready(api: Api, pod: Obj, when: float = 1_700_000_000.0) -> None:
    await api.client.patch(
        PODS,
        pod["metadata"]["name"],
        {
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(when)}],
            }
        },
        NS,
        subresource="status",
    )


async def test_creates_pods_with_controller_refs_and_reports_status(api: Api) -> None:
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("web", 3), NS)
        pods = await eventually(lambda: count_is(api, "web", 3), what="3 pods")
        assert isinstance(pods, list)
        for p in pods:
            ref = controller_of(p)
            assert ref is not None and ref["kind"] == "ReplicaSet" and ref["blockOwnerDeletion"] is True
            assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
            assert p["metadata"]["labels"] == {"app": "web"}
        for p in pods[:2]:
            await make_ready(api, p)

        async def status_ok() -> bool:
            st = (await api.client.get(REPLICASETS, "web", NS)).get("status") or {}
            return (
                st.get("replicas"),
                st.get("fullyLabeledReplicas"),
                st.get("readyReplicas"),
                st.get("availableReplicas"),
                st.get("observedGeneration"),
            ) == (3, 3, 2, 2, 1)

        await eventually(status_ok, what="status 3/3/2/2")


@pytest.mark.parametrize(
    ("start", "target"),
    [(2, 5), (5, 1), (3, 0)],
    ids=["scale-up-creates", "scale-down-deletes", "scale-to-zero-deletes-all"],
)
async def test_scaling_converges_to_replicas(api: Api, start: int, target: int) -> None:
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("s", start), NS)
        await eventually(lambda: count_is(api, "s", start))
        await api.client.patch(REPLICASETS, "s", {"spec": {"replicas": target}}, NS)
        await eventually(lambda: count_is(api, "s", target), what=f"{target} pods")

        async def status() -> bool:
            st = (await api.client.get(REPLICASETS, "s", NS)).get("status") or {}
            return st.get("replicas") == target and st.get("observedGeneration") == 2

        await eventually(status)
        # nothing overshoots once settled
        assert len(await owned_pods(api, "s")) == target


async def test_deleted_pod_is_replaced(api: Api) -> None:
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("r", 2), NS)
        pods = await eventually(lambda: count_is(api, "r", 2))
        await api.client.delete(PODS, pods[0]["metadata"]["name"], NS)

        async def replaced() -> bool:
            now = await owned_pods(api, "r")
            return len(now) == 2 and pods[0]["metadata"]["name"] not in {p["metadata"]["name"] for p in now}

        await eventually(replaced)


async def test_adopts_matching_orphans_and_releases_relabelled_pods(api: Api) -> None:
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "orphan", "namespace": NS, "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    await api.client.create(PODS, orphan, NS)
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("a", 2), NS)
        pods = await eventually(lambda: count_is(api, "a", 2))
        assert "orphan" in {p["metadata"]["name"] for p in pods}, "orphan adopted, only one pod created"
        await api.client.patch(PODS, "orphan", {"metadata": {"labels": {"app": "other"}}}, NS)

        async def released() -> bool:
            o = await api.client.get(PODS, "orphan", NS)
            return not o["metadata"].get("ownerReferences") and len(await owned_pods(api, "a")) == 2

        await eventually(released, what="release + replacement")


async def test_pod_owned_by_another_controller_is_not_adopted(api: Api) -> None:
    foreign = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "foreign",
            "namespace": NS,
            "labels": {"app": "f"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u-1", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    await api.client.create(PODS, foreign, NS)
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("f", 1), NS)
        pods = await eventually(lambda: count_is(api, "f", 1))
        assert pods[0]["metadata"]["name"] != "foreign"


async def test_minreadyseconds_delays_availability(api: Api) -> None:
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("m", 1, minReadySeconds=3600), NS)
        pods = await eventually(lambda: count_is(api, "m", 1))
        await make_ready(api, pods[0], when=ctrl.clock.now())

        async def ready_not_available() -> bool:
            st = (await api.client.get(REPLICASETS, "m", NS)).get("status") or {}
            return st.get("readyReplicas") == 1 and not st.get("availableReplicas")

        await eventually(ready_not_available)


async def test_deleting_replicaset_collects_pods(api: Api) -> None:
    ctrl = ReplicaSetController(api.client)
    async with running(ctrl):
        await api.client.create(REPLICASETS, rs_manifest("g", 2), NS)
        await eventually(lambda: count_is(api, "g", 2))
        await api.client.delete(REPLICASETS, "g", NS)

        async def gone() -> bool:
            pods = (await api.client.list(PODS, NS))["items"]
            return not [p for p in pods if p["metadata"]["name"].startswith("g-")]

        await eventually(gone)


def _pod(
    name: str,
    *,
    node: str = "",
    phase: str = "Pending",
    ready_at: float | None = None,
    restarts: int = 0,
    created: float = 1000.0,
) -> Obj:
    status: Obj = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready_at is not None:
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ready_at)}]
    return {
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": rfc3339(created)},
        "spec": {"nodeName": node} if node else {},
        "status": status,
    }


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (_pod("unscheduled"), _pod("scheduled", node="n1")),
        (_pod("pending", node="n1"), _pod("running", node="n1", phase="Running")),
        (_pod("unknown", node="n1", phase="Unknown"), _pod("running", node="n2", phase="Running")),
        (_pod("not-ready", node="n1", phase="Running"), _pod("ready", node="n2", phase="Running", ready_at=10)),
        (
            _pod("recent-ready", node="n1", phase="Running", ready_at=50),
            _pod("long-ready", node="n2", phase="Running", ready_at=10),
        ),
        (
            _pod("many-restarts", node="n1", phase="Running", restarts=5),
            _pod("few-restarts", node="n2", phase="Running", restarts=1),
        ),
        (_pod("newer", node="n1", created=2000), _pod("older", node="n2", created=1000)),
    ],
    ids=[
        "unscheduled-before-scheduled",
        "pending-before-running",
        "unknown-before-running",
        "not-ready-before-ready",
        "recently-ready-before-long-ready",
        "more-restarts-first",
        "newer-first",
    ],
)
def test_deletion_ranking(a: Obj, b: Obj) -> None:
    assert [p["metadata"]["name"] for p in deletion_order([b, a])] == [a["metadata"]["name"], b["metadata"]["name"]]


def test_deletion_ranking_prefers_crowded_nodes() -> None:
    crowded = [_pod(f"c{i}", node="n1", phase="Running") for i in range(2)]
    alone = _pod("alone", node="n2", phase="Running")
    assert deletion_order([alone, *crowded])[-1] is alone


@pytest.mark.parametrize(
    ("count", "fail_at", "calls", "ok"),
    [(10, None, 10, 10), (10, 0, 1, 0), (10, 2, 3, 2), (10, 4, 7, 6)],
    ids=["all-succeed-batches-1-2-4-3", "first-fails-stops-after-1", "fails-in-second-batch", "fails-in-third-batch"],
)
async def test_slow_start_batches(count: int, fail_at: int | None, calls: int, ok: int) -> None:
    n = [0]

    async def fn() -> None:
        i = n[0]
        n[0] += 1
        if fail_at is not None and i == fail_at:
            raise RuntimeError("boom")

    done, err = await slow_start_batch(count, 1, fn)
    assert (n[0], done, err is not None) == (calls, ok, fail_at is not None)
