"""Immutable scheduling snapshot and its converter from plain Kubernetes objects.

:func:`snapshot_from_objects` is what the live adapter calls with its informer
caches (and what the simulator calls with synthetic objects). Contract:

* **Nodes** → :class:`NodeInfo` arrays ``allocatable[N, D]`` (status.allocatable,
  else status.capacity), ``used[N, D]`` (requests of non-terminal pods whose
  ``spec.nodeName`` is the node; ``pods`` counts them) and ``releasing[N, D]``
  (the part of ``used`` held by pods that are being deleted).
* **Pods** → :class:`TaskInfo`. Request = max(sum over containers, each init
  container) per dimension plus ``spec.overhead``; a container's request for a
  resource defaults to its limit (as the API server does). Pods with
  ``spec.nodeName`` are bound (Running if phase Running); pods with
  ``metadata.deletionTimestamp`` are Releasing; phases Succeeded/Failed are
  terminal and use nothing. Pending pods are considered only when their
  ``schedulerName`` is one of :attr:`SnapshotConfig.scheduler_names`.
* **Jobs**: a pod's job is the PodGroup named by annotation
  ``scheduling.k8s.io/group-name`` in its namespace (:class:`JobInfo`, uid
  ``"<ns>/<podgroup>"``). Pods without it form a *synthetic* single-member gang
  (uid ``"<ns>/pod-<name>"``) in the pod's ``scheduling.volcano.sh/queue-name``
  annotation or the default queue, with minResources = the pod's request.
  Volcano's per-task name comes from annotation ``volcano.sh/task-spec``.
  A pending pod naming a PodGroup that is not in ``podgroups`` is left out
  (not schedulable until its PodGroup is known, as in Volcano's cache).
* **Queues** → :class:`QueueInfo` (``scheduling.volcano.sh/v1beta1`` spec:
  weight, capability, deserved, guarantee.resource, reclaimable, parent,
  affinity.nodeGroupAffinity/nodeGroupAntiAffinity; status.state). A queue
  named by a job but absent from ``queues`` is not created: its jobs stay
  pending with reason "queue not found" (the ``default`` queue is synthesised
  when missing, as Volcano creates it at start-up).
* **Priority**: ``spec.priority`` if set, else the value of
  ``spec.priorityClassName``, else the ``globalDefault`` class, else 0. A job's
  priority is its PodGroup's ``priorityClassName`` value, else the highest task
  priority.

Devices (read by the ``deviceshare`` plugin): a bound pod's device IDs come
from its annotation ``suanli.io/allocated-devices`` (JSON ``{"huawei.com/Ascend910":
["0","1"]}``, see :mod:`suanli.apimachinery.devices`) and its GPU-share cards from ``volcano.sh/gpu-index`` (``"0,2"``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.resources import BASE_DIMS, PODS, FloatArray, IntArray, amount
from suanli.wire import GROUP_NAME_ANNOTATION, QUEUE_NAME_ANNOTATION
from suanli.wire import PREEMPTABLE_KEY as PREEMPTABLE_ANNOTATION
from suanli.wire import TASK_SPEC_KEY as TASK_SPEC_ANNOTATION

__all__ = [
    "DEFAULT_QUEUE",
    "GROUP_NAME_ANNOTATION",
    "QUEUE_NAME_ANNOTATION",
    "ROOT_QUEUE",
    "STATUS_CODE",
    "TASK_SPEC_ANNOTATION",
    "JobInfo",
    "NodeInfo",
    "QueueInfo",
    "Snapshot",
    "SnapshotConfig",
    "TaskColumns",
    "TaskInfo",
    "TaskStatus",
    "pod_preemptable",
    "snapshot_from_objects",
    "task_columns",
    "task_role",
]

#: The implicit top of the queue hierarchy: a queue without ``spec.parent`` hangs under it.
ROOT_QUEUE = "root"
DEFAULT_QUEUE = "default"
DEFAULT_MAX_PODS = 110
_UNSET_PRIORITY = -(2**62)


class TaskStatus(enum.Enum):
    """A task's state inside a session (Volcano's TaskStatus subset)."""

    PENDING = "Pending"
    ALLOCATED = "Allocated"
    PIPELINED = "Pipelined"
    BOUND = "Bound"
    RUNNING = "Running"
    RELEASING = "Releasing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


#: States that hold node resources.
OCCUPYING = frozenset({TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.RELEASING})
#: States that count towards a gang being ready.
READY_STATES = frozenset({TaskStatus.ALLOCATED, TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.SUCCEEDED})
#: A small integer per state (declaration order), for status columns: ``PENDING`` → 0, ``FAILED`` → 7.
STATUS_CODE: dict[TaskStatus, int] = {s: i for i, s in enumerate(TaskStatus)}


@dataclass(frozen=True, slots=True)
class SnapshotConfig:
    """Converter options: which pending pods are ours, the default queue, and whether a pod
    with neither a ``volcano.sh/preemptable`` annotation nor label may be evicted by
    preempt/reclaim (Volcano >= 1.7: yes; see :func:`pod_preemptable`)."""

    scheduler_names: frozenset[str] = frozenset({"volcano", "default-scheduler", "suanli"})
    #: Pods of these schedulers that name no PodGroup are placed as kube-scheduler would (Suanli
    #: stands in for it): their synthetic job skips queue admission (Inqueue at once) and holds no
    #: minResources, so a pod that never fits reserves nothing in its queue.
    plain_scheduler_names: frozenset[str] = frozenset({"default-scheduler"})
    default_queue: str = DEFAULT_QUEUE
    default_preemptable: bool = True


@dataclass(eq=False, slots=True)
class TaskInfo:
    """One pod. ``request`` is over the snapshot dims (``pods`` = 1); ``node`` is a
    node index or -1. ``spec_key`` is equal for pods whose placement-relevant spec
    is equal (used to share filter/score work between them)."""

    uid: str
    namespace: str
    name: str
    job: str
    role: str
    request: FloatArray
    priority: int
    status: TaskStatus
    node: int
    pod: Obj
    best_effort: bool
    preemptable: bool
    critical: bool
    creation: str
    spec_key: tuple[Any, ...]
    index: int = -1

    @property
    def key(self) -> str:
        """``"<namespace>/<name>"``."""
        return f"{self.namespace}/{self.name}"

    @property
    def annotations(self) -> dict[str, str]:
        annotations: dict[str, str] = self.pod.get("metadata", {}).get("annotations") or {}
        return annotations


@dataclass(eq=False, slots=True)
class JobInfo:
    """A PodGroup (or a synthetic single-pod gang) and its tasks (indices into ``Snapshot.tasks``)."""

    uid: str
    namespace: str
    name: str
    queue: str
    min_member: int
    min_task_member: dict[str, int]
    min_resources: FloatArray | None
    priority: int
    phase: str
    creation: str
    tasks: list[int] = field(default_factory=list)
    synthetic: bool = False
    podgroup: Obj | None = None


@dataclass(eq=False, slots=True)
class QueueInfo:
    """A Volcano Queue. Missing capability dims are ``inf``; missing deserved/guarantee dims 0."""

    name: str
    weight: float
    capability: FloatArray
    deserved: FloatArray | None
    guarantee: FloatArray
    parent: str | None
    state: str
    reclaimable: bool
    affinity: Obj
    creation: str
    obj: Obj | None = None
    #: ``spec.priority``: queues of higher priority allocate first (capacity, proportion)
    priority: int = 0


@dataclass(eq=False, slots=True)
class NodeInfo:
    """All nodes as arrays (row = node index, column = snapshot dim)."""

    names: list[str]
    allocatable: FloatArray
    used: FloatArray
    releasing: FloatArray
    unschedulable: np.ndarray[Any, np.dtype[np.bool_]]
    labels: list[dict[str, str]]
    annotations: list[dict[str, str]]
    taints: list[list[Obj]]
    host_ports: list[frozenset[tuple[str, str, int]]]
    objs: list[Obj]

    @property
    def count(self) -> int:
        return len(self.names)


@dataclass(eq=False, slots=True)
class TaskColumns:
    """Per-task columns and per-job lists derived from a snapshot's tasks, jobs and queues,
    so that opening a session copies them instead of walking every task and job.

    Task columns (row = task index): ``requests[T, D]``, ``queue_of[T]`` (position of the
    task's job's queue in ``Snapshot.queues``, -1 when that queue does not exist),
    ``codes[T]`` (:data:`STATUS_CODE` of the status; all three read-only arrays),
    ``status`` and ``node`` (``TaskInfo.status``/``node`` as lists: copy before mutating),
    ``pending`` (indices of Pending tasks, ascending).

    Job lists hold uids in ``Snapshot.jobs`` order: ``job_phase`` (uid → phase, a dict in
    jobs order), ``active_jobs`` (jobs with a Pending task), ``pending_phase``/``inqueue``
    (phase Pending/Inqueue), ``podgroup_jobs`` (not synthetic).

    Worked example: tasks ``[a: cpu 100 Running in q0, b: cpu 200 Pending in q1]``, queues
    ``[q0, q1]`` → ``requests = [[100, …], [200, …]]``, ``queue_of = [0, 1]``,
    ``codes = [4, 0]``, ``pending = [1]``.
    """

    requests: FloatArray
    queue_of: IntArray
    codes: np.ndarray[Any, np.dtype[np.int8]]
    status: list[TaskStatus]
    node: list[int]
    pending: list[int]
    job_phase: dict[str, str]
    active_jobs: list[str]
    pending_phase: list[str]
    inqueue: list[str]
    podgroup_jobs: list[str]


def task_columns(
    tasks: list[TaskInfo], jobs: Mapping[str, JobInfo], queues: Mapping[str, QueueInfo], dims: int
) -> TaskColumns:
    """:class:`TaskColumns` of a snapshot, computed in one pass (the reference the incremental
    builder is tested against)."""
    T = len(tasks)
    qpos = {name: i for i, name in enumerate(queues)}
    requests = np.array([t.request for t in tasks], dtype=np.float64).reshape(T, dims)
    queue_of = np.array([qpos.get(jobs[t.job].queue, -1) for t in tasks], dtype=np.int64)
    status = [t.status for t in tasks]
    by_id = {id(s): c for s, c in STATUS_CODE.items()}  # Enum hashing runs Python code; id() does not
    codes = np.array([by_id[id(s)] for s in status], dtype=np.int8)
    for a in (requests, queue_of, codes):
        a.setflags(write=False)
    pending = [i for i, s in enumerate(status) if s is TaskStatus.PENDING]
    active = {tasks[i].job for i in pending}
    return TaskColumns(
        requests=requests,
        queue_of=queue_of,
        codes=codes,
        status=status,
        node=[t.node for t in tasks],
        pending=pending,
        job_phase={uid: j.phase for uid, j in jobs.items()},
        active_jobs=[uid for uid in jobs if uid in active],
        pending_phase=[uid for uid, j in jobs.items() if j.phase == "Pending"],
        inqueue=[uid for uid, j in jobs.items() if j.phase == "Inqueue"],
        podgroup_jobs=[uid for uid, j in jobs.items() if not j.synthetic],
    )


@dataclass(eq=False, slots=True)
class Snapshot:
    """Everything one scheduling cycle sees; treat as read-only (arrays are not writeable).

    ``columns`` is derived from ``tasks``/``jobs``/``queues`` (:func:`task_columns`); a
    snapshot built without it computes it on first use of :attr:`cols`."""

    dims: tuple[str, ...]
    dim_index: dict[str, int]
    nodes: NodeInfo
    tasks: list[TaskInfo]
    jobs: dict[str, JobInfo]
    queues: dict[str, QueueInfo]
    node_index: dict[str, int]
    priority_classes: dict[str, int]
    columns: TaskColumns | None = None

    @property
    def cols(self) -> TaskColumns:
        """The task columns (computed once if the snapshot was built without them)."""
        if self.columns is None:
            self.columns = task_columns(self.tasks, self.jobs, self.queues, len(self.dims))
        return self.columns

    def vector(self, quantities: Mapping[str, Any] | None) -> FloatArray:
        """Resource vector over this snapshot's dims (unknown names ignored)."""
        out = np.zeros(len(self.dims))
        for name, value in (quantities or {}).items():
            i = self.dim_index.get(name)
            if i is not None:
                out[i] = amount(name, value)
        return out


