"""In-process admission for Volcano kinds and pods (Volcano's webhooks, plus openFuyao's workload type).

:func:`volcano_admission` returns the plug-ins to register on an
:class:`~suanli.apiserver.admission.AdmissionChain`. Every rejection is a 422 ``Invalid``
whose causes name the field (``spec.tasks[1].name``, ``metadata.annotations[business.workload/type]``).

Mutating (CREATE and UPDATE of the main resource, never ``status``):

* **Queue**: ``weight`` 0/absent → 1; ``reclaimable`` absent → true.
* **PodGroup**: empty ``queue`` → ``default``.
* **Job** (``batch.volcano.sh``): ``queue`` → ``default``, ``schedulerName`` → ``volcano``,
  ``maxRetry`` 0/absent → 3; plugins ``tensorflow``/``mpi``/``pytorch``/``ray`` add ``svc``,
  ``mpi`` adds ``ssh``; unnamed task *i* → ``default<i>``; task ``minAvailable`` absent →
  its ``replicas``; job ``minAvailable`` 0/absent → Σ task ``minAvailable``.
  Example: tasks ``[{replicas: 2}, {replicas: 3, minAvailable: 1}]`` → ``minAvailable: 3``.

Validating:

* **Queue**: ``weight`` ≥ 1; quantities parse and are ≥ 0; per dimension present in both,
  ``deserved`` ≤ ``capability`` and ``guarantee`` ≤ ``deserved`` (and ≤ ``capability``); a queue
  is not its own parent; on ``status`` writes ``state`` ∈ Open/Closed/Closing/Unknown and
  Closed → Closing is refused. DELETE (upstream ``validateQueueDeleting``, a 400 worded as
  its webhook denial): never ``default`` or ``root``, nor a queue with child queues, nor — with
  ``queue_allocated_pods_check`` — one with allocated pods. Current Volcano deletes Open
  queues (it stopped requiring Closed in 2022), and so does Suanli.
* **PodGroup**: ``minMember`` ≥ 0, ``minTaskMember`` values ≥ 0; ``status.phase`` known.
* **Job**: as Volcano's webhook — at least one task; ``replicas`` ≥ 0; task ``minAvailable`` in
  [0, replicas]; task names unique DNS-1123 labels; ``minAvailable`` in [0, Σ replicas];
  ``maxRetry`` and ``ttlSecondsAfterFinished`` ≥ 0; policies use known events/actions, give
  an event *or* a non-zero exitCode (not both), no duplicates, ``*`` alone; volume
  ``mountPath`` set and unique; task templates carry a valid ``business.workload/type``;
  policy ``timeout`` a Go duration; ``plugins`` only names Volcano registers; ``dependsOn``
  names tasks of the job without a cycle, ``iteration`` ``any``/``all``. What Suanli accepts
  but ignores (plugins other than env/svc/ssh, svc's NetworkPolicy, bad plugin arguments,
  volumes, network topology, partition policies, PodRunning policies) comes back as
  ``Warning`` headers (:func:`unsupported_job_fields`).
  Updates may change only ``minAvailable``, ``priorityClassName`` and task
  ``replicas``/``minAvailable``, not the number of tasks.
* **Pod**: annotation ``business.workload/type`` ∈ io-intensive | memory-sensitive |
  compute-intensive.
* **Command**: accepted as is; a ``Warning`` when Suanli will not execute it
  (:class:`CommandWarnings`).

With a ``queue_lookup`` (e.g. :func:`store_queue_lookup`), creating a Job or PodGroup also
requires its queue to exist and not be Closed/Closing, and a Queue's ``parent`` to exist (``root``, the
implicit top of the hierarchy, always does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from suanli.apimachinery.duration import parse_duration
from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.goflags import parse_flags
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.quantity import parse_quantity
from suanli.apimachinery.schema import format_value
from suanli.apiserver.admission import AdmissionRequest, MutatingAdmission, ValidatingAdmission
from suanli.kinds.volcano import (
    DEFAULT_MAX_RETRY,
    DEFAULT_QUEUE,
    DEFAULT_SCHEDULER,
    DEFAULT_TASK_PREFIX,
    JOB_ACTIONS,
    JOB_EVENTS,
    JOB_PLUGIN_FLAGS,
    JOB_PLUGINS,
    PODGROUP_PHASES,
    QUEUE_STATES,
    ROOT_QUEUE,
    SUPPORTED_JOB_PLUGINS,
    WORKLOAD_TYPE_ANNOTATION,
    WORKLOAD_TYPES,
)
from suanli.storage.store import Store

__all__ = [
    "COMMANDS_KEY",
    "JOBS_KEY",
    "PODGROUPS_KEY",
    "QUEUES_KEY",
    "CommandWarnings",
    "JobDefaults",
    "JobValidation",
    "PodGroupDefaults",
    "PodGroupValidation",
    "PodWorkloadTypeValidation",
    "QueueChildren",
    "QueueDefaults",
    "QueueLookup",
    "QueueValidation",
    "store_queue_children",
    "store_queue_lookup",
    "volcano_admission",
]

QUEUES_KEY = "scheduling.volcano.sh/queues"
PODGROUPS_KEY = "scheduling.volcano.sh/podgroups"
JOBS_KEY = "batch.volcano.sh/jobs"
COMMANDS_KEY = "bus.volcano.sh/commands"
PODS_KEY = "pods"

#: ``name → Queue object`` (``None`` if absent).
QueueLookup = Callable[[str], Obj | None]
#: ``name → names of the Queues whose spec.parent is name`` (sorted).
QueueChildren = Callable[[str], list[str]]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def store_queue_lookup(store: Store) -> QueueLookup:
    """A :data:`QueueLookup` reading Queues straight from ``store``."""

    def lookup(name: str) -> Obj | None:
        so = store.get(QUEUES_KEY, "", name)
        return so.obj if so is not None else None

    return lookup


def store_queue_children(store: Store) -> QueueChildren:
    """A :data:`QueueChildren` reading Queues straight from ``store``."""

    def children(name: str) -> list[str]:
        found = store.list(QUEUES_KEY, predicate=lambda q: (q.get("spec") or {}).get("parent") == name)
        return sorted(str(so.obj["metadata"]["name"]) for so in found.items)

    return children


def volcano_admission(
    queue_lookup: QueueLookup | None = None,
    queue_children: QueueChildren | None = None,
    *,
    queue_allocated_pods_check: bool = False,
) -> tuple[list[MutatingAdmission], list[ValidatingAdmission]]:
    """The mutating and validating plug-ins, in the order to register them.

    ``queue_allocated_pods_check`` is upstream's ``--enable-queue-allocated-pods-check``
    (off by default there too): refuse to delete a queue with allocated pods.
    """
    mutating: list[MutatingAdmission] = [QueueDefaults(), PodGroupDefaults(), JobDefaults()]
    validating: list[ValidatingAdmission] = [
        QueueValidation(queue_lookup, queue_children, allocated_pods_check=queue_allocated_pods_check),
        PodGroupValidation(queue_lookup),
        JobValidation(queue_lookup),
        PodWorkloadTypeValidation(),
        CommandWarnings(),
    ]
    return mutating, validating


# -- helpers ------------------------------------------------------------------------------------


def _spec_write(request: AdmissionRequest) -> Obj | None:
    """The object of a CREATE/UPDATE of the main resource, else ``None``."""
    if request.operation not in ("CREATE", "UPDATE") or request.subresource or request.obj is None:
        return None
    return request.obj


def _writable_spec(request: AdmissionRequest) -> dict[str, Any] | None:
    """The ``spec`` (created if absent) of a main-resource CREATE/UPDATE, for defaulting; else ``None``."""
    obj = _spec_write(request)
    if obj is None:
        return None
    spec = obj.setdefault("spec", {})
    return spec if isinstance(spec, dict) else None


def _spec(obj: Obj | None) -> dict[str, Any]:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _reject(request: AdmissionRequest, causes: list[Cause]) -> None:
    if causes:
        rt = request.resource
        raise ApiError.invalid(rt.kind, request.name, causes, rt.group)


def _denied(message: str) -> ApiError:
    """A refusal worded as Volcano's queue webhook denial (kube-apiserver answers 400)."""
    return ApiError.bad_request(f'admission webhook "validatequeue.volcano.sh" denied the request: {message}')


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {format_value(value)}: {detail}")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _quantities(path: str, value: Any, causes: list[Cause]) -> dict[str, Fraction]:
    """Parse a ResourceList; bad or negative entries become causes and are left out."""
    out: dict[str, Fraction] = {}
    if not isinstance(value, dict):
        return out
    for res, q in value.items():
        try:
            amount = parse_quantity(q)
        except ValueError as err:
            causes.append(_invalid(f"{path}[{res}]", q, str(err)))
            continue
        if amount < 0:
            causes.append(_invalid(f"{path}[{res}]", q, "must be greater than or equal to 0"))
            continue
        out[str(res)] = amount
    return out


