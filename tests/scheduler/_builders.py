"""Object builders for scheduler-core tests (plain Kubernetes dicts, Volcano test-helper style)."""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import Decisions, SchedulerConfig, Snapshot, parse_config, schedule, snapshot_from_objects

__all__ = [
    "bind_map",
    "build_node",
    "build_pod",
    "build_podgroup",
    "build_priority_class",
    "build_queue",
    "run",
    "snap",
]

_TS = "2026-01-01T00:00:{:02d}Z"


def build_node(
    name: str,
    alloc: dict[str, Any],
    labels: dict[str, str] | None = None,
    *,
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
    annotations: dict[str, str] | None = None,
) -> Obj:
    alloc = {"pods": "110", **alloc}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": alloc, "capacity": alloc},
    }


def build_pod(
    ns: str,
    name: str,
    node: str = "",
    phase: str = "Pending",
    req: dict[str, Any] | None = None,
    group: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    priority: int | None = None,
    priority_class: str | None = None,
    role: str | None = None,
    preemptable: bool | None = None,
    spec: dict[str, Any] | None = None,
    ts: int = 0,
) -> Obj:
    ann = dict(annotations or {})
    if group:
        ann["scheduling.k8s.io/group-name"] = group
    if role:
        ann["volcano.sh/task-spec"] = role
    if preemptable is not None:
        ann["volcano.sh/preemptable"] = "true" if preemptable else "false"
    pod_spec: dict[str, Any] = {
        "schedulerName": "volcano",
        "containers": [{"name": "c", "image": "x", "resources": {"requests": dict(req or {})}}],
    }
    if node:
        pod_spec["nodeName"] = node
    if priority is not None:
        pod_spec["priority"] = priority
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    pod_spec.update(spec or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "namespace": ns,
            "name": name,
            "uid": f"uid-{ns}-{name}",
            "labels": labels or {},
            "annotations": ann,
            "creationTimestamp": _TS.format(ts),
        },
        "spec": pod_spec,
        "status": {"phase": phase},
    }


def build_podgroup(
    ns: str,
    name: str,
    queue: str,
    min_member: int,
    min_task_member: dict[str, int] | None = None,
    phase: str = "Inqueue",
    *,
    min_resources: dict[str, Any] | None = None,
    priority_class: str | None = None,
    ts: int = 0,
) -> Obj:
    spec: dict[str, Any] = {"queue": queue, "minMember": min_member}
    if min_task_member:
        spec["minTaskMember"] = min_task_member
    if min_resources is not None:
        spec["minResources"] = min_resources
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": {"namespace": ns, "name": name, "creationTimestamp": _TS.format(ts)},
        "spec": spec,
        "status": {"phase": phase},
    }


def build_queue(
    name: str,
    weight: int = 1,
    capability: dict[str, Any] | None = None,
    *,
    deserved: dict[str, Any] | None = None,
    guarantee: dict[str, Any] | None = None,
    parent: str | None = None,
    reclaimable: bool | None = None,
    affinity: dict[str, Any] | None = None,
    state: str = "Open",
) -> Obj:
    spec: dict[str, Any] = {"weight": weight}
    if capability is not None:
        spec["capability"] = capability
    if deserved is not None:
        spec["deserved"] = deserved
    if guarantee is not None:
        spec["guarantee"] = {"resource": guarantee}
    if parent:
        spec["parent"] = parent
    if reclaimable is not None:
        spec["reclaimable"] = reclaimable
    if affinity is not None:
        spec["affinity"] = affinity
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": name},
        "spec": spec,
        "status": {"state": state},
    }


def build_priority_class(name: str, value: int, global_default: bool = False) -> Obj:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        "globalDefault": global_default,
    }


def snap(
    nodes: list[Obj],
    pods: list[Obj],
    podgroups: list[Obj] | None = None,
    queues: list[Obj] | None = None,
    pcs: list[Obj] | None = None,
) -> Snapshot:
    return snapshot_from_objects(nodes, pods, podgroups or [], queues or [build_queue("default")], pcs or [])


def run(
    nodes: list[Obj],
    pods: list[Obj],
    podgroups: list[Obj] | None = None,
    queues: list[Obj] | None = None,
    pcs: list[Obj] | None = None,
    conf: str | SchedulerConfig | None = None,
) -> Decisions:
    cfg = conf if isinstance(conf, SchedulerConfig) else parse_config(conf)
    return schedule(snap(nodes, pods, podgroups, queues, pcs), cfg)


def bind_map(d: Decisions) -> dict[str, str]:
    """``{"ns/pod": node}`` of a decision's binds."""
    return {f"{b.namespace}/{b.name}": b.node for b in d.binds}