# ---------------------------------------------------------------------------------------------


def _meta(obj: Obj) -> Obj:
    m: Obj = obj.get("metadata") or {}
    return m


_PARSE_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
               "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def pod_preemptable(meta: Obj, default: bool = True) -> bool:
    """Volcano's ``GetPodPreemptable``: the ``volcano.sh/preemptable`` annotation if present, else
    the label of that name, else ``default``. Values are read like Go's ``strconv.ParseBool``
    (``true``/``True``/``TRUE``/``t``/``1`` and the false forms); any other value means false."""
    for where in ("annotations", "labels"):
        value = (meta.get(where) or {}).get(PREEMPTABLE_ANNOTATION)
        if value is not None:
            return _PARSE_BOOL.get(str(value), False)
    return default


def _container_quantities(c: Obj) -> dict[str, Any]:
    res = c.get("resources") or {}
    merged: dict[str, Any] = dict(res.get("limits") or {})
    merged.update(res.get("requests") or {})
    return merged


def pod_request(pod: Obj) -> dict[str, float]:
    """Effective request ``{resource: amount}`` of a pod (see module docstring)."""
    spec = pod.get("spec") or {}
    total: dict[str, float] = {}
    for c in spec.get("containers") or []:
        for name, q in _container_quantities(c).items():
            total[name] = total.get(name, 0.0) + amount(name, q)
    for c in spec.get("initContainers") or []:
        for name, q in _container_quantities(c).items():
            v = amount(name, q)
            if v > total.get(name, 0.0):
                total[name] = v
    for name, q in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, 0.0) + amount(name, q)
    return total


