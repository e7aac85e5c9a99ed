"""Simulated node runtime with kwok conventions.

Manages every Node annotated ``kwok.x-k8s.io/node: fake``. A node created with a
``status`` keeps it; one annotated ``suanli.io/hardware-profile: <name>`` without
capacity gets the profile's capacity/allocatable, nodeInfo and labels (only labels not
already set); one with neither gets kwok's defaults (cpu ``1k``, memory ``1Ti``, pods
``1M``). The node's InternalIP is ``.1`` of ``spec.podCIDR`` when the node is first seen
with one, else of ``10.<i/256>.<i%256>.0/24`` for the i-th node seen. Pod IPs come from
``spec.podCIDR`` (``.2`` upwards, never one a live pod on the node holds, also after a
restart); without one a pod waits when ``AgentConfig.require_pod_cidr`` is set (``suanli up``,
which runs the node IPAM controller), else uses the discovery-order subnet. A kwok node may
hold more pods than its /24 has addresses; beyond that, addresses repeat.

Pods bound to a fake node go Pending → Running at once and by default run until deleted.
Pod annotations shape the run:

==================================  =====================================================
``suanli.io/sim-duration: "30s"``   run time (Go duration) before the containers exit
``suanli.io/sim-exit-code: "1"``    their exit code (default 0)
``suanli.io/sim-jitter: "10%"``     duration * U[0.9, 1.1), seeded by agent seed + pod uid
                                    (+ restart count)
``suanli.io/inject-failure: crash`` containers exit with code 1 (or the exit-code
                                    annotation when non-zero), reason ``Error``
==================================  =====================================================

Usage (CPU, memory, devices, application metrics) follows :mod:`suanli.node.usage.model`:
kwok's ResourceUsage / ClusterResourceUsage, ``suanli.io/sim-cpu-usage`` / ``sim-memory-usage``
(quantity or CEL), kwok's ``kwok.x-k8s.io/usage-cpu`` / ``usage-memory``, device and
``suanli.io/sim-metric.<name>`` annotations; default a deterministic 25-75 % of the requests.

Exits follow ``restartPolicy`` (restart with back-off, or Succeeded/Failed).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Callable

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, parse_time
from suanli.apimachinery.version import kubelet_version
from suanli.client.protocol import Client
from suanli.node.agent.framework import (
    INJECT_FAILURE_ANNOTATION,
    AgentConfig,
    NetworkNotReady,
    NodeAgent,
    NodeRecord,
)
from suanli.node.agent.metrics import Usage
from suanli.node.agent.status import ContainerState, PodState
from suanli.node.agent.timing import jittered, parse_duration, parse_percent, seeded_random
from suanli.node.devices.api import PROFILE_ANNOTATION, DeviceRegistry
from suanli.node.profiles.model import HardwareProfile, load_profile
from suanli.node.usage.model import SIM_CPU_ANNOTATION, SIM_MEMORY_ANNOTATION, PodSample, UsageModel
from suanli.node.usage.rules import CLUSTER_RESOURCE_USAGES, RESOURCE_USAGES
from suanli.runtime.clock import Clock
from suanli.wire import KWOK_NODE_ANNOTATION as FAKE_NODE_ANNOTATION

__all__ = [
    "FAKE_NODE_ANNOTATION",
    "SIM_CPU_ANNOTATION",
    "SIM_DURATION_ANNOTATION",
    "SIM_EXIT_CODE_ANNOTATION",
    "SIM_JITTER_ANNOTATION",
    "SIM_MEMORY_ANNOTATION",
    "SimAgent",
]

log = logging.getLogger(__name__)

SIM_DURATION_ANNOTATION = "suanli.io/sim-duration"
SIM_EXIT_CODE_ANNOTATION = "suanli.io/sim-exit-code"
SIM_JITTER_ANNOTATION = "suanli.io/sim-jitter"
KWOK_DEFAULT_CAPACITY = {"cpu": "1k", "memory": "1Ti", "pods": "1M"}
DEFAULT_NODE_INFO = {
    "architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": kubelet_version("suanli-sim"),
    "kubeProxyVersion": kubelet_version("suanli-sim"), "containerRuntimeVersion": "suanli-sim://1", "kernelVersion": "",
    "osImage": "", "machineID": "", "systemUUID": "", "bootID": "",
}


def _ann(obj: Obj, key: str) -> str | None:
    v = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(v) if v is not None else None


class SimAgent(NodeAgent):
    """The kwok-style simulated runtime for every fake node.

    ``profiles`` resolves a hardware-profile name (default :func:`load_profile`);
    ``config.seed`` seeds duration jitter and synthetic usage; ``usage_clock`` (default the
    agent's clock) is the time usage is sampled at.
    """

    def __init__(self, client: Client, *, clock: Clock | None = None, devices: DeviceRegistry | None = None,
                 config: AgentConfig | None = None,
                 profiles: Callable[[str], HardwareProfile] = load_profile, usage_clock: Clock | None = None) -> None:
        super().__init__(client, clock=clock, devices=devices, config=config)
        self.profiles = profiles
        #: the platform clock usage is sampled on (a VirtualClock replays a day in seconds)
        self.usage_clock: Clock = usage_clock or self.clock
        self.usage = UsageModel(self.config.seed)
        self.metrics.sample_clock = self.usage_clock
        self._ips: dict[str, set[int]] = {}  # node -> pod addresses in use (as integers)
        self._cidrs: dict[str, ipaddress.IPv4Network] = {}

    async def kill_pod(self, ps: PodState, pod: Obj, grace: float) -> None:
        """Stop the pod's containers at once; a graceful stop announces each running one with
        the kubelet's Normal ``Killing`` "Stopping container <name>" Event."""
        if ps.namespace and grace > 0:
            for c in ps.containers:
                if c.state == "running":
                    await self.emit_event(ps, "Killing", f"Stopping container {c.name}", container=c.name)
        await super().kill_pod(ps, pod, grace)

    # ------------------------------------------------------------------ nodes

    def manages(self, node: Obj) -> bool:
        return _ann(node, FAKE_NODE_ANNOTATION) == "fake"

    def _profile(self, node: Obj) -> HardwareProfile | None:
        name = _ann(node, PROFILE_ANNOTATION)
        if not name:
            return None
        try:
            return self.profiles(name)
        except KeyError as exc:
            log.warning("node %s: %s", node["metadata"]["name"], exc)
            return None

    def _cidr(self, node: Obj, rec: NodeRecord) -> ipaddress.IPv4Network:
        net = self._cidrs.get(rec.name)
        if net is None:
            pod_cidr = (node.get("spec") or {}).get("podCIDR")
            try:
                net = ipaddress.IPv4Network(str(pod_cidr), strict=False) if pod_cidr else None
            except ValueError:
                net = None
            if net is None:
                i = rec.index % 65536
                net = ipaddress.IPv4Network(f"10.{i >> 8}.{i & 255}.0/24")
            self._cidrs[rec.name] = net
        return net

    def initial_status(self, node: Obj, rec: NodeRecord) -> tuple[Obj, dict[str, str]]:
        status = node.get("status") or {}
        profile = self._profile(node)
        out: Obj = {}
        if not status.get("capacity"):
            cap = dict(profile.capacity) if profile and profile.capacity else dict(KWOK_DEFAULT_CAPACITY)
            out["capacity"] = cap
            if not status.get("allocatable"):
                out["allocatable"] = dict(cap)
        info = dict(status.get("nodeInfo") or {})
        if not info.get("kubeletVersion"):
            merged = {**DEFAULT_NODE_INFO, **(profile.node_info if profile else {}), **info}
            out["nodeInfo"] = merged
            info = merged
        if not status.get("addresses"):
            host = str(next(self._cidr(node, rec).hosts()))
            out["addresses"] = [{"type": "InternalIP", "address": host},
                                {"type": "Hostname", "address": rec.name}]
        if not status.get("daemonEndpoints"):
            out["daemonEndpoints"] = {"kubeletEndpoint": {"Port": 10250}}
        if not status.get("phase"):
            out["phase"] = "Running"
        labels = (node.get("metadata") or {}).get("labels") or {}
        wanted = {"kubernetes.io/hostname": rec.name, "kubernetes.io/os": str(info.get("operatingSystem") or
                                                                               "linux"),
                  "kubernetes.io/arch": str(info.get("architecture") or "amd64"), "type": "kwok"}
        if profile:
            wanted.update(profile.labels)
        add = {k: v for k, v in wanted.items() if k not in labels}
        return out, add

    def device_resource_names(self, node: Obj) -> set[str]:
        profile = self._profile(node)
        if profile is None:
            return set()
        names = {d.resource_name for d in profile.devices}
        if profile.gpu_share is not None:
            names |= {"volcano.sh/gpu-memory", "volcano.sh/gpu-number"}
        return names

    # ------------------------------------------------------------------ pods

    def _pod_net(self, node: Obj, rec: NodeRecord) -> ipaddress.IPv4Network:
        """The node's ``spec.podCIDR``; without one, :class:`NetworkNotReady` when the config requires
        it, else the agent's own discovery-order subnet."""
        pod_cidr = (node.get("spec") or {}).get("podCIDR")
        if pod_cidr:
            try:
                return ipaddress.IPv4Network(str(pod_cidr), strict=False)
            except ValueError:
                pass
        if self.config.require_pod_cidr:
            raise NetworkNotReady(f"node {rec.name} has no spec.podCIDR yet")
        return self._cidr(node, rec)

    def pod_addresses(self, ps: PodState, node: Obj, rec: NodeRecord) -> tuple[str, str]:
        """A free address of the node's pod subnet (``.2`` upwards), or the pod's own one when it already
        has an address in it (a pod adopted after a restart). The first allocation on a node after
        start-up records the addresses of every pod already on it, so none is handed out twice."""
        net = self._pod_net(node, rec)
        host = ""
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                host = str(a.get("address"))
                break
        used = self._ips.get(rec.name)
        if used is None:
            used = self._ips[rec.name] = {ip for p in self.pods_on_node(rec.name) if (ip := _pod_ip_int(p))
                                          is not None and (p.get("status") or {}).get("phase") not in
                                          ("Succeeded", "Failed")}
        pod = self.get_pod(ps.key)
        own = _pod_ip_int(pod) if pod is not None else None
        if own is not None and ipaddress.IPv4Address(own) in net:
            address = own
        else:
            first, size = int(net.network_address) + 2, max(net.num_addresses - 3, 1)
            start = len(used) % size
            address = next((first + (start + i) % size for i in range(size) if first + (start + i) % size
                            not in used), first + start)
        used.add(address)
        ps.extra["ip"] = address
        return str(ipaddress.IPv4Address(address)), host or str(net.network_address + 1)

    def release_pod(self, ps: PodState) -> None:
        address = ps.extra.pop("ip", None)
        if address is not None:
            self._ips.get(ps.node, set()).discard(address)

    def _run_time(self, ps: PodState, pod: Obj, c: ContainerState) -> float | None:
        text = _ann(pod, SIM_DURATION_ANNOTATION)
        if not text:
            return None
        try:
            base = parse_duration(text)
            jitter = parse_percent(_ann(pod, SIM_JITTER_ANNOTATION) or "0")
        except ValueError as exc:
            log.warning("pod %s: %s", ps.key, exc)
            return None
        rng = seeded_random(self.config.seed, f"{ps.uid}/{c.restart_count}")
        return jittered(base, jitter, rng)

    @staticmethod
    def _exit_code(pod: Obj) -> int:
        try:
            return int(_ann(pod, SIM_EXIT_CODE_ANNOTATION) or 0)
        except ValueError:
            return 1

    async def start_container(self, ps: PodState, c: ContainerState, pod: Obj, env: dict[str, str]) -> None:
        c.state, c.reason, c.message = "running", "", ""
        c.started_at = self.clock.now()
        run = self._run_time(ps, pod, c)
        c.deadline = None if run is None else self.clock.monotonic() + run
        if _ann(pod, INJECT_FAILURE_ANNOTATION) == "crash":
            c.deadline = self.clock.monotonic()

    async def sync_containers(self, ps: PodState, pod: Obj) -> None:
        mono = self.clock.monotonic()
        crash = _ann(pod, INJECT_FAILURE_ANNOTATION) == "crash"
        for c in ps.containers:
            if c.state != "running":
                continue
            if crash:
                self.container_exited(ps, c, self._exit_code(pod) or 1, reason="Error")
            elif c.deadline is not None and c.deadline <= mono:
                self.container_exited(ps, c, self._exit_code(pod))

    def recover_pod(self, ps: PodState, pod: Obj) -> bool:
        statuses = {str(s.get("name")): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        now, mono = self.clock.now(), self.clock.monotonic()
        for c in ps.containers:
            s = statuses.get(c.name) or {}
            started = ((s.get("state") or {}).get("running") or {}).get("startedAt")
            if not started:
                return False
            c.state, c.reason = "running", ""
            c.started_at = parse_time(str(started)).timestamp()
            c.restart_count = int(s.get("restartCount") or 0)
            run = self._run_time(ps, pod, c)
            c.deadline = None if run is None else mono + (c.started_at + run - now)
        start = (pod.get("status") or {}).get("startTime")
        if start:
            ps.start_time = parse_time(str(start)).timestamp()
        ip = (pod.get("status") or {}).get("podIP")
        if ip:
            ps.pod_ip = str(ip)
        return True

    # ------------------------------------------------------------------ usage

    async def publish_metrics(self) -> None:
        """Refresh the ResourceUsage / ClusterResourceUsage rules, then sample (see :mod:`suanli.node.usage`)."""
        await self._load_usage_rules()
        await super().publish_metrics()

    async def _load_usage_rules(self) -> None:
        lists: list[list[Obj]] = []
        for gvr in (RESOURCE_USAGES, CLUSTER_RESOURCE_USAGES):
            try:
                lists.append(list((await self.client.list(gvr)).get("items") or []))
            except ApiError:  # kinds not served (e.g. a cluster without the kwok CRDs): no rules
                lists.append([])
        self.usage.set_rules(lists[0], lists[1])

    def pod_usage(self, ps: PodState, pod: Obj) -> dict[str, Usage]:
        """The pod's usage at the usage clock's time (:class:`~suanli.node.usage.model.UsageModel`);
        also kept in ``ps.extra["sample"]`` for the metrics writer. A sample that used no
        expression is reused until the pod, its node or the rules change."""
        now = self.usage_clock.now()
        node = self.node_informer.get("", ps.node)
        key = ((pod.get("metadata") or {}).get("resourceVersion"), (node or {}).get("metadata", {}).get(
            "resourceVersion"), self.usage.generation)
        cached = ps.extra.get("sample_key")
        sample: PodSample | None = ps.extra.get("sample")
        if sample is None or sample.dynamic or cached != key:
            profile = self._profile(node) if node is not None else None
            classes = {d.resource_name: d.device_class for d in profile.devices if d.device_class} if profile else None
            sample = self.usage.sample(pod, node, now, device_classes=classes)
            ps.extra["sample_key"] = key
        else:
            sample = dataclasses.replace(sample, timestamp=now)
        ps.extra["sample"] = sample
        return dict(sample.containers)


def _pod_ip_int(pod: Obj) -> int | None:
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        return None
    try:
        return int(ipaddress.IPv4Address(str(ip)))
    except ValueError:
        return None
