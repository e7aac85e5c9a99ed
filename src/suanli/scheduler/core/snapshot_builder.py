"""Incremental snapshot builder: convert each object once, rebuild only what changed.

A :class:`SnapshotBuilder` mirrors five object collections (nodes, pods, PodGroups, Queues,
PriorityClasses) fed through ``upsert_*``/``remove_*`` (an informer's add/update/delete
handlers) and produces a fresh :class:`~suanli.scheduler.core.snapshot.Snapshot` on demand.

Contract: after any sequence of calls, :meth:`SnapshotBuilder.snapshot` equals
``snapshot_from_objects(nodes, pods, podgroups, queues, priority_classes)`` over the objects
last upserted and not removed, each collection in first-insertion order of its keys (a
re-upserted key keeps its place, a removed and re-added one moves to the end — the order of
a dict, hence of an informer's cache) — same dims, arrays, tasks (fields and order), jobs,
queues and priorities. Both use the same per-object conversions (``pod_request``,
``_placement``, ``_queue_info`` in :mod:`~suanli.scheduler.core.snapshot`);
``snapshot_from_objects`` stays the plain one-shot reference (and is faster for one-shot use,
as the simulator's), and the property tests check this class against it.

Cost model: an upsert or removal only records the change. :meth:`~SnapshotBuilder.snapshot`
converts changed pods (a pod whose placement-relevant spec and annotations are unchanged, as
after a bind, reuses its previous request and spec key), adjusts per-node usage by the
difference, and reuses the ``TaskInfo``/``JobInfo``/``QueueInfo`` objects of unchanged pods,
jobs and queues. When only new pods were appended and existing ones changed in place, the
task list is patched (cost proportional to the change); a removal, an inclusion change or a
PodGroup set change costs one pass over the pods that re-creates only the tasks whose index
shifted. A change of the dimension set, of the node set or of the priority classes
re-derives everything from the cached per-object conversions.

Usage sums are kept incrementally: exact because every amount is an integer in float64
(below 2**53), so the summation order does not matter.

Snapshots share immutable parts: request vectors (read-only arrays, one per distinct
request), ``TaskInfo``, ``JobInfo``, ``QueueInfo`` and node label/annotation/taint objects may
appear in successive snapshots, so none may be mutated. Node arrays are fresh read-only
copies each time.

Assumed binds (:meth:`~SnapshotBuilder.assume`): a pod without ``spec.nodeName`` is presented
as bound to the assumed node (``TaskInfo.pod`` is a copy with ``spec.nodeName`` set) until
:meth:`~SnapshotBuilder.forget` or until an upsert shows it bound, which drops the assumption.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core._columns import ColumnKeeper
from suanli.scheduler.core.resources import BASE_DIMS, PODS, FloatArray, amount
from suanli.scheduler.core.snapshot import (
    _UNSET_PRIORITY,
    DEFAULT_MAX_PODS,
    GROUP_NAME_ANNOTATION,
    QUEUE_NAME_ANNOTATION,
    JobInfo,
    NodeInfo,
    QueueInfo,
    Snapshot,
    SnapshotConfig,
    TaskInfo,
    TaskStatus,
    _placement,
    _queue_info,
    pod_preemptable,
    pod_request,
    task_role,
)

__all__ = ["SnapshotBuilder"]

_HOLDING = frozenset({TaskStatus.BOUND, TaskStatus.RUNNING, TaskStatus.RELEASING})
_VECTOR_MEMO_LIMIT = 65536
_EMPTY_PORTS: frozenset[tuple[str, str, int]] = frozenset()

_Vector = tuple[FloatArray, tuple[float, ...], bool]


def _spec_inputs(spec: Obj) -> tuple[Any, ...]:
    """The spec fields the spec-derived parts (request, spec key, host ports, priority, criticality) read."""
    g = spec.get
    return (g("containers"), g("initContainers"), g("overhead"), g("nodeSelector"), g("affinity"),
            g("tolerations"), g("priorityClassName"), g("priority"))


class _Pod:
    """A pod's cached conversion.

    Static fields (set by ``_convert_pod``) depend on the pod and its assumption only;
    ``node``/``vec``/``prio`` (``_derive``) on the node order, dims and priority classes;
    ``task``/``pos`` on the task order; ``held_*`` record what it adds to its node's usage.
    Slots other than those set in ``__init__`` are filled by the first conversion.
    """

    __slots__ = ("annotations", "best_effort", "blob", "creation", "critical", "epoch", "group", "held_node",
                 "held_ports", "held_releasing", "held_vec", "inputs", "job_key", "key", "meta", "name",
                 "namespace", "node", "node_name", "obj", "plain", "ports", "pos", "preemptable", "prio", "queue",
                 "req", "role", "spec", "status", "task", "uid", "vec", "view", "vkey", "vtuple")  # fmt: skip

    key: Hashable
    obj: Obj
    req: dict[str, float] | None
    vkey: tuple[tuple[str, float], ...]
    inputs: tuple[Any, ...]
    meta: tuple[Any, Any, Any, Any]
    spec: Obj
    annotations: Obj
    view: Obj
    namespace: str
    name: str
    uid: str
    node_name: str
    status: TaskStatus | None
    group: Any
    plain: bool
    job_key: str
    queue: str
    role: str
    preemptable: bool
    critical: bool
    creation: str
    blob: str
    ports: list[tuple[str, str, int]]
    node: int
    vec: FloatArray
    vtuple: tuple[float, ...]
    best_effort: bool
    prio: int
    pos: int
    task: TaskInfo | None
    epoch: int
    held_node: int
    held_vec: FloatArray
    held_releasing: bool
    held_ports: list[tuple[str, str, int]]

    def __init__(self, key: Hashable, obj: Obj) -> None:
        self.key = key
        self.obj = obj
        self.req = None  # None until converted
        self.pos = -1
        self.task = None
        self.held_node = -1
        self.uid = ""

    def candidate(self) -> bool:
        """A task unless its gang is unknown (the one order-dependent rule, see ``_pass``)."""
        return self.status is not None and not (self.node_name and self.node < 0)


class _Node:
    __slots__ = ("alloc", "annotations", "has_pods", "labels", "name", "obj", "taints", "unschedulable")

    def __init__(self, obj: Obj) -> None:
        m = obj.get("metadata") or {}
        st = obj.get("status") or {}
        spec = obj.get("spec") or {}
        raw = st.get("allocatable") or st.get("capacity") or {}
        self.obj = obj
        self.name = str(m.get("name", ""))
        self.alloc = {k: amount(k, q) for k, q in raw.items()}
        self.has_pods = "pods" in raw
        self.labels = dict(m.get("labels") or {})
        self.annotations = dict(m.get("annotations") or {})
        self.taints = list(spec.get("taints") or [])
        self.unschedulable = bool(spec.get("unschedulable"))


def _pod_key(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace') or ''}/{m.get('name') or ''}"


def _group_key(pg: Obj) -> str:
    m = pg.get("metadata") or {}
    return f"{m.get('namespace', 'default')}/{m.get('name', '')}"


def _name_key(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


class SnapshotBuilder:
    """Keeps converted objects between cycles and builds snapshots incrementally (module docstring)."""

    def __init__(self, config: SnapshotConfig | None = None) -> None:
        self.config = config or SnapshotConfig()
        self._pods: dict[Hashable, _Pod] = {}
        self._dirty_pods: set[Hashable] = set()
        self._removed_pods: list[_Pod] = []
        self._by_uid: dict[str, _Pod] = {}
        self._assumed: dict[str, str] = {}
        self._node_objs: dict[Hashable, Obj] = {}
        self._nodes: dict[Hashable, _Node] = {}
        self._dirty_nodes: set[Hashable] = set()
        self._podgroups: dict[Hashable, Obj] = {}
        self._queues: dict[Hashable, Obj] = {}
        self._classes_objs: dict[Hashable, Obj] = {}
        self._groups_changed = True
        self._queues_changed = True
        self._classes_changed = True
        self._names: dict[str, int] = {}  # resource name -> number of nodes and pods mentioning it
        # derived state
        self._epoch = 0  # bumped whenever every task and job must be rebuilt
        self._dims: tuple[str, ...] = BASE_DIMS
        self._dim_index: dict[str, int] = {d: i for i, d in enumerate(BASE_DIMS)}
        self._vectors: dict[tuple[tuple[str, float], ...], _Vector] = {}
        self._order: list[_Node] = []
        self._node_index: dict[str, int] = {}
        self._alloc: FloatArray = np.zeros((0, len(BASE_DIMS)))
        self._used: FloatArray = np.zeros((0, len(BASE_DIMS)))
        self._releasing: FloatArray = np.zeros((0, len(BASE_DIMS)))
        self._unsched = np.zeros(0, dtype=np.bool_)
        self._port_counts: list[dict[tuple[str, str, int], int]] = []
        self._port_sets: list[frozenset[tuple[str, str, int]]] = []
        self._node_lists: tuple[list[str], list[dict[str, str]], list[dict[str, str]], list[list[Obj]], list[Obj]] = (
            [], [], [], [], [])
        self._classes: dict[str, int] = {}
        self._default_priority = 0
        self._pg_by_key: dict[str, Obj] = {}
        self._pg_changed: set[str] = set()
        self._tasks: list[TaskInfo] = []
        self._members: dict[str, list[_Pod]] = {}
        self._jobs: dict[str, JobInfo] = {}
        self._changed_jobs: set[str] = set()
        self._new_jobs: list[str] = []  # jobs the fast path created, in order
        self._jobs_epoch = -1
        self._structural = True  # the task order must be recomputed by a pass over all pods
        self._appended: list[_Pod] = []  # pods added since the last snapshot, in order
        self._queue_infos: dict[str, QueueInfo] = {}
        self._cols = ColumnKeeper()
        self._built = False

    # ------------------------------------------------------------------ one-shot

    @classmethod
    def from_objects(cls, nodes: Iterable[Obj], pods: Iterable[Obj], podgroups: Iterable[Obj],
                     queues: Iterable[Obj], priority_classes: Iterable[Obj], *,
                     config: SnapshotConfig | None = None) -> Snapshot:
        """One-shot build through the incremental path (equal to ``snapshot_from_objects``); every
        object is keyed by its position, so duplicates count as they do there."""
        b = cls(config)
        for i, n in enumerate(nodes):
            b._put_node(i, n)
        for i, p in enumerate(pods):
            b._put_pod(i, p)
        for i, pg in enumerate(podgroups):
            b._podgroups[i] = pg
        for i, q in enumerate(queues):
            b._queues[i] = q
        for i, pc in enumerate(priority_classes):
            b._classes_objs[i] = pc
        return b.snapshot()

    # ------------------------------------------------------------------ feeding

    def upsert_node(self, node: Obj) -> None:
        """Add or replace the node with this ``metadata.name``."""
        self._put_node(_name_key(node), node)

    def remove_node(self, node: Obj) -> None:
        key = _name_key(node)
        if self._node_objs.pop(key, None) is not None:
            self._dirty_nodes.add(key)

    def upsert_pod(self, pod: Obj) -> None:
        """Add or replace the pod with this namespace/name."""
        self._put_pod(_pod_key(pod), pod)

    def remove_pod(self, pod: Obj) -> None:
        rec = self._pods.pop(_pod_key(pod), None)
        if rec is not None:
            self._removed_pods.append(rec)
            self._dirty_pods.discard(rec.key)

    def upsert_podgroup(self, podgroup: Obj) -> None:
        key = _group_key(podgroup)
        self._podgroups[key] = podgroup
        self._groups_changed = True

    def remove_podgroup(self, podgroup: Obj) -> None:
        if self._podgroups.pop(_group_key(podgroup), None) is not None:
            self._groups_changed = True

    def upsert_queue(self, queue: Obj) -> None:
        self._queues[_name_key(queue)] = queue
        self._queues_changed = True

    def remove_queue(self, queue: Obj) -> None:
        if self._queues.pop(_name_key(queue), None) is not None:
            self._queues_changed = True

    def upsert_priority_class(self, priority_class: Obj) -> None:
        self._classes_objs[_name_key(priority_class)] = priority_class
        self._classes_changed = True

    def remove_priority_class(self, priority_class: Obj) -> None:
        if self._classes_objs.pop(_name_key(priority_class), None) is not None:
            self._classes_changed = True

    def assume(self, uid: str, node: str) -> None:
        """Present the pod with task uid ``uid`` as bound to ``node`` while it has no ``spec.nodeName``."""
        self._assumed[uid] = node
        self._touch_uid(uid)

    def forget(self, uid: str) -> None:
        """Drop an assumption (the bind failed or expired)."""
        if self._assumed.pop(uid, None) is not None:
            self._touch_uid(uid)

    def assumed(self) -> dict[str, str]:
        """Current assumptions ``{uid: node}`` (a copy)."""
        return dict(self._assumed)

    def _touch_uid(self, uid: str) -> None:
        rec = self._by_uid.get(uid)
        if rec is not None and self._pods.get(rec.key) is rec:
            self._dirty_pods.add(rec.key)

    def _put_node(self, key: Hashable, node: Obj) -> None:
        self._node_objs[key] = node
        self._dirty_nodes.add(key)

    def _put_pod(self, key: Hashable, pod: Obj) -> None:
        rec = self._pods.get(key)
        if rec is None:
            rec = self._pods[key] = _Pod(key, pod)
            self._appended.append(rec)
        else:
            rec.obj = pod
        self._dirty_pods.add(key)

    # ------------------------------------------------------------------ building

    def snapshot(self) -> Snapshot:
        """A fresh snapshot of the current objects (see the module docstring for sharing)."""
        nodes_reordered, changed_nodes = self._convert_nodes()
        dirty = [self._pods[k] for k in self._dirty_pods]
        self._dirty_pods.clear()
        for rec in dirty:
            self._convert_pod(rec)
        for rec in self._removed_pods:
            if rec.req is not None:
                self._count(rec.req, -1)
                if rec.pos >= 0:
                    self._changed_jobs.add(rec.job_key)
                    self._structural = True
                if self._by_uid.get(rec.uid) is rec:
                    del self._by_uid[rec.uid]
        classes_changed = self._classes_changed and self._refresh_classes()
        dims_changed = self._refresh_dims()
        if dims_changed or nodes_reordered or not self._built:
            self._rebuild_nodes()
            self._derive(self._pods.values())
            self._recount_usage()
            self._epoch += 1
            self._structural = True
        else:
            for i in changed_nodes:
                self._refresh_node_row(i)
            for rec in self._removed_pods:
                self._release(rec)
            if classes_changed:
                self._derive(self._pods.values())
                self._epoch += 1
                self._structural = True
            else:
                self._derive(dirty)
            self._move_usage(dirty)
        self._removed_pods.clear()
        if self._groups_changed:
            self._refresh_groups()
        self._new_jobs.clear()
        structural = self._structural or not self._patch(dirty)
        if structural:
            self._pass()
        self._appended.clear()
        self._refresh_jobs(structural or self._jobs_epoch != self._epoch)
        if self._queues_changed or dims_changed or not self._built:
            self._refresh_queues()
        self._built = True
        self._structural = False
        return self._assemble()

    # -- nodes

    def _convert_nodes(self) -> tuple[bool, list[int]]:
        """Convert changed nodes; returns (node order changed, indices of nodes changed in place)."""
        reordered = False
        changed: list[int] = []
        for key in self._dirty_nodes:
            old = self._nodes.pop(key, None)
            if old is not None:
                self._count(old.alloc, -1)
            obj = self._node_objs.get(key)
            if obj is None:
                reordered = True
                continue
            new = _Node(obj)
            self._count(new.alloc, 1)
            if old is None or old.name != new.name:
                reordered = True
                self._nodes[key] = new  # position in _nodes does not matter: order is by name
            else:
                self._nodes[key] = new
                if not reordered:
                    i = self._node_index[new.name]
                    if self._order[i] is old:
                        self._order[i] = new
                        changed.append(i)
                    else:
                        reordered = True  # a duplicate name: let the full path sort it out
        self._dirty_nodes.clear()
        if reordered:
            # dict order of _nodes is insertion order of keys; sorting is stable as in snapshot_from_objects
            order = [self._nodes[k] for k in self._node_objs if k in self._nodes]
            self._order = sorted(order, key=lambda n: n.name)
            self._node_index = {n.name: i for i, n in enumerate(self._order)}
        return reordered, changed

    def _node_row(self, node: _Node) -> FloatArray:
        row = np.zeros(len(self._dims))
        di = self._dim_index
        for k, v in node.alloc.items():
            row[di[k]] = v
        if not node.has_pods:
            row[PODS] = DEFAULT_MAX_PODS  # a node that does not say has the kubelet default
        return row

    def _rebuild_nodes(self) -> None:
        order = self._order
        n, d = len(order), len(self._dims)
        self._alloc = np.array([self._node_row(x) for x in order]).reshape(n, d)
        self._unsched = np.array([x.unschedulable for x in order], dtype=np.bool_)
        self._node_lists = ([x.name for x in order], [x.labels for x in order], [x.annotations for x in order],
                            [x.taints for x in order], [x.obj for x in order])

    def _refresh_node_row(self, i: int) -> None:
        node = self._order[i]
        self._alloc[i] = self._node_row(node)
        self._unsched[i] = node.unschedulable
        names, labels, annotations, taints, objs = self._node_lists
        names[i], labels[i], annotations[i], taints[i], objs[i] = (node.name, node.labels, node.annotations,
                                                                   node.taints, node.obj)

    # -- dims and classes

    def _count(self, names: Iterable[str], delta: int) -> None:
        counts = self._names
        for k in names:
            c = counts.get(k, 0) + delta
            if c:
                counts[k] = c
            else:
                del counts[k]

    def _refresh_dims(self) -> bool:
        extra = [k for k in self._names if k not in BASE_DIMS]
        dims = BASE_DIMS + tuple(sorted(extra))
        if dims == self._dims and self._built:
            return False
        self._dims = dims
        self._dim_index = {d: i for i, d in enumerate(dims)}
        self._vectors.clear()
        return True

    def _refresh_classes(self) -> bool:
        classes: dict[str, int] = {}
        default = 0
        for pc in self._classes_objs.values():
            value = int(pc.get("value", 0))
            classes[str((pc.get("metadata") or {}).get("name", ""))] = value
            if pc.get("globalDefault"):
                default = value
        self._classes_changed = False
        if classes == self._classes and default == self._default_priority:
            return False
        self._classes, self._default_priority = classes, default
        self._changed_jobs.update(self._pg_by_key)  # PodGroup priorities come from classes
        return True

    # -- pods

    def _convert_pod(self, rec: _Pod) -> None:
        """Recompute the static fields of ``rec`` from ``rec.obj`` (and its assumption)."""
        cfg = self.config
        obj = rec.obj
        m = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        ann = m.get("annotations") or {}
        node_name = spec.get("nodeName") or ""
        view = obj
        old_req = rec.req
        # the metadata-derived fields are unchanged by a bind or a status update: compare, don't recompute
        preemptable = pod_preemptable(m, cfg.default_preemptable)  # annotation, else label
        # kube-scheduler's pod or ours: follows schedulerName (a spec field) as well as the group annotation
        plain = (not ann.get(GROUP_NAME_ANNOTATION)
                 and (spec.get("schedulerName") or "default-scheduler") in cfg.plain_scheduler_names)
        same_meta = (old_req is not None and ann == rec.annotations and preemptable == rec.preemptable
                     and plain == rec.plain
                     and m.get("namespace", "default") == rec.meta[0]
                     and m.get("name", "") == rec.meta[1] and m.get("uid") == rec.meta[2]
                     and m.get("creationTimestamp") == rec.meta[3] and task_role(m) == rec.role)
        if not same_meta:
            ns = str(m.get("namespace", "default"))
            name = str(m.get("name", ""))
            uid = str(m.get("uid") or f"{ns}/{name}")
        else:
            ns, name, uid = rec.namespace, rec.name, rec.uid
        if node_name:
            if self._assumed:
                self._assumed.pop(uid, None)
        elif self._assumed:
            assumed = self._assumed.get(uid)
            if assumed:
                spec = {**spec, "nodeName": assumed}
                view = {**obj, "spec": spec}
                node_name = assumed
        phase = (obj.get("status") or {}).get("phase") or "Pending"
        names = cfg.scheduler_names
        status: TaskStatus | None
        if phase in ("Succeeded", "Failed"):
            status = TaskStatus.SUCCEEDED if phase == "Succeeded" else TaskStatus.FAILED
        elif node_name:
            if m.get("deletionTimestamp"):
                status = TaskStatus.RELEASING
            else:
                status = TaskStatus.RUNNING if phase == "Running" else TaskStatus.BOUND
        elif m.get("deletionTimestamp") or (spec.get("schedulerName") or "default-scheduler") not in names:
            status = None
        else:
            status = TaskStatus.PENDING
        if old_req is not None and rec.pos >= 0:
            self._changed_jobs.add(rec.job_key)
        rec.spec, rec.view, rec.node_name, rec.status = spec, view, node_name, status
        inputs = _spec_inputs(spec)
        if not (same_meta and inputs == rec.inputs):
            req = pod_request(view)
            rec.blob, rec.ports, rec.critical = _placement(view)
            if old_req is not None:
                self._count(old_req, -1)
            self._count(req, 1)
            rec.req, rec.vkey = req, tuple(req.items())
        rec.inputs = inputs
        if same_meta:
            return
        if rec.uid != uid and self._by_uid.get(rec.uid) is rec:
            del self._by_uid[rec.uid]
        self._by_uid[uid] = rec
        group = ann.get(GROUP_NAME_ANNOTATION)
        rec.plain = plain
        rec.meta = (m.get("namespace", "default"), m.get("name", ""), m.get("uid"), m.get("creationTimestamp"))
        rec.annotations, rec.namespace, rec.name, rec.uid, rec.group = ann, ns, name, uid, group
        rec.job_key = f"{ns}/{group}" if group else f"{ns}/pod-{name}"
        rec.queue = str(ann.get(QUEUE_NAME_ANNOTATION) or cfg.default_queue)
        rec.role = task_role(m)
        rec.preemptable = preemptable
        rec.creation = str(m.get("creationTimestamp") or "")

    def _vector(self, req: dict[str, float], key: tuple[tuple[str, float], ...]) -> _Vector:
        """Request vector (read-only, shared by equal requests), its tuple, and best-effort-ness."""
        vec = np.zeros(len(self._dims))
        di = self._dim_index
        for k, v in req.items():
            vec[di[k]] = v
        vec[PODS] = 1.0
        vec.setflags(write=False)
        best_effort = not any(v for k, v in req.items() if k != "pods")
        hit = (vec, tuple(vec.tolist()), best_effort)
        if len(self._vectors) >= _VECTOR_MEMO_LIMIT:
            self._vectors.clear()
        self._vectors[key] = hit
        return hit

    def _derive(self, recs: Iterable[_Pod]) -> None:
        """Node index, request vector and priority of converted pods (their tasks must be rebuilt)."""
        node_index, vectors = self._node_index, self._vectors
        classes, default = self._classes, self._default_priority
        for rec in recs:
            nn = rec.node_name
            rec.node = node_index.get(nn, -1) if nn else -1
            hit = vectors.get(rec.vkey)
            if hit is None:
                assert rec.req is not None
                hit = self._vector(rec.req, rec.vkey)
            rec.vec, rec.vtuple, rec.best_effort = hit
            spec = rec.spec
            p = spec.get("priority")
            if isinstance(p, int):
                rec.prio = int(p)
            else:
                pc = spec.get("priorityClassName")
                rec.prio = classes[pc] if pc and pc in classes else default
            rec.epoch = -1

    def _move_usage(self, recs: Iterable[_Pod]) -> None:
        """Move each pod's contribution to node usage from what it held to what it holds now."""
        plus_rows: list[int] = []
        plus: list[FloatArray] = []
        minus_rows: list[int] = []
        minus: list[FloatArray] = []
        for rec in recs:
            held = rec.held_node
            if held >= 0:
                if rec.held_releasing or rec.held_ports:
                    self._release(rec)
                else:
                    assert rec.held_vec is not None
                    minus_rows.append(held)
                    minus.append(rec.held_vec)
                    rec.held_node = -1
            node = rec.node
            if node >= 0 and rec.status in _HOLDING:
                if rec.ports or rec.status is TaskStatus.RELEASING:
                    self._hold(rec)
                else:
                    plus_rows.append(node)
                    plus.append(rec.vec)
                    rec.held_node, rec.held_vec, rec.held_releasing, rec.held_ports = node, rec.vec, False, []
        if minus:
            np.subtract.at(self._used, minus_rows, np.array(minus))
        if plus:
            np.add.at(self._used, plus_rows, np.array(plus))

    def _release(self, rec: _Pod) -> None:
        """Take ``rec``'s previous contribution off its node's usage."""
        i = rec.held_node
        if i < 0:
            return
        assert rec.held_vec is not None
        self._used[i] -= rec.held_vec
        if rec.held_releasing:
            self._releasing[i] -= rec.held_vec
        if rec.held_ports:
            counts = self._port_counts[i]
            for p in rec.held_ports:
                c = counts[p] - 1
                if c:
                    counts[p] = c
                else:
                    del counts[p]
            self._port_sets[i] = frozenset(counts) if counts else _EMPTY_PORTS
        rec.held_node = -1

    def _hold(self, rec: _Pod) -> None:
        """Add ``rec``'s request to its node's usage if it occupies one."""
        i = rec.node
        if i < 0 or rec.status not in _HOLDING:
            return
        assert rec.vec is not None
        self._used[i] += rec.vec
        rec.held_releasing = rec.status is TaskStatus.RELEASING
        if rec.held_releasing:
            self._releasing[i] += rec.vec
        if rec.ports:
            counts = self._port_counts[i]
            for p in rec.ports:
                counts[p] = counts.get(p, 0) + 1
            self._port_sets[i] = frozenset(counts)
        rec.held_node, rec.held_vec, rec.held_ports = i, rec.vec, rec.ports

    def _recount_usage(self) -> None:
        n, d = len(self._order), len(self._dims)
        self._used = np.zeros((n, d))
        self._releasing = np.zeros((n, d))
        self._port_counts = [{} for _ in range(n)]
        self._port_sets = [_EMPTY_PORTS] * n
        for rec in self._pods.values():
            rec.held_node = -1
        self._move_usage(self._pods.values())

    # -- tasks and jobs

    def _task(self, rec: _Pod, pos: int) -> TaskInfo:
        assert rec.vec is not None and rec.status is not None
        t = TaskInfo(rec.uid, rec.namespace, rec.name, rec.job_key, rec.role, rec.vec, rec.prio, rec.status,
                     rec.node, rec.view, rec.best_effort, rec.preemptable, rec.critical, rec.creation,
                     (rec.vtuple, rec.blob), pos)
        rec.task, rec.epoch, rec.pos = t, self._epoch, pos
        self._changed_jobs.add(rec.job_key)
        self._cols.task_changed(pos)
        return t

    def _pass(self) -> None:
        """Recompute task order and job membership over all pods, reusing tasks whose index holds.

        Order-dependent rule (as ``snapshot_from_objects``): a pending pod naming a gang is a task
        only if its PodGroup exists or an earlier task already created that job.
        """
        epoch = self._epoch
        tasks: list[TaskInfo] = []
        members: dict[str, list[_Pod]] = {k: [] for k in self._pg_by_key}
        for rec in self._pods.values():
            if not rec.candidate():
                if rec.pos >= 0:
                    self._changed_jobs.add(rec.job_key)
                rec.pos, rec.task = -1, None
                continue
            jk = rec.job_key
            lst = members.get(jk)
            if lst is None:
                if rec.group and rec.status is TaskStatus.PENDING:
                    if rec.pos >= 0:
                        self._changed_jobs.add(jk)
                    rec.pos, rec.task = -1, None
                    continue
                lst = members[jk] = []
            pos = len(tasks)
            t = rec.task
            if t is None or rec.epoch != epoch or t.index != pos:
                t = self._task(rec, pos)
            tasks.append(t)
            lst.append(rec)
        self._tasks = tasks
        self._members = members
        self._cols.reset_tasks()

    def _patch(self, dirty: list[_Pod]) -> bool:
        """Fast path: only appended pods and in-place changes that keep every pod's inclusion.

        Returns False (having changed nothing that :meth:`_pass` relies on) when a changed pod
        may enter or leave the task list or moves to another job.
        """
        appended = set(map(id, self._appended))
        groups = self._pg_by_key
        for rec in dirty:
            if id(rec) in appended:
                continue
            if rec.pos < 0:
                if rec.candidate():
                    return False  # may become a task somewhere in the middle
                continue
            t = rec.task
            if not rec.candidate() or t is None or t.job != rec.job_key or (
                    rec.group and rec.status is TaskStatus.PENDING and rec.job_key not in groups):
                return False
        tasks = self._tasks
        for rec in dirty:
            if rec.pos >= 0 and id(rec) not in appended:
                tasks[rec.pos] = self._task(rec, rec.pos)
        epoch = self._epoch
        members = self._members
        for rec in self._appended:
            if self._pods.get(rec.key) is not rec or not rec.candidate():
                continue
            jk = rec.job_key
            lst = members.get(jk)
            if lst is None:
                if rec.group and rec.status is TaskStatus.PENDING:
                    continue
                lst = members[jk] = []
                self._new_jobs.append(jk)
            pos = len(tasks)
            t = rec.task
            if t is None or rec.epoch != epoch or t.index != pos:
                t = self._task(rec, pos)
            tasks.append(t)
            lst.append(rec)
        return True

    def _refresh_groups(self) -> None:
        pg_by_key: dict[str, Obj] = {}
        for pg in self._podgroups.values():
            pg_by_key[_group_key(pg)] = pg
        old = self._pg_by_key
        if list(pg_by_key) != list(old):
            self._structural = True  # jobs order and gang inclusion change
        for k, pg in pg_by_key.items():
            if old.get(k) is not pg:
                self._changed_jobs.add(k)
        self._changed_jobs.update(k for k in old if k not in pg_by_key)
        self._pg_by_key = pg_by_key
        self._groups_changed = False

    def _refresh_jobs(self, reorder: bool) -> None:
        """Rebuild the jobs whose podgroup, members or member tasks changed; keep the others.

        ``reorder``: job membership or order may have changed anywhere (after :meth:`_pass`, or
        every job must be rebuilt after an epoch change); else only changed and new jobs are visited.
        """
        changed = self._changed_jobs
        members = self._members
        if reorder:
            rebuild_all = self._jobs_epoch != self._epoch
            prev = self._jobs
            jobs: dict[str, JobInfo] = {}
            for jk, lst in members.items():
                info = prev.get(jk)
                jobs[jk] = self._job(jk, lst) if info is None or rebuild_all or jk in changed else info
            self._jobs = jobs
            self._cols.reset_jobs()
        else:
            jobs = self._jobs
            cols = self._cols
            for jk in changed:
                got = members.get(jk)
                if got is not None and jk in jobs:
                    new = self._job(jk, got)
                    cols.job_replaced(jobs[jk], new)
                    jobs[jk] = new
            for jk in self._new_jobs:
                new = jobs[jk] = self._job(jk, members[jk])
                cols.job_replaced(None, new)
        self._jobs_epoch = self._epoch
        changed.clear()

    def _job(self, key: str, members: list[_Pod]) -> JobInfo:
        pg = self._pg_by_key.get(key)
        return self._podgroup_job(key, pg, members) if pg is not None else self._pod_job(key, members)

    def _podgroup_job(self, key: str, pg: Obj, members: list[_Pod]) -> JobInfo:
        m, spec = pg.get("metadata") or {}, pg.get("spec") or {}
        minres: dict[str, Any] | None = spec.get("minResources")
        min_resources: FloatArray | None = None
        if minres is not None:
            min_resources = np.zeros(len(self._dims))
            di = self._dim_index
            for k, q in minres.items():
                if k in di:
                    min_resources[di[k]] = amount(k, q)
        priority = self._classes.get(str(spec.get("priorityClassName")), _UNSET_PRIORITY)
        if priority == _UNSET_PRIORITY:
            priority = max((r.prio for r in members), default=0)
        return JobInfo(
            uid=key,
            namespace=str(m.get("namespace", "default")),
            name=str(m.get("name", "")),
            queue=str(spec.get("queue") or self.config.default_queue),
            min_member=int(spec.get("minMember") or 0),
            min_task_member={str(k): int(v) for k, v in (spec.get("minTaskMember") or {}).items()},
            min_resources=min_resources,
            priority=priority,
            phase=str((pg.get("status") or {}).get("phase") or "Pending"),
            creation=str(m.get("creationTimestamp") or ""),
            tasks=[r.pos for r in members],
            podgroup=pg,
        )

    def _pod_job(self, key: str, members: list[_Pod]) -> JobInfo:
        first = members[0]
        assert first.vec is not None
        priority = first.prio
        if priority == _UNSET_PRIORITY:
            priority = max(r.prio for r in members)
        plain = first.plain  # kube-scheduler's pod: the default queue's turn, no admission, nothing held
        queue = self.config.default_queue if plain else first.queue
        return JobInfo(key, first.namespace, first.group or first.name, queue, 1, {},
                       None if plain else first.vec.copy(), priority,
                       "Running" if first.node_name else "Inqueue" if plain else "Pending", first.creation,
                       [r.pos for r in members], first.group is None)

    # -- queues and assembly

    def _refresh_queues(self) -> None:
        di, d = self._dim_index, len(self._dims)
        infos: dict[str, QueueInfo] = {}
        for q in self._queues.values():
            qi = _queue_info(q, di, d)
            infos[qi.name] = qi
        default = self.config.default_queue
        if default not in infos:
            infos[default] = _queue_info({"metadata": {"name": default}, "spec": {"weight": 1}}, di, d)
        self._queue_infos = infos
        self._queues_changed = False

    def _assemble(self) -> Snapshot:
        names, labels, annotations, taints, objs = self._node_lists
        alloc, used, releasing = self._alloc.copy(), self._used.copy(), self._releasing.copy()
        unsched = self._unsched.copy()
        for a in (alloc, used, releasing, unsched):
            a.setflags(write=False)
        info = NodeInfo(
            names=list(names),
            allocatable=alloc,
            used=used,
            releasing=releasing,
            unschedulable=unsched,
            labels=list(labels),
            annotations=list(annotations),
            taints=list(taints),
            host_ports=list(self._port_sets),
            objs=list(objs),
        )
        return Snapshot(
            dims=self._dims,
            dim_index=dict(self._dim_index),
            nodes=info,
            tasks=list(self._tasks),
            jobs=dict(self._jobs),
            queues=dict(self._queue_infos),
            node_index=dict(self._node_index),
            priority_classes=dict(self._classes),
            columns=self._cols.columns(self._tasks, self._jobs, self._queue_infos, len(self._dims)),
        )
