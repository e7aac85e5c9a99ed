"""Simulated node agent against the real in-process API stack, driven by a FakeClock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.agent import METRICS_BUCKETS, NODE_METRICS, POD_METRICS, AgentConfig, SimAgent
from suanli.node.agent.framework import NODES, PODS
from suanli.node.agent.status import micro_time
from suanli.node.agent.timing import jittered, parse_duration, seeded_random
from suanli.node.devices.api import ALLOCATION_ANNOTATION, Advertised, Allocation
from suanli.node.profiles.model import HardwareProfile
from suanli.runtime.clock import FakeClock
from suanli.storage import Store

SEED = 7


class Stack:
    """Registry + Store(in memory) + ApiService + LocalClient + a SimAgent on a FakeClock."""

    def __init__(self, devices: Any = None, profiles: Callable[[str], HardwareProfile] | None = None) -> None:
        self.clock = FakeClock()
        self.registry = Registry()
        self.registry.add_all(builtin_resource_types())
        self.store = Store(None, compaction_interval=0, ttl_check_interval=0, volatile_buckets=METRICS_BUCKETS)
        self.service = ApiService(self.store, self.registry)
        self.client = LocalClient(self.service)
        kwargs: dict[str, Any] = {"profiles": profiles} if profiles else {}
        self.agent = SimAgent(self.client, clock=self.clock, devices=devices,
                              config=AgentConfig(seed=SEED, workers=4), **kwargs)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.start()
        self.store.add_index("pods", "spec.nodeName", lambda p: [str((p.get("spec") or {}).get("nodeName") or "")])
        ns_rt = self.registry.get("", "v1", "namespaces")
        assert ns_rt is not None
        for ns in ("default", "kube-node-lease"):
            await self.service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.task = asyncio.create_task(self.agent.run())
        await asyncio.wait_for(self.agent.ready.wait(), 5)

    async def stop(self) -> None:
        await self.agent.stop()
        if self.task is not None:
            await self.task
        await self.store.stop()

    async def eventually(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll ``fn`` (returning a truthy value when done) while the agent works."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = fn()
            except (KeyError, TypeError, IndexError, AttributeError):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached: {fn}")
            await asyncio.sleep(0.002)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the fake clock in steps, letting timers and workers run in between."""
        moved = 0.0
        while moved < seconds:
            d = min(step, seconds - moved)
            self.clock.advance(d)
            moved += d
            await self.idle()

    async def idle(self) -> None:
        """Wait until the agent's queue is drained and nothing is being processed."""
        for _ in range(3):
            await self.eventually(lambda: len(self.agent.queue) == 0 and not self.agent.queue.processing)
            await asyncio.sleep(0.002)

    def obj(self, bucket: str, ns: str, name: str) -> Obj | None:
        so = self.store.get(bucket, ns, name)
        return so.obj if so else None

    def node(self, name: str) -> Obj:
        n = self.obj("nodes", "", name)
        assert n is not None
        return n

    def pod(self, name: str, ns: str = "default") -> Obj | None:
        return self.obj("pods", ns, name)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    await s.start()
    yield s
    await s.stop()


def fake_node(name: str, *, annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None,
              status: Obj | None = None) -> Obj:
    body: Obj = {"apiVersion": "v1", "kind": "Node",
                 "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake", **(annotations or {})},
                              "labels": labels or {}}}
    if status is not None:
        body["status"] = status
    return body


def pod(name: str, node: str, *, annotations: dict[str, str] | None = None, restart: str = "Never",
        containers: int = 1, resources: Obj | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"nodeName": node, "restartPolicy": restart,
                     "containers": [{"name": f"c{i}", "image": "busybox", "resources": resources or {}}
                                    for i in range(containers)]}}


def cond(node: Obj, ctype: str) -> Obj:
    return next(c for c in node["status"]["conditions"] if c["type"] == ctype)


def phase(p: Obj | None) -> str | None:
    return (p or {}).get("status", {}).get("phase")


# ---------------------------------------------------------------------------------------------- nodes


