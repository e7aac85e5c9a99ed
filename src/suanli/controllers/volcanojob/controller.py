"""Volcano Job controller (``batch.volcano.sh/v1alpha1``): gang pods per task, lifecycle policies, phases.

Level-triggered per Job key over four informers (Jobs, Pods, PodGroups, Commands), following
Volcano's job controller and state machine:

* **PodGroup** ``<job>-<job uid>`` (controlled by the Job, with the job's annotations and
  labels): ``minMember`` = ``spec.minAvailable``,
  ``minTaskMember`` = each task's ``minAvailable``, ``queue``, ``priorityClassName`` and
  ``minResources`` (see :func:`min_resources`). It is deleted whenever the job's pods are killed
  (restart, abort, complete, terminate, finish) and recreated when the job is Pending again.
* **Pods** ``<job>-<task>-<index>`` from the task templates, with annotations
  ``scheduling.k8s.io/group-name`` (the PodGroup), ``volcano.sh/job-name``,
  ``volcano.sh/queue-name``, ``volcano.sh/task-spec``, ``volcano.sh/task-index``,
  ``volcano.sh/job-version``, ``volcano.sh/template-uid``, ``volcano.sh/job-retry-count``
  (plus ``volcano.sh/numa-topology-policy`` from the task's ``topologyPolicy`` and the job's
  preemptable/cooldown-time/revocable-zone/jdb-* annotations); labels ``volcano.sh/job-name``,
  ``volcano.sh/job-namespace``, ``volcano.sh/queue-name``, ``volcano.sh/task-spec``,
  ``volcano.sh/task-index``; ``schedulerName``/``priorityClassName`` from the Job unless the
  template sets them; then every plugin's ``on_pod_create`` (:mod:`.plugins`: ``env``,
  ``svc``, ``ssh``). A task with ``dependsOn`` creates its pods only once its dependencies are
  ready (:func:`dependencies_met`). With ``wait_for_enqueue`` (Volcano's behaviour) pods
  are created only once the scheduler has moved the PodGroup out of ``Pending``.
* **Phases**: Pending → Running when ``running + succeeded + failed ≥ minAvailable``. Running →
  Completed/Failed once every pod finished: Failed if a task with ``minAvailable`` has fewer
  successes than it, or ``succeeded < minSuccess``; else Completed if
  ``succeeded ≥ minAvailable``, else Failed. Actions: RestartJob → Restarting (all pods
  killed, ``retryCount`` +1, ``version`` +1) → Pending once ``Σ replicas - terminating ≥
  minAvailable``, or Failed when ``retryCount ≥ maxRetry``; on the last retry
  (``retryCount ≥ maxRetry - 1``) finished pods are kept. AbortJob → Aborting → Aborted,
  CompleteJob → Completing → Completed, TerminateJob → Terminating → Terminated (running and
  pending pods killed, finished ones kept; the target phase is reached when no pod is
  pending, running or terminating); ResumeJob restarts an Aborting/Aborted job.
  RestartTask / RestartPod delete the task's / the pod's current pods, which are recreated.
* **Events → policies**: events are derived from observed pods of the current
  ``version``: ``PodFailed`` (with the first non-zero terminated container exit code) and
  ``Unknown`` per pod, ``TaskFailed`` when more than ``replicas - minAvailable`` pods of a task
  failed, ``TaskCompleted`` when all ``replicas`` pods of a task succeeded; ``PodEvicted`` is
  recorded when a current pod is deleted by anyone but this controller. Events are matched
  against the task's ``policies`` first, then the job's (``event``/``events``, ``*``, or
  ``exitCode``); the first event with a matching policy decides the action, else SyncJob.
  A policy with ``timeout`` delays its action (Event ``ExecuteAction`` "Execute action X after
  T"); the delay is cancelled when the pod runs again (``PodPending``: leaves Pending), and a
  ``PodPending`` event (a Pending pod) matches only policies with a timeout, as upstream.
* **Commands** (``bus.volcano.sh/v1alpha1``, ``target`` a Job): deleted first (one that is
  already gone is skipped), then their ``action`` runs on the job like a policy's, with Event
  ``CommandIssued``.
* **Events** (source ``vc-controller-manager``, upstream reasons and messages):
  ``ExecuteAction`` for every action but SyncJob, ``CommandIssued``, ``PodGroupPending``
  (Warning: the PodGroup's latest true condition other than ``Scheduled``), ``FailedCreate``,
  ``FailedDelete``, ``PluginError``.
* **Status**: ``state{phase, reason, message, lastTransitionTime}``, ``minAvailable``,
  counts (``pending``, ``running``, ``succeeded``, ``failed``, ``terminating``, ``unknown``),
  ``taskStatusCount``, ``version``, ``retryCount`` and ``conditions`` (one
  ``{status: <phase>, lastTransitionTime}`` per transition), ``controlledResources``
  (``plugin-<name>: <name>`` once a plugin created its objects).
* ``ttlSecondsAfterFinished`` deletes a Completed/Failed/Terminated/Aborted Job when due.

Not implemented (admission warns): ``volumes`` (no PVCs are created), the plugins ``mpi``,
``pytorch``, ``tensorflow``, ``ray``, ``hcclrank`` (accepted, ignored), the svc plugin's
NetworkPolicy, ``PodRunning`` policies, partition policies and network topology.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from suanli.apimachinery.duration import format_duration, parse_duration
from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import PODS, controller_of, owner_reference, rfc3339, timestamp
from suanli.controllers.volcanojob.env import EnvPlugin
from suanli.controllers.volcanojob.plugins import JobPlugin, Owned, PluginBuilder, controlled_key
from suanli.controllers.volcanojob.ssh import SshPlugin
from suanli.controllers.volcanojob.svc import SvcPlugin
from suanli.kinds.volcano import (
    COMMANDS,
    DEFAULT_MAX_RETRY,
    DEFAULT_QUEUE,
    DEFAULT_SCHEDULER,
    DEFAULT_TASK_PREFIX,
    GROUP_NAME_ANNOTATION,
    JOB_NAME_KEY,
    JOB_NAMESPACE_KEY,
    JOB_VERSION_KEY,
    POD_TEMPLATE_KEY,
    PODGROUPS,
    QUEUE_NAME_KEY,
    TASK_INDEX_KEY,
    TASK_SPEC_KEY,
    VCJOBS,
    add_resources,
    format_resources,
    pod_requests,
)
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import JOB_RETRY_COUNT_KEY, NUMA_POLICY_KEY

__all__ = [
    "COMPONENT",
    "PLUGIN_BUILDERS",
    "JobEvent",
    "Task",
    "VolcanoJobController",
    "build_plugins",
    "delay_persists",
    "dependencies_met",
    "derive_events",
    "min_resources",
    "pod_ready",
    "podgroup_name",
    "podgroup_pending_message",
    "policy_action",
    "policy_match",
    "task_ready",
    "tasks_of",
]

log = logging.getLogger(__name__)

FINISHED = frozenset({"Completed", "Failed", "Terminated", "Aborted"})
#: The Event source of this controller (upstream's controller manager).
COMPONENT = "vc-controller-manager"
#: Job annotations copied onto its pods (upstream ``createJobPod``), plus the first of
#: ``jdb-min-available`` / ``jdb-max-unavailable`` the job has.
JOB_TO_POD_ANNOTATIONS = ("volcano.sh/preemptable", "volcano.sh/cooldown-time", "volcano.sh/revocable-zone")
_JDB_KEYS = ("volcano.sh/jdb-min-available", "volcano.sh/jdb-max-unavailable")
#: Job labels copied onto its pods.
JOB_TO_POD_LABELS = ("volcano.sh/preemptable", "volcano.sh/cooldown-time")
_JOB_INDEX = "vcjob"


# -- spec helpers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One task of a Job spec with Volcano's defaults applied."""

    name: str
    replicas: int
    min_available: int
    template: Obj
    policies: list[Obj]
    #: ``dependsOn.name`` (tasks that must be ready first) and ``dependsOn.iteration``.
    depends_on: tuple[str, ...] = ()
    iteration: str = ""
    topology_policy: str = ""