def _priority(spec: Obj, classes: Mapping[str, int], default: int) -> int:
    if isinstance(spec.get("priority"), int):
        return int(spec["priority"])
    pc = spec.get("priorityClassName")
    if pc and pc in classes:
        return classes[pc]
    return default


_SPEC_FIELDS = ("nodeSelector", "affinity", "tolerations", "priorityClassName")


def _placement(pod: Obj) -> tuple[str, list[tuple[str, str, int]], bool]:
    """``(spec_blob, host_ports, critical)`` of a pod.

    ``spec_blob`` is the placement-relevant part of its spec and annotations as canonical JSON
    (``""`` if none; equal blobs and requests mean the same equivalence class); ``host_ports``
    are ``(hostIP, protocol, hostPort)``; ``critical`` marks system-critical pods.
    """
    spec = pod.get("spec") or {}
    meta = _meta(pod)
    parts = {k: spec[k] for k in _SPEC_FIELDS if spec.get(k)}
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")]
    host_ports: list[tuple[str, str, int]] = []
    if ports:
        parts["ports"] = ports
        host_ports = [(p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])) for p in ports]  # nosec B104  # Kubernetes hostIP wildcard semantics, binds nothing
    ann = meta.get("annotations") or {}
    relevant = {k: v for k, v in ann.items() if k.startswith(("business.workload/", "volcano.sh/gpu", "suanli.io/"))}
    if relevant:
        parts["ann"] = relevant
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")) if parts else ""
    pc = spec.get("priorityClassName") or ""
    critical = pc in ("system-cluster-critical", "system-node-critical") or meta.get("namespace") == "kube-system"
    return blob, host_ports, critical


