"""Shared helpers for workload controllers: owner references, pods from templates, readiness,
deletion ranking, claiming (adopt/release) and controller expectations.

Upstream semantics (kube-controller-manager ``controller_utils``):

* a pod is **active** while its phase is neither Succeeded nor Failed and it is not being deleted;
* it is **available** when Ready and has been Ready for ``minReadySeconds``
  (``ready_since + minReadySeconds < now``; ``minReadySeconds = 0`` means Ready is enough);
* **expectations** remember creations/deletions a controller issued but has not yet seen in its
  informer, so one reconcile does not create the same pods twice;
* :func:`create_pod` / :func:`delete_pod` record upstream ``PodControl``'s Events on the owner.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy, format_time, parse_time
from suanli.apimachinery.selectors import LabelSelector
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.wire import CRONJOBS, DEPLOYMENTS, JOBS, PODS, REPLICASETS

__all__ = [
    "CRONJOBS",
    "DEPLOYMENTS",
    "JOBS",
    "PODS",
    "REPLICASETS",
    "Expectations",
    "claim",
    "controller_of",
    "create_pod",
    "delete_pod",
    "deletion_order",
    "is_active",
    "is_available",
    "is_ready",
    "owner_reference",
    "pod_from_template",
    "ready_since",
    "rfc3339",
    "set_condition",
    "timestamp",
]

log = logging.getLogger(__name__)


# -- pod control with Events ------------------------------------------------------------------------


async def create_pod(client: Client, recorder: EventRecorder, owner: Obj, pod: Obj, namespace: str) -> Obj:
    """Create ``pod`` for ``owner``, recording upstream PodControl's Event on the owner: Normal
    ``SuccessfulCreate`` "Created pod: <name>", or Warning ``FailedCreate`` "Error creating:
    <error>" before the error is re-raised (a 409 AlreadyExists is re-raised without an Event)."""
    try:
        out = await client.create(PODS, pod, namespace)
    except ApiError as err:
        if err.code != 409:
            await recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {err}")
        raise
    await recorder.record(owner, "Normal", "SuccessfulCreate", f"Created pod: {out['metadata']['name']}")
    return out


async def delete_pod(client: Client, recorder: EventRecorder, owner: Obj, pod: Obj) -> None:
    """Delete ``pod`` (uid precondition) for ``owner`` with upstream's Events: Normal
    ``SuccessfulDelete`` "Deleted pod: <name>", or Warning ``FailedDelete`` "Error deleting:
    <error>" before re-raising; 404 and 409 (already gone or replaced) are re-raised silently."""
    m = pod["metadata"]
    try:
        await client.delete(PODS, m["name"], m["namespace"], preconditions={"uid": m["uid"]})
    except ApiError as err:
        if err.code not in (404, 409):
            await recorder.record(owner, "Warning", "FailedDelete", f"Error deleting: {err}")
        raise
    await recorder.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {m['name']}")


# -- time ------------------------------------------------------------------------------------------


def rfc3339(epoch: float) -> str:
    """Epoch seconds as a Kubernetes timestamp (second precision, ``Z``)."""
    return format_time(datetime.fromtimestamp(epoch, UTC))


def timestamp(text: Any) -> float | None:
    """A Kubernetes timestamp as epoch seconds; ``None`` when absent or unparseable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return None


# -- owner references --------------------------------------------------------------------------


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def owner_reference(owner: Obj) -> Obj:
    """A controller reference to ``owner`` (``controller`` and ``blockOwnerDeletion`` true)."""
    m = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(
    template: Obj,
    owner: Obj,
    *,
    generate_name: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    finalizers: list[str] | None = None,
) -> Obj:
    """A Pod (not yet created) from a PodTemplateSpec, controlled by ``owner``."""
    tmeta = template.get("metadata") or {}
    pod_labels = dict(tmeta.get("labels") or {})
    pod_labels.update(labels or {})
    pod_ann = dict(tmeta.get("annotations") or {})
    pod_ann.update(annotations or {})
    meta: Obj = {
        "generateName": generate_name,
        "namespace": owner["metadata"]["namespace"],
        "labels": pod_labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if pod_ann:
        meta["annotations"] = pod_ann
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": deep_copy(template.get("spec") or {})}


# -- pod state ---------------------------------------------------------------------------------


def is_active(pod: Obj) -> bool:
    """Not terminal (Succeeded/Failed) and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c
    return None


def is_ready(pod: Obj) -> bool:
    c = _ready_condition(pod)
    return c is not None and c.get("status") == "True"


