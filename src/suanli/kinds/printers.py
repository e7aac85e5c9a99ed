"""Server-side printers (``kubectl get`` columns) of the built-in kinds.

A :class:`Printer` is a kind's column list plus a function computing every cell of one row;
each built-in kind's strategy carries its printer (``rt.strategy.printer``, see
:mod:`suanli.kinds.strategy`), and :func:`suanli.apiserver.tables.table_for` renders them.
The printers below reproduce upstream ``kubectl get`` columns (``pkg/printers/internalversion``);
those of the storage, policy, networking … groups are in :mod:`suanli.kinds.printers_groups`.

Every row carries *all* cells, wide ones included; columns with ``priority`` 1 are the
ones kubectl shows only with ``-o wide``. Column names are title case (``Nominated Node``)
because kubectl upper-cases them when printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, parse_time
from suanli.apimachinery.selectors import label_selector_from_object

__all__ = [
    "AGE",
    "DEFAULT",
    "NAME",
    "Column",
    "Printer",
    "RowFn",
    "hpa_targets",
    "human_duration",
    "job_status",
    "object_name",
    "pod_status_reason",
    "translate_timestamp",
]

RowFn = Callable[[Obj, datetime], list[Any]]
"""Computes every cell of one row (in column order) from an object and "now"."""


@dataclass(frozen=True, slots=True)
class Column:
    """One ``columnDefinitions`` entry."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True, slots=True)
class Printer:
    """A kind's table columns and its row function (a :class:`~suanli.kinds.strategy_base.TablePrinter`)."""

    columns: tuple[Column, ...]
    row: RowFn


NAME = Column("Name", "string", "name", "Name of the object, unique within its namespace.")
AGE = Column("Age", "string", "", "Time since the object was created.")
_CREATED_AT = Column("Created At", "date", "", "Timestamp at which the object was created.")


def human_duration(seconds: float) -> str:
    """Upstream's short human duration.

    ``<2 min`` → ``"95s"``; ``<10 min`` → ``"3m12s"``; ``<3 h`` → ``"47m"``; ``<8 h`` → ``"4h5m"``;
    ``<48 h`` → ``"30h"``; ``<8 d`` → ``"2d5h"``; ``<2 y`` → ``"13d"``; ``<8 y`` → ``"2y45d"``;
    else ``"9y"``. Up to 1 s in the future reads ``"0s"``; further is ``"<invalid>"``.
    """
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def translate_timestamp(ts: Any, now: datetime) -> str:
    """Age of an RFC 3339 timestamp; ``"<unknown>"`` if absent, ``"<invalid>"`` if unparsable."""
    if not ts or not isinstance(ts, str):
        return "<unknown>"
    try:
        then = parse_time(ts)
    except ValueError:
        return "<invalid>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return human_duration((now - then).total_seconds())


def _since_or_none(ts: Any, now: datetime) -> str:
    return translate_timestamp(ts, now) if ts else "<none>"


# -- small readers -------------------------------------------------------------------------------


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def object_name(obj: Obj) -> str:
    """``metadata.name`` ('' when absent)."""
    return str(_d(obj.get("metadata")).get("name") or "")


def _age(obj: Obj, now: datetime) -> str:
    return translate_timestamp(_d(obj.get("metadata")).get("creationTimestamp"), now)


def _created(obj: Obj) -> Any:
    return _d(obj.get("metadata")).get("creationTimestamp")


def _deleting(obj: Obj) -> bool:
    return bool(_d(obj.get("metadata")).get("deletionTimestamp"))


def _format_labels(labels: Any) -> str:
    """``k=v`` pairs sorted by key and joined by ``,``; ``<none>`` when empty."""
    d = _d(labels)
    return ",".join(f"{k}={d[k]}" for k in sorted(d)) or "<none>"


def _selector_string(sel: Any) -> str:
    if sel is None:
        return "<none>"
    try:
        return str(label_selector_from_object(sel))
    except ApiError:
        return "<invalid>"


def _template_containers(template_spec: Any) -> tuple[str, str]:
    containers = [_d(c) for c in _l(_d(template_spec).get("containers"))]
    return (",".join(str(c.get("name") or "") for c in containers),
            ",".join(str(c.get("image") or "") for c in containers))


def _has_condition(obj: Obj, ctype: str) -> bool:
    return any(_d(c).get("type") == ctype and _d(c).get("status") == "True"
               for c in _l(_d(obj.get("status")).get("conditions")))


