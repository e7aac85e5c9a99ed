"""Time-ordered replay: arrivals at ``creation``, departures at ``deletion``, in virtual time.

Both engines share the event loop. The distinct event times are the pods' creation and
deletion times, in increasing order; at each time ``t``:

1. pods created at ``t`` join the pending queue (FIFO: creation time, then input order);
2. running pods with ``deletion <= t`` depart and free their resources; pending pods with
   ``deletion <= t`` are *withdrawn* (deleted before they ever ran; a pod whose deletion
   equals its creation is withdrawn at once);
3. if anything arrived or departed, the pending pods are scheduled, then the
   timeline gets one point (allocation, running and pending counts) for ``t``.

A pod that does not fit stays pending and is retried at every later event; it does not
block pods behind it (Volcano's allocate also moves on to the next job). Queueing delay =
scheduled time - creation time. Pods still pending at the last event are ``pending``,
placed pods that never depart are ``running`` at the end.

Engines:

* ``gpushare`` — the GPU-sharing placement core (:mod:`suanli.scheduler.core.gpushare`):
  pending pods in FIFO order, each placed by the policy (the FGD typical pods are the
  input pod list, ``random`` draws from ``seed``). After an event with departures every
  pending pod is retried; after arrivals only, just the new pods (the older ones already
  failed on a cluster that had at least as much free). Within one pass a pod shape that
  failed is not tried again.
* ``volcano`` — the live scheduler's core: per event a snapshot of the Node, Pod,
  PodGroup, Queue and PriorityClass objects goes through
  :func:`suanli.scheduler.core.schedule` with the given configuration, binds (node and
  annotations such as ``volcano.sh/gpu-index``), evictions and PodGroup/Queue status are
  applied, and cycles repeat until one binds and evicts nothing (at most
  :data:`MAX_CYCLES_PER_EVENT`), as the live loop does on the changes it caused. Order
  among pending pods is the configuration's (job order: priority plugin, then creation
  time, then name). An evicted pod leaves for good (outcome ``evicted``).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from suanli.apimachinery.objects import Obj, deep_copy
from suanli.scheduler.core import SchedulerConfig, SnapshotConfig, schedule, snapshot_from_objects
from suanli.scheduler.core.gpushare.frag import FragCache, TypicalPods
from suanli.scheduler.core.gpushare.model import MILLI, ClusterState, NodeSpec, Placement, PodRequest, affinity_tag
from suanli.scheduler.core.gpushare.policies import PolicyContext, make_policy, schedule_one
from suanli.scheduler.core.resources import amount
from suanli.scheduler.core.snapshot import pod_request
from suanli.sim.manifests import GPU_MEMORY, GPU_NUMBER, Workload
from suanli.sim.traces import TimedPod
from suanli.wire import GPU_INDEX_ANNOTATION as GPU_INDEX
from suanli.wire import NVIDIA_GPU

__all__ = [
    "MAX_CYCLES_PER_EVENT",
    "PodOutcome",
    "ReplayRun",
    "TimelinePoint",
    "delay_stats",
    "replay_gpushare",
    "replay_volcano",
    "speed_up",
    "unbind",
]

MAX_CYCLES_PER_EVENT = 10
#: Same view of pods as the live adapter (which pods preempt/reclaim may evict by default comes from
#: the configuration's ``defaultPreemptable``, as live).
LIVE_SNAPSHOT = SnapshotConfig()


@dataclass(slots=True)
class PodOutcome:
    """One pod's fate. ``outcome``: completed | running | pending | withdrawn | evicted."""

    name: str
    creation: float
    deletion: float | None
    scheduled: float | None = None
    departed: float | None = None
    node: str = ""
    gpus: str = ""
    gpu_milli: int = 0
    outcome: str = "pending"

    @property
    def delay(self) -> float | None:
        return None if self.scheduled is None else self.scheduled - self.creation


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Cluster state right after the events at ``time`` were handled."""

    time: float
    allocated_gpu_milli: int
    gpu_allocation_ratio: float
    cpu_allocation_ratio: float
    running: int
    pending: int
    pending_gpu_milli: int
    fragmentation_rate: float | None = None


@dataclass(slots=True)
class ReplayRun:
    """Result of one replay."""

    engine: str
    policy: str
    seed: int
    nodes: int
    cluster_gpu_milli: int
    cluster_cpu_milli: int
    pods: list[PodOutcome] = field(default_factory=list)
    timeline: list[TimelinePoint] = field(default_factory=list)
    seconds: float = 0.0
    schedule_seconds: float = 0.0
    cycles: int = 0

    def placements(self) -> dict[str, dict[str, str]]:
        """``{pod: {"node": …, "gpu_index": …}}`` for every pod that was ever placed."""
        return {p.name: {"node": p.node, "gpu_index": p.gpus} for p in self.pods if p.scheduled is not None}

    def placements_digest(self) -> str:
        """SHA-256 of :meth:`placements` (sorted JSON): equal runs have equal digests."""
        blob = json.dumps(self.placements(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _event_times(creations: Sequence[float], deletions: Sequence[float | None]) -> list[float]:
    return sorted({*creations, *(d for d in deletions if d is not None)})


def speed_up(pods: Sequence[TimedPod], factor: float) -> list[TimedPod]:
    """Arrivals ``factor`` times denser, run times kept: creation' = creation / factor,
    deletion' = creation' + (deletion - creation).

    Example: factor 10, a pod created at 1000 s and deleted at 1600 s → 100 s and 700 s."""
    if factor == 1:
        return list(pods)
    out = []
    for tp in pods:
        c = tp.creation / factor
        out.append(TimedPod(tp.pod, c, None if tp.deletion is None else c + (tp.deletion - tp.creation), tp.index))
    return out


# ------------------------------------------------------------------------------ gpushare engine


def unbind(state: ClusterState, pod: PodRequest, placement: Placement) -> None:
    """Undo :meth:`ClusterState.bind` for ``pod`` at ``placement`` (the pod departs)."""
    node = placement.node
    state.cpu_free[node] += pod.cpu_milli
    state.mem_free[node] += pod.memory_mib
    for g in placement.gpus:
        state.gpu_free[node, g] += pod.gpu_milli
    tag = affinity_tag(pod)
    if tag >= 0:
        state.affinity[node, min(tag, state.affinity.shape[1] - 1)] -= 1
    state.version[node] += 1


def _shape(p: PodRequest) -> tuple[Any, ...]:
    return (p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec)


def replay_gpushare(nodes: Sequence[NodeSpec], pods: Sequence[TimedPod], policy_name: str, *, seed: int = 42,
                    fragmentation: bool = True) -> ReplayRun:
    """Replay ``pods`` on ``nodes`` with a gpushare policy (see the module docstring)."""
    started = time.perf_counter()
    state = ClusterState(nodes)
    typical = TypicalPods.from_pods([tp.pod for tp in pods])
    policy = make_policy(policy_name, PolicyContext(typical, seed), state)
    metric = FragCache(typical, state) if fragmentation else None
    cap = state.gpu_capacity_milli
    cpu_cap = int(state.cpu_cap.sum())
    run = ReplayRun("gpushare", policy_name, seed, len(nodes), cap, cpu_cap)
    out = [PodOutcome(tp.pod.name, tp.creation, tp.deletion) for tp in pods]
    run.pods = out
    order = sorted(range(len(pods)), key=lambda i: (pods[i].creation, i))
    times = _event_times([tp.creation for tp in pods], [tp.deletion for tp in pods])
    placed: dict[int, Placement] = {}
    departures: list[tuple[float, int]] = []
    pending: list[int] = []
    nxt = 0
    allocated = 0
    sched = 0.0
    for t in times:
        new: list[int] = []
        while nxt < len(order) and pods[order[nxt]].creation <= t:
            new.append(order[nxt])
            nxt += 1
        pending += new
        freed = False
        while departures and departures[0][0] <= t:
            _, i = heapq.heappop(departures)
            unbind(state, pods[i].pod, placed.pop(i))
            allocated -= pods[i].pod.total_gpu_milli
            out[i].departed, out[i].outcome = t, "completed"
            freed = True
        gone = {i for i in pending if (d := pods[i].deletion) is not None and d <= t}
        if gone:
            for i in gone:
                out[i].outcome, out[i].departed = "withdrawn", t
            pending = [i for i in pending if i not in gone]
        candidates = pending if freed else [i for i in new if i not in gone]
        if candidates:
            t0 = time.perf_counter()
            failed: set[tuple[Any, ...]] = set()
            done: set[int] = set()
            for i in candidates:
                pod = pods[i].pod
                key = _shape(pod)
                if key in failed:
                    continue
                placement = schedule_one(state, pod, policy)
                if placement is None:
                    failed.add(key)
                    continue
                done.add(i)
                placed[i] = placement
                allocated += pod.total_gpu_milli
                o = out[i]
                o.scheduled, o.node, o.outcome = t, state.names[placement.node], "running"
                o.gpus, o.gpu_milli = ",".join(str(g) for g in placement.gpus), pod.total_gpu_milli
                d = pods[i].deletion
                if d is not None:
                    heapq.heappush(departures, (d, i))
            pending = [i for i in pending if i not in done]
            sched += time.perf_counter() - t0
            run.cycles += 1
        frag: float | None = None
        if metric is not None:
            metric.refresh(state)
            idle = int(metric.idle.sum())
            frag = float(metric.F.sum()) / (typical.total_weight * idle) if idle else 0.0
        cpu_used = cpu_cap - int(state.cpu_free.sum())
        run.timeline.append(TimelinePoint(
            t, allocated, allocated / cap if cap else 0.0, cpu_used / cpu_cap if cpu_cap else 0.0,
            len(placed), len(pending), sum(pods[i].pod.total_gpu_milli for i in pending), frag))
    run.seconds = time.perf_counter() - started
    run.schedule_seconds = sched
    return run


# ------------------------------------------------------------------------------ volcano engine


def _key(obj: Obj) -> str:
    m = obj["metadata"]
    return f"{m.get('namespace') or 'default'}/{m['name']}"


def _node_gpu(node: Obj) -> tuple[float, float]:
    """(whole GPUs, memory per card) of a node."""
    st = node.get("status") or {}
    res = st.get("allocatable") or st.get("capacity") or {}
    cards = max(amount(GPU_NUMBER, res.get(GPU_NUMBER, 0)), amount(NVIDIA_GPU, res.get(NVIDIA_GPU, 0)))
    mem = amount(GPU_MEMORY, res.get(GPU_MEMORY, 0))
    return cards, (mem / cards if cards else 0.0)


def _pod_gpu_milli(req: dict[str, float], card_mem: float) -> int:
    whole = max(req.get(GPU_NUMBER, 0.0), req.get(NVIDIA_GPU, 0.0))
    if whole > 0:
        return round(whole * MILLI)
    mem = req.get(GPU_MEMORY, 0.0)
    if mem > 0 and card_mem > 0:
        return round(min(MILLI, MILLI * mem / card_mem))
    return 0


def replay_volcano(workload: Workload, config: SchedulerConfig, *, seed: int = 42,
                   policy: str = "") -> ReplayRun:
    """Replay ``workload`` through the Volcano core with ``config`` (see the module docstring)."""
    started = time.perf_counter()
    nodes = [deep_copy(n) for n in workload.nodes]
    gpu_info = {n["metadata"]["name"]: _node_gpu(n) for n in nodes}
    cap = round(sum(c for c, _ in gpu_info.values()) * MILLI)
    cpu_cap = 0
    for n in nodes:
        st = n.get("status") or {}
        cpu_cap += int(amount("cpu", (st.get("allocatable") or st.get("capacity") or {}).get("cpu", 0)))
    snapshot_config = replace(LIVE_SNAPSHOT, default_preemptable=config.default_preemptable)
    podgroups = {_key(pg): deep_copy(pg) for pg in workload.podgroups}
    queues = {q["metadata"]["name"]: deep_copy(q) for q in workload.queues}
    classes = [deep_copy(c) for c in workload.priority_classes]
    timed = workload.pods
    run = ReplayRun("volcano", policy, seed, len(nodes), cap, cpu_cap)
    out = [PodOutcome(_key(tp.obj), tp.creation, tp.deletion) for tp in timed]
    run.pods = out
    index = {o.name: i for i, o in enumerate(out)}
    requests = [pod_request(tp.obj) for tp in timed]
    order = sorted(range(len(timed)), key=lambda i: (timed[i].creation, i))
    times = _event_times([tp.creation for tp in timed], [tp.deletion for tp in timed])
    live: dict[str, Obj] = {}
    bound: set[int] = set()
    nxt = 0
    sched = 0.0
    allocated = 0
    cpu_used = 0.0

    def depart(i: int, t: float, outcome: str) -> None:
        nonlocal allocated, cpu_used
        live.pop(out[i].name, None)
        if i in bound:
            bound.discard(i)
            allocated -= out[i].gpu_milli
            cpu_used -= requests[i].get("cpu", 0.0)
        out[i].departed, out[i].outcome = t, outcome

    for t in times:
        changed = False
        while nxt < len(order) and timed[order[nxt]].creation <= t:
            i = order[nxt]
            nxt += 1
            live[out[i].name] = deep_copy(timed[i].obj)
            changed = True
        for i in [index[k] for k in live]:
            d = timed[i].deletion
            if d is not None and d <= t:
                depart(i, t, "completed" if i in bound else "withdrawn")
                changed = True
        if changed and len(bound) < len(live):
            for _ in range(MAX_CYCLES_PER_EVENT):
                t0 = time.perf_counter()
                snap = snapshot_from_objects(nodes, list(live.values()), podgroups.values(), queues.values(), classes,
                                             config=snapshot_config)
                decisions = schedule(snap, config)
                sched += time.perf_counter() - t0
                run.cycles += 1
                for ev in decisions.evictions:
                    depart(index[f"{ev.namespace}/{ev.name}"], t, "evicted")
                for b in decisions.binds:
                    i = index[f"{b.namespace}/{b.name}"]
                    pod = live[out[i].name]
                    if b.annotations:
                        pod["metadata"]["annotations"] = {**(pod["metadata"].get("annotations") or {}),
                                                          **b.annotations}
                    pod["spec"]["nodeName"] = b.node
                    pod["status"] = {"phase": "Running"}
                    o = out[i]
                    o.scheduled, o.node, o.outcome = t, b.node, "running"
                    o.gpus = str(b.annotations.get(GPU_INDEX, ""))
                    o.gpu_milli = _pod_gpu_milli(requests[i], gpu_info.get(b.node, (0.0, 0.0))[1])
                    allocated += o.gpu_milli
                    cpu_used += requests[i].get("cpu", 0.0)
                    bound.add(i)
                for key, status in decisions.podgroup_status.items():
                    if key in podgroups:
                        podgroups[key]["status"] = deep_copy(status)
                for name, status in decisions.queue_status.items():
                    if name in queues:
                        queues[name]["status"] = deep_copy(status)
                if not decisions.binds and not decisions.evictions:
                    break
        pending = [index[k] for k in live if index[k] not in bound]
        run.timeline.append(TimelinePoint(
            t, allocated, allocated / cap if cap else 0.0, cpu_used / cpu_cap if cpu_cap else 0.0, len(bound),
            len(pending), sum(_pod_gpu_milli(requests[i], max([m for _, m in gpu_info.values()] or [0.0]))
                              for i in pending)))
    run.seconds = time.perf_counter() - started
    run.schedule_seconds = sched
    return run


def delay_stats(run: ReplayRun) -> dict[str, float | int | None]:
    """Queueing-delay distribution over placed pods: count, mean, p50/p90/p99, max, share with 0 delay."""
    delays = np.array([p.delay for p in run.pods if p.delay is not None], dtype=np.float64)
    if delays.size == 0:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None, "zero_share": None}
    return {
        "count": int(delays.size),
        "mean": float(delays.mean()),
        "p50": float(np.percentile(delays, 50)),
        "p90": float(np.percentile(delays, 90)),
        "p99": float(np.percentile(delays, 99)),
        "max": float(delays.max()),
        "zero_share": float((delays == 0).mean()),
    }