def _not_above(
    path: str, small: dict[str, Fraction], raw: Any, big: dict[str, Fraction], what: str, causes: list[Cause]
) -> None:
    """``small[r] ≤ big[r]`` for every dimension ``r`` present in both."""
    for res in sorted(small):
        if res in big and small[res] > big[res]:
            causes.append(_invalid(f"{path}[{res}]", (raw or {}).get(res), f"must be less than or equal to {what}"))


def _queue_state(queue: Obj) -> str:
    return str((queue.get("status") or {}).get("state") or "Open")


def _check_queue_open(lookup: QueueLookup | None, name: str, path: str, kind: str, causes: list[Cause]) -> None:
    if lookup is None:
        return
    queue = lookup(name)
    if queue is None:
        causes.append(Cause(path, f"Not found: {format_value(name)}: queue does not exist", "FieldValueNotFound"))
    elif _queue_state(queue) in ("Closed", "Closing"):
        causes.append(
            _invalid(path, name, f"can only submit {kind} to a queue with state Open, queue is {_queue_state(queue)}")
        )


# -- Queue --------------------------------------------------------------------------------------


@dataclass
class QueueDefaults:
    """``weight`` → 1 when 0 or absent; ``reclaimable`` → true when absent."""

    name: str = "VolcanoQueueDefaults"
    resources: frozenset[str] = frozenset({QUEUES_KEY})

    def mutate(self, request: AdmissionRequest) -> None:
        spec = _writable_spec(request)
        if spec is None:
            return
        if not spec.get("weight"):
            spec["weight"] = 1
        if spec.get("reclaimable") is None:
            spec["reclaimable"] = True