_CONTAINERS = Column("Containers", "string", "", "Names of each container in the template.", 1)
_IMAGES = Column("Images", "string", "", "Images referenced by each container in the template.", 1)
_SELECTOR = Column("Selector", "string", "", "Label query over the objects managed.", 1)
_WORKLOAD_TAIL = (_CONTAINERS, _IMAGES, _SELECTOR)


# -- default printer --------------------------------------------------------------------


def _default_row(obj: Obj, now: datetime) -> list[Any]:
    return [object_name(obj), _age(obj, now)]


#: NAME + AGE, for kinds without columns of their own
DEFAULT = Printer((NAME, AGE), _default_row)


# -- pods ----------------------------------------------------------------------------------------


def _terminated_reason(term: dict[str, Any], prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + str(term["reason"])
    if _int(term.get("signal")):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{_int(term.get('exitCode'))}"


def pod_status_reason(pod: Obj) -> tuple[int, int, str, int, str | None]:
    """``(ready, total, status, restarts, last_restart_time)`` as ``kubectl get pods`` derives them.

    STATUS starts from ``status.reason`` or the phase, is overridden by a failing/waiting
    init container (``Init:1/3``, ``Init:CrashLoopBackOff``, ``Init:ExitCode:1``) or by a
    container's waiting/terminated reason (``ContainerCreating``, ``CrashLoopBackOff``,
    ``Completed``, ``Error``), and becomes ``Terminating`` once ``deletionTimestamp`` is set
    on a non-terminal pod (``Unknown`` if the node is unreachable).
    """
    spec = _d(pod.get("spec"))
    status = _d(pod.get("status"))
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    for cond in _l(status.get("conditions")):
        if _d(cond).get("type") == "PodScheduled" and _d(cond).get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = [_d(c) for c in _l(spec.get("initContainers"))]
    sidecars = {str(c.get("name")) for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(_l(spec.get("containers"))) + len(sidecars)
    ready = 0
    restarts = 0
    last_restart: str | None = None

    def later(current: str | None, cs: dict[str, Any]) -> str | None:
        fin = _d(_d(cs.get("lastState")).get("terminated")).get("finishedAt")
        if isinstance(fin, str) and fin and (current is None or fin > current):
            return fin
        return current

    initializing = False
    sidecar_restarts = 0
    sidecar_last: str | None = None
    for i, raw in enumerate(_l(status.get("initContainerStatuses"))):
        cs = _d(raw)
        restarts += _int(cs.get("restartCount"))
        last_restart = later(last_restart, cs)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += _int(cs.get("restartCount"))
            sidecar_last = later(sidecar_last, cs)
            if cs.get("started") and cs.get("ready"):
                ready += 1
        state = _d(cs.get("state"))
        term = _d(state.get("terminated"))
        waiting = _d(state.get("waiting"))
        if term and _int(term.get("exitCode")) == 0:
            continue
        if is_sidecar and cs.get("started"):
            continue
        if term:
            reason = _terminated_reason(term, "Init:")
        elif waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = _has_condition(pod, "Initialized")
    if not initializing or initialized:
        restarts = sidecar_restarts
        last_restart = sidecar_last
        has_running = False
        for raw in reversed(_l(status.get("containerStatuses"))):
            cs = _d(raw)
            restarts += _int(cs.get("restartCount"))
            last_restart = later(last_restart, cs)
            state = _d(cs.get("state"))
            term = _d(state.get("terminated"))
            waiting = _d(state.get("waiting"))
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term:
                reason = _terminated_reason(term)
            elif cs.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(pod, "Ready") else "NotReady"

    if _deleting(pod) and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif _deleting(pod) and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, total, reason, restarts, last_restart


def _pod_row(pod: Obj, now: datetime) -> list[Any]:
    ready, total, reason, restarts, last_restart = pod_status_reason(pod)
    restarts_cell: Any = restarts
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({translate_timestamp(last_restart, now)} ago)"
    spec = _d(pod.get("spec"))
    status = _d(pod.get("status"))
    gates = _l(spec.get("readinessGates"))
    gates_cell = "<none>"
    if gates:
        conditions = [_d(c) for c in _l(status.get("conditions"))]
        true_types = {c.get("type") for c in conditions if c.get("status") == "True"}
        passing = sum(1 for g in gates if _d(g).get("conditionType") in true_types)
        gates_cell = f"{passing}/{len(gates)}"
    return [object_name(pod), f"{ready}/{total}", reason, restarts_cell, _age(pod, now),
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_cell]


_POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "", "The number of containers that are ready."),
    Column("Status", "string", "", "The aggregate state of the containers in this pod."),
    Column("Restarts", "string", "", "The number of times the containers in this pod have been restarted "
           "and when the last restart happened."),
    AGE,
    Column("IP", "string", "", "IP address allocated to the pod.", 1),
    Column("Node", "string", "", "Name of the node the pod is scheduled on.", 1),
    Column("Nominated Node", "string", "", "Node that preemption nominated for the pod.", 1),
    Column("Readiness Gates", "string", "", "Passing readiness gates out of all of them.", 1),
)


