"""PodGroup controller against the real in-process API stack (Volcano CRDs and admission installed)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission_volcano import store_queue_lookup, volcano_admission
from suanli.controllers._pods import PODS, REPLICASETS
from suanli.controllers.podgroup import PodGroupController, podgroup_name_for
from suanli.controllers.replicaset import ReplicaSetController
from suanli.kinds.volcano import GROUP_NAME_ANNOTATION, PODGROUPS, QUEUES, default_queue, volcano_crds
from suanli.node.nfd.crds import ensure_crds
from tests.controllers.conftest import Api, eventually, running

NS = "default"


@pytest.fixture
async def vapi(api: Api) -> Api:
    mutating, validating = volcano_admission(store_queue_lookup(api.store))
    for m in mutating:
        api.service.admission.add_mutating(m)
    for v in validating:
        api.service.admission.add_validating(v)
    await ensure_crds(api.client, volcano_crds())
    await api.client.create(QUEUES, default_queue())
    await api.client.create(
        QUEUES,
        {
            "apiVersion": "scheduling.volcano.sh/v1beta1",
            "kind": "Queue",
            "metadata": {"name": "research"},
            "spec": {"weight": 2},
        },
    )
    return api


def pod_spec(scheduler: str = "volcano", **extra: Any) -> Obj:
    return {
        "schedulerName": scheduler,
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"nvidia.com/gpu": 1}},
            }
        ],
        **extra,
    }


def replicaset(name: str, replicas: int, annotations: dict[str, str]) -> Obj:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": pod_spec(priorityClassName=""),
            },
        },
    }


async def test_replicaset_pods_share_one_podgroup_per_owner(vapi: Api) -> None:
    client = vapi.client
    async with running(ReplicaSetController(client), PodGroupController(client)):
        rs = await client.create(
            REPLICASETS, replicaset("web", 3, {"scheduling.volcano.sh/queue-name": "research"}), NS
        )
        pg_name = f"podgroup-{rs['metadata']['uid']}"

        async def annotated() -> list[Obj] | None:
            pods = (await client.list(PODS, NS, label_selector="app=web"))["items"]
            ok = len(pods) == 3 and all(
                (p["metadata"].get("annotations") or {}).get(GROUP_NAME_ANNOTATION) == pg_name for p in pods
            )
            return pods if ok else None

        await eventually(annotated, what="pods annotated with the group")
        pgs = (await client.list(PODGROUPS, NS))["items"]
        assert [p["metadata"]["name"] for p in pgs] == [pg_name]
        pg = pgs[0]
        assert pg["spec"]["minMember"] == 1
        assert pg["spec"]["queue"] == "research"
        assert pg["spec"]["minResources"] == {"cpu": "500m", "memory": "256Mi", "nvidia.com/gpu": "1"}
        assert [(r["kind"], r["uid"]) for r in pg["metadata"]["ownerReferences"]] == [
            ("ReplicaSet", rs["metadata"]["uid"])
        ]
        assert "annotations" not in pg["metadata"]  # the queue annotation is read, not copied (as upstream)


async def test_owner_group_min_member_sizes_the_group(vapi: Api) -> None:
    """Upstream table "pod owners with group-min-member annotation": the ReplicaSet's
    ``scheduling.volcano.sh/group-min-member: 2`` gives minMember 2 and twice one pod's requests;
    its ``volcano.sh/*`` annotations are inherited, others are not."""
    client = vapi.client
    owner_annotations = {"scheduling.volcano.sh/group-min-member": "2", "volcano.sh/cooldown-time": "60s",
                         "example.com/other": "x"}
    async with running(ReplicaSetController(client), PodGroupController(client)):
        body = replicaset("gang", 2, {})
        body["metadata"]["annotations"] = owner_annotations
        rs = await client.create(REPLICASETS, body, NS)
        pg_name = f"podgroup-{rs['metadata']['uid']}"
        pg = await eventually(lambda: _get(vapi, PODGROUPS, pg_name), what="group")
        assert pg["spec"]["minMember"] == 2
        assert pg["spec"]["minResources"] == {"cpu": "1", "memory": "512Mi", "nvidia.com/gpu": "2"}
        assert pg["metadata"]["annotations"] == {"volcano.sh/cooldown-time": "60s"}


async def test_standalone_pod_gets_its_own_group_removed_with_the_pod(vapi: Api) -> None:
    client = vapi.client
    async with running(PodGroupController(client)):
        pod = await client.create(
            PODS,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "solo"},
                "spec": pod_spec("suanli", priorityClassName="high"),
            },
            NS,
        )
        name = f"podgroup-{pod['metadata']['uid']}"
        pg = await eventually(lambda: _get(vapi, PODGROUPS, name), what="podgroup")
        assert pg["spec"]["queue"] == "default"
        assert pg["spec"]["priorityClassName"] == "high"
        assert pg["metadata"]["ownerReferences"][0]["kind"] == "Pod"
        await eventually(lambda: _annotation(vapi, "solo") == name, what="pod annotated")
        await client.delete(PODS, "solo", NS)
        await eventually(lambda: _gone(vapi, PODGROUPS, name), what="podgroup collected with its pod")


async def test_pods_for_other_schedulers_get_no_group(vapi: Api) -> None:
    client = vapi.client
    controller = PodGroupController(client)
    async with running(controller):
        await client.create(
            PODS,
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"}, "spec": pod_spec("default-scheduler")},
            NS,
        )
        # A volcano pod created afterwards is handled; by then the earlier one was seen too.
        later = await client.create(
            PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "later"}, "spec": pod_spec()}, NS
        )
        await eventually(lambda: _get(vapi, PODGROUPS, f"podgroup-{later['metadata']['uid']}"), what="group")
    assert len((await client.list(PODGROUPS, NS))["items"]) == 1
    assert _annotation(vapi, "plain") is None


@pytest.mark.parametrize(
    ("pod", "wanted"),
    [
        ({"metadata": {"uid": "u"}, "spec": {"schedulerName": "volcano"}}, True),
        ({"metadata": {"uid": "u"}, "spec": {"schedulerName": "default-scheduler"}}, False),
        (
            {
                "metadata": {"uid": "u", "annotations": {GROUP_NAME_ANNOTATION: "g"}},
                "spec": {"schedulerName": "volcano"},
            },
            False,
        ),
        (
            {
                "metadata": {"uid": "u", "annotations": {"scheduling.volcano.sh/group-name": "g"}},
                "spec": {"schedulerName": "volcano"},
            },
            False,
        ),
        (
            {
                "metadata": {
                    "uid": "u",
                    "ownerReferences": [
                        {
                            "apiVersion": "batch.volcano.sh/v1alpha1",
                            "kind": "Job",
                            "name": "j",
                            "uid": "j1",
                            "controller": True,
                        }
                    ],
                },
                "spec": {"schedulerName": "volcano"},
            },
            False,
        ),
        (
            {
                "metadata": {"uid": "u", "deletionTimestamp": "2024-01-01T00:00:00Z"},
                "spec": {"schedulerName": "volcano"},
            },
            False,
        ),
    ],
    ids=["volcano-pod", "other-scheduler", "has-group", "has-legacy-group", "owned-by-volcano-job", "being-deleted"],
)
def test_which_pods_get_a_group(pod: Obj, wanted: bool) -> None:
    controller = PodGroupController.__new__(PodGroupController)
    controller.scheduler_names = frozenset({"volcano", "suanli"})
    assert controller.wants(pod) is wanted


def test_group_name_uses_the_controller_uid() -> None:
    owned = {"metadata": {"uid": "p", "ownerReferences": [{"uid": "other"}, {"uid": "rs", "controller": True}]}}
    assert podgroup_name_for(owned) == "podgroup-rs"
    assert podgroup_name_for({"metadata": {"uid": "p"}}) == "podgroup-p"


async def _get(api: Api, gvr: Any, name: str) -> Obj | None:
    try:
        return await api.client.get(gvr, name, NS)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


async def _gone(api: Api, gvr: Any, name: str) -> bool:
    return await _get(api, gvr, name) is None


def _annotation(api: Api, pod: str) -> str | None:
    so = api.store.get("pods", NS, pod)
    assert so is not None
    value = (so.obj["metadata"].get("annotations") or {}).get(GROUP_NAME_ANNOTATION)
    return None if value is None else str(value)


def _pod(**meta: Any) -> Obj:
    return {"metadata": {"name": "pod1", "namespace": NS, "uid": "7a09885b", **meta},
            "spec": pod_spec(priorityClassName="test-pc")}


RS_REF = {"apiVersion": "app/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "7a09885b-rs", "controller": True}


@pytest.mark.parametrize(
    ("pod", "owners", "name", "refs", "min_member", "gpus"),
    [
        (_pod(ownerReferences=[RS_REF]), {}, "podgroup-7a09885b-rs", [RS_REF], 1, "1"),
        (_pod(), {}, "podgroup-7a09885b",
         [{"apiVersion": "v1", "kind": "Pod", "name": "pod1", "uid": "7a09885b", "controller": True,
           "blockOwnerDeletion": True}], 1, "1"),
        (_pod(ownerReferences=[RS_REF]), {"scheduling.volcano.sh/group-min-member": "2"}, "podgroup-7a09885b-rs",
         [RS_REF], 2, "2"),
        (_pod(ownerReferences=[RS_REF]), {"scheduling.volcano.sh/group-min-member": "-1"}, "podgroup-7a09885b-rs",
         [RS_REF], 1, "1"),
        (_pod(ownerReferences=[RS_REF]), {"scheduling.volcano.sh/group-min-member": "two"}, "podgroup-7a09885b-rs",
         [RS_REF], 1, "1"),
    ],
    ids=["owned-pod-takes-the-owner-uid-and-references", "standalone-pod-becomes-the-owner",
         "owner-min-member-multiplies-min-resources", "negative-min-member-stays-1", "unparseable-min-member-stays-1"],
)
def test_podgroup_for_a_pod(pod: Obj, owners: dict[str, str], name: str, refs: list[Obj], min_member: int,
                            gpus: str) -> None:
    pg = PodGroupController.podgroup_for(pod, owners)
    assert pg["metadata"]["name"] == name
    assert pg["metadata"]["ownerReferences"] == refs
    assert pg["spec"]["minMember"] == min_member
    assert pg["spec"]["minResources"]["nvidia.com/gpu"] == gpus
    assert pg["spec"]["priorityClassName"] == "test-pc"


def test_podgroup_copies_only_upstreams_pod_annotations_and_labels() -> None:
    pod = _pod(annotations={"volcano.sh/preemptable": "true", "volcano.sh/revocable-zone": "*",
                            "volcano.sh/jdb-min-available": "1", "volcano.sh/jdb-max-unavailable": "2",
                            "volcano.sh/task-spec": "worker", "scheduling.volcano.sh/queue-name": "research"},
               labels={"volcano.sh/preemptable": "false", "volcano.sh/cooldown-time": "5m", "app": "x"})
    pg = PodGroupController.podgroup_for(pod)
    assert pg["spec"]["queue"] == "research"
    assert pg["metadata"]["annotations"] == {"volcano.sh/preemptable": "true", "volcano.sh/revocable-zone": "*",
                                             "volcano.sh/jdb-min-available": "1"}
    assert pg["metadata"]["labels"] == {"volcano.sh/preemptable": "false", "volcano.sh/cooldown-time": "5m"}
