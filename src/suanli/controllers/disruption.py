"""Disruption controller (policy/v1): keeps every PodDisruptionBudget's ``status`` current.

Upstream ``pkg/controller/disruption`` semantics, per budget:

* pods = pods in the namespace matching ``spec.selector`` (an empty selector matches all,
  a missing one none);
* ``maxUnavailable`` or a percentage ``minAvailable`` → ``expectedPods`` is the summed
  ``spec.replicas`` of the pods' controllers (a ReplicaSet owned by a Deployment counts as
  the Deployment; ReplicationController, ReplicaSet, StatefulSet, Deployment are known), the
  value is scaled rounding up, ``desiredHealthy = expectedPods - maxUnavailable`` (≥ 0) or the
  scaled ``minAvailable``; a pod without a controller does not count; a controller kind
  without a known scale fails the sync (``DisruptionAllowed=False``, reason ``SyncFailed``);
* an integer ``minAvailable`` → ``desiredHealthy = minAvailable``, ``expectedPods = len(pods)``;
* ``currentHealthy`` = Ready pods that are not deleting and not in ``disruptedPods``;
  ``disruptedPods`` entries (written by the eviction subresource) are kept until the pod is
  gone or deleting, or for 2 minutes;
* no matching pods → Event ``NoPods`` ("No matching pods found");
* ``disruptionsAllowed = currentHealthy - desiredHealthy`` (0 when negative or when no pods
  are expected), ``observedGeneration``, and condition ``DisruptionAllowed``
  (``SufficientPods`` / ``InsufficientPods``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import DEPLOYMENTS, PODS, REPLICASETS, controller_of, is_ready, rfc3339, timestamp
from suanli.kinds.pdb import disruption_allowed_condition
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import PDBS, REPLICATIONCONTROLLERS, STATEFULSETS

__all__ = ["DELETION_TIMEOUT", "PDBS", "DisruptionController", "scaled_value"]

log = logging.getLogger(__name__)

DELETION_TIMEOUT = 120.0  # upstream DeletionTimeout: an eviction not seen through is forgotten


class SyncError(Exception):
    """The budget cannot be computed (reported as ``SyncFailed``)."""


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """Upstream ``GetScaledValueFromIntOrPercent``: ``5`` → 5; ``"50%"`` of 3 → 2 (rounding up)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise SyncError(f"invalid value for IntOrString: invalid value {value!r}")