def tasks_of(spec: Obj) -> list[Task]:
    """The tasks of a Job ``spec``: unnamed task *i* is ``default<i>``; ``minAvailable`` defaults to replicas."""
    out: list[Task] = []
    for i, t in enumerate(spec.get("tasks") or []):
        if not isinstance(t, dict):
            continue
        replicas = int(t.get("replicas") or 0)
        tmin = t.get("minAvailable")
        raw_dep = t.get("dependsOn")
        dep: Obj = raw_dep if isinstance(raw_dep, dict) else {}
        out.append(
            Task(
                name=str(t.get("name") or f"{DEFAULT_TASK_PREFIX}{i}"),
                replicas=replicas,
                min_available=replicas if tmin is None else int(tmin),
                template=t.get("template") or {},
                policies=[p for p in t.get("policies") or [] if isinstance(p, dict)],
                depends_on=tuple(str(n) for n in dep.get("name") or []),
                iteration=str(dep.get("iteration") or ""),
                topology_policy=str(t.get("topologyPolicy") or ""),
            )
        )
    return out


def _min_available(spec: Obj, tasks: list[Task]) -> int:
    v = spec.get("minAvailable")
    return int(v) if v else sum(t.min_available for t in tasks)


def podgroup_name(job: Obj) -> str:
    """``<job name>-<job uid>`` (Volcano's naming)."""
    return f"{job['metadata']['name']}-{job['metadata']['uid']}"


def min_resources(tasks: list[Task], min_available: int) -> dict[str, Fraction]:
    """Requests of the first ``min_available`` pods: each task's ``minAvailable`` pods first (tasks
    in spec order), then further replicas in the same order until ``min_available`` pods are counted.

    Example: tasks ps (2 replicas, min 1, 1 CPU) and worker (4 replicas, min 2, 2 CPU),
    ``min_available`` 4 → 1*1 + 2*2 (minimums) + 1*1 (next ps replica) = 6 CPU.
    """
    total: dict[str, Fraction] = {}
    left = min_available
    taken: dict[str, int] = {}
    for t in tasks:
        n = min(t.min_available, t.replicas, max(left, 0))
        taken[t.name] = n
        left -= n
        add_resources(total, pod_requests(t.template.get("spec")), n)
    for t in tasks:
        if left <= 0:
            break
        n = min(t.replicas - taken[t.name], left)
        left -= n
        add_resources(total, pod_requests(t.template.get("spec")), n)
    return total


# -- events and policies ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a job's pods; ``version`` is the pod's ``volcano.sh/job-version``."""

    event: str
    task: str = ""
    pod: str = ""
    exit_code: int | None = None
    version: int = 0


def _policy_events(policy: Obj) -> list[str]:
    return [*(policy.get("events") or []), *([policy["event"]] if policy.get("event") else [])]


def _timeout(policy: Obj) -> float | None:
    raw = policy.get("timeout")
    if raw in (None, ""):
        return None
    try:
        return parse_duration(str(raw))
    except ValueError:
        return None


def _policy_hit(policy: Obj, ev: JobEvent) -> bool:
    events = _policy_events(policy)
    # a PodPending event only ever matches a policy with a timeout (upstream shouldConfigureTimeout)
    if (
        events and ev.event and (ev.event in events or "*" in events)
        and (ev.event != "PodPending" or _timeout(policy) is not None)
    ):
        return True
    code = policy.get("exitCode")
    return code is not None and ev.exit_code is not None and int(code) == ev.exit_code


def policy_match(spec: Obj, ev: JobEvent) -> tuple[str, float | None] | None:
    """``(action, timeout seconds or None)`` of the first policy matching ``ev`` — the event's
    task's policies first, then the job's — or ``None`` (upstream ``applyPolicies``)."""
    policies: list[Obj] = []
    if ev.task:
        for t in tasks_of(spec):
            if t.name == ev.task:
                policies += t.policies
                break
    policies += [p for p in spec.get("policies") or [] if isinstance(p, dict)]
    for p in policies:
        if _policy_hit(p, ev):
            return str(p.get("action")), _timeout(p)
    return None