def snapshot_from_objects(
    nodes: Iterable[Obj],
    pods: Iterable[Obj],
    podgroups: Iterable[Obj],
    queues: Iterable[Obj],
    priority_classes: Iterable[Obj],
    *,
    config: SnapshotConfig | None = None,
) -> Snapshot:
    """Build a :class:`Snapshot` from plain Kubernetes dicts (see module docstring).

    The one-shot reference: :class:`~suanli.scheduler.core.snapshot_builder.SnapshotBuilder`
    builds equal snapshots incrementally from the same per-object conversions
    (:func:`pod_request`, ``_placement``, ``_priority``, ``_queue_info``).
    """
    cfg = config or SnapshotConfig()
    node_list = sorted(nodes, key=lambda n: str(_meta(n).get("name", "")))
    pod_list = list(pods)
    classes: dict[str, int] = {}
    global_default = 0
    for pc in priority_classes:
        value = int(pc.get("value", 0))
        classes[str(_meta(pc).get("name", ""))] = value
        if pc.get("globalDefault"):
            global_default = value

    # Dimensions: base dims then every other resource name seen on nodes or pods, sorted.
    requests = [pod_request(p) for p in pod_list]
    extra: set[str] = set()
    for n in node_list:
        st = n.get("status") or {}
        extra.update((st.get("allocatable") or st.get("capacity") or {}).keys())
    for r in requests:
        extra.update(r.keys())
    dims = BASE_DIMS + tuple(sorted(extra - set(BASE_DIMS)))
    dim_index = {d: i for i, d in enumerate(dims)}
    D = len(dims)

    def vec(values: Mapping[str, float]) -> FloatArray:
        out = np.zeros(D)
        for k, v in values.items():
            out[dim_index[k]] = v
        return out

    N = len(node_list)
    names = [str(_meta(n).get("name", "")) for n in node_list]
    node_index = {name: i for i, name in enumerate(names)}
    alloc = np.zeros((N, D))
    for i, n in enumerate(node_list):
        st = n.get("status") or {}
        for k, q in (st.get("allocatable") or st.get("capacity") or {}).items():
            alloc[i, dim_index[k]] = amount(k, q)
    if "pods" not in extra:
        alloc[:, PODS] = DEFAULT_MAX_PODS  # a node that does not say has the kubelet default
    else:
        for i, n in enumerate(node_list):
            st = n.get("status") or {}
            if "pods" not in (st.get("allocatable") or st.get("capacity") or {}):
                alloc[i, PODS] = DEFAULT_MAX_PODS
    used = np.zeros((N, D))
    releasing = np.zeros((N, D))
    ports: list[set[tuple[str, str, int]]] = [set() for _ in range(N)]

    pg_by_key: dict[str, Obj] = {}
    for pg in podgroups:
        m = _meta(pg)
        pg_by_key[f"{m.get('namespace', 'default')}/{m.get('name', '')}"] = pg

    jobs: dict[str, JobInfo] = {}
    for key, pg in pg_by_key.items():
        m, spec = _meta(pg), pg.get("spec") or {}
        pc_name = spec.get("priorityClassName")
        minres: dict[str, Any] | None = spec.get("minResources")
        jobs[key] = JobInfo(
            uid=key,
            namespace=str(m.get("namespace", "default")),
            name=str(m.get("name", "")),
            queue=str(spec.get("queue") or cfg.default_queue),
            min_member=int(spec.get("minMember") or 0),
            min_task_member={str(k): int(v) for k, v in (spec.get("minTaskMember") or {}).items()},
            min_resources=None
            if minres is None
            else vec({k: amount(k, q) for k, q in minres.items() if k in dim_index}),
            priority=classes.get(str(pc_name), _UNSET_PRIORITY),
            phase=str((pg.get("status") or {}).get("phase") or "Pending"),
            creation=str(m.get("creationTimestamp") or ""),
            podgroup=pg,
        )

    tasks: list[TaskInfo] = []
    for pod, req in zip(pod_list, requests, strict=True):
        m, spec = _meta(pod), pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        node_name = spec.get("nodeName") or ""
        if phase in ("Succeeded", "Failed"):
            status = TaskStatus.SUCCEEDED if phase == "Succeeded" else TaskStatus.FAILED
        elif node_name:
            if m.get("deletionTimestamp"):
                status = TaskStatus.RELEASING
            else:
                status = TaskStatus.RUNNING if phase == "Running" else TaskStatus.BOUND
        else:
            if (
                m.get("deletionTimestamp")
                or (spec.get("schedulerName") or "default-scheduler") not in cfg.scheduler_names
            ):
                continue
            status = TaskStatus.PENDING
        request = vec({k: v for k, v in req.items() if k in dim_index})
        request[PODS] = 1.0
        node = node_index.get(node_name, -1) if node_name else -1
        if node_name and node < 0:
            continue  # bound to a node we do not know: ignore
        blob, host_ports, critical = _placement(pod)
        if status in (TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.RELEASING):
            used[node] += request
            if status is TaskStatus.RELEASING:
                releasing[node] += request
            ports[node].update(host_ports)
        ann = m.get("annotations") or {}
        ns = str(m.get("namespace", "default"))
        name = str(m.get("name", ""))
        prio = _priority(spec, classes, global_default)
        group = ann.get(GROUP_NAME_ANNOTATION)
        job_key = f"{ns}/{group}" if group else f"{ns}/pod-{name}"
        job = jobs.get(job_key)
        if job is None and group and status is TaskStatus.PENDING:
            continue  # its PodGroup is not (yet) known: not schedulable, as in Volcano's cache
        if job is None:
            plain = not group and (spec.get("schedulerName") or "default-scheduler") in cfg.plain_scheduler_names
            job = JobInfo(
                uid=job_key,
                namespace=ns,
                name=group or name,
                queue=cfg.default_queue if plain else str(ann.get(QUEUE_NAME_ANNOTATION) or cfg.default_queue),
                min_member=1,
                min_task_member={},
                min_resources=None if plain else request.copy(),
                priority=prio,
                phase="Running" if node_name else "Inqueue" if plain else "Pending",
                creation=str(m.get("creationTimestamp") or ""),
                synthetic=group is None,
            )
            jobs[job_key] = job
        t = TaskInfo(
            uid=str(m.get("uid") or f"{ns}/{name}"),
            namespace=ns,
            name=name,
            job=job_key,
            role=task_role(m),
            request=request,
            priority=prio,
            status=status,
            node=node,
            pod=pod,
            best_effort=not any(v for k, v in req.items() if k != "pods"),
            preemptable=pod_preemptable(m, cfg.default_preemptable),
            critical=critical,
            creation=str(m.get("creationTimestamp") or ""),
            spec_key=(tuple(request.tolist()), blob),
            index=len(tasks),
        )
        tasks.append(t)
        job.tasks.append(t.index)
    for job in jobs.values():
        if job.priority == _UNSET_PRIORITY:
            job.priority = max((tasks[i].priority for i in job.tasks), default=0)

    queue_infos: dict[str, QueueInfo] = {}
    for q in queues:
        qi = _queue_info(q, dim_index, D)
        queue_infos[qi.name] = qi
    if cfg.default_queue not in queue_infos:
        queue_infos[cfg.default_queue] = _queue_info(
            {"metadata": {"name": cfg.default_queue}, "spec": {"weight": 1}}, dim_index, D
        )

    labels = [dict(_meta(n).get("labels") or {}) for n in node_list]
    annotations = [dict(_meta(n).get("annotations") or {}) for n in node_list]
    taints = [list((n.get("spec") or {}).get("taints") or []) for n in node_list]
    unsched = np.array([bool((n.get("spec") or {}).get("unschedulable")) for n in node_list], dtype=np.bool_)
    for arr in (alloc, used, releasing, unsched):
        arr.setflags(write=False)
    info = NodeInfo(
        names=names,
        allocatable=alloc,
        used=used,
        releasing=releasing,
        unschedulable=unsched,
        labels=labels,
        annotations=annotations,
        taints=taints,
        host_ports=[frozenset(p) for p in ports],
        objs=node_list,
    )
    return Snapshot(
        dims=dims,
        dim_index=dim_index,
        nodes=info,
        tasks=tasks,
        jobs=jobs,
        queues=queue_infos,
        node_index=node_index,
        priority_classes=classes,
        columns=task_columns(tasks, jobs, queue_infos, D),
    )


