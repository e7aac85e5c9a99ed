"""Every request a component makes is granted by the RBAC ``suanli manifests`` ships for it.

The three components run in-process as ``suanli.cli.platform`` assembles them, each over its own
:class:`~tests.deploy._recording.RecordingClient` (the same API service underneath). A workload that
exercises them runs to completion -- a Deployment, a Volcano gang Job, an NPUClusterPolicy, a
CronJob-free namespace deletion with garbage collection -- and every recorded request is then checked
against the component's rules with :func:`suanli.deploy.rbac.allows` (the namespace's Role rules
included). A call a component makes that its role does not grant fails the test, naming the call.

This catches what the workload exercises; the static check in ``test_rbac.py`` covers the resources
each component's modules name.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apiserver.service import ApiService
from suanli.cli.platform import ControllerContext, controller_components
from suanli.client.local import LocalClient
from suanli.deploy.crds import served_crds
from suanli.deploy.rbac import AGENT, CONTROLLERS, SCHEDULER, ComponentRBAC, allows
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.kinds.volcano import QUEUES, VCJOBS, default_queue, root_queue
from suanli.node.agent import AgentConfig, SimAgent
from suanli.node.demo import ensure_demo_pool
from suanli.node.devices import registry_for_profiles
from suanli.node.nfd.controller import NodeFeatureReporter
from suanli.node.nfd.crds import ensure_crds
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.scheduler.adapter import LiveScheduler
from suanli.scheduler.configmap import ensure_scheduler_configmap
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT
from suanli.storage import Store
from tests.controllers.conftest import eventually
from tests.deploy._recording import Call, RecordingClient

NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
PODS = GVR("", "v1", "pods")
DEPLOYMENTS = GVR("apps", "v1", "deployments")
NPU_POLICIES = GVR("npu.openfuyao.com", "v1", "npuclusterpolicies", namespaced=False)
TIMEOUT = 90.0  # generous: the machine is shared


def _controllers(client: RecordingClient, registry: Registry, tmp: Any) -> list[Any]:
    """The controllers ``suanli controllers`` runs: the platform's one registration point, out of process
    (no API-server registry, so no quota controller or CSR signer; those are the API server's in a real
    cluster's kube-controller-manager)."""
    shared = SharedInformerFactory(client)
    ctx = ControllerContext(client, shared, volume_root=tmp, ca_pem=b"-----BEGIN CERTIFICATE-----\n",
                            issue_legacy_token=lambda *_: "token")
    return [shared, *(build() for _, build in controller_components(ctx))]


@contextlib.asynccontextmanager
async def _running(components: list[Any]) -> AsyncIterator[None]:
    factories = [c for c in components if isinstance(c, SharedInformerFactory)]
    workers = [c for c in components if not isinstance(c, SharedInformerFactory)]
    tasks = [asyncio.create_task(c.run()) for c in workers]
    for f in factories:
        f.start()
    try:
        yield
    finally:
        for c in workers:
            with contextlib.suppress(Exception):
                await c.stop()
        for f in factories:
            await f.stop()
        for t in tasks:
            try:
                await asyncio.wait_for(t, 10)
            except (asyncio.CancelledError, TimeoutError):
                t.cancel()


def _vcjob(name: str) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox", "command": ["sleep", "1"],
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
    return {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": name},
            "spec": {"minAvailable": 2, "schedulerName": "volcano", "queue": "default",
                     "tasks": [{"name": "worker", "replicas": 2,
                                "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}]}}


def _deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx",
                                                           "resources": {"requests": {"cpu": "100m"}}}]}}}}


async def _running_pods(admin: LocalClient, namespace: str, selector: str, want: int) -> bool:
    pods = (await admin.list(PODS, namespace, label_selector=selector))["items"]
    phases = [(p.get("status") or {}).get("phase") for p in pods]
    return sum(ph in ("Running", "Succeeded") for ph in phases) >= want


def _denied(rbac: ComponentRBAC, calls: set[Call]) -> list[str]:
    return sorted(str(c) for c in calls if not allows(rbac.rules_in(c.namespace), c.verb, c.group, c.resource,
                                                         subresource=c.subresource, name=c.name))


@pytest.fixture
async def recorded(tmp_path: Any) -> dict[str, set[Call]]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    admin = LocalClient(service)
    # what kube-apiserver and `kubectl apply -f deploy/suanli.yaml` leave behind
    for ns in ("default", "kube-system", "kube-node-lease", "node-feature-discovery"):
        await admin.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await ensure_crds(admin, served_crds())
    await ensure_scheduler_configmap(admin, DEFAULT_CONFIG_TEXT)
    for queue in (root_queue(), default_queue()):
        await admin.create(QUEUES, queue)
    await ensure_demo_pool(admin)

    clients = {name: RecordingClient(LocalClient(service)) for name in ("scheduler", "controllers", "agent")}
    sched, ctrl, agent = clients["scheduler"], clients["controllers"], clients["agent"]
    sched_informers = SharedInformerFactory(sched)
    components: list[Any] = [
        sched_informers,
        LiveScheduler(sched, factory=sched_informers),
        *_controllers(ctrl, registry, tmp_path / "volumes"),
        SimAgent(agent, devices=registry_for_profiles(operator_classes=frozenset({"npu", "kae"})),
                 config=AgentConfig(seed=0, require_pod_cidr=True)),
        NodeFeatureReporter(agent),
    ]
    try:
        async with _running(components):
            await admin.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
            await admin.create(DEPLOYMENTS, _deployment("web"), "team")
            await admin.create(VCJOBS, _vcjob("gang"), "team")
            await admin.create(NPU_POLICIES, {"apiVersion": "npu.openfuyao.com/v1", "kind": "NPUClusterPolicy",
                                              "metadata": {"name": "cluster"}, "spec": {}})
            await eventually(lambda: _running_pods(admin, "team", "app=web", 2), TIMEOUT, "Deployment pods run")
            await eventually(lambda: _running_pods(admin, "team", "volcano.sh/job-name=gang", 2), TIMEOUT,
                             "gang Job pods run")
            await admin.delete(DEPLOYMENTS, "web", "team")  # garbage collection of its ReplicaSet and pods
            await admin.delete(NAMESPACES, "team")  # the namespace controller empties and finalizes it

            async def namespace_gone() -> bool:
                try:
                    await admin.get(NAMESPACES, "team")
                except ApiError as err:
                    return err.code == 404
                return False

            await eventually(namespace_gone, TIMEOUT, "namespace team deleted")
    finally:
        await service.drain_background()
        await store.stop()
    return {name: c.calls for name, c in clients.items()}


@pytest.mark.parametrize("rbac", [SCHEDULER, CONTROLLERS, AGENT], ids=lambda r: f"{r.name}-role-grants-its-calls")
async def test_component_role_grants_every_recorded_call(recorded: dict[str, set[Call]], rbac: ComponentRBAC) -> None:
    calls = recorded[rbac.name]
    assert calls, f"{rbac.name} made no requests: the workload did not exercise it"
    denied = _denied(rbac, calls)
    assert not denied, f"{rbac.service_account} lacks:\n" + "\n".join(denied)
