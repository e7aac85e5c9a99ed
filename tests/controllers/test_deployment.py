"""Deployment controller (with the ReplicaSet controller) against the real in-process API stack.

No kubelet runs: tests play its part by marking pods Running + Ready through the status
subresource, one pod at a time where the rollout order matters.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import DEPLOYMENTS, PODS, REPLICASETS, controller_of, is_ready, rfc3339
from suanli.controllers.deployment import (
    DeploymentController,
    pod_template_hash,
    proportional_sizes,
    resolve_fenceposts,
    scaled_value,
)
from suanli.controllers.replicaset import ReplicaSetController
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

NS = "default"
REVISION = "deployment.kubernetes.io/revision"


def deploy(name: str, replicas: int, image: str = "nginx:1", *, strategy: Obj | None = None, **spec: Any) -> Obj:
    labels = {"app": name}
    body: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": image}]}},
        **spec,
    }
    if strategy is not None:
        body["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS}, "spec": body}


async def pods_of(api: Api, name: str) -> list[Obj]:
    pods = (await api.client.list(PODS, NS, label_selector=f"app={name}"))["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


async def rss_of(api: Api, name: str) -> list[Obj]:
    d = await api.client.get(DEPLOYMENTS, name, NS)
    return [
        r
        for r in (await api.client.list(REPLICASETS, NS))["items"]
        if (controller_of(r) or {}).get("uid") == d["metadata"]["uid"]
    ]


def image(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


async def make_ready(api: Api, pod: Obj) -> None:
    """Play kubelet: the pod runs and is Ready (a pod deleted meanwhile is skipped)."""
    try:
        await api.client.patch(
            PODS,
            pod["metadata"]["name"],
            {
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(time.time())}],
                }
            },
            NS,
            subresource="status",
        )
    except ApiError as err:
        if err.code != 404:
            raise


async def ready_all(api: Api, name: str) -> None:
    for p in await pods_of(api, name):
        if not is_ready(p):
            await make_ready(api, p)


def cond(d: Obj, ctype: str) -> Obj:
    return next((c for c in (d.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


async def complete(api: Api, name: str, image_: str | None = None) -> Obj | None:
    """The Deployment once ``kubectl rollout status`` would report success (and all pods are ready)."""
    await ready_all(api, name)
    d = await api.client.get(DEPLOYMENTS, name, NS)
    st = d.get("status") or {}
    r = d["spec"]["replicas"]
    ok = (
        st.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and st.get("updatedReplicas", 0) == r
        and st.get("replicas", 0) == r
        and st.get("availableReplicas", 0) == r
        and cond(d, "Progressing").get("reason") == "NewReplicaSetAvailable"
    )
    if ok and image_ is not None:
        pods = await pods_of(api, name)
        ok = len(pods) == r and all(image(p) == image_ for p in pods)
    return d if ok else None


@pytest.fixture
async def controllers(api: Api) -> Any:
    async with running(DeploymentController(api.client), ReplicaSetController(api.client)):
        yield


# -- pure arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        (0, "10%", 5, (0, 1)),
        (0, 0, 5, (0, 1)),
        ("0%", "0%", 3, (0, 1)),
        (2, 3, 10, (2, 3)),
        ("50%", "50%", 3, (2, 1)),
    ],
    ids=[
        "quarter-of-10-surge-up-unavailable-down",
        "quarter-of-1-surge-rounds-up-to-1",
        "quarter-of-4-exact",
        "percent-unavailable-floors-to-0-then-forced-to-1",
        "both-zero-forces-one-unavailable",
        "both-zero-percent-forces-one-unavailable",
        "absolute-values",
        "half-of-3",
    ],
)
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [("33%", 10, True, 4), ("33%", 10, False, 3), (7, 10, True, 7), ("0%", 10, True, 0), ("100%", 7, False, 7)],
    ids=["percent-rounds-up", "percent-rounds-down", "int-verbatim", "zero-percent", "whole"],
)
def test_scaled_value(value: Any, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, up) == expected


@pytest.mark.parametrize(
    ("rss", "replicas", "surge", "expected"),
    [
        ([("new", 5, 13, 2.0), ("old", 5, 13, 1.0)], 20, 5, {"new": 15, "old": 10}),
        ([("new", 6, 13, 2.0), ("old", 4, 13, 1.0)], 5, 2, {"new": 3, "old": 4}),
        ([("a", 3, 4, 2.0), ("b", 1, 4, 1.0)], 0, 0, {"a": 0, "b": 0}),
        ([("a", 4, 4, 2.0)], 4, 0, {"a": 4}),
    ],
    ids=[
        "scale-up-shares-and-leftover-to-largest-newest",
        "scale-down-takes-from-largest-first",
        "scale-to-zero-empties-all",
        "no-change-keeps-sizes",
    ],
)
def test_proportional_sizes(
    rss: list[tuple[str, int, int | None, float]], replicas: int, surge: int, expected: dict[str, int]
) -> None:
    sizes = proportional_sizes(rss, replicas, surge, sum(r[1] for r in rss))
    assert sizes == expected
    assert sum(sizes.values()) == (replicas + surge if replicas else 0)


def test_pod_template_hash_is_stable_label_safe_and_collision_sensitive() -> None:
    t = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    h = pod_template_hash(t)
    assert h == pod_template_hash({"spec": t["spec"], "metadata": t["metadata"]})
    assert h != pod_template_hash(t, 1)
    assert not set(h) & set("aeiou013") and 1 <= len(h) <= 10


# -- behaviour against the API -----------------------------------------------------------------


async def test_create_makes_replicaset_and_pods_with_revision(api: Api, controllers: None) -> None:
    await api.client.create(DEPLOYMENTS, deploy("web", 3), NS)
    d = await eventually(lambda: complete(api, "web"), what="rollout complete")
    rss = await rss_of(api, "web")
    assert len(rss) == 1
    rs = rss[0]
    digest = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{digest}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": digest}
    ann = rs["metadata"]["annotations"]
    assert (
        ann[REVISION],
        ann["deployment.kubernetes.io/desired-replicas"],
        ann["deployment.kubernetes.io/max-replicas"],
    ) == ("1", "3", "4")
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert cond(d, "Available")["reason"] == "MinimumReplicasAvailable"
    assert d["status"]["unavailableReplicas"] == 0
    for p in await pods_of(api, "web"):
        assert p["metadata"]["labels"]["pod-template-hash"] == digest


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [(4, 1, 1), (4, 0, 1), (3, 2, 0), (5, "25%", "25%")],
    ids=["surge1-unavailable1", "no-surge-one-unavailable", "surge-only", "default-percentages"],
)
async def test_rolling_update_respects_surge_and_unavailability(
    api: Api, controllers: None, replicas: int, surge: Any, unavailable: Any
) -> None:
    max_s, max_u = resolve_fenceposts(surge, unavailable, replicas)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    await api.client.create(DEPLOYMENTS, deploy("ru", replicas, strategy=strategy), NS)
    await eventually(lambda: complete(api, "ru"))
    await api.client.patch(
        DEPLOYMENTS,
        "ru",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
        NS,
        patch_type="strategic",
    )
    deadline = time.monotonic() + 15
    steps = 0
    while True:
        rss = await rss_of(api, "ru")
        pods = await pods_of(api, "ru")
        assert sum(r["spec"]["replicas"] for r in rss) <= replicas + max_s, "surge budget exceeded"
        ready = [p for p in pods if is_ready(p)]
        assert len(ready) >= replicas - max_u, f"availability dropped to {len(ready)}"
        d = await api.client.get(DEPLOYMENTS, "ru", NS)
        st = d.get("status") or {}
        if (
            st.get("updatedReplicas") == replicas
            and st.get("availableReplicas") == replicas
            and st.get("replicas") == replicas
            and len(pods) == replicas
            and all(image(p) == "nginx:2" for p in pods)
        ):
            break
        waiting = [p for p in pods if image(p) == "nginx:2" and not is_ready(p)]
        if waiting:
            await make_ready(api, waiting[0])  # the "kubelet" starts one new pod
            steps += 1
        else:
            before = await _snapshot(api, "ru")

            async def moved(before: Any = before) -> bool:
                return await _snapshot(api, "ru") != before

            await eventually(moved, timeout=5, what="rollout to move on")
        assert time.monotonic() < deadline, "rollout did not finish"
    assert steps >= replicas
    assert d["metadata"]["annotations"][REVISION] == "2"
    assert len(rss) == 2 and sorted(r["spec"]["replicas"] for r in rss) == [0, replicas]


async def _snapshot(api: Api, name: str) -> Any:
    pods = sorted((p["metadata"]["name"], is_ready(p)) for p in await pods_of(api, name))
    rss = sorted((r["metadata"]["name"], r["spec"]["replicas"]) for r in await rss_of(api, name))
    return pods, rss, (await api.client.get(DEPLOYMENTS, name, NS)).get("status")


async def test_recreate_never_runs_old_and_new_together(api: Api, controllers: None) -> None:
    await api.client.create(DEPLOYMENTS, deploy("rc", 3, strategy={"type": "Recreate"}), NS)
    await eventually(lambda: complete(api, "rc"))
    await api.client.patch(
        DEPLOYMENTS,
        "rc",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
        NS,
        patch_type="strategic",
    )

    async def check() -> Obj | None:
        pods = await pods_of(api, "rc")
        images = {image(p) for p in pods}
        assert len(images) <= 1, f"old and new pods together: {images}"
        return await complete(api, "rc", "nginx:2")

    await eventually(check, what="recreate rollout")


async def test_paused_deployment_does_not_roll_out_until_resumed(api: Api, controllers: None) -> None:
    await api.client.create(DEPLOYMENTS, deploy("p", 2), NS)
    await eventually(lambda: complete(api, "p"))
    await api.client.patch(DEPLOYMENTS, "p", {"spec": {"paused": True}}, NS)
    await api.client.patch(
        DEPLOYMENTS,
        "p",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
        NS,
        patch_type="strategic",
    )

    async def paused_observed() -> bool:
        d = await api.client.get(DEPLOYMENTS, "p", NS)
        return (
            d["status"].get("observedGeneration") == d["metadata"]["generation"]
            and cond(d, "Progressing").get("reason") == "DeploymentPaused"
        )

    await eventually(paused_observed)
    assert len(await rss_of(api, "p")) == 1
    assert {image(p) for p in await pods_of(api, "p")} == {"nginx:1"}
    await api.client.patch(DEPLOYMENTS, "p", {"spec": {"paused": False}}, NS)
    await eventually(lambda: complete(api, "p", "nginx:2"), what="rollout after resume")


async def test_scaling_while_paused_is_applied(api: Api, controllers: None) -> None:
    await api.client.create(DEPLOYMENTS, deploy("sp", 2, paused=True), NS)
    await api.client.patch(DEPLOYMENTS, "sp", {"spec": {"replicas": 4}}, NS)

    async def four() -> bool:
        return len(await pods_of(api, "sp")) == 4

    # a paused Deployment never creates its first ReplicaSet
    await eventually(lambda: _observed(api, "sp"))
    assert not await rss_of(api, "sp")
    await api.client.patch(DEPLOYMENTS, "sp", {"spec": {"paused": False}}, NS)
    await eventually(four)
    await api.client.patch(DEPLOYMENTS, "sp", {"spec": {"paused": True, "replicas": 1}}, NS)

    async def one() -> bool:
        await ready_all(api, "sp")
        d = await api.client.get(DEPLOYMENTS, "sp", NS)
        st = d.get("status") or {}
        return (
            len(await pods_of(api, "sp")) == 1
            and st.get("availableReplicas") == 1
            and cond(d, "Progressing").get("reason") == "DeploymentPaused"
        )

    await eventually(one, what="scaled down while paused")


async def _observed(api: Api, name: str) -> Obj | None:
    d = await api.client.get(DEPLOYMENTS, name, NS)
    return d if (d.get("status") or {}).get("observedGeneration") == d["metadata"]["generation"] else None


async def test_revision_history_limit_and_rollback_reuses_replicaset(api: Api, controllers: None) -> None:
    await api.client.create(DEPLOYMENTS, deploy("h", 1, revisionHistoryLimit=1), NS)
    await eventually(lambda: complete(api, "h"))
    v1 = (await rss_of(api, "h"))[0]["metadata"]["name"]
    for img in ("nginx:2", "nginx:3"):
        await api.client.patch(
            DEPLOYMENTS,
            "h",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": img}]}}}},
            NS,
            patch_type="strategic",
        )
        await eventually(lambda img=img: complete(api, "h", img), what=f"rollout to {img}")

    async def pruned() -> list[Obj] | None:
        rss = await rss_of(api, "h")
        return rss if len(rss) == 2 else None

    rss = await eventually(pruned, what="history limited to 1 old RS")
    assert v1 not in {r["metadata"]["name"] for r in rss}
    assert sorted(r["metadata"]["annotations"][REVISION] for r in rss) == ["2", "3"]
    # rollback (what `kubectl rollout undo` does: copy the old template back)
    await api.client.patch(
        DEPLOYMENTS,
        "h",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
        NS,
        patch_type="strategic",
    )
    d = await eventually(lambda: complete(api, "h", "nginx:2"), what="rollback")
    rss = await rss_of(api, "h")
    by_rev = {r["metadata"]["annotations"][REVISION]: r for r in rss}
    assert set(by_rev) == {"3", "4"}
    assert by_rev["4"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2"
    assert d["metadata"]["annotations"][REVISION] == "4"


async def test_change_cause_annotation_is_copied_to_replicaset(api: Api, controllers: None) -> None:
    manifest = deploy("cc", 1)
    manifest["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first"}
    await api.client.create(DEPLOYMENTS, manifest, NS)
    await eventually(lambda: complete(api, "cc"))
    rs = (await rss_of(api, "cc"))[0]
    assert rs["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"


async def test_scaling_mid_rollout_is_proportional(api: Api, controllers: None) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 0}}
    await api.client.create(DEPLOYMENTS, deploy("pr", 10, strategy=strategy), NS)
    await eventually(lambda: complete(api, "pr"))
    await api.client.patch(
        DEPLOYMENTS,
        "pr",
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
        NS,
        patch_type="strategic",
    )

    async def surged() -> list[Obj] | None:
        rss = await rss_of(api, "pr")
        return rss if sorted(r["spec"]["replicas"] for r in rss) == [3, 10] else None

    await eventually(surged, what="new RS at surge 3, old at 10")
    await api.client.patch(DEPLOYMENTS, "pr", {"spec": {"replicas": 20}}, NS)

    async def scaled() -> list[int] | None:
        rss = await rss_of(api, "pr")
        sizes = sorted(r["spec"]["replicas"] for r in rss)
        return sizes if sum(sizes) == 20 + 3 else None

    sizes = await eventually(scaled, what="proportional scale-up")
    # both grew in proportion to size/13: old round(10*23/13)-10 = 8, new round(3*23/13)-3 = 2
    assert sizes == [5, 18]


async def test_progress_deadline_exceeded(api: Api) -> None:
    clock = FakeClock(wall_start=time.time())
    async with running(DeploymentController(api.client, clock=clock), ReplicaSetController(api.client)):
        await api.client.create(DEPLOYMENTS, deploy("pd", 2, progressDeadlineSeconds=30), NS)

        async def progressing() -> bool:
            clock.advance(0.01)  # lets conflict retries parked on the virtual clock run (≤ 10 s in total)
            d = await api.client.get(DEPLOYMENTS, "pd", NS)
            return cond(d, "Progressing").get("status") == "True" and cond(d, "Available").get("status") == "False"

        await eventually(progressing)

        async def exceeded() -> bool:
            clock.advance(2)  # drive virtual time: the requeue (and any retry) waits on this clock
            d = await api.client.get(DEPLOYMENTS, "pd", NS)
            c = cond(d, "Progressing")
            return c.get("status") == "False" and c.get("reason") == "ProgressDeadlineExceeded"

        start = clock.monotonic()
        await eventually(exceeded)
        assert clock.monotonic() - start >= 30, "timed out before the deadline"