@dataclass
class QueueValidation:
    """Static Queue checks (module docstring); with a lookup, ``parent`` must exist."""

    queue_lookup: QueueLookup | None = None
    queue_children: QueueChildren | None = None
    allocated_pods_check: bool = False
    name: str = "VolcanoQueueValidation"
    resources: frozenset[str] = frozenset({QUEUES_KEY})

    def _deleting(self, name: str) -> None:
        """Upstream ``validateQueueDeleting``: never ``default`` or ``root``; not a queue with
        child queues; with :attr:`allocated_pods_check`, not one with allocated pods. Refusals
        are 400s worded as upstream's webhook denial (any queue state may be deleted)."""
        if name in (DEFAULT_QUEUE, ROOT_QUEUE):
            raise _denied(f"`{name}` queue can not be deleted")
        queue = self.queue_lookup(name) if self.queue_lookup is not None else None
        if queue is None:
            return  # the delete itself answers 404
        if self.allocated_pods_check:
            pods = ((queue.get("status") or {}).get("allocated") or {}).get("pods")
            count = int(parse_quantity(str(pods))) if pods not in (None, "") else 0
            if count:
                raise _denied(f"queue {name} cannot be deleted because it has allocated Pods: {count}")
        children = self.queue_children(name) if self.queue_children is not None else []
        if children:
            raise _denied(
                f"queue {name} can not be deleted because it has {len(children)} child queues: {', '.join(children)}"
            )

    def validate(self, request: AdmissionRequest) -> None:
        causes: list[Cause] = []
        if request.operation == "DELETE":
            self._deleting(request.name)
            return
        if request.subresource == "status" and request.obj is not None:
            self._status(request, causes)
            _reject(request, causes)
            return
        obj = _spec_write(request)
        if obj is None:
            return
        spec = _spec(obj)
        weight = spec.get("weight")
        if weight is not None and (_int(weight) is None or weight < 1):
            causes.append(_invalid("spec.weight", weight, "must be a positive integer"))
        cap_raw = spec.get("capability")
        des_raw = spec.get("deserved")
        gua_raw = (spec.get("guarantee") or {}).get("resource") if isinstance(spec.get("guarantee"), dict) else None
        cap = _quantities("spec.capability", cap_raw, causes)
        des = _quantities("spec.deserved", des_raw, causes)
        gua = _quantities("spec.guarantee.resource", gua_raw, causes)
        _not_above("spec.deserved", des, des_raw, cap, "spec.capability", causes)
        _not_above("spec.guarantee.resource", gua, gua_raw, des, "spec.deserved", causes)
        _not_above("spec.guarantee.resource", gua, gua_raw, cap, "spec.capability", causes)
        parent = spec.get("parent")
        if parent:
            if parent == request.name:
                causes.append(_invalid("spec.parent", parent, "a queue cannot be its own parent"))
            elif parent != ROOT_QUEUE and self.queue_lookup is not None and self.queue_lookup(str(parent)) is None:
                causes.append(
                    Cause(
                        "spec.parent", f"Not found: {format_value(parent)}: queue does not exist", "FieldValueNotFound"
                    )
                )
        _reject(request, causes)

    @staticmethod
    def _status(request: AdmissionRequest, causes: list[Cause]) -> None:
        new = ((request.obj or {}).get("status") or {}).get("state")
        old = ((request.old or {}).get("status") or {}).get("state")
        if new is None:
            return
        if new not in QUEUE_STATES:
            supported = ", ".join(format_value(s) for s in QUEUE_STATES)
            causes.append(
                Cause(
                    "status.state",
                    f"Unsupported value: {format_value(new)}: supported values: {supported}",
                    "FieldValueNotSupported",
                )
            )
        elif old == "Closed" and new == "Closing":
            causes.append(_invalid("status.state", new, "a Closed queue cannot move to Closing"))