class DisruptionController(QueueController):
    """Reconciles every PodDisruptionBudget; construct with a Client and call ``run()``/``stop()``."""

    name = "disruption-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 1,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.events = EventRecorder(client, "controllermanager", clock=self.clock)
        self.pdbs = self.watch(PDBS)
        self.pods = self.watch(PODS)
        self.scalables = {kind: self.watch(gvr) for kind, gvr in (
            ("ReplicaSet", REPLICASETS), ("Deployment", DEPLOYMENTS),
            ("ReplicationController", REPLICATIONCONTROLLERS), ("StatefulSet", STATEFULSETS))}
        self.pdbs.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), self._enqueue)
        self.pods.add_handler(self._pod_changed, self._pod_updated, self._pod_changed)
        for inf in self.scalables.values():
            inf.add_handler(self._scalable_changed, lambda _o, n: self._scalable_changed(n), self._scalable_changed)

    def _enqueue(self, pdb: Obj) -> None:
        self.queue.add(object_key(pdb))

    def _pod_changed(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        for pdb in self.pdbs.list(pod["metadata"].get("namespace")):
            if _selects(pdb, labels):
                self._enqueue(pdb)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old is not new:
            self._pod_changed(old)
            self._pod_changed(new)

    def _scalable_changed(self, obj: Obj) -> None:
        for pdb in self.pdbs.list(obj["metadata"].get("namespace")):
            self._enqueue(pdb)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        pdb = self.pdbs.get(ns, name)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return
        now = self.clock.now()
        pods = [p for p in self.pods.list(ns) if _selects(pdb, p["metadata"].get("labels") or {})]
        if not pods:
            await self.events.record(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired = self._expected(pdb, pods)
        except SyncError as err:
            await self._write(pdb, self._failed_status(pdb, str(err), now))
            return
        disrupted, recheck = _live_disruptions(pdb, pods, now)
        healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")
                      and p["metadata"]["name"] not in disrupted and is_ready(p))
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        old = pdb.get("status") or {}
        generation = int(pdb["metadata"].get("generation") or 0)
        status: Obj = {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "disruptionsAllowed": allowed,
            "observedGeneration": generation,
            "conditions": disruption_allowed_condition(allowed, list(old.get("conditions") or []), rfc3339(now),
                                                       generation=generation),
        }
        if disrupted:
            status["disruptedPods"] = disrupted
        await self._write(pdb, status)
        if recheck is not None:
            self.queue.add_after(key, max(0.0, recheck - now))

    def _expected(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        spec = pdb.get("spec") or {}
        max_u, min_a = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_u is not None:
            expected = self._expected_scale(pods)
            desired = max(0, expected - scaled_value(max_u, expected, round_up=True))
            return expected, desired
        if isinstance(min_a, int) and not isinstance(min_a, bool):
            return len(pods), min_a
        if min_a is not None:
            expected = self._expected_scale(pods)
            return expected, scaled_value(min_a, expected, round_up=True)
        return 0, 0

    def _expected_scale(self, pods: list[Obj]) -> int:
        """Summed ``spec.replicas`` of the distinct controllers of ``pods`` (unowned pods ignored)."""
        scales: dict[str, int] = {}
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                continue
            uid, replicas = self._controller_scale(pod["metadata"]["namespace"], ref)
            scales[uid] = replicas
        return sum(scales.values())

    def _controller_scale(self, ns: str, ref: Obj) -> tuple[str, int]:
        kind = str(ref.get("kind"))
        inf = self.scalables.get(kind)
        if inf is None:
            raise SyncError(f"found no controllers for pod with controller {kind}/{ref.get('name')}: "
                            "no scale subresource known for this kind")
        owner = inf.get(ns, str(ref.get("name")))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            raise SyncError(f"found no controllers for pod with controller {kind}/{ref.get('name')}")
        if kind == "ReplicaSet":
            parent = controller_of(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                return self._controller_scale(ns, parent)
        replicas = (owner.get("spec") or {}).get("replicas")
        return str(owner["metadata"]["uid"]), 1 if replicas is None else int(replicas)

    def _failed_status(self, pdb: Obj, message: str, now: float) -> Obj:
        old = dict(pdb.get("status") or {})
        generation = int(pdb["metadata"].get("generation") or 0)
        old["disruptionsAllowed"] = 0
        old["observedGeneration"] = generation
        old["conditions"] = disruption_allowed_condition(0, list(old.get("conditions") or []), rfc3339(now),
                                                         sync_failed=True, message=message, generation=generation)
        return old

    async def _write(self, pdb: Obj, status: Obj) -> None:
        old = pdb.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()) and set(old) <= set(status):
            return
        new = {**pdb, "status": status}
        try:
            await self.client.update(PDBS, new, pdb["metadata"]["namespace"], subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise


def _selects(pdb: Obj, labels: dict[str, Any]) -> bool:
    sel = (pdb.get("spec") or {}).get("selector")
    if not isinstance(sel, dict):
        return False
    try:
        return label_selector_from_object(sel).matches(labels)
    except ApiError:
        return False


def _live_disruptions(pdb: Obj, pods: list[Obj], now: float) -> tuple[dict[str, str], float | None]:
    """``disruptedPods`` entries still pending (pod present, not deleting, younger than the timeout),
    and when the oldest of them expires."""
    by_name = {p["metadata"]["name"]: p for p in pods}
    kept: dict[str, str] = {}
    recheck: float | None = None
    for name, when in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        pod = by_name.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        t = timestamp(when)
        if t is None or t + DELETION_TIMEOUT < now:
            continue
        kept[name] = str(when)
        expiry = t + DELETION_TIMEOUT
        recheck = expiry if recheck is None else min(recheck, expiry)
    return kept, recheck
