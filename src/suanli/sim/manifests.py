"""Kubernetes manifests as simulator input, and a trace exported as manifests.

:func:`load_manifests` reads a YAML file, or every ``*.yaml``/``*.yml``/``*.json`` file
of a directory (sorted by name, recursively), each holding one or more documents
(``---``). Kinds used:

* ``v1`` **Node** (``status.allocatable``, else ``status.capacity``), **Pod**,
  ``v1`` **List** (its ``items``), ``scheduling.k8s.io`` **PriorityClass**;
* ``scheduling.volcano.sh`` **Queue** and **PodGroup**;
* ``batch.volcano.sh`` **Job**: each task's ``replicas`` become pods
  ``<job>-<task>-<i>`` (annotations ``scheduling.k8s.io/group-name: <job>``,
  ``volcano.sh/task-spec``, ``scheduling.volcano.sh/queue-name``) plus PodGroup
  ``<job>`` (``minMember`` = ``minAvailable`` or the sum of the tasks' ``minAvailable``,
  ``minTaskMember``, ``minResources`` as the Volcano Job controller computes them, queue
  and ``priorityClassName``); the live controller names the PodGroup ``<job>-<uid>``;
* ``apps/v1`` **Deployment**, ReplicaSet, StatefulSet (``replicas``, default 1) and
  ``batch/v1`` **Job** (``parallelism``, default 1): pods ``<name>-<i>`` from the template.

Other kinds (Namespace, Service, ConfigMap, …) are counted in :attr:`Workload.ignored`.
Times for the replay come from the annotations ``suanli.io/sim-creation-time`` and
``suanli.io/sim-deletion-time`` (seconds) on a Pod or on the workload that expands into
pods; no creation time means 0, no deletion time means the pod never departs.

Every problem raises :class:`~suanli.sim.traces.TraceError` with ``file:line:column`` of
the offending value (of the document when the value is missing), e.g.
``cluster/pods.yaml:14:17: Pod default/p1: spec.containers[0].resources.requests.cpu:
invalid quantity 'lots'``.

:func:`trace_objects` is the inverse direction: node and pod lists of a trace as
Nodes (kwok-annotated simulated nodes with ``volcano.sh/gpu-number`` /
``volcano.sh/gpu-memory``) and Pods, the representation ``suanli sim export-manifests``
writes and the ``volcano`` replay engine schedules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.quantity import format_quantity, parse_quantity
from suanli.controllers.volcanojob import min_resources, tasks_of
from suanli.scheduler.core.gpushare.model import MILLI, NodeSpec
from suanli.sim.traces import TimedPod, TraceError
from suanli.wire import GPU_MEMORY, GPU_MODEL_LABEL, GPU_NUMBER
from suanli.wire import GROUP_NAME_ANNOTATION as GROUP_ANNOTATION
from suanli.wire import KWOK_NODE_ANNOTATION as FAKE_NODE_ANNOTATION
from suanli.wire import QUEUE_NAME_ANNOTATION as QUEUE_ANNOTATION
from suanli.wire import TASK_SPEC_KEY as TASK_ANNOTATION

__all__ = [
    "CREATION_ANNOTATION",
    "DELETION_ANNOTATION",
    "FAKE_NODE_ANNOTATION",
    "GPU_MEMORY",
    "GPU_MODEL_LABEL",
    "GPU_NUMBER",
    "TimedObject",
    "Workload",
    "dump_documents",
    "load_manifests",
    "trace_objects",
]

CREATION_ANNOTATION = "suanli.io/sim-creation-time"
DELETION_ANNOTATION = "suanli.io/sim-deletion-time"
#: Pod capacity given to exported nodes (the trace model has no per-node pod limit).
EXPORT_MAX_PODS = 1000

_REPLICATED = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet")}


@dataclass(slots=True)
class TimedObject:
    """A Pod with its replay times (``deletion`` None = never departs) and where it came from."""

    obj: Obj
    creation: float
    deletion: float | None
    source: str = ""


@dataclass(slots=True)
class Workload:
    """Objects for the Volcano engine: ``pods`` in input order."""

    nodes: list[Obj] = field(default_factory=list)
    pods: list[TimedObject] = field(default_factory=list)
    podgroups: list[Obj] = field(default_factory=list)
    queues: list[Obj] = field(default_factory=list)
    priority_classes: list[Obj] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    def extend(self, other: Workload) -> None:
        self.nodes += other.nodes
        self.pods += other.pods
        self.podgroups += other.podgroups
        self.queues += other.queues
        self.priority_classes += other.priority_classes
        for k, v in other.ignored.items():
            self.ignored[k] = self.ignored.get(k, 0) + v


# ------------------------------------------------------------------------------------ loading


class _Doc:
    """One YAML document: the object plus its node tree for error locations."""

    def __init__(self, path: Path, node: yaml.Node, obj: Any) -> None:
        self.path, self.node, self.obj = path, node, obj

    def locate(self, dotted: Sequence[str | int]) -> yaml.Node:
        """The deepest node along ``dotted`` (stops where the path leaves the document)."""
        node = self.node
        for part in dotted:
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                nxt = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                nxt = node.value[part]
            if nxt is None:
                break
            node = nxt
        return node

    def fail(self, dotted: Sequence[str | int], message: str) -> TraceError:
        mark = self.locate(dotted).start_mark
        return TraceError(self.path, mark.line + 1, message, mark.column + 1)


def _documents(path: Path) -> Iterator[_Doc]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceError(path, 0, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise TraceError(path, 1, f"not UTF-8 text: {exc.reason}") from None
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            yield _Doc(path, node, loader.construct_document(node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise TraceError(path, line, f"invalid YAML: {exc.problem or exc}", col) from None
    finally:
        loader.dispose()


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".yaml", ".yml", ".json"))
    if not path.exists():
        raise TraceError(path, 0, "no such file or directory")
    return [path]


def _time_annotation(doc: _Doc, obj: Obj, key: str, at: Sequence[str | int]) -> float | None:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    raw = ann.get(key)
    if raw is None or str(raw).strip().lower() in ("", "nan"):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise doc.fail([*at, "metadata", "annotations", key], f"{key}: expected a non-negative number of seconds, "
                                                              f"got {raw!r}")
    return value


def _check_quantities(doc: _Doc, what: str, raw: Any, at: list[str | int]) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise doc.fail(at, f"{what}: {'.'.join(str(p) for p in at)}: expected a mapping of resource quantities")
    for name, q in raw.items():
        try:
            parse_quantity(q)
        except (ValueError, TypeError, ArithmeticError):
            raise doc.fail([*at, name], f"{what}: {_dotted([*at, name])}: invalid quantity {q!r}") from None


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _check_pod_spec(doc: _Doc, what: str, spec: Any, at: list[str | int]) -> None:
    if not isinstance(spec, dict):
        raise doc.fail(at, f"{what}: {_dotted(at)}: expected a mapping")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise doc.fail([*at, "containers"], f"{what}: {_dotted([*at, 'containers'])}: expected a non-empty list")
    for key in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(key) or []):
            if not isinstance(c, dict):
                raise doc.fail([*at, key, i], f"{what}: {_dotted([*at, key, i])}: expected a mapping")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                _check_quantities(doc, what, res.get(part), [*at, key, i, "resources", part])


def _name(doc: _Doc, obj: Obj, kind: str, at: list[str | int]) -> str:
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise doc.fail([*at, "metadata"], f"{kind}: metadata.name is required")
    return name


def _pod_from_template(template: Obj, namespace: str, name: str, annotations: dict[str, str],
                       scheduler: str | None) -> Obj:
    meta = deep_copy(template.get("metadata") or {})
    spec = deep_copy(template.get("spec") or {})
    meta["name"], meta["namespace"] = name, namespace
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    if scheduler and not spec.get("schedulerName"):
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _object(doc: _Doc, obj: Any, at: list[str | int], out: Workload) -> None:
    if not isinstance(obj, dict):
        raise doc.fail(at, f"expected a Kubernetes object (a mapping), got {type(obj).__name__}")
    kind, api = obj.get("kind"), str(obj.get("apiVersion") or "")
    if not isinstance(kind, str) or not kind:
        raise doc.fail(at, "missing 'kind'")
    group = api.rsplit("/", 1)[0] if "/" in api else ""
    if kind == "List" or (kind.endswith("List") and isinstance(obj.get("items"), list)):
        for i, item in enumerate(obj.get("items") or []):
            _object(doc, item, [*at, "items", i], out)
        return
    label = f"{kind}"
    if kind == "Node" and group == "":
        name = _name(doc, obj, kind, at)
        status = obj.get("status") or {}
        for part in ("allocatable", "capacity"):
            _check_quantities(doc, f"Node {name}", status.get(part), [*at, "status", part])
        out.nodes.append(obj)
    elif kind == "Pod" and group == "":
        name = _name(doc, obj, kind, at)
        ns = str((obj.get("metadata") or {}).get("namespace") or "default")
        obj = deep_copy(obj)
        obj["metadata"]["namespace"] = ns
        _check_pod_spec(doc, f"Pod {ns}/{name}", obj.get("spec"), [*at, "spec"])
        created = _time_annotation(doc, obj, CREATION_ANNOTATION, at)
        deleted = _time_annotation(doc, obj, DELETION_ANNOTATION, at)
        _add_pod(doc, out, obj, created, deleted, at)
    elif kind == "Queue" and group == "scheduling.volcano.sh":
        _name(doc, obj, kind, at)
        out.queues.append(obj)
    elif kind == "PodGroup" and group == "scheduling.volcano.sh":
        _name(doc, obj, kind, at)
        pg = deep_copy(obj)
        pg["metadata"].setdefault("namespace", "default")
        out.podgroups.append(pg)
    elif kind == "PriorityClass" and group == "scheduling.k8s.io":
        _name(doc, obj, kind, at)
        out.priority_classes.append(obj)
    elif kind == "Job" and group == "batch.volcano.sh":
        _volcano_job(doc, obj, at, out)
    elif (group, kind) in _REPLICATED or (group, kind) == ("batch", "Job"):
        _replicated(doc, obj, at, out, "parallelism" if kind == "Job" else "replicas")
    else:
        out.ignored[label] = out.ignored.get(label, 0) + 1


def _add_pod(doc: _Doc, out: Workload, pod: Obj, created: float | None, deleted: float | None,
             at: list[str | int]) -> None:
    creation = created or 0.0
    if deleted is not None and deleted < creation:
        raise doc.fail([*at, "metadata", "annotations", DELETION_ANNOTATION],
                       f"{DELETION_ANNOTATION} ({deleted:g}) is before the creation time ({creation:g})")
    m = pod["metadata"]
    out.pods.append(TimedObject(pod, creation, deleted, f"{doc.path}:{doc.locate(at).start_mark.line + 1}"
                                f" {m['namespace']}/{m['name']}"))


def _replicated(doc: _Doc, obj: Obj, at: list[str | int], out: Workload, count_field: str) -> None:
    kind = str(obj["kind"])
    name = _name(doc, obj, kind, at)
    ns = str((obj.get("metadata") or {}).get("namespace") or "default")
    spec = obj.get("spec") or {}
    raw = spec.get(count_field, 1)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise doc.fail([*at, "spec", count_field], f"{kind} {ns}/{name}: spec.{count_field}: expected a "
                                                   f"non-negative integer, got {raw!r}")
    template = spec.get("template")
    if not isinstance(template, dict):
        raise doc.fail([*at, "spec"], f"{kind} {ns}/{name}: spec.template is required")
    _check_pod_spec(doc, f"{kind} {ns}/{name}", template.get("spec"), [*at, "spec", "template", "spec"])
    created = _time_annotation(doc, obj, CREATION_ANNOTATION, at)
    deleted = _time_annotation(doc, obj, DELETION_ANNOTATION, at)
    for i in range(raw):
        _add_pod(doc, out, _pod_from_template(template, ns, f"{name}-{i}", {}, None), created, deleted, at)


def _volcano_job(doc: _Doc, obj: Obj, at: list[str | int], out: Workload) -> None:
    name = _name(doc, obj, "Job", at)
    ns = str((obj.get("metadata") or {}).get("namespace") or "default")
    spec = obj.get("spec") or {}
    what = f"Job {ns}/{name}"
    raw_tasks = spec.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise doc.fail([*at, "spec", "tasks"], f"{what}: spec.tasks: expected a non-empty list")
    for i, t in enumerate(raw_tasks):
        if not isinstance(t, dict):
            raise doc.fail([*at, "spec", "tasks", i], f"{what}: spec.tasks[{i}]: expected a mapping")
        reps = t.get("replicas", 0)
        if not isinstance(reps, int) or isinstance(reps, bool) or reps < 0:
            raise doc.fail([*at, "spec", "tasks", i, "replicas"],
                           f"{what}: spec.tasks[{i}].replicas: expected a non-negative integer, got {reps!r}")
        _check_pod_spec(doc, what, (t.get("template") or {}).get("spec"),
                        [*at, "spec", "tasks", i, "template", "spec"])
    tasks = tasks_of(spec)
    queue = str(spec.get("queue") or "default")
    min_available = int(spec.get("minAvailable") or sum(t.min_available for t in tasks))
    pg_spec: Obj = {
        "minMember": min_available,
        "minTaskMember": {t.name: t.min_available for t in tasks},
        "queue": queue,
        "minResources": {k: format_quantity(v) for k, v in sorted(min_resources(tasks, min_available).items())},
    }
    if spec.get("priorityClassName"):
        pg_spec["priorityClassName"] = spec["priorityClassName"]
    out.podgroups.append({"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup",
                          "metadata": {"name": name, "namespace": ns}, "spec": pg_spec})
    created = _time_annotation(doc, obj, CREATION_ANNOTATION, at)
    deleted = _time_annotation(doc, obj, DELETION_ANNOTATION, at)
    scheduler = str(spec.get("schedulerName") or "volcano")
    for t in tasks:
        for i in range(t.replicas):
            ann = {GROUP_ANNOTATION: name, TASK_ANNOTATION: t.name, QUEUE_ANNOTATION: queue}
            pod = _pod_from_template(t.template, ns, f"{name}-{t.name}-{i}", ann, scheduler)
            if spec.get("priorityClassName") and not pod["spec"].get("priorityClassName"):
                pod["spec"]["priorityClassName"] = spec["priorityClassName"]
            _add_pod(doc, out, pod, created, deleted, at)


def load_manifests(path: str | Path) -> Workload:
    """Read manifests from a file or directory (see the module docstring); raises TraceError."""
    root = Path(path)
    out = Workload()
    files = _files(root)
    if not files:
        raise TraceError(root, 0, "no .yaml/.yml/.json files in the directory")
    for f in files:
        for doc in _documents(f):
            if doc.obj is None:
                continue
            _object(doc, doc.obj, [], out)
    seen: set[tuple[str, str, str]] = set()
    for kind, objs in (("Node", out.nodes), ("Queue", out.queues), ("PodGroup", out.podgroups)):
        for o in objs:
            m = o.get("metadata") or {}
            key = (kind, str(m.get("namespace") or ""), str(m["name"]))
            if key in seen:
                raise TraceError(root, 0, f"duplicate {kind} {'/'.join(p for p in key[1:] if p)}")
            seen.add(key)
    names: set[str] = set()
    for p in out.pods:
        pkey = f"{p.obj['metadata']['namespace']}/{p.obj['metadata']['name']}"
        if pkey in names:
            raise TraceError(root, 0, f"duplicate Pod {pkey} ({p.source})")
        names.add(pkey)
    return out


# ------------------------------------------------------------------------------------ export


def trace_objects(nodes: Sequence[NodeSpec], pods: Sequence[TimedPod], *, namespace: str = "default",
                  queue: str | None = None, gpu_memory_per_card: int = MILLI,
                  scheduler_name: str = "volcano") -> Workload:
    """A trace as objects.

    Nodes are kwok-style simulated Nodes (annotation ``kwok.x-k8s.io/node: fake``,
    label ``nvidia.com/gpu.product: <model>`` on GPU nodes) with capacity =
    allocatable ``cpu``, ``memory``, ``pods: 1000`` and, for GPU nodes,
    ``volcano.sh/gpu-number: <gpus>`` and ``volcano.sh/gpu-memory: <gpus x
    gpu_memory_per_card>``. A sharing pod (``gpu_milli`` < 1000) requests
    ``volcano.sh/gpu-memory: ceil(gpu_milli x gpu_memory_per_card / 1000)`` (with the
    default 1000 per card, gpu-memory equals milli-GPU exactly); a pod with ``k`` whole
    GPUs requests ``volcano.sh/gpu-number: k``. ``gpu_spec`` becomes a required node
    affinity on the model label. Pods carry their trace times as annotations and, with
    ``queue``, the annotation ``scheduling.volcano.sh/queue-name``.
    """
    out = Workload()
    for n in nodes:
        res = {"cpu": f"{n.cpu_milli}m", "memory": f"{n.memory_mib}Mi", "pods": str(EXPORT_MAX_PODS)}
        labels = {"kubernetes.io/hostname": n.name, "type": "kwok"}
        if n.gpu > 0:
            res[GPU_NUMBER] = str(n.gpu)
            res[GPU_MEMORY] = str(n.gpu * gpu_memory_per_card)
            labels[GPU_MODEL_LABEL] = n.model
        out.nodes.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n.name, "labels": labels, "annotations": {FAKE_NODE_ANNOTATION: "fake"}},
            "status": {"capacity": dict(res), "allocatable": dict(res)},
        })
    for tp in pods:
        p = tp.pod
        requests = {"cpu": f"{p.cpu_milli}m", "memory": f"{p.memory_mib}Mi"}
        if p.is_share:
            requests[GPU_MEMORY] = str(math.ceil(p.gpu_milli * gpu_memory_per_card / MILLI))
        elif p.num_gpu:
            requests[GPU_NUMBER] = str(p.num_gpu)
        ann = {CREATION_ANNOTATION: f"{tp.creation:g}"}
        if tp.deletion is not None:
            ann[DELETION_ANNOTATION] = f"{tp.deletion:g}"
        if queue:
            ann[QUEUE_ANNOTATION] = queue
        spec: Obj = {
            "schedulerName": scheduler_name,
            "containers": [{"name": "main", "image": "busybox",
                            "resources": {"requests": requests, "limits": dict(requests)}}],
        }
        if p.num_gpu and p.gpu_spec:
            spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": GPU_MODEL_LABEL, "operator": "In", "values": sorted(p.gpu_spec)}]}]}}}
        obj = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": _k8s_name(p.name), "namespace": namespace, "annotations": ann}, "spec": spec}
        out.pods.append(TimedObject(obj, tp.creation, tp.deletion, p.name))
    return out


def _k8s_name(name: str) -> str:
    """A DNS-1123 subdomain from a trace name (lower case; other characters become '-')."""
    out = "".join(c if c.isalnum() or c in "-." else "-" for c in name.lower()).strip("-.")
    return out[:253] or "pod"


def dump_documents(objs: Sequence[Obj]) -> str:
    """Multi-document YAML (``---`` separated), keys in insertion order."""
    return "".join("---\n" + yaml.safe_dump(json.loads(json.dumps(o)), sort_keys=False) for o in objs)