# -- PodGroup -----------------------------------------------------------------------------------


@dataclass
class PodGroupDefaults:
    """Empty ``spec.queue`` → ``default``."""

    name: str = "VolcanoPodGroupDefaults"
    resources: frozenset[str] = frozenset({PODGROUPS_KEY})

    def mutate(self, request: AdmissionRequest) -> None:
        obj = _spec_write(request)
        if obj is None:
            return
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict) and not spec.get("queue"):
            spec["queue"] = DEFAULT_QUEUE


@dataclass
class PodGroupValidation:
    """``minMember``/``minTaskMember`` ≥ 0, known ``status.phase``; with a lookup, an open queue on create."""

    queue_lookup: QueueLookup | None = None
    name: str = "VolcanoPodGroupValidation"
    resources: frozenset[str] = frozenset({PODGROUPS_KEY})

    def validate(self, request: AdmissionRequest) -> None:
        causes: list[Cause] = []
        if request.subresource == "status" and request.obj is not None:
            phase = (request.obj.get("status") or {}).get("phase")
            if phase is not None and phase != "" and phase not in PODGROUP_PHASES:
                supported = ", ".join(format_value(p) for p in PODGROUP_PHASES)
                causes.append(
                    Cause(
                        "status.phase",
                        f"Unsupported value: {format_value(phase)}: supported values: {supported}",
                        "FieldValueNotSupported",
                    )
                )
            _reject(request, causes)
            return
        obj = _spec_write(request)
        if obj is None:
            return
        spec = _spec(obj)
        mm = spec.get("minMember")
        if mm is not None and (_int(mm) is None or mm < 0):
            causes.append(_invalid("spec.minMember", mm, "must be greater than or equal to 0"))
        mtm = spec.get("minTaskMember")
        if isinstance(mtm, dict):
            for task in sorted(mtm):
                v = mtm[task]
                if _int(v) is None or v < 0:
                    causes.append(_invalid(f"spec.minTaskMember[{task}]", v, "must be greater than or equal to 0"))
        if request.operation == "CREATE":
            _check_queue_open(
                self.queue_lookup, str(spec.get("queue") or DEFAULT_QUEUE), "spec.queue", "a PodGroup", causes
            )
        _reject(request, causes)


# -- Job ----------------------------------------------------------------------------------------


