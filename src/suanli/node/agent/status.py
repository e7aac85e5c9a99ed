"""Pure builders for node conditions, leases, events and pod status (kubelet/kwok shapes).

Everything here is a function of its arguments (times are passed in as Unix seconds),
so the runtimes and the tests share one definition of each status shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from suanli.apimachinery.objects import Obj

__all__ = [
    "NODE_CONDITIONS",
    "ContainerState",
    "PodState",
    "conditions_summary",
    "container_status",
    "micro_time",
    "node_conditions",
    "pod_phase",
    "pod_status",
    "rfc3339",
]

NODE_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    # type, healthy status, reason, message
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("NetworkUnavailable", "False", "RouteCreated", "RouteController created a route"),
)


def rfc3339(ts: float) -> str:
    """Second-precision RFC 3339 (``2023-11-14T22:13:20Z`` for 1_700_000_000)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(ts: float) -> str:
    """``MicroTime`` as in Lease ``renewTime``: ``2023-11-14T22:13:20.000000Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_conditions(previous: list[Obj], now: float, *, failed: bool) -> list[Obj]:
    """The five kubelet node conditions with ``lastHeartbeatTime`` = ``now``.

    ``failed`` renders what the node lifecycle controller writes for a silent node: every
    condition ``Unknown`` with reason ``NodeStatusUnknown``. ``lastTransitionTime`` is kept
    from ``previous`` when a condition's status did not change.
    """
    prev = {str(c.get("type")): c for c in previous if isinstance(c, dict)}
    stamp = rfc3339(now)
    out: list[Obj] = []
    for ctype, healthy, reason, message in NODE_CONDITIONS:
        if failed:
            status, reason, message = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
        else:
            status = healthy
        old = prev.get(ctype)
        transition = old.get("lastTransitionTime") if old and old.get("status") == status else None
        out.append({"type": ctype, "status": status, "lastHeartbeatTime": stamp,
                    "lastTransitionTime": transition or stamp, "reason": reason, "message": message})
    return out


def conditions_summary(conditions: list[Obj]) -> list[tuple[Any, Any, Any]]:
    """(type, status, reason) of each condition: what changes when health changes."""
    return [(c.get("type"), c.get("status"), c.get("reason")) for c in conditions if isinstance(c, dict)]


@dataclass
class ContainerState:
    """What a runtime knows about one container; rendered by :func:`container_status`.

    ``state`` is ``waiting`` | ``running`` | ``terminated``. ``restart_at`` (monotonic) is
    set while waiting in back-off; ``deadline`` (monotonic) is when a simulated container
    exits.
    """

    name: str
    image: str = ""
    state: str = "waiting"
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    restart_count: int = 0
    last_terminated: Obj | None = None
    restart_at: float | None = None
    deadline: float | None = None

    def terminated_obj(self) -> Obj:
        out: Obj = {"exitCode": self.exit_code, "reason": self.reason, "startedAt": rfc3339(self.started_at),
                    "finishedAt": rfc3339(self.finished_at), "containerID": self.container_id()}
        if self.message:
            out["message"] = self.message
        return out

    def container_id(self) -> str:
        return f"suanli://{self.name}-{self.restart_count}"


def container_status(c: ContainerState) -> Obj:
    """One ``status.containerStatuses[]`` entry."""
    running = c.state == "running"
    if running:
        state: Obj = {"running": {"startedAt": rfc3339(c.started_at)}}
    elif c.state == "terminated":
        state = {"terminated": c.terminated_obj()}
    else:
        w: Obj = {"reason": c.reason}
        if c.message:
            w["message"] = c.message
        state = {"waiting": w}
    out: Obj = {"name": c.name, "image": c.image, "imageID": "", "ready": running, "started": running,
                "restartCount": c.restart_count, "state": state, "lastState": {}}
    if c.last_terminated is not None:
        out["lastState"] = {"terminated": c.last_terminated}
    if c.state != "waiting" or c.restart_count:
        out["containerID"] = c.container_id()
    return out


@dataclass
class PodState:
    """A node agent's record of one pod it runs (keyed by ``namespace/name``, one ``uid``)."""

    key: str
    namespace: str
    name: str
    uid: str
    node: str
    restart_policy: str = "Always"
    containers: list[ContainerState] = field(default_factory=list)
    start_time: float = 0.0
    pod_ip: str = ""
    host_ip: str = ""
    admission_error: str = ""
    stopping: bool = False
    stopped: bool = False
    written: Obj | None = None  # the last status this agent wrote
    extra: dict[str, Any] = field(default_factory=dict)


def pod_phase(ps: PodState) -> str:
    """Kubelet's phase rule: ``Failed`` on admission error; ``Pending`` until every container
    has started once; ``Running`` while any container runs or will restart; otherwise
    ``Succeeded`` if every container exited 0, else ``Failed``."""
    if ps.admission_error:
        return "Failed"
    cs = ps.containers
    if any(c.state == "waiting" and c.restart_count == 0 and c.last_terminated is None for c in cs):
        return "Pending"
    if any(c.state == "running" or c.restart_at is not None for c in cs):
        return "Running"
    if cs and all(c.state == "terminated" for c in cs):
        return "Succeeded" if all(c.exit_code == 0 for c in cs) else "Failed"
    return "Running"


def _cond(ctype: str, ok: bool, stamp: str, reason: str = "") -> Obj:
    c: Obj = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None,
              "lastTransitionTime": stamp}
    if reason and not ok:
        c["reason"] = reason
    return c


def pod_status(ps: PodState, transition_time: float, previous: Obj | None = None) -> Obj:
    """The full ``status`` of ``ps`` (phase, conditions, IPs, container statuses).

    Condition ``lastTransitionTime`` values are kept from ``previous`` when unchanged.
    """
    phase = pod_phase(ps)
    stamp = rfc3339(transition_time)
    if ps.admission_error:
        return {"phase": "Failed", "reason": "UnexpectedAdmissionError", "message": ps.admission_error,
                "startTime": rfc3339(ps.start_time), "hostIP": ps.host_ip}
    all_ready = bool(ps.containers) and all(c.state == "running" for c in ps.containers)
    done = phase in ("Succeeded", "Failed")
    unready = "PodCompleted" if done else "ContainersNotReady"
    conds = [_cond("Initialized", True, stamp, ""), _cond("Ready", all_ready, stamp, unready),
             _cond("ContainersReady", all_ready, stamp, unready), _cond("PodScheduled", True, stamp)]
    if previous:
        old = {c.get("type"): c for c in previous.get("conditions") or [] if isinstance(c, dict)}
        for c in conds:
            o = old.get(c["type"])
            if o is not None and o.get("status") == c["status"] and o.get("lastTransitionTime"):
                c["lastTransitionTime"] = o["lastTransitionTime"]
    out: Obj = {"phase": phase, "conditions": conds, "hostIP": ps.host_ip,
                "startTime": rfc3339(ps.start_time),
                "containerStatuses": [container_status(c) for c in ps.containers]}
    if ps.host_ip:
        out["hostIPs"] = [{"ip": ps.host_ip}]
    if ps.pod_ip:
        out["podIP"] = ps.pod_ip
        out["podIPs"] = [{"ip": ps.pod_ip}]
    return out
