"""Controllers on one SharedInformerFactory (as ``Platform`` runs them): one informer per watch, same behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers._pods import DEPLOYMENTS, PODS
from suanli.controllers.daemonset import DaemonSetController
from suanli.controllers.deployment import DeploymentController
from suanli.controllers.garbage_collector import GarbageCollector
from suanli.controllers.job import JobController
from suanli.controllers.namespace import NamespaceController
from suanli.controllers.operators import KAEClusterPolicyController, NPUClusterPolicyController, operator_crds
from suanli.controllers.podgroup import PodGroupController
from suanli.controllers.replicaset import ReplicaSetController
from suanli.controllers.volcanojob import VolcanoJobController
from suanli.kinds.volcano import volcano_crds
from suanli.node.nfd.crds import ensure_crds, nfd_crds
from suanli.runtime.informer_factory import SharedInformerFactory
from tests.controllers.conftest import Api, eventually, running

NS = "default"


@pytest.fixture
async def factory(api: Api) -> AsyncIterator[SharedInformerFactory]:
    f = SharedInformerFactory(api.client)
    try:
        yield f
    finally:
        await f.stop()


def deploy(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}


async def live_pods(api: Api, app: str) -> list[Obj]:
    items = (await api.client.list(PODS, NS, label_selector=f"app={app}"))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def test_every_platform_controller_shares_one_pod_informer(api: Api, factory: SharedInformerFactory) -> None:
    await ensure_crds(api.client, [*nfd_crds(), *operator_crds(), *volcano_crds()])
    shared = factory
    background = [GarbageCollector(api.client, factory=shared),
                  NamespaceController(api.client, factory=shared)]  # run until cancelled
    tasks = [asyncio.create_task(c.run()) for c in background]
    components = [
        ReplicaSetController(api.client, factory=shared),
        DeploymentController(api.client, factory=shared),
        JobController(api.client, factory=shared),
        DaemonSetController(api.client, factory=shared),
        NPUClusterPolicyController(api.client, factory=shared),
        KAEClusterPolicyController(api.client, factory=shared),
        PodGroupController(api.client, factory=shared),
        VolcanoJobController(api.client, factory=shared),
    ]
    try:
        async with running(*components):
            await _everything_works(api, shared)
    finally:
        for c in background:
            await c.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # stopping components that share the factory leaves its informers running for its owner
    await api.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late", "namespace": NS},
                                   "spec": {"containers": [{"name": "c", "image": "x"}]}}, NS)
    pods = next(i for i in shared.informers() if i.gvr.resource == "pods")
    await eventually(lambda: pods.get(NS, "late"), what="shared informer still watching")


async def _everything_works(api: Api, shared: SharedInformerFactory) -> None:
    """One watch per resource with every consumer's indexes; a Deployment still rolls out."""
    await eventually(lambda: all(i.has_synced for i in shared.informers()), what="all informers synced")
    pod_watches = [i for i in shared.informers() if i.gvr.resource == "pods"]
    node_watches = [i for i in shared.informers() if i.gvr.resource == "nodes"]
    assert (len(pod_watches), len(node_watches)) == (1, 1)
    assert sorted(pod_watches[0].indexer_names()) == ["controller", "daemonset-owner", "namespace", "vcjob"]
    await api.client.create(DEPLOYMENTS, deploy("web", 3), NS)
    await eventually(lambda: _count(api, "web", 3), what="3 pods of the deployment")


async def _count(api: Api, app: str, n: int) -> bool:
    return len(await live_pods(api, app)) == n


async def test_stopping_one_sharing_controller_keeps_the_other_working(api: Api,
                                                                      factory: SharedInformerFactory) -> None:
    rs_ctrl = ReplicaSetController(api.client, factory=factory)
    deployments = DeploymentController(api.client, factory=factory)
    assert rs_ctrl.pod_informer is deployments.pod_informer
    jobs = JobController(api.client, factory=factory)
    async with running(jobs):
        pass  # started the factory, then stopped: the shared pod informer must keep running
    async with running(rs_ctrl, deployments):
        await api.client.create(DEPLOYMENTS, deploy("api", 2), NS)
        await eventually(lambda: _count(api, "api", 2), timeout=20.0, what="2 pods after a sharing controller stopped")
        # The shared informer sees the pods through its own watch, a moment after the API has them.
        await eventually(lambda: _indexed_pods(rs_ctrl, "api") == 2, timeout=20.0,
                         what="the shared pod informer indexing both pods under their ReplicaSet")


def _indexed_pods(ctrl: ReplicaSetController, app: str) -> int:
    """Pods the controller's pod informer indexes under the ReplicaSet of ``app`` (0 before it sees the RS)."""
    rs = [r for r in ctrl.rs_informer.list(NS) if r["metadata"]["labels"].get("app") == app]
    return len(ctrl.pod_informer.by_index("controller", str(rs[0]["metadata"]["uid"]))) if rs else 0


def test_private_factory_when_none_is_given(api: Api) -> None:
    a, b = ReplicaSetController(api.client), ReplicaSetController(api.client)
    assert a.factory is not b.factory and a.pod_informer is not b.pod_informer