@dataclass
class JobDefaults:
    """Volcano's Job defaults (module docstring)."""

    name: str = "VolcanoJobDefaults"
    resources: frozenset[str] = frozenset({JOBS_KEY})

    def mutate(self, request: AdmissionRequest) -> None:
        spec = _writable_spec(request)
        if spec is None:
            return
        if not spec.get("queue"):
            spec["queue"] = DEFAULT_QUEUE
        if not spec.get("schedulerName"):
            spec["schedulerName"] = DEFAULT_SCHEDULER
        if not spec.get("maxRetry"):
            spec["maxRetry"] = DEFAULT_MAX_RETRY
        plugins = spec.get("plugins")
        if isinstance(plugins, dict):
            # tensorflow, mpi, pytorch and ray need svc; mpi needs ssh (upstream patchDefaultPlugins)
            if any(n in plugins for n in ("tensorflow", "mpi", "pytorch", "ray")):
                plugins.setdefault("svc", [])
            if "mpi" in plugins:
                plugins.setdefault("ssh", [])
        tasks = spec.get("tasks")
        if not isinstance(tasks, list):
            return
        total = 0
        for i, task in enumerate(tasks):
            if not isinstance(task, dict):
                continue
            if not task.get("name"):
                task["name"] = f"{DEFAULT_TASK_PREFIX}{i}"
            replicas = _int(task.get("replicas")) or 0
            if task.get("minAvailable") is None:
                task["minAvailable"] = replicas
            total += _int(task.get("minAvailable")) or 0
            tspec = (task.get("template") or {}).get("spec") if isinstance(task.get("template"), dict) else None
            if isinstance(tspec, dict) and tspec.get("hostNetwork") and not tspec.get("dnsPolicy"):
                tspec["dnsPolicy"] = "ClusterFirstWithHostNet"
        if not spec.get("minAvailable"):
            spec["minAvailable"] = total


def _policy_causes(path: str, policies: Any, causes: list[Cause]) -> None:
    if not isinstance(policies, list):
        return
    seen_events: set[str] = set()
    seen_codes: set[int] = set()
    for i, policy in enumerate(policies):
        p = f"{path}[{i}]"
        if not isinstance(policy, dict):
            continue
        event = policy.get("event")
        events = list(policy.get("events") or [])
        code = policy.get("exitCode")
        if event and events:
            causes.append(Cause(p, "Invalid value: must not specify event and events simultaneously"))
        if event:
            events = [event, *events]
        if events and code is not None:
            causes.append(Cause(p, "Invalid value: must not specify event and exitCode simultaneously"))
        elif not events and code is None:
            causes.append(
                Cause(p, "Required value: either event or exitCode should be specified", "FieldValueRequired")
            )
        for ev in events:
            if ev not in JOB_EVENTS:
                supported = ", ".join(format_value(e) for e in JOB_EVENTS)
                causes.append(
                    Cause(
                        f"{p}.event",
                        f"Unsupported value: {format_value(ev)}: supported values: {supported}",
                        "FieldValueNotSupported",
                    )
                )
            elif ev in seen_events:
                causes.append(Cause(f"{p}.event", f"Duplicate value: {format_value(ev)}", "FieldValueDuplicate"))
            seen_events.add(str(ev))
        if code is not None:
            if _int(code) is None or code == 0:
                causes.append(_invalid(f"{p}.exitCode", code, "0 is not a valid error code"))
            elif code in seen_codes:
                causes.append(Cause(f"{p}.exitCode", f"Duplicate value: {code}", "FieldValueDuplicate"))
            else:
                seen_codes.add(code)
        timeout = policy.get("timeout")
        if timeout not in (None, ""):
            try:
                parse_duration(str(timeout))
            except ValueError:
                causes.append(_invalid(f"{p}.timeout", timeout, "must be a duration such as 30s or 5m"))
        action = policy.get("action")
        if action not in JOB_ACTIONS:
            supported = ", ".join(format_value(a) for a in JOB_ACTIONS)
            causes.append(
                Cause(
                    f"{p}.action",
                    f"Unsupported value: {format_value(action)}: supported values: {supported}",
                    "FieldValueNotSupported",
                )
            )
    if "*" in seen_events and len(seen_events) > 1:
        causes.append(_invalid(path, "*", "if there is a '*' event, no other event may be given"))


_MUTABLE_TASK_FIELDS = ("replicas", "minAvailable")
_MUTABLE_JOB_FIELDS = ("minAvailable", "priorityClassName")