def _has_timeouts(spec: Obj) -> bool:
    """Whether any policy has a ``timeout`` (only then are ``PodPending`` events derived)."""
    policies = [*(spec.get("policies") or []), *(p for t in tasks_of(spec) for p in t.policies)]
    return any(isinstance(p, dict) and _timeout(p) is not None for p in policies)


def _describe(ev: JobEvent) -> str:
    return f"{ev.event} of {ev.pod or ev.task}".strip() if ev.pod or ev.task else ev.event


def policy_action(spec: Obj, ev: JobEvent) -> str | None:
    """The action of the first matching policy (:func:`policy_match`); ``None`` if none matches."""
    found = policy_match(spec, ev)
    return None if found is None else found[0]


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _version(pod: Obj) -> int:
    try:
        return int(((pod.get("metadata") or {}).get("annotations") or {}).get(JOB_VERSION_KEY) or 0)
    except ValueError:
        return 0


def _task(pod: Obj) -> str:
    m = pod.get("metadata") or {}
    return str((m.get("annotations") or {}).get(TASK_SPEC_KEY) or (m.get("labels") or {}).get(TASK_SPEC_KEY) or "")


def _index(pod: Obj) -> int | None:
    m = pod.get("metadata") or {}
    raw = (m.get("annotations") or {}).get(TASK_INDEX_KEY) or (m.get("labels") or {}).get(TASK_INDEX_KEY)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _exit_code(pod: Obj) -> int | None:
    status = pod.get("status") or {}
    codes: list[int] = []
    for cs in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
        term = ((cs or {}).get("state") or {}).get("terminated") or {}
        if term.get("exitCode") is not None:
            codes.append(int(term["exitCode"]))
    return next((c for c in codes if c != 0), codes[0] if codes else None)