def task_role(meta: Mapping[str, Any]) -> str:
    """A pod's task name: the ``volcano.sh/task-spec`` annotation, else the label of that
    name (Volcano's ``getTaskRole``; its Job controller writes both), else ``""``."""
    for source in (meta.get("annotations"), meta.get("labels")):
        value = (source or {}).get(TASK_SPEC_ANNOTATION)
        if value:
            return str(value)
    return ""


def _queue_info(q: Obj, dim_index: Mapping[str, int], dims: int) -> QueueInfo:
    m, spec = _meta(q), q.get("spec") or {}

    def resources(raw: Mapping[str, Any] | None, fill: float) -> FloatArray:
        v = np.full(dims, fill)
        for k, qty in (raw or {}).items():
            i = dim_index.get(k)
            if i is not None:
                v[i] = amount(k, qty)
        return v

    deserved_raw = spec.get("deserved")
    return QueueInfo(
        name=str(m.get("name", "")),
        weight=float(spec.get("weight") or 1),
        capability=resources(spec.get("capability"), np.inf),
        deserved=None if deserved_raw is None else resources(deserved_raw, 0.0),
        guarantee=resources((spec.get("guarantee") or {}).get("resource"), 0.0),
        parent=spec.get("parent") or None,
        state=str((q.get("status") or {}).get("state") or "Open"),
        reclaimable=spec.get("reclaimable", True) is not False,
        affinity=dict(spec.get("affinity") or {}),
        creation=str(m.get("creationTimestamp") or ""),
        obj=q,
        priority=_int_or_zero(spec.get("priority")),
    )


def _int_or_zero(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