def _frozen_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The part of a Job spec updates must not change."""
    out = {k: v for k, v in spec.items() if k not in _MUTABLE_JOB_FIELDS and k != "tasks"}
    out["tasks"] = [
        {k: v for k, v in t.items() if k not in _MUTABLE_TASK_FIELDS} if isinstance(t, dict) else t
        for t in spec.get("tasks") or []
    ]
    return out


def _plugin_causes(plugins: Any, causes: list[Cause]) -> None:
    """Plugin names Volcano does not register are refused (upstream "unable to find job plugin")."""
    if not isinstance(plugins, dict):
        return
    supported = ", ".join(format_value(n) for n in JOB_PLUGINS)
    for name in plugins:
        if name not in JOB_PLUGINS:
            causes.append(
                Cause(
                    f"spec.plugins[{name}]",
                    f"Unsupported value: {format_value(name)}: unable to find job plugin: {name}; "
                    f"supported values: {supported}",
                    "FieldValueNotSupported",
                )
            )


def _depends_on_causes(tasks: list[Any], causes: list[Cause]) -> None:
    """``dependsOn`` must name tasks of the job without a cycle (upstream ``topoSort``), and
    ``iteration`` is ``any`` or ``all``."""
    names = [str(t.get("name")) for t in tasks if isinstance(t, dict)]
    edges: dict[str, list[str]] = {}
    indegree = dict.fromkeys(names, 0)
    found = False
    for i, task in enumerate(tasks):
        dep = task.get("dependsOn") if isinstance(task, dict) else None
        if not isinstance(dep, dict):
            continue
        found = True
        iteration = dep.get("iteration")
        if iteration not in (None, "", "any", "all"):
            causes.append(
                Cause(
                    f"spec.tasks[{i}].dependsOn.iteration",
                    f'Unsupported value: {format_value(iteration)}: supported values: "any", "all"',
                    "FieldValueNotSupported",
                )
            )
        for dep_name in dep.get("name") or []:
            edges.setdefault(str(dep_name), []).append(str(task.get("name")))
            indegree[str(task.get("name"))] = indegree.get(str(task.get("name")), 0) + 1
    if not found:
        return
    ready = [n for n in names if indegree.get(n) == 0]
    done = 0
    while ready:
        node = ready.pop()
        done += 1
        for nxt in edges.get(node, []):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if done != len(names):
        causes.append(
            _invalid("spec.tasks", "dependsOn", "job has dependencies between tasks, but doesn't form a "
                     "directed acyclic graph(DAG)")
        )


def unsupported_job_fields(spec: dict[str, Any]) -> list[str]:
    """Warnings (``Warning`` headers, which kubectl prints) for what a Job asks and Suanli ignores."""
    out: list[str] = []
    plugins = spec.get("plugins") if isinstance(spec.get("plugins"), dict) else {}
    for name, args in (plugins or {}).items():
        if name in JOB_PLUGINS and name not in SUPPORTED_JOB_PLUGINS:
            out.append(f"spec.plugins[{name}]: the {name} plugin is not supported by Suanli and is ignored")
        flags = JOB_PLUGIN_FLAGS.get(str(name))
        if flags is None:
            continue
        values, error = parse_flags([str(a) for a in args or []], flags, {})
        if error:
            out.append(f"spec.plugins[{name}]: {error} (this and later arguments are ignored)")
        if name == "svc" and not values.get("disable-network-policy"):
            out.append("spec.plugins[svc]: no NetworkPolicy is created (Suanli does not serve networking.k8s.io)")
    if spec.get("volumes"):
        out.append("spec.volumes: volumes are not supported by Suanli (no PersistentVolumeClaims are created)")
    if spec.get("networkTopology"):
        out.append("spec.networkTopology: network topology is not supported by Suanli and is ignored")
    policies = [(f"spec.policies[{i}]", p) for i, p in enumerate(spec.get("policies") or [])]
    for ti, task in enumerate(spec.get("tasks") or []):
        if not isinstance(task, dict):
            continue
        policies += [(f"spec.tasks[{ti}].policies[{i}]", p) for i, p in enumerate(task.get("policies") or [])]
        if task.get("partitionPolicy"):
            out.append(f"spec.tasks[{ti}].partitionPolicy: partition policies are not supported by Suanli")
    for path, policy in policies:
        if isinstance(policy, dict) and "PodRunning" in [policy.get("event"), *(policy.get("events") or [])]:
            out.append(f"{path}: the PodRunning event is not supported by Suanli; the policy never fires")
    return out


@dataclass
class JobValidation:
    """Volcano's Job webhook checks (module docstring)."""

    queue_lookup: QueueLookup | None = None
    name: str = "VolcanoJobValidation"
    resources: frozenset[str] = frozenset({JOBS_KEY})

    def validate(self, request: AdmissionRequest) -> None:
        obj = _spec_write(request)
        if obj is None:
            return
        spec = _spec(obj)
        causes: list[Cause] = []
        tasks = spec.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            causes.append(Cause("spec.tasks", "Required value: no task specified in job spec", "FieldValueRequired"))
            tasks = []
        total = 0
        names: set[str] = set()
        for i, task in enumerate(tasks):
            p = f"spec.tasks[{i}]"
            if not isinstance(task, dict):
                continue
            replicas = task.get("replicas")
            r = _int(replicas)
            if replicas is not None and (r is None or r < 0):
                causes.append(_invalid(f"{p}.replicas", replicas, "must be greater than or equal to 0"))
            r = max(r or 0, 0)
            total += r
            tmin = task.get("minAvailable")
            if tmin is not None:
                m = _int(tmin)
                if m is None or m < 0:
                    causes.append(_invalid(f"{p}.minAvailable", tmin, "must be greater than or equal to 0"))
                elif m > r:
                    causes.append(_invalid(f"{p}.minAvailable", tmin, f"must be less than or equal to replicas ({r})"))
            name = task.get("name")
            if not isinstance(name, str) or not _DNS1123_LABEL.match(name) or len(name) > 63:
                causes.append(
                    _invalid(
                        f"{p}.name",
                        name,
                        "a lowercase RFC 1123 label must consist of lower case "
                        "alphanumeric characters or '-', and must start and end with an alphanumeric "
                        "character",
                    )
                )
            elif name in names:
                causes.append(Cause(f"{p}.name", f"Duplicate value: {format_value(name)}", "FieldValueDuplicate"))
            else:
                names.add(name)
            _policy_causes(f"{p}.policies", task.get("policies"), causes)
            tmeta = (task.get("template") or {}).get("metadata") if isinstance(task.get("template"), dict) else None
            _workload_cause(f"{p}.template.metadata", (tmeta or {}).get("annotations"), causes)
        min_available = spec.get("minAvailable")
        if min_available is not None:
            m = _int(min_available)
            if m is None or m < 0:
                causes.append(_invalid("spec.minAvailable", min_available, "must be greater than or equal to 0"))
            elif m > total:
                causes.append(
                    _invalid(
                        "spec.minAvailable",
                        min_available,
                        f"must not be greater than total replicas in tasks ({total})",
                    )
                )
        for fld in ("maxRetry", "ttlSecondsAfterFinished"):
            v = spec.get(fld)
            if v is not None and (_int(v) is None or v < 0):
                causes.append(_invalid(f"spec.{fld}", v, "must be greater than or equal to 0"))
        if not spec.get("queue"):
            causes.append(Cause("spec.queue", "Required value", "FieldValueRequired"))
        _policy_causes("spec.policies", spec.get("policies"), causes)
        self._volumes(spec.get("volumes"), causes)
        _plugin_causes(spec.get("plugins"), causes)
        _depends_on_causes(tasks, causes)
        request.warnings.extend(unsupported_job_fields(spec))
        if request.operation == "UPDATE" and request.old is not None:
            self._update(_spec(request.old), spec, causes)
        elif request.operation == "CREATE" and spec.get("queue"):
            _check_queue_open(self.queue_lookup, str(spec["queue"]), "spec.queue", "a job", causes)
        _reject(request, causes)

    @staticmethod
    def _volumes(volumes: Any, causes: list[Cause]) -> None:
        if not isinstance(volumes, list):
            return
        paths: set[str] = set()
        for i, vol in enumerate(volumes):
            if not isinstance(vol, dict):
                continue
            mp = vol.get("mountPath")
            if not mp:
                causes.append(Cause(f"spec.volumes[{i}].mountPath", "Required value", "FieldValueRequired"))
            elif mp in paths:
                causes.append(
                    Cause(f"spec.volumes[{i}].mountPath", f"Duplicate value: {format_value(mp)}", "FieldValueDuplicate")
                )
            else:
                paths.add(str(mp))
            if vol.get("volumeClaimName") and vol.get("volumeClaim"):
                causes.append(
                    Cause(
                        f"spec.volumes[{i}]",
                        "Invalid value: must not specify volumeClaimName and volumeClaim simultaneously",
                    )
                )

    @staticmethod
    def _update(old: dict[str, Any], new: dict[str, Any], causes: list[Cause]) -> None:
        if len(old.get("tasks") or []) != len(new.get("tasks") or []):
            causes.append(
                Cause("spec.tasks", "Forbidden: job updates may not add or remove tasks", "FieldValueForbidden")
            )
            return
        if _frozen_spec(deep_copy(old)) != _frozen_spec(deep_copy(new)):
            causes.append(
                Cause(
                    "spec",
                    "Forbidden: job updates may not change fields other than `minAvailable`, "
                    "`priorityClassName` and `tasks[*].replicas`/`tasks[*].minAvailable`",
                    "FieldValueForbidden",
                )
            )


