"""The node-agent framework shared by the simulated and the process runtime.

A :class:`NodeAgent` manages a set of Nodes (chosen by :meth:`NodeAgent.manages`) and
the Pods bound to them. It talks to the cluster only through a
:class:`~suanli.client.protocol.Client`:

* **Heartbeats.** One :class:`~suanli.node.agent.timing.TimerWheel` drives every node:
  a ``kube-node-lease`` Lease (``holderIdentity`` = node, ``leaseDurationSeconds`` = 40)
  is renewed every ``lease_renew_interval`` + jitter, and node ``status`` (the five
  kubelet conditions, capacity/allocatable with the device registry's extended
  resources) is written when it changes and otherwise every ``status_interval`` +
  jitter (kwok's *node-heartbeat-with-lease*). Node annotation
  ``suanli.io/inject-failure: NotReady`` stops both and reports every condition
  ``Unknown`` (reason ``NodeStatusUnknown``) once.
* **Pods.** Informer events and timer deadlines put keys on the de-duplicating work queue of
  the reconcile runtime (:class:`~suanli.runtime.controller.KeyedQueueController`, keys
  ``("pod"|"node"|"lease", name)``, ``config.workers`` workers, per-key back-off). A new pod that
  requests extended resources is admitted through :meth:`DeviceRegistry.allocate`
  (the scheduler's decision in ``suanli.io/allocated-devices`` is honoured after a check,
  otherwise the registry picks and records it; ``UnexpectedAdmissionError`` with the reason
  when the registry refuses), then the runtime starts its containers. Nodes publish their
  device interconnect groups (``suanli.io/device-topology``) on first sync. Exits are turned into
  container states, restarts (``restartPolicy`` with 10 s·2ⁿ back-off capped at 300 s)
  and the pod phase. A pod with ``deletionTimestamp`` is stopped by the runtime and then
  deleted with ``gracePeriodSeconds=0`` (uid precondition).
* **Metrics.** Every ``metrics_interval`` the runtime's usage figures become
  ``metrics.k8s.io/v1beta1`` NodeMetrics and PodMetrics (see :mod:`.metrics`).

Runtimes subclass :class:`NodeAgent` and implement the hooks marked *runtime hook*.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.devices import format_allocation, format_topology
from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.node.agent.metrics import NODE_METRICS, POD_METRICS, MetricsWriter, Usage
from suanli.node.agent.status import (
    ContainerState,
    PodState,
    conditions_summary,
    micro_time,
    node_conditions,
    pod_phase,
    pod_status,
    rfc3339,
)
from suanli.node.agent.timing import TimerWheel, seeded_random
from suanli.node.devices.api import (
    ALLOCATION_ANNOTATION,
    DEVICE_CLASS_LABEL,
    TOPOLOGY_ANNOTATION,
    Advertised,
    Allocation,
    DeviceGrantError,
    DeviceRegistry,
)
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.controller import KeyedQueueController
from suanli.runtime.informer import Informer
from suanli.wire import EVENTS, LEASES, NODES, PODS

__all__ = [
    "EVENTS",
    "INJECT_FAILURE_ANNOTATION",
    "LEASES",
    "LEASE_NAMESPACE",
    "NODES",
    "PODS",
    "AgentConfig",
    "NetworkNotReady",
    "NoDevices",
    "NodeAgent",
    "NodeRecord",
    "extended_requests",
]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
INJECT_FAILURE_ANNOTATION = "suanli.io/inject-failure"
TERMINAL = frozenset({"Succeeded", "Failed"})

Key = tuple[str, str]  # ("pod", "ns/name") | ("node", name) | ("lease", name)


class NoDevices:
    """The default :class:`DeviceRegistry`: advertises nothing, grants every pod nothing."""

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        return Advertised()

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        return Allocation()

    def topology(self, node: Obj) -> dict[str, list[list[int]]]:
        return {}


def extended_requests(pod: Obj) -> dict[str, str]:
    """Extended resources (``domain/name`` outside ``kubernetes.io``) requested by any container."""
    out: dict[str, str] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        res = c.get("resources") or {}
        for part in ("limits", "requests"):
            for name, qty in (res.get(part) or {}).items():
                if "/" in name and not name.split("/", 1)[0].endswith("kubernetes.io"):
                    out.setdefault(str(name), str(qty))
    return out


@dataclass
class AgentConfig:
    """Timing knobs (seconds).

    Idle cost per node with the defaults: a lease renewal every 25-35 s, a status
    heartbeat every 300-360 s, an unchanged metrics sample rewritten every 300 s, i.e.
    about 1 API write per node per 27 s. ``metrics_refresh`` only applies to samples whose
    usage did not change; changed usage is written every ``metrics_interval``.
    """

    lease_duration: int = 40
    lease_renew_interval: float = 25.0
    lease_renew_jitter: float = 10.0
    status_interval: float = 300.0
    status_jitter: float = 60.0
    metrics_interval: float = 15.0
    metrics_refresh: float = 300.0
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    workers: int = 16
    seed: int = 0
    #: pods start only once their node has ``spec.podCIDR`` (set by the node IPAM controller);
    #: False lets agents without an IPAM controller fall back to a subnet of their own
    require_pod_cidr: bool = False
    #: label selector of the Nodes this agent may manage (kwok's
    #: ``--manage-nodes-with-label-selector``): several agents share a cluster, each owning the
    #: nodes its label selects; empty = every node :meth:`NodeAgent.manages` accepts
    node_selector: str = ""


class NetworkNotReady(Exception):
    """Raised by :meth:`NodeAgent.pod_addresses` while the node has no pod network yet; the pod is retried."""


@dataclass
class NodeRecord:
    """What the agent keeps per managed node."""

    name: str
    index: int
    uid: str = ""
    lease: Obj | None = None
    failed: bool = False
    advertised: set[str] = field(default_factory=set)
    status_due: float = 0.0
    initialized: bool = False
    #: ``spec.unschedulable`` last announced (kubelet's ``lastNodeUnschedulable``, false at start).
    unschedulable: bool = False


class NodeAgent(KeyedQueueController[Key]):
    """Base class of node runtimes; construct a subclass and ``await run()`` / ``await stop()``."""

    field_manager = "suanli-agent"
    source_component = "kubelet"

    def __init__(self, client: Client, *, clock: Clock | None = None, devices: DeviceRegistry | None = None,
                 config: AgentConfig | None = None) -> None:
        self.name = type(self).__name__
        self.config = config or AgentConfig()
        # a private informer factory: the agent's field-selected informers are its own
        super().__init__(client, clock=clock or RealClock(), workers=self.config.workers)
        self.devices: DeviceRegistry = devices if devices is not None else NoDevices()
        self.has_devices = devices is not None
        self.nodes: dict[str, NodeRecord] = {}
        self.pods: dict[str, PodState] = {}
        self._recent_allocations: dict[str, tuple[str, dict[str, str]]] = {}  # pod uid -> (node, annotations)
        self.wheel = TimerWheel(self.clock, self._on_timer)
        self.metrics = MetricsWriter(client, self.clock, refresh=self.config.metrics_refresh)
        self.node_informer = self.watch(NODES, field_selector=self.node_field_selector(),
                                        label_selector=self.config.node_selector)
        self.pod_informers: list[Informer] = []
        self._rng = seeded_random(self.config.seed, type(self).__name__)
        self._next_index = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self.ready = asyncio.Event()

    # ------------------------------------------------------------------ runtime hooks

    def node_field_selector(self) -> str:
        """Field selector of the node informer (runtime hook; default all nodes)."""
        return ""

    def pod_field_selectors(self) -> list[str]:
        """One pod informer per selector (runtime hook; default every bound pod)."""
        return ["spec.nodeName!="]

    def manages(self, node: Obj) -> bool:
        """Whether this agent runs ``node`` (runtime hook)."""
        raise NotImplementedError

    async def setup(self) -> None:
        """Called once before informers start (runtime hook; e.g. register the host node)."""

    async def teardown(self) -> None:
        """Called once on stop after workers ended (runtime hook; e.g. kill children)."""

    def initial_status(self, node: Obj, rec: NodeRecord) -> tuple[Obj, dict[str, str]]:
        """Status fields and labels to add to an uninitialised node (runtime hook)."""
        return {}, {}

    def device_resource_names(self, node: Obj) -> set[str]:
        """Extended resources the device registry owns on ``node`` (removed when not advertised)."""
        return set()

    def pod_addresses(self, ps: PodState, node: Obj, rec: NodeRecord) -> tuple[str, str]:
        """``(podIP, hostIP)`` for a starting pod (runtime hook)."""
        return "", ""

    def release_pod(self, ps: PodState) -> None:
        """Free per-pod resources (IPs) once the pod is terminal or gone (runtime hook)."""

    async def start_container(self, ps: PodState, c: ContainerState, pod: Obj, env: dict[str, str]) -> None:
        """Start (or restart) ``c``; set its state (runtime hook)."""
        raise NotImplementedError

    async def sync_containers(self, ps: PodState, pod: Obj) -> None:
        """Advance runtime-specific state: exits, injected failures (runtime hook)."""

    async def kill_pod(self, ps: PodState, pod: Obj, grace: float) -> None:
        """Stop every container; set ``ps.stopped`` when done, or later followed by
        :meth:`enqueue_pod` (runtime hook)."""
        ps.stopped = True

    def admission_rejection(self, pod: Obj, node: Obj) -> str | None:
        """Why this node refuses to run ``pod`` (it then fails ``UnexpectedAdmissionError``), or None (hook)."""
        return None

    def recover_pod(self, ps: PodState, pod: Obj) -> bool:
        """Adopt a pod already Running before this agent started; True if adopted (runtime hook)."""
        return False

    def pod_usage(self, ps: PodState, pod: Obj) -> dict[str, Usage]:
        """Per-container usage of a running pod (runtime hook)."""
        return {}

    def node_usage(self, rec: NodeRecord, node: Obj, pods: list[Usage]) -> Usage:
        """Usage of a node given its pods' totals (runtime hook; default their sum)."""
        return Usage(sum(u.nanocores for u in pods), sum(u.memory_bytes for u in pods))

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run until :meth:`stop`: the runtime hook :meth:`setup`, then informers, timers, the
        metrics loop and the reconcile runtime's workers (started once the informers have synced)."""
        await self.setup()
        self.node_informer.add_handler(self._node_added, self._node_updated, self._node_deleted)
        for selector in self.pod_field_selectors():
            inf = self.watch(PODS, field_selector=selector, indexers={"node": _node_index})
            inf.add_handler(self._pod_changed, lambda _o, n: self._pod_changed(n), self._pod_changed)
            self.pod_informers.append(inf)
        self._tasks = [asyncio.create_task(self.wheel.run()), asyncio.create_task(self._metrics_loop())]
        core = asyncio.ensure_future(super().run())
        self._tasks.append(core)
        with contextlib.suppress(asyncio.CancelledError):
            await core
        self.ready.set()  # also when stopped before the informers synced: nobody waits forever

    def on_synced(self) -> None:
        self.ready.set()

    async def stop(self) -> None:
        """Stop informers, timers and workers (a sync in progress is cancelled), then let the runtime
        clean up."""
        self.wheel.stop()
        await super().stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t
        self._tasks.clear()
        await self.teardown()

    # ------------------------------------------------------------------ informer handlers

    def _node_added(self, node: Obj) -> None:
        self._node_updated(node, node)

    def _node_updated(self, old: Obj, node: Obj) -> None:
        name = str(node["metadata"]["name"])
        rec = self.nodes.get(name)
        if not self.manages(node):
            if rec is not None:
                self._drop_node(name)
            return
        if rec is None:
            rec = self.nodes[name] = NodeRecord(name, self._next_index, uid=str(node["metadata"].get("uid", "")))
            self._next_index += 1
            self.queue.add(("node", name))
            self.queue.add(("lease", name))
            for pod in self.pods_on_node(name):
                self.enqueue_pod(pod)
            return
        if (old.get("spec") or {}).get("podCIDR") != (node.get("spec") or {}).get("podCIDR"):
            for pod in self.pods_on_node(name):  # pods waiting for the node's pod network (NetworkNotReady)
                self.enqueue_pod(pod)
        failed = _annotation(node, INJECT_FAILURE_ANNOTATION) == "NotReady"
        if failed != rec.failed or _annotation(old, INJECT_FAILURE_ANNOTATION) != _annotation(
                node, INJECT_FAILURE_ANNOTATION) or _unschedulable(node) != rec.unschedulable:
            self.queue.add(("node", name))

    def _node_deleted(self, node: Obj) -> None:
        self._drop_node(str(node["metadata"]["name"]))

    def _drop_node(self, name: str) -> None:
        if self.nodes.pop(name, None) is None:
            return
        self.wheel.cancel(("node", name))
        self.wheel.cancel(("lease", name))
        self.metrics.forget_node(name)
        for key, ps in list(self.pods.items()):
            if ps.node == name:
                self.queue.add(("pod", key))

    def _pod_changed(self, pod: Obj) -> None:
        self.enqueue_pod(pod)
        # device-operator pods (driver, device plugin) decide which devices the node advertises
        if DEVICE_CLASS_LABEL in ((pod.get("metadata") or {}).get("labels") or {}):
            self.refresh_node(str((pod.get("spec") or {}).get("nodeName") or ""))

    def enqueue_pod(self, pod: Obj | PodState) -> None:
        if isinstance(pod, PodState):
            self.queue.add(("pod", pod.key))
            return
        m = pod["metadata"]
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        key = f"{m.get('namespace', '')}/{m['name']}"
        if node in self.nodes or key in self.pods:
            self.queue.add(("pod", key))

    def refresh_node(self, name: str) -> None:
        """Re-evaluate ``name``'s status now (device registries call this when health changes)."""
        if name in self.nodes:
            self.queue.add(("node", name))

    def _on_timer(self, key: Hashable) -> None:
        self.queue.add(key)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ lookups

    def get_pod(self, key: str) -> Obj | None:
        for inf in self.pod_informers:
            obj = inf.get_by_key(key)
            if obj is not None:
                return obj
        return None

    def _with_recent_allocations(self, node_name: str, pod: Obj) -> list[Obj]:
        """Other pods on ``node_name``, with device grants not yet visible in the cache overlaid."""
        uid = str(pod["metadata"].get("uid"))
        cached = [p for p in self.pods_on_node(node_name) if str(p["metadata"].get("uid")) != uid]
        seen = {str(p["metadata"].get("uid")) for p in cached}
        for puid in [u for u, (n, _) in self._recent_allocations.items() if n == node_name and u not in seen]:
            self._recent_allocations.pop(puid, None)  # the pod is gone: its devices are free again
        out: list[Obj] = []
        for p in cached:
            grant = self._recent_allocations.get(str(p["metadata"].get("uid")))
            annotations = (p.get("metadata") or {}).get("annotations") or {}
            if grant is not None and any(annotations.get(k) != v for k, v in grant[1].items()):
                p = {**p, "metadata": {**p["metadata"], "annotations": {**annotations, **grant[1]}}}
            out.append(p)
        return out

    def pods_on_node(self, node: str) -> list[Obj]:
        out: list[Obj] = []
        for inf in self.pod_informers:
            out.extend(inf.by_index("node", node))
        return out

    # ------------------------------------------------------------------ workers

    async def reconcile(self, key: Key) -> float | None:
        kind, name = key
        if kind == "pod":
            await self._sync_pod(name)
        elif kind == "node":
            await self._sync_node(name)
        elif kind == "lease":
            await self._renew_lease(name)
        return None

    def log_failure(self, key: Key, err: Exception) -> None:
        """Pods waiting for their node's network, vanished objects and conflicts are expected
        retries (debug); other API errors in one line; anything else with its traceback."""
        quiet = isinstance(err, NetworkNotReady) or (isinstance(err, ApiError) and err.code in (404, 409))
        log.log(logging.DEBUG if quiet else logging.WARNING, "%s: syncing %s failed: %s", self.name, key, err,
                exc_info=err if not isinstance(err, ApiError | NetworkNotReady) else None)

    # ------------------------------------------------------------------ nodes

    async def _sync_node(self, name: str) -> None:
        rec = self.nodes.get(name)
        node = self.node_informer.get("", name)
        if rec is None or node is None:
            return
        rec.uid = str(node["metadata"].get("uid", ""))
        was_failed = rec.failed
        rec.failed = _annotation(node, INJECT_FAILURE_ANNOTATION) == "NotReady"
        if _unschedulable(node) != rec.unschedulable:  # kubelet recordNodeSchedulableEvent
            rec.unschedulable = _unschedulable(node)
            await self.emit_node_event(name, "NodeNotSchedulable" if rec.unschedulable else "NodeSchedulable")
        now = self.clock.now()
        status: Obj = node.get("status") or {}
        patch: Obj = {}
        if not rec.initialized:
            init_status, labels = self.initial_status(node, rec)
            rec.initialized = True
            meta: Obj = {"labels": labels} if labels else {}
            topology = self.devices.topology(node)
            if topology and _annotation(node, TOPOLOGY_ANNOTATION) != format_topology(topology):
                meta["annotations"] = {TOPOLOGY_ANNOTATION: format_topology(topology)}
            if meta:
                await self.client.patch(NODES, name, {"metadata": meta}, field_manager=self.field_manager)
            patch.update(init_status)
        capacity = dict(patch.get("capacity") or status.get("capacity") or {})
        allocatable = dict(patch.get("allocatable") or status.get("allocatable") or {})
        adv = self.devices.advertised(node, self.pods_on_node(name))
        owned = rec.advertised | self.device_resource_names(node)
        cap_patch: dict[str, str | None] = {}
        alloc_patch: dict[str, str | None] = {}
        for res in owned - set(adv.capacity):
            if res in capacity:
                cap_patch[res] = None
            if res in allocatable:
                alloc_patch[res] = None
        for res, n in adv.capacity.items():
            if capacity.get(res) != str(n):
                cap_patch[res] = str(n)
        for res, n in adv.allocatable.items():
            if allocatable.get(res) != str(n):
                alloc_patch[res] = str(n)
        for res in set(adv.capacity) - set(adv.allocatable):
            if allocatable.get(res) not in (None, "0"):
                alloc_patch[res] = "0"
        rec.advertised = set(adv.capacity)
        if cap_patch:
            patch["capacity"] = {**(patch.get("capacity") or {}), **cap_patch}
        if alloc_patch:
            patch["allocatable"] = {**(patch.get("allocatable") or {}), **alloc_patch}
        old_conditions = list(status.get("conditions") or [])
        conditions = node_conditions(old_conditions, now, failed=rec.failed)
        heartbeat_due = not rec.failed and self.clock.monotonic() >= rec.status_due
        if patch or heartbeat_due or conditions_summary(conditions) != conditions_summary(old_conditions):
            patch["conditions"] = conditions
            await self.client.patch(NODES, name, {"status": patch}, subresource="status",
                                    field_manager=self.field_manager)
            delay = self.config.status_interval + self._rng.random() * self.config.status_jitter
            rec.status_due = self.clock.monotonic() + delay
        if rec.failed:
            self.wheel.cancel(("node", name))
            self.wheel.cancel(("lease", name))
        else:
            self.wheel.schedule(("node", name), rec.status_due)
            if was_failed:
                self.queue.add(("lease", name))

    async def _renew_lease(self, name: str) -> None:
        rec = self.nodes.get(name)
        if rec is None or rec.failed:
            return
        now = self.clock.now()
        spec = {"holderIdentity": name, "leaseDurationSeconds": self.config.lease_duration,
                "renewTime": micro_time(now)}
        if rec.lease is None:
            try:
                rec.lease = await self.client.get(LEASES, name, LEASE_NAMESPACE)
            except ApiError as exc:
                if exc.code != 404:
                    raise
                owner = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": rec.uid}] if rec.uid else []
                body: Obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                             "metadata": {"name": name, "namespace": LEASE_NAMESPACE},
                             "spec": {**spec, "acquireTime": micro_time(now)}}
                if owner:
                    body["metadata"]["ownerReferences"] = owner
                rec.lease = await self.client.create(LEASES, body, LEASE_NAMESPACE)
                self._schedule_lease(rec)
                return
        lease = rec.lease
        new = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": lease["metadata"],
               "spec": {**(lease.get("spec") or {}), **spec}}
        try:
            rec.lease = await self.client.update(LEASES, new, LEASE_NAMESPACE)
        except ApiError as exc:
            rec.lease = None  # re-read (or re-create) on the next attempt
            if exc.code not in (404, 409):
                raise
            self.queue.add(("lease", name))
            return
        self._schedule_lease(rec)

    def _schedule_lease(self, rec: NodeRecord) -> None:
        delay = self.config.lease_renew_interval + self._rng.random() * self.config.lease_renew_jitter
        self.wheel.schedule_in(("lease", rec.name), delay)

    # ------------------------------------------------------------------ pods

    async def _sync_pod(self, key: str) -> None:
        pod = self.get_pod(key)
        ps = self.pods.get(key)
        if pod is not None and str((pod.get("spec") or {}).get("nodeName") or "") not in self.nodes:
            pod = None  # bound elsewhere, or its node is gone / no longer ours
        if ps is not None and (pod is None or pod["metadata"].get("uid") != ps.uid):
            if not ps.stopped:
                await self.kill_pod(ps, pod or {}, 0.0)
            self._forget(ps)
            ps = None
        if pod is None:
            return
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            await self._finish_deletion(ps, pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if ps is None:
            if phase in TERMINAL:
                return
            ps = await self._admit(key, pod)
            if ps is None:
                return
        else:
            await self.sync_containers(ps, pod)
            await self._restart_due(ps, pod)
        await self.write_status(ps, pod)

    async def _finish_deletion(self, ps: PodState | None, pod: Obj) -> None:
        meta = pod["metadata"]
        if ps is not None and not ps.stopped:
            if not ps.stopping:
                ps.stopping = True
                grace = meta.get("deletionGracePeriodSeconds")
                if grace is None:
                    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                await self.kill_pod(ps, pod, float(grace or 0))
            if not ps.stopped:
                return  # the runtime enqueues the pod again once its containers are gone
        try:
            await self.client.delete(PODS, str(meta["name"]), str(meta.get("namespace") or ""),
                                     grace_period_seconds=0, preconditions={"uid": str(meta.get("uid"))})
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
        if ps is not None:
            self._forget(ps)

    def _forget(self, ps: PodState) -> None:
        if self.pods.get(ps.key) is ps:
            del self.pods[ps.key]
        self.wheel.cancel(("pod", ps.key))
        self.release_pod(ps)
        self.metrics.forget_pod(ps.namespace, ps.name)
        if self.has_devices and ps.node in self.nodes:
            self.queue.add(("node", ps.node))

    async def _admit(self, key: str, pod: Obj) -> PodState | None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        node_name = str(spec.get("nodeName"))
        rec = self.nodes[node_name]
        node = self.node_informer.get("", node_name) or {}
        ps = PodState(key=key, namespace=str(meta.get("namespace") or ""), name=str(meta["name"]),
                      uid=str(meta.get("uid") or ""), node=node_name,
                      restart_policy=str(spec.get("restartPolicy") or "Always"),
                      containers=[ContainerState(str(c.get("name")), str(c.get("image") or ""))
                                  for c in spec.get("containers") or []],
                      start_time=self.clock.now())
        ps.pod_ip, ps.host_ip = self.pod_addresses(ps, node, rec)
        self.pods[key] = ps
        if (pod.get("status") or {}).get("phase") == "Running" and self.recover_pod(ps, pod):
            self._schedule_pod(ps)
            ps.written = pod.get("status")
            return ps
        env: dict[str, str] = {}
        rejection = self.admission_rejection(pod, node)
        if rejection:
            ps.admission_error = rejection
            await self.emit_event(ps, "UnexpectedAdmissionError", rejection, "Warning")
            return ps
        if extended_requests(pod):
            others = self._with_recent_allocations(node_name, pod)
            try:
                alloc = self.devices.allocate(node, pod, others)
            except DeviceGrantError as err:
                ps.admission_error = f"Allocate failed: {err}"
                await self.emit_event(ps, "UnexpectedAdmissionError", ps.admission_error, "Warning")
                return ps
            if alloc is None:
                wanted = ", ".join(f"{k}: {v}" for k, v in sorted(extended_requests(pod).items()))
                ps.admission_error = (f"Allocate failed due to requested devices ({wanted}) are not available "
                                      f"on node {node_name}, which is unexpected")
                await self.emit_event(ps, "UnexpectedAdmissionError", ps.admission_error, "Warning")
                return ps
            annotations = dict(alloc.annotations)
            if alloc.devices:
                annotations[ALLOCATION_ANNOTATION] = format_allocation(alloc.devices)
            # remember the grant before any await: concurrent workers must not hand out the same devices
            # while the annotation patch has not reached the informer cache yet
            self._recent_allocations[str(pod["metadata"].get("uid"))] = (node_name, annotations)
            have = meta.get("annotations") or {}
            changed = {k: v for k, v in annotations.items() if have.get(k) != v}  # a honoured decision stays as is
            if changed:
                await self.client.patch(PODS, ps.name, {"metadata": {"annotations": changed}}, ps.namespace,
                                        field_manager=self.field_manager)
            env = dict(alloc.env)
            if self.has_devices:
                self.queue.add(("node", node_name))
        ps.extra["device_env"] = env
        for c in ps.containers:
            await self.start_container(ps, c, pod, env)
        return ps

    async def _restart_due(self, ps: PodState, pod: Obj) -> None:
        mono = self.clock.monotonic()
        for c in ps.containers:
            if c.restart_at is not None and c.restart_at <= mono:
                c.restart_at = None
                c.restart_count += 1
                await self.start_container(ps, c, pod, dict(ps.extra.get("device_env") or {}))

    def container_exited(self, ps: PodState, c: ContainerState, exit_code: int, *, reason: str = "",
                         message: str = "") -> bool:
        """Record an exit; returns True when the container will restart (after back-off)."""
        c.state = "terminated"
        c.exit_code = exit_code
        c.reason = reason or ("Completed" if exit_code == 0 else "Error")
        c.message = message
        c.finished_at = self.clock.now()
        c.deadline = None
        restart = ps.restart_policy == "Always" or (ps.restart_policy == "OnFailure" and exit_code != 0)
        if restart and not ps.stopping:
            c.last_terminated = c.terminated_obj()
            delay = min(self.config.backoff_base * 2 ** c.restart_count, self.config.backoff_cap)
            c.state, c.reason, c.message = "waiting", "CrashLoopBackOff", (
                f"back-off {int(delay)}s restarting failed container={c.name} pod={ps.name}_{ps.namespace}"
                f"({ps.uid})")
            c.restart_at = self.clock.monotonic() + delay
            return True
        return False

    def _schedule_pod(self, ps: PodState) -> None:
        times = [t for c in ps.containers for t in (c.deadline, c.restart_at) if t is not None]
        if times:
            self.wheel.schedule(("pod", ps.key), min(times))
        else:
            self.wheel.cancel(("pod", ps.key))

    async def write_status(self, ps: PodState, pod: Obj) -> None:
        """Patch the pod's status if it differs from what this agent last wrote; forget terminal pods."""
        status = pod_status(ps, self.clock.now(), ps.written or pod.get("status"))
        phase = status["phase"]
        if ps.written is None or _status_key(status) != _status_key(ps.written):
            ps.written = await self._patch_status(ps, status)
        if phase in TERMINAL:
            self._forget(ps)
        else:
            self._schedule_pod(ps)

    async def _patch_status(self, ps: PodState, status: Obj) -> Obj:
        try:
            out = await self.client.patch(PODS, ps.name, {"status": status}, ps.namespace, subresource="status",
                                          field_manager=self.field_manager)
        except ApiError as exc:
            if exc.code == 404:
                return status
            raise
        return dict(out.get("status") or status)

    # ------------------------------------------------------------------ events

    async def emit_event(self, ps: PodState, reason: str, message: str, etype: str = "Normal",
                         container: str = "") -> None:
        """Create a core/v1 Event about ``ps`` (errors are logged, never raised)."""
        now = rfc3339(self.clock.now())
        involved: Obj = {"kind": "Pod", "apiVersion": "v1", "namespace": ps.namespace, "name": ps.name,
                         "uid": ps.uid}
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        body: Obj = {"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": f"{ps.name}.{uuid.uuid4().hex[:16]}", "namespace": ps.namespace},
                     "involvedObject": involved, "reason": reason, "message": message, "type": etype,
                     "source": {"component": self.source_component, "host": ps.node},
                     "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                     "reportingComponent": self.source_component, "reportingInstance": ps.node}
        try:
            await self.client.create(EVENTS, body, ps.namespace)
        except ApiError as exc:
            log.debug("event %s for %s not recorded: %s", reason, ps.key, exc)

    async def emit_node_event(self, name: str, status: str) -> None:
        """Kubelet's ``recordNodeStatusEvent``: Normal ``<status>`` "Node <name> status is now:
        <status>" about the node (object reference uid = the node name, as the kubelet's)."""
        now = rfc3339(self.clock.now())
        body: Obj = {"apiVersion": "v1", "kind": "Event",
                     "metadata": {"name": f"{name}.{uuid.uuid4().hex[:16]}", "namespace": "default"},
                     "involvedObject": {"kind": "Node", "name": name, "uid": name},
                     "reason": status, "message": f"Node {name} status is now: {status}", "type": "Normal",
                     "source": {"component": self.source_component, "host": name},
                     "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                     "reportingComponent": self.source_component, "reportingInstance": name}
        try:
            await self.client.create(EVENTS, body, "default")
        except ApiError as exc:
            log.debug("event %s for node %s not recorded: %s", status, name, exc)

    # ------------------------------------------------------------------ metrics

    async def metrics_writable(self) -> bool | None:
        """Whether the API server takes ``metrics.k8s.io/v1beta1`` NodeMetrics and PodMetrics from
        agents: discovery lists both with the ``create`` verb. False (logged once) where the group is
        not served, or served read-only (a real cluster's metrics-server aggregated API); None when
        discovery could not answer (asked again next time)."""
        path = f"/apis/{NODE_METRICS.group}/{NODE_METRICS.version}"
        try:
            doc = await self.client.discovery_document(path)
        except ApiError as err:
            if err.code != 404:
                log.debug("%s: discovery of %s failed: %s", self.name, path, err)
                return None
            doc = {}
        verbs = {str(r.get("name")): set(r.get("verbs") or []) for r in doc.get("resources") or []}
        if all("create" in verbs.get(gvr.resource, set()) for gvr in (NODE_METRICS, POD_METRICS)):
            return True
        log.warning("%s: the API server does not accept %s nodes and pods from agents (%s); node and pod "
                    "metrics are not published", self.name, path, "read-only" if doc else "not served")
        return False

    async def _metrics_loop(self) -> None:
        interval = self.config.metrics_interval
        if interval <= 0:
            return
        await self.ready.wait()
        writable: bool | None = None
        while True:
            try:
                if writable is None:
                    writable = await self.metrics_writable()
                if writable is False:
                    return
                if writable:
                    await self.publish_metrics()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: publishing metrics failed", type(self).__name__)
            await self.clock.sleep(interval)

    async def publish_metrics(self) -> None:
        """Write NodeMetrics for every healthy node and PodMetrics for its running pods."""
        per_node: dict[str, list[Usage]] = {name: [] for name in self.nodes}
        for ps in list(self.pods.values()):
            if ps.node not in per_node or ps.stopped or pod_phase(ps) != "Running":
                continue
            pod = self.get_pod(ps.key)
            if pod is None:
                continue
            usage = self.pod_usage(ps, pod)
            if not usage:
                continue
            per_node[ps.node].append(Usage(sum(u.nanocores for u in usage.values()),
                                           sum(u.memory_bytes for u in usage.values())))
            self.metrics.pod(ps.namespace, ps.name, usage, pod["metadata"].get("labels") or {}, node=ps.node,
                             sample=ps.extra.get("sample"))
        for name, usages in per_node.items():
            rec = self.nodes.get(name)
            node = self.node_informer.get("", name)
            if rec is None or node is None or rec.failed:
                continue
            self.metrics.node(name, self.node_usage(rec, node, usages), node["metadata"].get("labels") or {})
        await self.metrics.flush()


def _status_key(status: Obj) -> Any:
    """What matters when deciding to rewrite a pod status (ignores transition times)."""
    return (status.get("phase"), status.get("podIP"), status.get("reason"),
            [(c.get("name"), c.get("restartCount"), c.get("ready"), json.dumps(c.get("state"), sort_keys=True))
             for c in status.get("containerStatuses") or []])


def _unschedulable(node: Obj) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def _annotation(obj: Obj, key: str) -> str | None:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    v = ann.get(key)
    return str(v) if v is not None else None


def _node_index(pod: Obj) -> list[str]:
    return [str((pod.get("spec") or {}).get("nodeName") or "")]
