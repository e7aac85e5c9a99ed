"""Events of the workload controllers, with upstream's reasons and messages
(kube-controller-manager ``controller_utils`` PodControl, deployment ``scaleReplicaSet``, job
``Completed``/``Suspended``/``Resumed``, DaemonSet pod control)."""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import DEPLOYMENTS, JOBS, PODS, REPLICASETS
from suanli.controllers.daemonset import DaemonSetController
from suanli.controllers.deployment import DeploymentController
from suanli.controllers.job import JobController
from suanli.controllers.replicaset import ReplicaSetController
from tests.controllers._device_stack import DAEMONSETS, ApiStack
from tests.controllers.conftest import Api, eventually, running
from tests.controllers.test_daemonset import daemonset

NS = "default"
EVENTS = GVR("", "v1", "events")


async def events_of(client: Any, kind: str, name: str) -> list[tuple[str, str, str, str]]:
    items = (await client.list(EVENTS, NS))["items"]
    return sorted((e["type"], e["reason"], e["message"], e["source"]["component"]) for e in items
                  if e["involvedObject"]["kind"] == kind and e["involvedObject"]["name"] == name)


def template(app: str) -> Obj:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


async def live(api: Api, app: str) -> list[str]:
    pods = (await api.client.list(PODS, NS, label_selector=f"app={app}"))["items"]
    return sorted(p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp"))


async def test_replicaset_records_created_and_deleted_pods(api: Api) -> None:
    rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": NS},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template("web")}}
    async with running(ReplicaSetController(api.client)):
        await api.client.create(REPLICASETS, rs, NS)
        names = await eventually(lambda: _n(live(api, "web"), 2), what="two pods")
        await api.client.patch(REPLICASETS, "web", {"spec": {"replicas": 1}}, NS)
        await eventually(lambda: _n(live(api, "web"), 1), what="one pod")
        gone = sorted(set(names) - set(await live(api, "web")))

        async def recorded() -> list[tuple[str, str, str, str]] | None:
            got = await events_of(api.client, "ReplicaSet", "web")
            return got if len(got) == 3 else None

        got = await eventually(recorded, what="three events")
    assert got == sorted([("Normal", "SuccessfulCreate", f"Created pod: {n}", "replicaset-controller") for n in names]
                         + [("Normal", "SuccessfulDelete", f"Deleted pod: {gone[0]}", "replicaset-controller")])


async def _n(names_aw: Any, n: int) -> list[str] | None:
    names = await names_aw
    return names if len(names) == n else None


async def test_deployment_records_scaling_of_its_replica_set(api: Api) -> None:
    d: Obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": NS},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "app"}}, "template": template("app")}}
    async with running(DeploymentController(api.client), ReplicaSetController(api.client)):
        await api.client.create(DEPLOYMENTS, d, NS)

        async def rs_name() -> str | None:
            items = (await api.client.list(REPLICASETS, NS))["items"]
            return str(items[0]["metadata"]["name"]) if items else None

        name = await eventually(rs_name, what="the ReplicaSet")
        async def rs_replicas(n: int) -> bool:
            return bool((await api.client.get(REPLICASETS, name, NS))["spec"]["replicas"] == n)

        await api.client.patch(DEPLOYMENTS, "app", {"spec": {"replicas": 5}}, NS)
        await eventually(lambda: rs_replicas(5), what="scaled to 5")
        await api.client.patch(DEPLOYMENTS, "app", {"spec": {"replicas": 1}}, NS)
        want = [
            ("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to 2", "deployment-controller"),
            ("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 2 to 5", "deployment-controller"),
            ("Normal", "ScalingReplicaSet", f"Scaled down replica set {name} from 5 to 1", "deployment-controller"),
        ]

        async def recorded() -> bool:
            got = await events_of(api.client, "Deployment", "app")
            return all(w in got for w in want)

        await eventually(recorded, what="three ScalingReplicaSet events")


async def test_job_records_pods_and_completion(api: Api) -> None:
    job: Obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": NS},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "c", "image": "busybox"}]}}}}
    async with running(JobController(api.client)):
        await api.client.create(JOBS, job, NS)

        async def pod() -> Obj | None:
            items = (await api.client.list(PODS, NS, label_selector="job-name=once"))["items"]
            return items[0] if items else None

        p = await eventually(pod, what="the job's pod")
        await api.client.patch(PODS, p["metadata"]["name"], {"status": {"phase": "Succeeded"}}, NS,
                               subresource="status")
        want = [
            ("Normal", "Completed", "Job completed", "job-controller"),
            ("Normal", "SuccessfulCreate", f"Created pod: {p['metadata']['name']}", "job-controller"),
        ]

        async def recorded() -> list[tuple[str, str, str, str]] | None:
            got = await events_of(api.client, "Job", "once")
            return got if got == want else None

        await eventually(recorded, what="SuccessfulCreate then Completed")


async def test_daemonset_records_created_pods(api: Api) -> None:
    stack = ApiStack()
    await stack.start()
    try:
        await stack.add_node("n0", {})
        stack.start_component(DaemonSetController(stack.client))
        await stack.client.create(DAEMONSETS, daemonset(), NS)

        async def recorded() -> list[tuple[str, str, str, str]] | None:
            got = await events_of(stack.client, "DaemonSet", "agent")
            return got or None

        got = await eventually(recorded, what="SuccessfulCreate")
        pods = (await stack.client.list(PODS, NS, label_selector="app=agent"))["items"]
        assert got == [("Normal", "SuccessfulCreate", f"Created pod: {pods[0]['metadata']['name']}",
                        "daemonset-controller")]
    finally:
        await stack.stop()