async def test_fake_node_gets_conditions_lease_and_kwok_defaults(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "real"}})
    node = await stack.eventually(lambda: stack.node("n1") if stack.node("n1").get("status", {}).get("conditions")
                                  else None)
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {
        "Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False",
        "NetworkUnavailable": "False"}
    assert node["status"]["capacity"] == {"cpu": "1k", "memory": "1Ti", "pods": "1M"}
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.0.0.1"}
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    lease = await stack.eventually(lambda: stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1"))
    assert lease["spec"]["holderIdentity"] == "n1"
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["spec"]["renewTime"] == micro_time(stack.clock.now())
    assert lease["metadata"]["ownerReferences"][0]["name"] == "n1"
    assert stack.obj("nodes", "", "real").get("status") is None  # not a fake node: untouched
    assert stack.obj("coordination.k8s.io/leases", "kube-node-lease", "real") is None


async def test_lease_renews_often_and_status_heartbeats_rarely(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.eventually(lambda: stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1"))
    await stack.idle()
    first_beat = cond(stack.node("n1"), "Ready")["lastHeartbeatTime"]
    renewed: list[str] = []
    for _ in range(4):
        await stack.advance(36)  # renew interval 25 s + up to 10 s jitter
        renewed.append(stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1")["spec"]["renewTime"])
    assert len(set(renewed)) == 4 and renewed == sorted(renewed)
    assert cond(stack.node("n1"), "Ready")["lastHeartbeatTime"] == first_beat  # 144 s < status interval
    await stack.advance(300, step=30)
    later = cond(stack.node("n1"), "Ready")
    assert later["lastHeartbeatTime"] > first_beat
    assert later["lastTransitionTime"] <= first_beat  # status unchanged: transition time kept


async def test_node_created_with_status_keeps_it() -> None:
    s = Stack(profiles=lambda name: PROFILE)
    await s.start()
    try:
        status = {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "20"},
                  "allocatable": {"cpu": "3", "memory": "7Gi", "pods": "20"}}
        await s.client.create(NODES, fake_node("kept", status=status,
                                               annotations={"suanli.io/hardware-profile": "p"}))
        node = await s.eventually(lambda: s.node("kept") if s.node("kept")["status"].get("conditions") else None)
        assert node["status"]["capacity"] == status["capacity"]
        assert node["status"]["allocatable"] == status["allocatable"]
    finally:
        await s.stop()


PROFILE = HardwareProfile(
    name="p", description="test", capacity={"cpu": "96", "memory": "768Gi", "pods": "110"},
    labels={"node.kubernetes.io/instance-type": "big", "team": "profile"},
    node_info={"architecture": "arm64", "kernelVersion": "5.10.0"})


async def test_profile_fills_capacity_node_info_and_unset_labels() -> None:
    s = Stack(profiles=lambda name: PROFILE if name == "p" else (_ for _ in ()).throw(KeyError(name)))
    await s.start()
    try:
        await s.client.create(NODES, fake_node("np", annotations={"suanli.io/hardware-profile": "p"},
                                               labels={"team": "mine"}))
        node = await s.eventually(lambda: s.node("np") if s.node("np").get("status", {}).get("capacity") and
                                  s.node("np")["metadata"]["labels"].get("kubernetes.io/arch") else None)
        assert node["status"]["capacity"] == PROFILE.capacity
        assert node["status"]["allocatable"] == PROFILE.capacity
        assert node["status"]["nodeInfo"]["architecture"] == "arm64"
        assert node["status"]["nodeInfo"]["kernelVersion"] == "5.10.0"
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == "big"
        assert labels["team"] == "mine"  # already set: the profile does not override it
        assert labels["kubernetes.io/arch"] == "arm64"
    finally:
        await s.stop()


async def test_inject_not_ready_stops_heartbeats_and_recovers(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.eventually(lambda: stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1"))
    await stack.idle()
    await stack.client.patch(NODES, "n1", {"metadata": {"annotations": {"suanli.io/inject-failure": "NotReady"}}})
    await stack.eventually(lambda: cond(stack.node("n1"), "Ready")["status"] == "Unknown")
    assert cond(stack.node("n1"), "Ready")["reason"] == "NodeStatusUnknown"
    frozen = stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1")["spec"]["renewTime"]
    await stack.advance(120, step=10)
    assert stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1")["spec"]["renewTime"] == frozen
    await stack.client.patch(NODES, "n1", {"metadata": {"annotations": {"suanli.io/inject-failure": None}}})
    await stack.eventually(lambda: cond(stack.node("n1"), "Ready")["status"] == "True")
    await stack.eventually(
        lambda: stack.obj("coordination.k8s.io/leases", "kube-node-lease", "n1")["spec"]["renewTime"] > frozen)


# ---------------------------------------------------------------------------------------------- pods


@pytest.mark.parametrize(
    ("annotations", "restart", "advance", "want_phase", "want_state", "want_exit", "want_restarts"),
    [
        ({}, "Never", 1000, "Running", "running", None, 0),
        ({"suanli.io/sim-duration": "30s"}, "Never", 31, "Succeeded", "terminated", 0, 0),
        ({"suanli.io/sim-duration": "30s", "suanli.io/sim-exit-code": "2"}, "Never", 31, "Failed", "terminated", 2,
         0),
        ({"suanli.io/sim-duration": "30s", "suanli.io/sim-exit-code": "1"}, "OnFailure", 45, "Running", "running",
         None, 1),
        ({"suanli.io/sim-duration": "30s"}, "OnFailure", 45, "Succeeded", "terminated", 0, 0),
        ({"suanli.io/sim-duration": "30s"}, "Always", 45, "Running", "running", None, 1),
        ({"suanli.io/inject-failure": "crash"}, "Never", 1, "Failed", "terminated", 1, 0),
    ],
    ids=["runs-until-deleted-by-default", "duration-then-succeeded", "nonzero-exit-fails",
         "onfailure-restarts-after-backoff", "onfailure-success-completes", "always-restarts-even-on-success",
         "injected-crash-fails-container"],
)
async def test_pod_lifecycle(stack: Stack, annotations: dict[str, str], restart: str, advance: float,
                             want_phase: str, want_state: str, want_exit: int | None, want_restarts: int) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(PODS, pod("p", "n1", annotations=annotations, restart=restart))
    running = await stack.eventually(lambda: stack.pod("p") if phase(stack.pod("p")) in
                                     ("Running", "Failed") else None)
    st = running["status"]
    assert st["podIP"].startswith("10.0.0.") and st["hostIP"] == "10.0.0.1" and st["startTime"]
    await stack.advance(advance, step=max(1.0, advance / 50))
    p = stack.pod("p")
    assert p is not None
    cs = p["status"]["containerStatuses"][0]
    assert phase(p) == want_phase
    assert list(cs["state"]) == [want_state]
    assert cs["restartCount"] == want_restarts
    if want_exit is not None:
        assert cs["state"]["terminated"]["exitCode"] == want_exit
        assert cs["state"]["terminated"]["reason"] == ("Completed" if want_exit == 0 else "Error")
    if want_state == "running":
        assert cs["ready"] and cs["started"] and cs["state"]["running"]["startedAt"]
        assert {c["type"]: c["status"] for c in p["status"]["conditions"]} == {
            "Initialized": "True", "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
    if want_restarts:
        assert cs["lastState"]["terminated"]["exitCode"] == int(annotations.get("suanli.io/sim-exit-code", "0"))


async def test_crash_loop_waits_in_backoff(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(PODS, pod("p", "n1", annotations={"suanli.io/inject-failure": "crash"},
                                        restart="Always"))
    waiting = await stack.eventually(
        lambda: stack.pod("p") if "waiting" in stack.pod("p")["status"]["containerStatuses"][0]["state"] else None)
    cs = waiting["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert phase(waiting) == "Running"
    await stack.advance(11)  # first back-off is 10 s
    assert stack.pod("p")["status"]["containerStatuses"][0]["restartCount"] == 1


async def test_jittered_duration_is_deterministic_per_uid(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    ann = {"suanli.io/sim-duration": "100s", "suanli.io/sim-jitter": "20%"}
    created = await stack.client.create(PODS, pod("j", "n1", annotations=ann))
    await stack.eventually(lambda: phase(stack.pod("j")) == "Running")
    expected = jittered(parse_duration("100s"), 0.2, seeded_random(SEED, f"{created['metadata']['uid']}/0"))
    assert 80 <= expected < 120
    await stack.advance(expected - 1, step=5)
    assert phase(stack.pod("j")) == "Running"
    await stack.advance(2)
    assert phase(stack.pod("j")) == "Succeeded"
    assert seeded_random(SEED, "x").random() == seeded_random(SEED, "x").random()


async def test_deleting_a_running_pod_removes_it(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(PODS, pod("p", "n1"))
    await stack.eventually(lambda: phase(stack.pod("p")) == "Running")
    marked = await stack.client.delete(PODS, "p", "default")
    assert marked["metadata"].get("deletionTimestamp")  # graceful: the agent finishes it
    await stack.eventually(lambda: stack.pod("p") is None)


def _events(stack: Stack, kind: str, name: str) -> list[tuple[str, str, str]]:
    found = stack.store.list("events", "default").items
    return [(e.obj["type"], e.obj["reason"], e.obj["message"]) for e in found
            if e.obj["involvedObject"]["kind"] == kind and e.obj["involvedObject"]["name"] == name]


async def test_deleting_a_running_pod_announces_killing_each_container(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(PODS, pod("k", "n1", containers=2))
    await stack.eventually(lambda: phase(stack.pod("k")) == "Running")
    await stack.client.delete(PODS, "k", "default")
    await stack.eventually(lambda: stack.pod("k") is None)
    assert sorted(e for e in _events(stack, "Pod", "k") if e[1] == "Killing") == [
        ("Normal", "Killing", "Stopping container c0"), ("Normal", "Killing", "Stopping container c1")]


async def test_cordon_and_uncordon_are_announced_on_the_node(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    await stack.eventually(lambda: stack.node("n1").get("status", {}).get("conditions"))
    assert _events(stack, "Node", "n1") == []  # schedulable from the start: nothing to announce
    await stack.client.patch(NODES, "n1", {"spec": {"unschedulable": True}})
    await stack.eventually(lambda: _events(stack, "Node", "n1"))
    await stack.client.patch(NODES, "n1", {"spec": {"unschedulable": False}})
    await stack.eventually(lambda: len(_events(stack, "Node", "n1")) == 2)
    assert sorted(_events(stack, "Node", "n1")) == [
        ("Normal", "NodeNotSchedulable", "Node n1 status is now: NodeNotSchedulable"),
        ("Normal", "NodeSchedulable", "Node n1 status is now: NodeSchedulable")]


async def test_pod_ips_are_unique_per_node_and_reused(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1"))
    for i in range(3):
        await stack.client.create(PODS, pod(f"p{i}", "n1"))
    await stack.eventually(lambda: all(phase(stack.pod(f"p{i}")) == "Running" for i in range(3)))
    ips = {stack.pod(f"p{i}")["status"]["podIP"] for i in range(3)}
    assert len(ips) == 3


# ---------------------------------------------------------------------------------------------- devices


class FakeDevices:
    """Advertises ``count`` example.com/dev devices while ``healthy``; grants free IDs."""

    resource = "example.com/dev"

    def __init__(self, count: int = 2) -> None:
        self.count = count
        self.healthy = True

    def advertised(self, node: Obj, pods_on_node: list[Obj]) -> Advertised:
        if not self.healthy:
            return Advertised()
        return Advertised({self.resource: self.count}, {self.resource: self.count})

    def allocate(self, node: Obj, pod: Obj, pods_on_node: list[Obj]) -> Allocation | None:
        want = int(pod["spec"]["containers"][0]["resources"]["limits"][self.resource])
        used = {d for p in pods_on_node for d in _alloc_of(p)}
        free = [str(i) for i in range(self.count) if str(i) not in used]
        if want > len(free):
            return None
        ids = free[:want]
        return Allocation({self.resource: ids}, {"EXAMPLE_VISIBLE_DEVICES": ",".join(ids)})

    def topology(self, node: Obj) -> dict[str, list[list[int]]]:
        return {self.resource: [list(range(self.count))]}


def _alloc_of(p: Obj) -> list[str]:
    import json

    raw = (p["metadata"].get("annotations") or {}).get(ALLOCATION_ANNOTATION)
    return list(json.loads(raw).get(FakeDevices.resource, [])) if raw else []


async def test_devices_are_advertised_allocated_and_withdrawn() -> None:
    devices = FakeDevices(2)
    s = Stack(devices=devices)
    await s.start()
    try:
        await s.client.create(NODES, fake_node("gpu"))
        await s.eventually(lambda: s.node("gpu")["status"]["capacity"].get("example.com/dev") == "2")
        assert s.node("gpu")["status"]["allocatable"]["example.com/dev"] == "2"
        res = {"limits": {"example.com/dev": "1"}}
        await s.client.create(PODS, pod("a", "gpu", resources=res))
        await s.eventually(lambda: phase(s.pod("a")) == "Running")
        assert _alloc_of(s.pod("a")) == ["0"]
        await s.client.create(PODS, pod("b", "gpu", resources={"limits": {"example.com/dev": "5"}}))
        failed = await s.eventually(lambda: s.pod("b") if phase(s.pod("b")) == "Failed" else None)
        assert failed["status"]["reason"] == "UnexpectedAdmissionError"
        devices.healthy = False
        s.agent.refresh_node("gpu")
        await s.eventually(lambda: "example.com/dev" not in s.node("gpu")["status"]["capacity"])
        assert "example.com/dev" not in s.node("gpu")["status"]["allocatable"]
        assert s.node("gpu")["status"]["capacity"]["cpu"] == "1k"  # other capacity untouched
    finally:
        await s.stop()


async def test_pods_bound_together_never_share_a_device() -> None:
    """Grants made by concurrent workers are visible to each other before the informer catches up."""
    devices = FakeDevices(8)
    s = Stack(devices=devices)
    await s.start()
    try:
        await s.client.create(NODES, fake_node("gpu"))
        await s.eventually(lambda: s.node("gpu")["status"]["capacity"].get("example.com/dev") == "8")
        res = {"limits": {"example.com/dev": "2"}}
        await asyncio.gather(*(s.client.create(PODS, pod(f"p{i}", "gpu", resources=res)) for i in range(4)))
        await s.eventually(lambda: all(phase(s.pod(f"p{i}")) == "Running" for i in range(4)))
        granted = [d for i in range(4) for d in _alloc_of(s.pod(f"p{i}"))]
        assert len(granted) == 8 and len(set(granted)) == 8
    finally:
        await s.stop()


# ---------------------------------------------------------------------------------------------- metrics


async def test_metrics_from_annotations_and_requests(stack: Stack) -> None:
    await stack.client.create(NODES, fake_node("n1", labels={"zone": "a"}))
    await stack.client.create(PODS, pod("annotated", "n1", annotations={"suanli.io/sim-cpu-usage": "200m",
                                                                         "suanli.io/sim-memory-usage": "300Mi"}))
    await stack.client.create(PODS, pod("requests", "n1", resources={"requests": {"cpu": "1", "memory": "1Gi"}}))
    await stack.eventually(lambda: all(phase(stack.pod(n)) == "Running" for n in ("annotated", "requests")))
    await stack.advance(16, step=4)
    pm = await stack.eventually(lambda: stack.obj("metrics.k8s.io/pods", "default", "annotated"))
    assert pm["containers"] == [{"name": "c0", "usage": {"cpu": "200000000n", "memory": f"{300 * 1024}Ki"}}]
    req = stack.obj("metrics.k8s.io/pods", "default", "requests")
    cpu = int(req["containers"][0]["usage"]["cpu"][:-1])
    assert 250_000_000 <= cpu < 750_000_000  # deterministic 25-75 % of the request
    nm = stack.obj("metrics.k8s.io/nodes", "", "n1")
    assert nm["kind"] == "NodeMetrics" and nm["window"] == "30s" and nm["metadata"]["labels"]["zone"] == "a"
    assert int(nm["usage"]["cpu"][:-1]) == 200_000_000 + cpu
    listed = await stack.client.list(NODE_METRICS)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["n1"]
    await stack.client.delete(PODS, "annotated", "default")
    await stack.eventually(lambda: stack.pod("annotated") is None)
    await stack.advance(16, step=4)
    await stack.eventually(lambda: stack.obj("metrics.k8s.io/pods", "default", "annotated") is None)
    with pytest.raises(ApiError):
        await stack.client.get(POD_METRICS, "annotated", "default")


async def test_churned_pods_leave_no_state_in_the_agent(stack: Stack) -> None:
    """After many short pods have run and been deleted, the agent keeps nothing per pod:
    no pod records, timers, rate-limiter entries, metrics signatures or IP reservations."""
    await stack.client.create(NODES, fake_node("n1"))
    await stack.client.create(NODES, fake_node("n2"))
    await stack.eventually(lambda: len(stack.agent.nodes) == 2)
    names = [f"short-{i:03d}" for i in range(60)]
    for i, n in enumerate(names):
        await stack.client.create(PODS, pod(n, f"n{1 + i % 2}", annotations={"suanli.io/sim-duration": "2s"}))
    await stack.eventually(lambda: all(phase(stack.pod(n)) == "Running" for n in names))
    await stack.advance(5)
    await stack.eventually(lambda: all(phase(stack.pod(n)) == "Succeeded" for n in names))
    await stack.advance(20)  # metrics flush and heartbeats see the pods before they go
    for n in names:
        await stack.client.delete(PODS, n, "default")
    await stack.eventually(lambda: not stack.agent.pods)
    await stack.advance(60)
    agent = stack.agent
    assert not [k for k in agent.wheel._due if k[0] == "pod"]
    assert not [k for k in agent.queue._limiter._failures if isinstance(k, tuple) and k[0] == "pod"]  # type: ignore[attr-defined]
    metrics = agent.metrics
    assert not [k for k in (*metrics._written, *metrics._staged, *metrics._deletes) if k[0] == "pod"]
    assert all(not used for used in agent._ips.values())
    assert not agent._recent_allocations
    assert stack.store.count("metrics.k8s.io/pods") == 0
