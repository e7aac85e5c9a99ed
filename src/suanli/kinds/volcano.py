"""Volcano's API kinds as CRDs, the shared names (labels, annotations, events, actions, phases)
and the default Queue.

Served kinds (all but Command with a ``status`` subresource):

* ``scheduling.volcano.sh/v1beta1`` **Queue** (cluster-scoped; short names ``q``,
  ``queue-v1beta1``) and **PodGroup** (namespaced; ``pg``, ``podgroup-v1beta1``);
* ``batch.volcano.sh/v1alpha1`` **Job** (namespaced; ``vcjob``, ``vj``);
* ``bus.volcano.sh/v1alpha1`` **Command** (namespaced, no ``status``): ``action``, ``target``
  (an ownerReference to the object acted on, e.g. a Job), ``reason``, ``message`` — what
  ``vcctl job suspend/resume`` create; the Job controller executes and deletes it.

Schemas follow upstream's field layout. Resource quantities are int-or-string, pod templates
and every ``spec``/``status`` keep unknown fields (``x-kubernetes-preserve-unknown-fields``)
so manifests written for newer Volcano releases are accepted unchanged. Defaults
(queue ``default``, ``maxRetry: 3``, …) are applied by admission
(:mod:`suanli.apiserver.admission_volcano`), as Volcano's webhooks do, not by the schema.

Names the scheduler and controllers agree on:

* pod annotation :data:`GROUP_NAME_ANNOTATION` (``scheduling.k8s.io/group-name``) names the
  pod's PodGroup in its namespace (:data:`VOLCANO_GROUP_NAME_ANNOTATION` is the legacy
  alias, read second);
* a PodGroup's queue is ``spec.queue``; a pod's queue comes from its PodGroup, else the pod
  annotation :data:`QUEUE_NAME_ANNOTATION` (``scheduling.volcano.sh/queue-name``), else
  :data:`DEFAULT_QUEUE`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from suanli.apimachinery.goflags import FlagKind
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import format_quantity, parse_quantity
from suanli.wire import (
    COMMANDS,
    GROUP_NAME_ANNOTATION,
    JOB_NAME_KEY,
    JOB_NAMESPACE_KEY,
    JOB_VERSION_KEY,
    POD_TEMPLATE_KEY,
    PODGROUPS,
    QUEUE_NAME_ANNOTATION,
    QUEUE_NAME_KEY,
    QUEUES,
    TASK_INDEX_KEY,
    TASK_SPEC_KEY,
    VCJOBS,
    VOLCANO_GROUP_NAME_ANNOTATION,
)

__all__ = [
    "COMMANDS",
    "DEFAULT_MAX_RETRY",
    "DEFAULT_QUEUE",
    "DEFAULT_SCHEDULER",
    "DEFAULT_TASK_PREFIX",
    "GROUP_NAME_ANNOTATION",
    "JOB_ACTIONS",
    "JOB_EVENTS",
    "JOB_NAMESPACE_KEY",
    "JOB_NAME_KEY",
    "JOB_PHASES",
    "JOB_PLUGINS",
    "JOB_PLUGIN_FLAGS",
    "JOB_VERSION_KEY",
    "PODGROUPS",
    "PODGROUP_PHASES",
    "PODGROUP_PREFIX",
    "POD_TEMPLATE_KEY",
    "QUEUES",
    "QUEUE_NAME_ANNOTATION",
    "QUEUE_NAME_KEY",
    "QUEUE_STATES",
    "ROOT_QUEUE",
    "SUPPORTED_JOB_PLUGINS",
    "TASK_INDEX_KEY",
    "TASK_SPEC_KEY",
    "VCJOBS",
    "VOLCANO_GROUP_NAME_ANNOTATION",
    "WORKLOAD_TYPES",
    "WORKLOAD_TYPE_ANNOTATION",
    "add_resources",
    "default_queue",
    "format_resources",
    "pod_requests",
    "root_queue",
    "volcano_crds",
]

#: Prefix of PodGroups the PodGroup controller creates: ``podgroup-<owner uid>``.
PODGROUP_PREFIX = "podgroup-"

#: openFuyao many-core business type (pod annotation) and its valid values.
WORKLOAD_TYPE_ANNOTATION = "business.workload/type"
WORKLOAD_TYPES = ("io-intensive", "memory-sensitive", "compute-intensive")

DEFAULT_QUEUE = "default"
#: The implicit top of the queue hierarchy: a queue without ``spec.parent`` hangs under it.
ROOT_QUEUE = "root"
DEFAULT_SCHEDULER = "volcano"
DEFAULT_MAX_RETRY = 3
#: Unnamed tasks are called ``default<index>``.
DEFAULT_TASK_PREFIX = "default"

#: Lifecycle-policy events accepted in ``policies[].event(s)`` (``*`` = any event).
JOB_EVENTS = (
    "*",
    "PodFailed",
    "PodEvicted",
    "PodPending",
    "PodRunning",
    "Unknown",
    "TaskCompleted",
    "TaskFailed",
    "OutOfSync",
    "CommandIssued",
    "JobUpdated",
)
#: Lifecycle-policy actions accepted in ``policies[].action``.
JOB_ACTIONS = (
    "AbortJob",
    "RestartJob",
    "RestartTask",
    "RestartPod",
    "TerminateJob",
    "CompleteJob",
    "ResumeJob",
    "SyncJob",
    "EnqueueJob",
)
#: Job plugins Volcano registers (``spec.plugins`` keys); any other name is rejected.
JOB_PLUGINS = ("env", "svc", "ssh", "mpi", "pytorch", "tensorflow", "ray", "hcclrank")
#: The job plugins Suanli implements (the others are accepted with a warning and ignored).
SUPPORTED_JOB_PLUGINS = ("env", "svc", "ssh")
#: The Go flags each implemented job plugin takes (its ``spec.plugins`` arguments).
JOB_PLUGIN_FLAGS: dict[str, dict[str, FlagKind]] = {
    "env": {},
    "svc": {"publish-not-ready-addresses": "bool", "disable-network-policy": "bool", "inject-hosts-env": "bool"},
    "ssh": {"ssh-key-file-path": "string", "ssh-private-key": "string", "ssh-public-key": "string", "ssh-port": "int"},
}
JOB_PHASES = (
    "Pending",
    "Aborting",
    "Aborted",
    "Running",
    "Restarting",
    "Completing",
    "Completed",
    "Terminating",
    "Terminated",
    "Failed",
)
PODGROUP_PHASES = ("Pending", "Inqueue", "Running", "Unknown", "Completed")
QUEUE_STATES = ("Open", "Closed", "Closing", "Unknown")

# -- schema building blocks ---------------------------------------------------------------------

_QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _quantity() -> dict[str, Any]:
    return {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": _QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": True,
    }


def _resources() -> dict[str, Any]:
    """A ResourceList: resource name → quantity."""
    return {"type": "object", "additionalProperties": _quantity()}


def _int32(minimum: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "format": "int32"}
    if minimum is not None:
        out["minimum"] = minimum
    return out


def _str() -> dict[str, Any]:
    return {"type": "string"}


def _loose() -> dict[str, Any]:
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}}


def _node_group_terms() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "requiredDuringSchedulingIgnoredDuringExecution": _strings(),
            "preferredDuringSchedulingIgnoredDuringExecution": _strings(),
        },
    }


def _root(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "apiVersion": _str(),
            "kind": _str(),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def _col(name: str, path: str, typ: str = "string", priority: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": typ, "jsonPath": path}
    if priority:
        out["priority"] = priority
    return out


_AGE = _col("AGE", ".metadata.creationTimestamp", "date")


def _crd(
    group: str,
    version: str,
    kind: str,
    plural: str,
    scope: str,
    short: list[str],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
    *,
    status: bool = True,
) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short,
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}} if status else {},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


# -- the kinds ----------------------------------------------------------------------------------


def _queue_crd() -> Obj:
    spec = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "weight": _int32(),
            "capability": _resources(),
            "deserved": _resources(),
            "guarantee": {"type": "object", "properties": {"resource": _resources()}},
            "reclaimable": {"type": "boolean"},
            "parent": _str(),
            "type": _str(),
            "priority": _int32(),
            "affinity": {
                "type": "object",
                "properties": {
                    "nodeGroupAffinity": _node_group_terms(),
                    "nodeGroupAntiAffinity": _node_group_terms(),
                },
            },
            "extendClusters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": _str(), "weight": _int32(), "capacity": _resources()},
                },
            },
        },
    }
    status = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "state": _str(),
            "unknown": _int32(),
            "pending": _int32(),
            "running": _int32(),
            "inqueue": _int32(),
            "completed": _int32(),
            "allocated": _resources(),
            "reservation": {
                "type": "object",
                "properties": {"nodes": _strings(), "resource": _resources()},
            },
        },
    }
    columns = [
        _col("WEIGHT", ".spec.weight", "integer"),
        _col("RECLAIMABLE", ".spec.reclaimable", "boolean"),
        _col("STATE", ".status.state"),
        _col("INQUEUE", ".status.inqueue", "integer"),
        _col("PENDING", ".status.pending", "integer"),
        _col("RUNNING", ".status.running", "integer"),
        _col("PARENT", ".spec.parent", priority=1),
        _AGE,
    ]
    return _crd(
        "scheduling.volcano.sh",
        "v1beta1",
        "Queue",
        "queues",
        "Cluster",
        ["q", "queue-v1beta1"],
        _root(spec, status),
        columns,
    )


def _podgroup_crd() -> Obj:
    spec = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "minMember": _int32(),
            "minTaskMember": {"type": "object", "additionalProperties": _int32()},
            "queue": _str(),
            "priorityClassName": _str(),
            "minResources": _resources(),
            "networkTopology": _loose(),
        },
    }
    status = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "phase": _str(),
            "conditions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "type": _str(),
                        "status": _str(),
                        "transitionID": _str(),
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                        "reason": _str(),
                        "message": _str(),
                    },
                },
            },
            "running": _int32(),
            "succeeded": _int32(),
            "failed": _int32(),
        },
    }
    columns = [
        _col("STATUS", ".status.phase"),
        _col("minMember", ".spec.minMember", "integer"),
        _col("RUNNINGS", ".status.running", "integer"),
        _AGE,
        _col("QUEUE", ".spec.queue", priority=1),
    ]
    return _crd(
        "scheduling.volcano.sh",
        "v1beta1",
        "PodGroup",
        "podgroups",
        "Namespaced",
        ["pg", "podgroup-v1beta1"],
        _root(spec, status),
        columns,
    )


def _policy() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "event": _str(),
            "events": _strings(),
            "action": _str(),
            "exitCode": _int32(),
            "timeout": _str(),
        },
    }


def _job_crd() -> Obj:
    task = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "name": _str(),
            "replicas": _int32(),
            "minAvailable": _int32(),
            "maxRetry": _int32(),
            "template": _loose(),
            "policies": {"type": "array", "items": _policy()},
            "topologyPolicy": _str(),
            "dependsOn": _loose(),
        },
    }
    spec = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "schedulerName": _str(),
            "minAvailable": _int32(),
            "minSuccess": _int32(),
            "queue": _str(),
            "priorityClassName": _str(),
            "maxRetry": _int32(),
            "ttlSecondsAfterFinished": _int32(),
            "policies": {"type": "array", "items": _policy()},
            "tasks": {"type": "array", "items": task},
            "plugins": {"type": "object", "additionalProperties": _strings()},
            "volumes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"mountPath": _str(), "volumeClaimName": _str(), "volumeClaim": _loose()},
                },
            },
            "runningEstimate": _str(),
            "networkTopology": _loose(),
        },
    }
    counts = {k: _int32() for k in ("pending", "running", "succeeded", "failed", "terminating", "unknown")}
    status = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            "state": {
                "type": "object",
                "properties": {
                    "phase": _str(),
                    "reason": _str(),
                    "message": _str(),
                    "lastTransitionTime": {"type": "string", "format": "date-time"},
                },
            },
            "minAvailable": _int32(),
            **counts,
            "version": _int32(),
            "retryCount": _int32(),
            "runningDuration": _str(),
            "controlledResources": {"type": "object", "additionalProperties": _str()},
            "taskStatusCount": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"phase": {"type": "object", "additionalProperties": _int32()}},
                },
            },
            "conditions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "status": _str(),
                        "lastTransitionTime": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
    columns = [
        _col("STATUS", ".status.state.phase"),
        _col("minAvailable", ".status.minAvailable", "integer"),
        _col("RUNNINGS", ".status.running", "integer"),
        _AGE,
        _col("QUEUE", ".spec.queue", priority=1),
    ]
    return _crd(
        "batch.volcano.sh",
        "v1alpha1",
        "Job",
        "jobs",
        "Namespaced",
        ["vcjob", "vj"],
        _root(spec, status),
        columns,
    )


def _command_crd() -> Obj:
    target = {
        "type": "object",
        "required": ["apiVersion", "kind", "name", "uid"],
        "properties": {
            "apiVersion": _str(),
            "kind": _str(),
            "name": _str(),
            "uid": _str(),
            "controller": {"type": "boolean"},
            "blockOwnerDeletion": {"type": "boolean"},
        },
    }
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": _str(),
            "kind": _str(),
            "metadata": {"type": "object"},
            "action": _str(),
            "target": target,
            "reason": _str(),
            "message": _str(),
        },
    }
    # upstream's CRD has no printer columns (kubectl shows NAME and AGE)
    return _crd("bus.volcano.sh", "v1alpha1", "Command", "commands", "Namespaced", [], schema, [], status=False)


def volcano_crds() -> list[Obj]:
    """Fresh CRDs for Queue, PodGroup (``scheduling.volcano.sh/v1beta1``), Job
    (``batch.volcano.sh/v1alpha1``) and Command (``bus.volcano.sh/v1alpha1``)."""
    return [_queue_crd(), _podgroup_crd(), _job_crd(), _command_crd()]


def default_queue() -> Obj:
    """The ``default`` Queue created at start-up: weight 1, reclaimable."""
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": DEFAULT_QUEUE},
        "spec": {"weight": 1, "reclaimable": True},
    }


def root_queue() -> Obj:
    """The ``root`` Queue created at start-up (as Volcano's scheduler cache does): weight 1,
    not reclaimable; the parent of every queue that names none."""
    return {
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "Queue",
        "metadata": {"name": ROOT_QUEUE},
        "spec": {"weight": 1, "reclaimable": False},
    }


# -- resource arithmetic shared by the PodGroup and Job controllers -----------------------------


def _container_requests(container: Any) -> dict[str, Fraction]:
    res = (container or {}).get("resources") or {}
    out: dict[str, Fraction] = {}
    # A limit without a request defaults the request (core/v1 defaulting).
    for source in (res.get("limits") or {}, res.get("requests") or {}):
        for name, q in source.items():
            try:
                out[str(name)] = parse_quantity(q)
            except ValueError:
                continue
    return out


def pod_requests(pod_spec: Any) -> dict[str, Fraction]:
    """Effective requests of a pod spec: Σ containers, then max with each init container, plus overhead.

    Example: containers ``cpu: 1`` and ``cpu: 500m``, init container ``cpu: 2`` → ``{"cpu": 2}``.
    """
    spec = pod_spec if isinstance(pod_spec, dict) else {}
    total: dict[str, Fraction] = {}
    for c in spec.get("containers") or []:
        add_resources(total, _container_requests(c))
    for c in spec.get("initContainers") or []:
        for name, q in _container_requests(c).items():
            total[name] = max(total.get(name, Fraction(0)), q)
    for name, q in (spec.get("overhead") or {}).items():
        try:
            total[str(name)] = total.get(str(name), Fraction(0)) + parse_quantity(q)
        except ValueError:
            continue
    return total


def add_resources(into: dict[str, Fraction], other: dict[str, Fraction], times: int = 1) -> None:
    """``into += times * other``, per resource, in place (``times == 0`` adds nothing, not zeros)."""
    if times == 0:
        return
    for name, q in other.items():
        into[name] = into.get(name, Fraction(0)) + q * times


def format_resources(resources: dict[str, Fraction]) -> dict[str, str]:
    """A ResourceList with canonical quantity strings (``memory`` and ``*-memory`` in binary form)."""
    return {
        name: format_quantity(q, binary="memory" in name or "storage" in name) for name, q in sorted(resources.items())
    }