# -- nodes, namespaces ---------------------------------------------------------------------------


def _node_roles(labels: dict[str, Any]) -> list[str]:
    roles: set[str] = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(status: dict[str, Any], kind: str) -> str:
    for addr in _l(status.get("addresses")):
        if _d(addr).get("type") == kind and _d(addr).get("address"):
            return str(_d(addr)["address"])
    return "<none>"


def _node_row(node: Obj, now: datetime) -> list[Any]:
    status = _d(node.get("status"))
    ready = next((_d(c) for c in _l(status.get("conditions")) if _d(c).get("type") == "Ready"), None)
    parts = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if _d(node.get("spec")).get("unschedulable"):
        parts.append("SchedulingDisabled")
    roles = ",".join(_node_roles(_d(_d(node.get("metadata")).get("labels")))) or "<none>"
    info = _d(status.get("nodeInfo"))
    return [object_name(node), ",".join(parts), roles, _age(node, now), str(info.get("kubeletVersion") or ""),
            _node_address(status, "InternalIP"), _node_address(status, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


_NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "", "The status of the node."),
    Column("Roles", "string", "", "The roles of the node."),
    AGE,
    Column("Version", "string", "", "Kubelet version reported by the node."),
    Column("Internal-IP", "string", "", "The node's internal IP address.", 1),
    Column("External-IP", "string", "", "The node's external IP address.", 1),
    Column("OS-Image", "string", "", "Operating system image reported by the node.", 1),
    Column("Kernel-Version", "string", "", "Kernel version reported by the node.", 1),
    Column("Container-Runtime", "string", "", "Container runtime and version reported by the node.", 1),
)


def _namespace_row(ns: Obj, now: datetime) -> list[Any]:
    return [object_name(ns), str(_d(ns.get("status")).get("phase") or ""), _age(ns, now)]


# -- workloads -----------------------------------------------------------------------------------


def _workload_tail(obj: Obj) -> list[Any]:
    spec = _d(obj.get("spec"))
    names, images = _template_containers(_d(_d(spec.get("template")).get("spec")))
    return [names, images, _selector_string(spec.get("selector"))]


def _deployment_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    desired = _int(spec.get("replicas"), 1)
    return [object_name(obj), f"{_int(status.get('readyReplicas'))}/{desired}", _int(status.get("updatedReplicas")),
            _int(status.get("availableReplicas")), _age(obj, now), *_workload_tail(obj)]


def _replicaset_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    return [object_name(obj), _int(spec.get("replicas"), 1), _int(status.get("replicas")),
            _int(status.get("readyReplicas")), _age(obj, now), *_workload_tail(obj)]


def _daemonset_row(obj: Obj, now: datetime) -> list[Any]:
    status = _d(obj.get("status"))
    node_selector = _d(_d(_d(obj.get("spec")).get("template")).get("spec")).get("nodeSelector")
    return [object_name(obj), _int(status.get("desiredNumberScheduled")),
            _int(status.get("currentNumberScheduled")), _int(status.get("numberReady")),
            _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable")),
            _format_labels(node_selector), _age(obj, now), *_workload_tail(obj)]