# -- Pod ----------------------------------------------------------------------------------------


def _workload_cause(meta_path: str, annotations: Any, causes: list[Cause]) -> None:
    """A cause when ``annotations`` carries an unknown ``business.workload/type``."""
    value = annotations.get(WORKLOAD_TYPE_ANNOTATION) if isinstance(annotations, dict) else None
    if value is None or value in WORKLOAD_TYPES:
        return
    supported = ", ".join(format_value(t) for t in WORKLOAD_TYPES)
    causes.append(
        Cause(
            f"{meta_path}.annotations[{WORKLOAD_TYPE_ANNOTATION}]",
            f"Unsupported value: {format_value(value)}: supported values: {supported}",
            "FieldValueNotSupported",
        )
    )


@dataclass
class PodWorkloadTypeValidation:
    """Annotation ``business.workload/type`` must be one of :data:`WORKLOAD_TYPES` (checked when set or changed)."""

    name: str = "WorkloadTypeValidation"
    resources: frozenset[str] = frozenset({PODS_KEY})

    def validate(self, request: AdmissionRequest) -> None:
        obj = _spec_write(request)
        if obj is None:
            return
        value = ((obj.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_TYPE_ANNOTATION)
        if value is None or value in WORKLOAD_TYPES:
            return
        if request.old is not None:
            old = ((request.old.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_TYPE_ANNOTATION)
            if old == value:
                return  # written before this check existed; do not block unrelated updates
        causes: list[Cause] = []
        _workload_cause("metadata", (obj.get("metadata") or {}).get("annotations"), causes)
        _reject(request, causes)


# -- Command ------------------------------------------------------------------------------------


@dataclass
class CommandWarnings:
    """A ``bus.volcano.sh`` Command is accepted as is (upstream has no webhook for it); one that
    Suanli will not execute — its target is neither a Volcano Job nor a Queue, or its action is
    not one for its target — gets a ``Warning`` header."""

    name: str = "VolcanoCommandWarnings"
    resources: frozenset[str] = frozenset({COMMANDS_KEY})

    def validate(self, request: AdmissionRequest) -> None:
        if request.operation != "CREATE" or request.obj is None:
            return
        target = request.obj.get("target") or {}
        kind = (target.get("apiVersion"), target.get("kind"))
        action = request.obj.get("action")
        if kind == ("batch.volcano.sh/v1alpha1", "Job"):
            if action not in JOB_ACTIONS:
                request.warnings.append(
                    f"action: {format_value(action)} is not a job action; the Command is deleted without effect"
                )
        elif kind == ("scheduling.volcano.sh/v1beta1", "Queue"):
            if action not in ("OpenQueue", "CloseQueue"):
                request.warnings.append(
                    f"action: {format_value(action)} is not a queue action; the Command is deleted without effect"
                )
        else:
            request.warnings.append(
                f"target: Commands for {kind[0] or ''}/{kind[1] or ''} are not executed by Suanli "
                "(only Volcano Jobs and Queues)"
            )