def derive_events(tasks: list[Task], pods: list[Obj], version: int, *, pending: bool = False) -> list[JobEvent]:
    """Events visible in the current pods (see the module docstring), in a deterministic order;
    with ``pending``, also ``PodPending`` per Pending pod (after all others)."""
    out: list[JobEvent] = []
    late: list[JobEvent] = []
    by_task: dict[str, list[Obj]] = {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        if pod["metadata"].get("deletionTimestamp") or _version(pod) != version:
            continue
        task = _task(pod)
        by_task.setdefault(task, []).append(pod)
        phase = _phase(pod)
        if phase == "Failed":
            out.append(JobEvent("PodFailed", task, pod["metadata"]["name"], _exit_code(pod), version))
        elif phase == "Unknown":
            out.append(JobEvent("Unknown", task, pod["metadata"]["name"], None, version))
        elif phase == "Pending" and pending:
            late.append(JobEvent("PodPending", task, pod["metadata"]["name"], None, version))
    for t in tasks:
        if t.replicas <= 0:
            continue
        phases = [_phase(p) for p in by_task.get(t.name, [])]
        if phases.count("Failed") > t.replicas - t.min_available:
            out.append(JobEvent("TaskFailed", t.name, "", None, version))
        if phases.count("Succeeded") >= t.replicas:
            out.append(JobEvent("TaskCompleted", t.name, "", None, version))
    return out + late


def pod_ready(pod: Obj) -> bool:
    """Succeeded, or Running with every container status ready (upstream ``isDependsOnPodsReady``)."""
    phase = _phase(pod)
    if phase == "Succeeded":
        return True
    if phase != "Running":
        return False
    return all(bool(cs.get("ready")) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def task_ready(job_name: str, task: Task, pod_of: Callable[[str], Obj | None]) -> bool:
    """At least ``minAvailable`` of the task's pods ``<job>-<task>-<i>`` are :func:`pod_ready`."""
    ready = 0
    for i in range(task.replicas):
        pod = pod_of(f"{job_name}-{task.name}-{i}")
        if pod is not None and pod_ready(pod):
            ready += 1
    return ready >= task.min_available


def dependencies_met(job_name: str, tasks: list[Task], task: Task, pod_of: Callable[[str], Obj | None]) -> bool:
    """Whether ``task`` may create its pods: it has no ``dependsOn``, or — with more than one
    name and ``iteration: any`` — one named task is ready, else every named task is ready
    (:func:`task_ready`; a name that is no task of the job is never ready)."""
    if not task.depends_on:
        return True
    by_name = {t.name: t for t in tasks}

    def ready(name: str) -> bool:
        dep = by_name.get(name)
        return dep is not None and task_ready(job_name, dep, pod_of)

    if len(task.depends_on) > 1 and task.iteration == "any":
        return any(ready(n) for n in task.depends_on)
    return all(ready(n) for n in task.depends_on)


def delay_persists(ev: JobEvent, pods: list[Obj]) -> bool:
    """Whether a delayed action's cause persists (upstream ``CleanPodDelayActionsIfNeed``): a
    pod event is cancelled once that pod runs again, ``PodPending`` once the pod is no longer
    Pending (or gone); task events persist until an action of their scope runs."""
    if not ev.pod:
        return True
    pod = next((p for p in pods if p["metadata"]["name"] == ev.pod), None)
    if ev.event == "PodPending":
        return pod is not None and _phase(pod) == "Pending" and not pod["metadata"].get("deletionTimestamp")
    return pod is None or _phase(pod) != "Running"


def podgroup_pending_message(job: Obj, pg: Obj) -> str | None:
    """Upstream ``recordPodGroupEvent``: the message of the job's ``PodGroupPending`` Warning —
    the PodGroup's latest true condition, unless that is ``Scheduled`` — or ``None``."""
    latest: Obj | None = None
    for cond in (pg.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        when = str(cond.get("lastTransitionTime") or "")
        if latest is None or when > str(latest.get("lastTransitionTime") or ""):
            latest = cond
    if latest is None or latest.get("type") == "Scheduled":
        return None
    m = job["metadata"]
    kind = str(latest.get("type") or "").lower()
    return f"PodGroup {m['namespace']}:{m['name']} {kind}, reason: {latest.get('message') or ''}"


# -- one reconcile pass -----------------------------------------------------------------------


@dataclass
class _Pass:
    job: Obj
    tasks: list[Task]
    pods: list[Obj]
    status: Obj
    phase: str
    now: str
    deleted: set[str] = field(default_factory=set)
    created: list[Obj] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    task_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def spec(self) -> Obj:
        spec: Obj = self.job.get("spec") or {}
        return spec

    @property
    def min_available(self) -> int:
        return _min_available(self.spec, self.tasks)

    @property
    def max_retry(self) -> int:
        v = self.spec.get("maxRetry")
        return DEFAULT_MAX_RETRY if v is None else int(v)

    @property
    def retry(self) -> int:
        return int(self.status.get("retryCount") or 0)

    @property
    def version(self) -> int:
        return int(self.status.get("version") or 0)

    def set_phase(self, phase: str, reason: str = "", message: str = "") -> None:
        state = self.status.setdefault("state", {})
        if state.get("phase") == phase:
            return
        self.phase = phase
        state.clear()
        state["phase"] = phase
        if reason:
            state["reason"] = reason
        if message:
            state["message"] = message
        state["lastTransitionTime"] = self.now
        conds = list(self.status.get("conditions") or [])
        conds.append({"status": phase, "lastTransitionTime": self.now})
        self.status["conditions"] = conds

    def count(self) -> None:
        counts = dict.fromkeys(("pending", "running", "succeeded", "failed", "terminating", "unknown"), 0)
        tasks: dict[str, dict[str, int]] = {}
        for pod in [*self.pods, *self.created]:
            if pod["metadata"]["uid"] in self.deleted or pod["metadata"].get("deletionTimestamp"):
                counts["terminating"] += 1
                continue
            phase = _phase(pod)
            counts[phase.lower() if phase.lower() in counts else "unknown"] += 1
            per = tasks.setdefault(_task(pod), {})
            per[phase] = per.get(phase, 0) + 1
        self.counts = counts
        self.task_counts = tasks

    @property
    def alive(self) -> int:
        return self.counts["pending"] + self.counts["running"] + self.counts["terminating"]


#: Job plugins implemented here (``spec.plugins`` names), built from their arguments.
PLUGIN_BUILDERS: dict[str, PluginBuilder] = {"env": EnvPlugin.build, "svc": SvcPlugin.build, "ssh": SshPlugin.build}


def build_plugins(spec: Obj) -> list[JobPlugin]:
    """The job's implemented plugins, in ``spec.plugins`` order (others are ignored: admission warned)."""
    out: list[JobPlugin] = []
    for name, args in (spec.get("plugins") or {}).items():
        builder = PLUGIN_BUILDERS.get(str(name))
        if builder is not None:
            out.append(builder([str(a) for a in args or []]))
    return out


@dataclass
class _Delayed:
    """A policy action waiting for its ``timeout`` (upstream's delayed actions)."""

    action: str
    event: JobEvent
    due: float


def _action_scope(action: str) -> str:
    return {"RestartTask": "task", "RestartPod": "pod"}.get(action, "job")


class VolcanoJobController(QueueController):
    """Reconciles every Volcano Job; construct with a Client and call ``run()``/``stop()``.

    ``wait_for_enqueue`` (default, as Volcano): create pods only once the PodGroup's phase is
    set and not ``Pending`` (the scheduler's ``enqueue`` action moves it to ``Inqueue``).
    Events are recorded as ``vc-controller-manager`` (:data:`COMPONENT`).
    """

    name = "volcano-job-controller"

    def __init__(
        self, client: Client, *, clock: Clock | None = None, workers: int = 2, wait_for_enqueue: bool = True,
        factory: SharedInformerFactory | None = None,
    ) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.wait_for_enqueue = wait_for_enqueue
        self.recorder = EventRecorder(client, COMPONENT, clock=self.clock)
        self.job_informer = self.watch(VCJOBS)
        self.pod_informer = self.watch(PODS, indexers={_JOB_INDEX: _job_uid_index})
        self.pg_informer = self.watch(PODGROUPS)
        self.cmd_informer = self.watch(COMMANDS)
        self._events: dict[str, list[JobEvent]] = {}
        self._commands: dict[str, list[Obj]] = {}
        self._delayed: dict[str, dict[tuple[str, str, str], _Delayed]] = {}
        self._deleting: set[str] = set()
        self._deleted_pgs: set[str] = set()
        self._written: dict[str, int] = {}
        self._plugin_data: dict[tuple[str, str, str], Obj] = {}
        self._pg_warned: dict[str, str] = {}
        self.job_informer.add_handler(self._job_changed, lambda _o, n: self._job_changed(n), self._job_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.pg_informer.add_handler(self._pg_changed, lambda _o, n: self._pg_changed(n), self._pg_deleted)
        self.cmd_informer.add_handler(self._command_added, lambda _o, _n: None, lambda _o: None)

    # -- event handlers ------------------------------------------------------------------------

    def _job_changed(self, job: Obj) -> None:
        self.queue.add(object_key(job))

    def _forget(self, key: str) -> None:
        self._events.pop(key, None)
        self._written.pop(key, None)
        self._delayed.pop(key, None)
        self._commands.pop(key, None)
        self._pg_warned.pop(key, None)
        for k in [k for k in self._plugin_data if k[0] == key]:
            del self._plugin_data[k]

    def _job_deleted(self, job: Obj) -> None:
        key = object_key(job)
        self._forget(key)
        self.queue.add(key)

    @staticmethod
    def _job_key(obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or not _job_uid_index(obj):
            return None
        return f"{obj['metadata']['namespace']}/{ref.get('name')}"

    def _pod_added(self, pod: Obj) -> None:
        key = self._job_key(pod)
        if key is not None:
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = self._job_key(new)
        if key is None:
            return
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self._record_eviction(key, new)
        self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._job_key(pod)
        uid = pod["metadata"].get("uid", "")
        if key is not None:
            if not pod["metadata"].get("deletionTimestamp"):
                self._record_eviction(key, pod)
            self.queue.add(key)
        self._deleting.discard(uid)

    def _record_eviction(self, key: str, pod: Obj) -> None:
        if pod["metadata"].get("uid") in self._deleting:
            return
        job = self.job_informer.get_by_key(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        ev = JobEvent("PodEvicted", _task(pod), pod["metadata"]["name"], None, _version(pod))
        self._events.setdefault(key, []).append(ev)

    def _pg_changed(self, pg: Obj) -> None:
        key = self._job_key(pg)
        if key is not None:
            self.queue.add(key)

    def _pg_deleted(self, pg: Obj) -> None:
        self._deleted_pgs.discard(pg["metadata"].get("uid", ""))
        self._pg_changed(pg)

    def _command_added(self, cmd: Obj) -> None:
        """Commands whose ``target`` is a ``batch.volcano.sh/v1alpha1`` Job (upstream's filter)."""
        target = cmd.get("target") or {}
        if target.get("apiVersion") != "batch.volcano.sh/v1alpha1" or target.get("kind") != "Job":
            return
        key = f"{cmd['metadata']['namespace']}/{target.get('name')}"
        self._commands.setdefault(key, []).append(cmd)
        self.queue.add(key)

    # -- reconcile -----------------------------------------------------------------------------

    async def _take_command(self, key: str, job: Obj) -> str | None:
        """Delete the oldest pending Command for the job and return its action (``None`` if none
        is pending or another controller deleted it first). Records ``CommandIssued``."""
        while self._commands.get(key):
            cmd = self._commands[key].pop(0)
            m = cmd["metadata"]
            try:
                await self.client.delete(COMMANDS, m["name"], m["namespace"], preconditions={"uid": m["uid"]})
            except ApiError as err:
                if err.code in (404, 409):
                    continue
                self._commands[key].insert(0, cmd)
                raise
            action = str(cmd.get("action") or "")
            await self.recorder.record(
                job, "Normal", "CommandIssued",
                f"Start to execute command {action}, and clean it up to make sure executed not more than once.",
            )
            return action
        return None

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.job_informer.get(ns, name)
        if cached is None:
            self._forget(key)
            return
        if cached["metadata"].get("deletionTimestamp"):
            return
        written = self._written.get(key)
        if written is not None and int(cached["metadata"].get("resourceVersion") or 0) < written:
            return  # our last status write is not in the cache yet; its event re-queues the key
        job = deep_copy(cached)
        now = self.clock.now()
        old_status = job.get("status") or {}
        run = _Pass(
            job=job,
            tasks=tasks_of(job.get("spec") or {}),
            pods=list(self.pod_informer.by_index(_JOB_INDEX, job["metadata"]["uid"])),
            status=deep_copy(old_status),
            phase=str((old_status.get("state") or {}).get("phase") or ""),
            now=rfc3339(now),
        )
        if not run.phase:
            run.status.setdefault("version", 0)
            run.status.setdefault("retryCount", 0)
            run.set_phase("Pending")
        command = await self._take_command(key, job)
        if command is not None:
            action, target = command, JobEvent("CommandIssued", version=run.version)
        else:
            action, target = await self._policy_decision(key, run, now)
        if action != "SyncJob":
            await self.recorder.record(job, "Normal", "ExecuteAction", f"Start to execute action {action} ")
        await self._execute(run, action, target)
        await self._write_status(key, run, old_status)
        if run.phase in FINISHED:
            await self._ttl(run, now)

    async def _policy_decision(self, key: str, run: _Pass, now: float) -> tuple[str, JobEvent]:
        """The action this pass executes and the event behind it: the first recorded or derived
        event with a matching policy; one with a ``timeout`` waits (re-queued) until it is due
        and is cancelled when its cause is gone (:func:`delay_persists`)."""
        recorded = [e for e in self._events.pop(key, []) if e.version >= run.version]
        recorded += [
            JobEvent("PodEvicted", _task(p), p["metadata"]["name"], None, run.version)
            for p in run.pods
            if p["metadata"].get("deletionTimestamp")
            and p["metadata"]["uid"] not in self._deleting
            and _version(p) == run.version
            and not any(e.pod == p["metadata"]["name"] for e in recorded)
        ]
        observed = [p for p in run.pods if p["metadata"]["uid"] not in self._deleting]
        derived = derive_events(run.tasks, observed, run.version, pending=_has_timeouts(run.spec))
        delayed = self._delayed.setdefault(key, {})
        for k, d in list(delayed.items()):
            if d.event.version < run.version or not delay_persists(d.event, observed):
                del delayed[k]
        for ev in [*recorded, *derived]:
            found = policy_match(run.spec, ev)
            if found is None:
                continue
            action, timeout = found
            if timeout is None:
                return action, ev
            slot = (ev.event, ev.task, ev.pod)
            entry = delayed.get(slot)
            if entry is None or entry.action != action:
                entry = delayed[slot] = _Delayed(action, ev, now + timeout)
                await self.recorder.record(
                    run.job, "Normal", "ExecuteAction", f"Execute action {action} after {format_duration(timeout)}"
                )
            if now < entry.due:
                self.queue.add_after(key, entry.due - now)
                continue
            del delayed[slot]
            return action, ev
        for slot, entry in list(delayed.items()):  # recorded events are seen once; their timers live on
            if now >= entry.due:
                del delayed[slot]
                return entry.action, entry.event
        return "SyncJob", JobEvent("")

    def _clear_delayed(self, key: str, action: str, target: JobEvent) -> None:
        """After an action ran, drop the delayed actions of the same scope (upstream ``cleanupDelayActions``)."""
        delayed = self._delayed.get(key)
        if not delayed:
            return
        scope = _action_scope(action)
        for slot, d in list(delayed.items()):
            if _action_scope(d.action) != scope:
                continue
            if scope == "task" and d.event.task != target.task:
                continue
            if scope == "pod" and d.event.pod != target.pod:
                continue
            del delayed[slot]

    async def _execute(self, run: _Pass, action: str, target: JobEvent) -> None:
        key = object_key(run.job)
        if action != "SyncJob":
            self._clear_delayed(key, action, target)
        phase = run.phase
        if phase in ("Pending", "Running"):
            if action == "RestartJob":
                await self._kill(run, retain_finished=False)
                run.status["retryCount"] = run.retry + 1
                run.status["version"] = run.version + 1
                run.set_phase("Restarting", "RestartJob", _describe(target))
            elif action in ("AbortJob", "CompleteJob", "TerminateJob"):
                await self._kill(run, retain_finished=True)
                nxt = {"AbortJob": "Aborting", "CompleteJob": "Completing", "TerminateJob": "Terminating"}[action]
                run.set_phase(nxt, action, _describe(target))
            elif action in ("RestartTask", "RestartPod"):
                victims = [
                    p
                    for p in run.pods
                    if not p["metadata"].get("deletionTimestamp")
                    and (p["metadata"]["name"] == target.pod if action == "RestartPod" else _task(p) == target.task)
                ]
                await self._delete_pods(run, victims)
                await self._sync(run)
            else:
                await self._sync(run)
        elif phase == "Restarting":
            await self._kill(run, retain_finished=False)
            total = sum(t.replicas for t in run.tasks)
            if run.retry >= run.max_retry:
                run.set_phase("Failed", "MaxRetryExceeded", f"restarted {run.retry} times (maxRetry {run.max_retry})")
            elif total - run.counts["terminating"] >= run.min_available:
                run.set_phase("Pending")
        elif phase in ("Aborting", "Aborted") and action == "ResumeJob":
            await self._kill(run, retain_finished=True)
            run.status["retryCount"] = run.retry + 1
            run.status["version"] = run.version + 1
            run.set_phase("Restarting", "ResumeJob")
        elif phase in ("Aborting", "Completing", "Terminating"):
            await self._kill(run, retain_finished=True)
            if run.alive == 0:
                prior = run.status.get("state") or {}
                run.set_phase(
                    {"Aborting": "Aborted", "Completing": "Completed", "Terminating": "Terminated"}[phase],
                    str(prior.get("reason") or ""),
                    str(prior.get("message") or ""),
                )
        else:
            await self._kill(run, retain_finished=True)

    # -- killing -------------------------------------------------------------------------------

    async def _kill(self, run: _Pass, *, retain_finished: bool) -> None:
        """Delete the job's pods (keeping Succeeded/Failed ones when asked, or on the last retry),
        the plugins' objects and the PodGroup, then count."""
        keep = retain_finished or run.retry >= run.max_retry - 1
        victims = [
            p
            for p in run.pods
            if not p["metadata"].get("deletionTimestamp") and not (keep and _phase(p) in ("Succeeded", "Failed"))
        ]
        await self._delete_pods(run, victims)
        await self._plugins_delete(run)
        pg = self.pg_informer.get(run.job["metadata"]["namespace"], podgroup_name(run.job))
        if pg is not None and pg["metadata"]["uid"] not in self._deleted_pgs:
            m = pg["metadata"]
            self._deleted_pgs.add(m["uid"])
            try:
                await self.client.delete(PODGROUPS, m["name"], m["namespace"], preconditions={"uid": m["uid"]})
            except ApiError as err:
                if err.code not in (404, 409):
                    self._deleted_pgs.discard(m["uid"])
                    raise
        run.count()

    async def _delete_pods(self, run: _Pass, pods: list[Obj]) -> None:
        errors: list[str] = []

        async def one(p: Obj) -> None:
            m = p["metadata"]
            if m["uid"] in self._deleting:  # already asked for; the cache has not caught up yet
                run.deleted.add(m["uid"])
                return
            self._deleting.add(m["uid"])
            try:
                await self.client.delete(PODS, m["name"], m["namespace"], preconditions={"uid": m["uid"]})
            except ApiError as err:
                if err.code not in (404, 409):
                    self._deleting.discard(m["uid"])
                    errors.append(f"{m['name']}: {err}")
                    raise
            run.deleted.add(m["uid"])

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        if errors:
            message = f"Error deleting pods: [{', '.join(errors)}]"
            await self.recorder.record(run.job, "Warning", "FailedDelete", message)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    # -- plugins -------------------------------------------------------------------------------

    async def _plugins_sync(self, run: _Pass) -> None:
        """Upstream ``pluginOnJobAdd`` (not yet initiated: phase Pending) or ``pluginOnJobUpdate``."""
        plugins = build_plugins(run.spec)
        if not plugins:
            return
        controlled: dict[str, str] = dict(run.status.get("controlledResources") or {})
        initiated = run.phase not in ("", "Pending")
        try:
            for plugin in plugins:
                if plugin.error:
                    log.warning("job %s: plugin %s: %s", object_key(run.job), plugin.name, plugin.error)
                if initiated:
                    await self._ensure_owned(run, plugin.on_job_update(run.job))
                elif controlled.get(controlled_key(plugin.name)) != plugin.name:
                    # off the event loop: the ssh plugin generates an RSA key (tens of ms)
                    await self._ensure_owned(run, await asyncio.to_thread(plugin.on_job_add, run.job))
                    controlled[controlled_key(plugin.name)] = plugin.name
        except ApiError as err:
            await self.recorder.record(
                run.job, "Warning", "PluginError", f"Execute plugin when job add failed, err: {err}"
            )
            raise
        finally:
            if controlled:
                run.status["controlledResources"] = controlled

    async def _plugins_delete(self, run: _Pass) -> None:
        """Upstream ``pluginOnJobDelete``: delete each plugin's objects once per initiation."""
        controlled: dict[str, str] = dict(run.status.get("controlledResources") or {})
        key = object_key(run.job)
        for plugin in build_plugins(run.spec):
            if controlled.get(controlled_key(plugin.name)) != plugin.name:
                continue
            for gvr, name in plugin.on_job_delete(run.job):
                self._plugin_data.pop((key, gvr.resource, name), None)
                try:
                    await self.client.delete(gvr, name, run.job["metadata"]["namespace"])
                except ApiError as err:
                    if err.code != 404:
                        raise
            del controlled[controlled_key(plugin.name)]
            run.status["controlledResources"] = controlled

    async def _ensure_owned(self, run: _Pass, objects: list[Owned]) -> None:
        """Create each object; an existing one is left alone, or updated when ``replace`` and its
        ``data`` differs. What was last written is remembered, so unchanged data costs no request
        (an object deleted behind the controller's back comes back at the job's next initiation)."""
        key = object_key(run.job)
        ns = run.job["metadata"]["namespace"]
        for owned in objects:
            name = str(owned.obj["metadata"]["name"])
            slot = (key, owned.gvr.resource, name)
            data = owned.obj.get("data") or {}
            if self._plugin_data.get(slot) == data:
                continue
            try:
                await self.client.create(owned.gvr, deep_copy(owned.obj), ns)
            except ApiError as err:
                if err.code != 409:
                    raise
                if owned.replace:
                    current = await self.client.get(owned.gvr, name, ns)
                    if (current.get("data") or {}) != data:
                        await self.client.patch(owned.gvr, name, {"data": data}, ns)
            self._plugin_data[slot] = data

    # -- syncing (Pending / Running) -----------------------------------------------------------

    async def _sync(self, run: _Pass) -> None:
        await self._plugins_sync(run)
        pg = await self._ensure_podgroup(run)
        pg_phase = str(((pg or {}).get("status") or {}).get("phase") or "")
        if pg is not None:
            await self._podgroup_pending_event(run, pg)
        if pg is not None and (not self.wait_for_enqueue or pg_phase not in ("", "Pending")):
            await self._manage_pods(run)
        run.count()
        c = run.counts
        if run.phase == "Pending":
            if run.min_available <= c["running"] + c["succeeded"] + c["failed"]:
                run.set_phase("Running")
        elif run.phase == "Running":
            self._check_finished(run)

    async def _podgroup_pending_event(self, run: _Pass, pg: Obj) -> None:
        """Record :func:`podgroup_pending_message` once per distinct message (upstream records it on
        every sync and lets the broadcaster's spam filter drop repeats; every sync here would be
        an API write)."""
        key = object_key(run.job)
        message = podgroup_pending_message(run.job, pg)
        if message is None:
            self._pg_warned.pop(key, None)
        elif self._pg_warned.get(key) != message:
            self._pg_warned[key] = message
            await self.recorder.record(run.job, "Warning", "PodGroupPending", message)

    def _check_finished(self, run: _Pass) -> None:
        c = run.counts
        total = sum(t.replicas for t in run.tasks)
        if total == 0:
            return
        min_success = run.spec.get("minSuccess")
        if min_success is not None and c["succeeded"] >= int(min_success):
            run.set_phase("Completed", "MinSuccessReached")
            return
        if c["succeeded"] + c["failed"] != total:
            return
        if run.min_available >= sum(t.min_available for t in run.tasks):
            for t in run.tasks:
                if run.task_counts.get(t.name, {}).get("Succeeded", 0) < t.min_available:
                    run.set_phase(
                        "Failed", "TaskFailed", f"task {t.name} has fewer than {t.min_available} succeeded pods"
                    )
                    return
        if min_success is not None and c["succeeded"] < int(min_success):
            run.set_phase("Failed", "MinSuccessNotReached")
        elif c["succeeded"] >= run.min_available:
            run.set_phase("Completed")
        else:
            run.set_phase("Failed", "MinAvailableNotReached")

    async def _ensure_podgroup(self, run: _Pass) -> Obj | None:
        """The job's PodGroup as cached (``None`` while it is being created or replaced)."""
        job = run.job
        ns = job["metadata"]["namespace"]
        spec = run.spec
        want: Obj = {
            "minMember": run.min_available,
            "minTaskMember": {t.name: t.min_available for t in run.tasks},
            "queue": spec.get("queue") or DEFAULT_QUEUE,
            "minResources": format_resources(min_resources(run.tasks, run.min_available)),
        }
        if spec.get("priorityClassName"):
            want["priorityClassName"] = spec["priorityClassName"]
        pg = self.pg_informer.get(ns, podgroup_name(job))
        if pg is not None and (pg["metadata"]["uid"] in self._deleted_pgs or pg["metadata"].get("deletionTimestamp")):
            return None  # the old group is going away; its deletion event re-queues the job
        if pg is None:
            body: Obj = {
                "apiVersion": "scheduling.volcano.sh/v1beta1",
                "kind": "PodGroup",
                "metadata": {
                    "name": podgroup_name(job),
                    "namespace": ns,
                    "ownerReferences": [owner_reference(job)],
                    # the job's own annotations and labels, as upstream (the scheduler reads e.g.
                    # volcano.sh/preemptable from the PodGroup)
                    "annotations": {**(job["metadata"].get("annotations") or {}),
                                    JOB_NAME_KEY: job["metadata"]["name"]},
                    "labels": {**(job["metadata"].get("labels") or {}),
                               JOB_NAME_KEY: job["metadata"]["name"], JOB_NAMESPACE_KEY: ns},
                },
                "spec": want,
            }
            try:
                await self.client.create(PODGROUPS, body, ns)
            except ApiError as err:
                if err.code != 409:
                    raise
            return None
        have = pg.get("spec") or {}
        diff = {k: v for k, v in want.items() if have.get(k) != v}
        if diff:
            pg = await self.client.patch(PODGROUPS, pg["metadata"]["name"], {"spec": diff}, ns)
        return pg

    async def _manage_pods(self, run: _Pass) -> None:
        job = run.job
        ns = job["metadata"]["namespace"]
        replicas = {t.name: t.replicas for t in run.tasks}
        surplus = [
            p
            for p in run.pods
            if not p["metadata"].get("deletionTimestamp")
            and (_task(p) not in replicas or (_index(p) or 0) >= replicas[_task(p)])
        ]
        await self._delete_pods(run, surplus)
        name = str(job["metadata"]["name"])

        def pod_of(pod_name: str) -> Obj | None:
            return self.pod_informer.get(ns, pod_name)

        missing: list[tuple[Task, int]] = [
            (t, i)
            for t in run.tasks
            for i in range(t.replicas)
            if pod_of(f"{name}-{t.name}-{i}") is None
        ]
        blocked = {
            t.name for t in run.tasks
            if any(m[0] is t for m in missing) and not dependencies_met(name, run.tasks, t, pod_of)
        }
        plugins = build_plugins(run.spec)
        errors: list[str] = []

        async def create(t: Task, i: int) -> None:
            try:
                pod = self.pod_for(job, t, i, run.version, plugins, retry=run.retry)
                run.created.append(await self.client.create(PODS, pod, ns))
            except ApiError as err:
                if err.code != 409:
                    errors.append(f"failed to create pod {name}-{t.name}-{i}, err: {err}")
                    raise

        results = await asyncio.gather(
            *(create(t, i) for t, i in missing if t.name not in blocked), return_exceptions=True
        )
        if errors:
            await self.recorder.record(job, "Warning", "FailedCreate", f"Error creating pods: [{', '.join(errors)}]")
        for r in results:
            if isinstance(r, BaseException):
                raise r

    @staticmethod
    def pod_for(
        job: Obj, task: Task, index: int, version: int, plugins: list[JobPlugin] | None = None, *, retry: int = 0
    ) -> Obj:
        """The pod (not yet created) for ``task``'s replica ``index`` of ``job`` at ``version``,
        after every plugin's ``on_pod_create`` (``plugins`` default: :func:`build_plugins`).

        As upstream ``createJobPod``, it also carries ``volcano.sh/job-retry-count``, the task's
        ``topologyPolicy`` as ``volcano.sh/numa-topology-policy``, and the job's own
        :data:`JOB_TO_POD_ANNOTATIONS` annotations and :data:`JOB_TO_POD_LABELS` labels."""
        m = job["metadata"]
        spec = job.get("spec") or {}
        tmeta = task.template.get("metadata") or {}
        queue = str(spec.get("queue") or DEFAULT_QUEUE)
        name = f"{m['name']}-{task.name}-{index}"
        labels = {
            **(tmeta.get("labels") or {}),
            JOB_NAME_KEY: m["name"],
            JOB_NAMESPACE_KEY: m["namespace"],
            QUEUE_NAME_KEY: queue,
            TASK_SPEC_KEY: task.name,
            TASK_INDEX_KEY: str(index),
        }
        annotations = {
            **(tmeta.get("annotations") or {}),
            GROUP_NAME_ANNOTATION: podgroup_name(job),
            JOB_NAME_KEY: m["name"],
            QUEUE_NAME_KEY: queue,
            TASK_SPEC_KEY: task.name,
            TASK_INDEX_KEY: str(index),
            JOB_VERSION_KEY: str(version),
            POD_TEMPLATE_KEY: f"{m['name']}-{task.name}",
            JOB_RETRY_COUNT_KEY: str(retry),
        }
        if task.topology_policy:
            annotations[NUMA_POLICY_KEY] = task.topology_policy
        job_annotations = m.get("annotations") or {}
        for key in JOB_TO_POD_ANNOTATIONS:
            if key in job_annotations:
                annotations[key] = job_annotations[key]
        for key in _JDB_KEYS:  # the first one present only
            if key in job_annotations:
                annotations[key] = job_annotations[key]
                break
        job_labels = m.get("labels") or {}
        for key in JOB_TO_POD_LABELS:
            if key in job_labels:
                labels[key] = job_labels[key]
        pod_spec: Obj = deep_copy(task.template.get("spec") or {})
        if not pod_spec.get("schedulerName"):
            pod_spec["schedulerName"] = spec.get("schedulerName") or DEFAULT_SCHEDULER
        if not pod_spec.get("priorityClassName") and spec.get("priorityClassName"):
            pod_spec["priorityClassName"] = spec["priorityClassName"]
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": m["namespace"],
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner_reference(job)],
            },
            "spec": pod_spec,
        }
        for plugin in build_plugins(spec) if plugins is None else plugins:
            plugin.on_pod_create(pod, job)
        return pod

    # -- status and TTL ------------------------------------------------------------------------

    async def _write_status(self, key: str, run: _Pass, old: Obj) -> None:
        if not run.counts:
            run.count()
        status = run.status
        status["minAvailable"] = run.min_available
        status.update(run.counts)
        status["taskStatusCount"] = {t: {"phase": dict(sorted(p.items()))} for t, p in sorted(run.task_counts.items())}
        status.setdefault("version", 0)
        status.setdefault("retryCount", 0)
        if status == old:
            return
        job = run.job
        job["status"] = status
        out = await self.client.update(VCJOBS, job, job["metadata"]["namespace"], subresource="status")
        self._written[key] = int(out["metadata"].get("resourceVersion") or 0)

    async def _ttl(self, run: _Pass, now: float) -> None:
        ttl = run.spec.get("ttlSecondsAfterFinished")
        since = timestamp((run.status.get("state") or {}).get("lastTransitionTime"))
        if ttl is None or since is None:
            return
        due = since + int(ttl)
        m = run.job["metadata"]
        if now < due:
            self.queue.add_after(object_key(run.job), due - now)
            return
        try:
            await self.client.delete(
                VCJOBS, m["name"], m["namespace"], propagation_policy="Background", preconditions={"uid": m["uid"]}
            )
        except ApiError as err:
            if err.code not in (404, 409):
                raise


def _job_uid_index(pod: Obj) -> list[str]:
    ref = controller_of(pod)
    if ref is None or ref.get("kind") != "Job" or not str(ref.get("apiVersion", "")).startswith("batch.volcano.sh/"):
        return []
    return [str(ref.get("uid"))]