def ready_since(pod: Obj) -> float | None:
    """When the Ready condition last became True (epoch seconds), ``None`` if not ready."""
    c = _ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return timestamp(c.get("lastTransitionTime"))


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``min_ready_seconds``.

    Example: Ready since t=100, minReadySeconds=10 → available for now > 110.
    """
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready_seconds < now


def _restarts(pod: Obj) -> int:
    return max(
        (
            int(cs.get("restartCount") or 0)
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
            if isinstance(cs, dict)
        ),
        default=0,
    )


_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order(pods: Iterable[Obj], related: Iterable[Obj] = ()) -> list[Obj]:
    """Pods ordered so the ones to delete first come first (upstream ``ActivePodsWithRanks``).

    Keys, in order: unscheduled before scheduled; Pending < Unknown < Running; not ready before
    ready; more ``related`` pods on the same node first; more recently ready first; higher
    restart count first; newer first; then by name for determinism.
    """
    pods = list(pods)
    per_node: dict[str, int] = {}
    for p in [*pods, *related]:
        node = str((p.get("spec") or {}).get("nodeName") or "")
        if node and is_active(p):
            per_node[node] = per_node.get(node, 0) + 1

    def key(p: Obj) -> tuple[Any, ...]:
        node = str((p.get("spec") or {}).get("nodeName") or "")
        ready = is_ready(p)
        since = ready_since(p) if ready else None
        created = timestamp(p["metadata"].get("creationTimestamp")) or 0.0
        return (
            1 if node else 0,
            _PHASE_ORDER.get(str((p.get("status") or {}).get("phase")), 0),
            1 if ready else 0,
            -per_node.get(node, 0) if node else 0,
            -(since or 0.0),
            -_restarts(p),
            -created,
            p["metadata"].get("name", ""),
        )

    return sorted(pods, key=key)


# -- conditions --------------------------------------------------------------------------------


def set_condition(
    conditions: list[Obj], ctype: str, status: str, reason: str, message: str, now: str, *, update_time: bool = False
) -> list[Obj]:
    """A copy of ``conditions`` with ``ctype`` set; ``lastTransitionTime`` moves only when the status
    changes. ``update_time`` adds ``lastUpdateTime`` (Deployments). Same status, reason and message
    leave the list unchanged.
    """
    out = [dict(c) for c in conditions if c.get("type") != ctype]
    old = next((c for c in conditions if c.get("type") == ctype), None)
    if (
        old is not None
        and old.get("status") == status
        and old.get("reason") == reason
        and old.get("message") == message
    ):
        return [dict(c) for c in conditions]
    cond: Obj = {"type": ctype, "status": status, "reason": reason, "message": message}
    if update_time:
        cond["lastUpdateTime"] = now
    cond["lastTransitionTime"] = (
        old["lastTransitionTime"]
        if old is not None and old.get("status") == status and old.get("lastTransitionTime")
        else now
    )
    out.append(cond)
    return out


# -- expectations ------------------------------------------------------------------------------


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    """Per-controller-key counts of creations and deletions issued but not yet observed.

    A key is *satisfied* (safe to compute a new diff) when nothing is pending or the record is
    older than ``ttl`` seconds (a lost watch event must not wedge the controller forever).
    """

    def __init__(self, clock: Clock, ttl: float = 300.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self._exp: dict[str, _Expectation] = {}

    def expect_creations(self, key: str, count: int) -> None:
        e = self._exp.setdefault(key, _Expectation())
        e.adds += count
        e.since = self.clock.monotonic()

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        e = self._exp.setdefault(key, _Expectation())
        e.deletes.update(pod_keys)
        e.since = self.clock.monotonic()

    def creation_observed(self, key: str) -> None:
        """Also call when a create failed (the pod will never be observed)."""
        e = self._exp.get(key)
        if e is not None and e.adds > 0:
            e.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._exp.get(key)
        if e is not None:
            e.deletes.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        e = self._exp.get(key)
        if e is None or (e.adds <= 0 and not e.deletes):
            return True
        return self.clock.monotonic() - e.since > self.ttl

    def pending(self, key: str) -> tuple[int, int]:
        e = self._exp.get(key)
        return (0, 0) if e is None else (e.adds, len(e.deletes))

    def forget(self, key: str) -> None:
        self._exp.pop(key, None)


# -- claiming ----------------------------------------------------------------------------------


async def claim(
    client: Client,
    gvr: GVR,
    owner: Obj,
    selector: LabelSelector,
    candidates: Iterable[Obj],
    *,
    fresh_owner: Obj | None = None,
) -> list[Obj]:
    """Objects ``owner`` controls after adopting matching orphans and releasing non-matching ones.

    ``candidates`` are objects in the owner's namespace. Orphans are adopted only while the owner
    is not being deleted (the live owner is re-read once, by UID, before the first adoption);
    owned objects whose labels no longer match are released by removing the reference. Patches
    are guarded by ``resourceVersion``; a lost race leaves the object out (the informer update
    triggers another reconcile).
    """
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    out: list[Obj] = []
    checked: bool | None = None if fresh_owner is None else True
    for obj in candidates:
        ref = controller_of(obj)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        matches = selector.matches(labels)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches or deleting:
                out.append(obj)
                continue
            refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            await _guarded_patch(client, gvr, obj, refs)
            continue
        if not matches or deleting or obj["metadata"].get("deletionTimestamp"):
            continue
        if checked is None:
            checked = await _owner_current(client, owner)
        if not checked:
            continue
        refs = [*(obj["metadata"].get("ownerReferences") or []), owner_reference(owner)]
        adopted = await _guarded_patch(client, gvr, obj, refs)
        if adopted is not None:
            out.append(adopted)
    return out


async def _owner_current(client: Client, owner: Obj) -> bool:
    m = owner["metadata"]
    gvr = GVR(*_group_version(owner["apiVersion"]), _PLURALS[owner["kind"]])
    try:
        live = await client.get(gvr, m["name"], m["namespace"])
    except ApiError as err:
        if err.code == 404:
            return False
        raise
    return bool(live["metadata"].get("uid") == m["uid"] and not live["metadata"].get("deletionTimestamp"))


_PLURALS = {
    "ReplicaSet": "replicasets",
    "Deployment": "deployments",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


async def _guarded_patch(client: Client, gvr: GVR, obj: Obj, refs: list[Obj]) -> Obj | None:
    m = obj["metadata"]
    ops: list[Obj] = [{"op": "test", "path": "/metadata/resourceVersion", "value": m["resourceVersion"]}]
    if refs:
        ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": refs})
    else:
        ops.append({"op": "remove", "path": "/metadata/ownerReferences"})
    try:
        return await client.patch(gvr, m["name"], ops, m["namespace"], patch_type="json")
    except ApiError as err:
        if err.code in (404, 409, 422):
            log.debug("claim %s/%s: %s", m["namespace"], m["name"], err)
            return None
        raise