def _statefulset_row(obj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    names, images = _template_containers(_d(_d(spec.get("template")).get("spec")))
    return [object_name(obj), f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'), 1)}",
            _age(obj, now), names, images]


def job_status(job: Obj) -> str:
    """``Complete``, ``Failed``, ``Terminating``, ``Suspended``, ``FailureTarget``,
    ``SuccessCriteriaMet`` or ``Running`` (first that applies, in that order)."""
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if _deleting(job):
        return "Terminating"
    if _has_condition(job, "Suspended"):
        return "Suspended"
    if _has_condition(job, "FailureTarget"):
        return "FailureTarget"
    if _has_condition(job, "SuccessCriteriaMet"):
        return "SuccessCriteriaMet"
    return "Running"


def _job_row(job: Obj, now: datetime) -> list[Any]:
    spec, status = _d(job.get("spec")), _d(job.get("status"))
    succeeded = _int(status.get("succeeded"))
    if isinstance(spec.get("completions"), int):
        completions = f"{succeeded}/{spec['completions']}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    duration = ""
    start, end = status.get("startTime"), status.get("completionTime")
    if isinstance(start, str) and start:
        try:
            finish = parse_time(end) if isinstance(end, str) and end else now
            duration = human_duration((finish - parse_time(start)).total_seconds())
        except ValueError:
            duration = "<invalid>"
    return [object_name(job), job_status(job), completions, duration, _age(job, now), *_workload_tail(job)]


def _cronjob_row(cj: Obj, now: datetime) -> list[Any]:
    spec, status = _d(cj.get("spec")), _d(cj.get("status"))
    job_spec = _d(_d(spec.get("jobTemplate")).get("spec"))
    names, images = _template_containers(_d(_d(job_spec.get("template")).get("spec")))
    suspend = spec.get("suspend")
    return [object_name(cj), str(spec.get("schedule") or ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(_l(status.get("active"))), _since_or_none(status.get("lastScheduleTime"), now),
            _age(cj, now), names, images, _selector_string(job_spec.get("selector"))]


# -- services and config -------------------------------------------------------------------------


def _service_external_ip(svc: Obj) -> str:
    spec = _d(svc.get("spec"))
    stype = spec.get("type") or "ClusterIP"
    external = [str(x) for x in _l(spec.get("externalIPs"))]
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if stype == "LoadBalancer":
        ingress = _l(_d(_d(svc.get("status")).get("loadBalancer")).get("ingress"))
        lb = [str(_d(i).get("ip") or _d(i).get("hostname") or "") for i in ingress]
        lb = [x for x in lb if x]
        return ",".join(lb + external) or "<pending>"
    if stype == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service_ports(spec: dict[str, Any]) -> str:
    out = []
    for raw in _l(spec.get("ports")):
        p = _d(raw)
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            out.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            out.append(f"{p.get('port')}/{proto}")
    return ",".join(out) or "<none>"


def _service_row(svc: Obj, now: datetime) -> list[Any]:
    spec = _d(svc.get("spec"))
    return [object_name(svc), spec.get("type") or "ClusterIP", spec.get("clusterIP") or "<none>",
            _service_external_ip(svc), _service_ports(spec), _age(svc, now),
            _format_labels(spec.get("selector"))]


def _endpoints_row(ep: Obj, now: datetime) -> list[Any]:
    shown: list[str] = []
    count = 0
    for raw in _l(ep.get("subsets")):
        subset = _d(raw)
        ports = [_d(p).get("port") for p in _l(subset.get("ports"))]
        for addr in _l(subset.get("addresses")):
            ip = str(_d(addr).get("ip") or "")
            for port in ports or [None]:
                count += 1
                if len(shown) < 3:
                    shown.append(ip if port is None else f"{ip}:{port}")
    text = ",".join(shown) or "<none>"
    if count > 3:
        text += f" + {count - 3} more..."
    return [object_name(ep), text, _age(ep, now)]


def _configmap_row(cm: Obj, now: datetime) -> list[Any]:
    return [object_name(cm), len(_d(cm.get("data"))) + len(_d(cm.get("binaryData"))), _age(cm, now)]


def _secret_row(s: Obj, now: datetime) -> list[Any]:
    return [object_name(s), str(s.get("type") or "Opaque"), len(_d(s.get("data"))), _age(s, now)]


def _serviceaccount_row(sa: Obj, now: datetime) -> list[Any]:
    return [object_name(sa), len(_l(sa.get("secrets"))), _age(sa, now)]


# -- events --------------------------------------------------------------------------------------


def _event_row(ev: Obj, now: datetime) -> list[Any]:
    """Works for core/v1 and events.k8s.io/v1 Events (which rename some fields)."""
    first_ts = ev.get("firstTimestamp") or ev.get("deprecatedFirstTimestamp") or ev.get("eventTime")
    first = translate_timestamp(first_ts, now)
    last_ts = ev.get("lastTimestamp") or ev.get("deprecatedLastTimestamp")
    last = translate_timestamp(last_ts, now) if last_ts else first
    count = _int(ev.get("count"), _int(ev.get("deprecatedCount")))
    series = _d(ev.get("series"))
    if series:
        last = translate_timestamp(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = _d(ev.get("involvedObject") or ev.get("regarding"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _d(ev.get("source") or ev.get("deprecatedSource"))
    component = source.get("component") or ev.get("reportingController") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    source_text = ", ".join(str(x) for x in (component, host) if x) if component else ""
    message = str(ev.get("message") or ev.get("note") or "").strip()
    return [last, str(ev.get("type") or ""), str(ev.get("reason") or ""), target,
            str(involved.get("fieldPath") or ""), source_text, message, first, count, object_name(ev)]


_EVENT_COLUMNS = (
    Column("Last Seen", "string", "", "Time since the event was last observed."),
    Column("Type", "string", "", "Type of the event (Normal, Warning)."),
    Column("Reason", "string", "", "Short machine-readable reason for the event."),
    Column("Object", "string", "", "The object this event is about."),
    Column("Subobject", "string", "", "Field path of the part of the object concerned.", 1),
    Column("Source", "string", "", "Component (and host) that reported the event.", 1),
    Column("Message", "string", "", "Human-readable description of the event."),
    Column("First Seen", "string", "", "Time since the event was first observed.", 1),
    Column("Count", "string", "", "Number of times the event occurred.", 1),
    Column("Name", "string", "name", "Name of the event object.", 1),
)


# -- misc cluster kinds --------------------------------------------------------------------------


def _lease_row(lease: Obj, now: datetime) -> list[Any]:
    return [object_name(lease), str(_d(lease.get("spec")).get("holderIdentity") or ""), _age(lease, now)]


def _priorityclass_row(pc: Obj, now: datetime) -> list[Any]:
    return [object_name(pc), _int(pc.get("value")), bool(pc.get("globalDefault")), _age(pc, now),
            str(pc.get("preemptionPolicy") or "PreemptLowerPriority")]


def _hpa_metric(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    kind = spec.get("type")
    src_key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
               "Object": "object", "External": "external"}.get(str(kind))
    if src_key is None:
        return "<unknown type>"
    src = _d(spec.get(src_key))
    target = _d(src.get("target"))
    current = _d(_d(_d(status).get(src_key)).get("current")) if status else {}
    if kind in ("Resource", "ContainerResource"):
        rname = str(src.get("name") or "")
        if target.get("averageValue") is not None:
            cur = str(current.get("averageValue")) if current.get("averageValue") is not None else "<unknown>"
            return f"{rname}: {cur}/{target['averageValue']}"
        cur = f"{current['averageUtilization']}%" if current.get("averageUtilization") is not None \
            else "<unknown>"
        tgt = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
        return f"{rname}: {cur}/{tgt}"
    if kind == "Pods":
        cur = str(current.get("averageValue")) if current.get("averageValue") is not None else "<unknown>"
        return f"{cur}/{target.get('averageValue')}"
    if target.get("averageValue") is not None:
        cur = str(current.get("averageValue")) if current.get("averageValue") is not None else "<unknown>"
        return f"{cur}/{target['averageValue']} (avg)"
    cur = str(current.get("value")) if current.get("value") is not None else "<unknown>"
    return f"{cur}/{target.get('value')}"


def hpa_targets(hpa: Obj) -> str:
    """TARGETS cell of an autoscaling/v2 HPA, e.g. ``cpu: 40%/80%``; at most two, then ``+ N more...``."""
    specs = [_d(m) for m in _l(_d(hpa.get("spec")).get("metrics"))]
    if not specs:
        return "<none>"
    statuses = [_d(m) for m in _l(_d(hpa.get("status")).get("currentMetrics"))]
    parts = [_hpa_metric(s, statuses[i] if i < len(statuses) else None) for i, s in enumerate(specs)]
    text = ", ".join(parts[:2])
    return text + (f" + {len(parts) - 2} more..." if len(parts) > 2 else "")


def _hpa_row(hpa: Obj, now: datetime) -> list[Any]:
    spec, status = _d(hpa.get("spec")), _d(hpa.get("status"))
    ref = _d(spec.get("scaleTargetRef"))
    min_pods: Any = spec["minReplicas"] if isinstance(spec.get("minReplicas"), int) else "<unset>"
    return [object_name(hpa), f"{ref.get('kind') or ''}/{ref.get('name') or ''}", hpa_targets(hpa), min_pods,
            _int(spec.get("maxReplicas")), _int(status.get("currentReplicas")), _age(hpa, now)]


def _created_row(obj: Obj, now: datetime) -> list[Any]:
    return [object_name(obj), _created(obj)]


def _rolebinding_row(rb: Obj, now: datetime) -> list[Any]:
    ref = _d(rb.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for raw in _l(rb.get("subjects")):
        s = _d(raw)
        kind, name, ns = s.get("kind"), str(s.get("name") or ""), str(s.get("namespace") or "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{ns}:{name}" if ns else name)
    return [object_name(rb), f"{ref.get('kind') or ''}/{ref.get('name') or ''}", _age(rb, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


_ROLEBINDING_COLUMNS = (
    NAME,
    Column("Role", "string", "", "Role or ClusterRole the binding grants."),
    AGE,
    Column("Users", "string", "", "Users in the binding.", 1),
    Column("Groups", "string", "", "Groups in the binding.", 1),
    Column("ServiceAccounts", "string", "", "Service accounts in the binding.", 1),
)


def _c(name: str, type_: str = "string", priority: int = 0, description: str = "") -> Column:
    return Column(name, type_, "", description, priority)


PODS = Printer(_POD_COLUMNS, _pod_row)
NODES = Printer(_NODE_COLUMNS, _node_row)
NAMESPACES = Printer((NAME, _c("Status", description="Phase of the namespace."), AGE), _namespace_row)
DEPLOYMENTS = Printer(
    (NAME, _c("Ready", description="Ready replicas out of desired."),
     _c("Up-to-date", "integer", description="Replicas running the latest template."),
     _c("Available", "integer", description="Replicas available to serve."), AGE, *_WORKLOAD_TAIL),
    _deployment_row,
)
REPLICASETS = Printer(
    (NAME, _c("Desired", "integer"), _c("Current", "integer"), _c("Ready", "integer"), AGE, *_WORKLOAD_TAIL),
    _replicaset_row,
)
DAEMONSETS = Printer(
    (NAME, _c("Desired", "integer"), _c("Current", "integer"), _c("Ready", "integer"), _c("Up-to-date", "integer"),
     _c("Available", "integer"), _c("Node Selector"), AGE, *_WORKLOAD_TAIL),
    _daemonset_row,
)
STATEFULSETS = Printer((NAME, _c("Ready"), AGE, _CONTAINERS, _IMAGES), _statefulset_row)
JOBS = Printer(
    (NAME, _c("Status", description="Status of the job."),
     _c("Completions", description="Succeeded pods out of desired completions."),
     _c("Duration", description="Time the job took (or has been running)."), AGE, *_WORKLOAD_TAIL),
    _job_row,
)
CRONJOBS = Printer(
    (NAME, _c("Schedule"), _c("Timezone"), _c("Suspend", "boolean"), _c("Active", "integer"), _c("Last Schedule"), AGE,
     *_WORKLOAD_TAIL),
    _cronjob_row,
)
SERVICES = Printer((NAME, _c("Type"), _c("Cluster-IP"), _c("External-IP"), _c("Port(s)"), AGE, _SELECTOR), _service_row)
ENDPOINTS = Printer((NAME, _c("Endpoints"), AGE), _endpoints_row)
CONFIGMAPS = Printer((NAME, _c("Data", "integer"), AGE), _configmap_row)
SECRETS = Printer((NAME, _c("Type"), _c("Data", "integer"), AGE), _secret_row)
SERVICEACCOUNTS = Printer((NAME, _c("Secrets", "integer"), AGE), _serviceaccount_row)
EVENTS = Printer(_EVENT_COLUMNS, _event_row)
LEASES = Printer((NAME, _c("Holder"), AGE), _lease_row)
PRIORITYCLASSES = Printer(
    (NAME, _c("Value", "integer"), _c("Global-Default", "boolean"), AGE, _c("PreemptionPolicy")),
    _priorityclass_row,
)
HORIZONTALPODAUTOSCALERS = Printer(
    (NAME, _c("Reference"), _c("Targets"), _c("MinPods", "string"), _c("MaxPods", "integer"),
     _c("Replicas", "integer"), AGE),
    _hpa_row,
)
ROLES = CLUSTERROLES = Printer((NAME, _CREATED_AT), _created_row)
ROLEBINDINGS = CLUSTERROLEBINDINGS = Printer(_ROLEBINDING_COLUMNS, _rolebinding_row)
CUSTOMRESOURCEDEFINITIONS = Printer((NAME, _CREATED_AT), _created_row)

