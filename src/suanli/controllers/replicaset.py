"""ReplicaSet controller (apps/v1): keep ``spec.replicas`` active pods matching the selector.

Level-triggered per ReplicaSet key (upstream ``replicaset_controller`` semantics):

* claims pods in the namespace — owned pods that stop matching the selector are released,
  matching orphans adopted (not while the ReplicaSet is being deleted);
* with expectations satisfied, creates missing pods (``generateName: <rs>-``) in slow-start
  batches of 1, 2, 4, … stopping at the first batch with a failure, at most ``burst`` per
  cycle; deletes surplus pods in :func:`~suanli.controllers._pods.deletion_order`;
* writes ``status`` (``replicas``, ``fullyLabeledReplicas``, ``readyReplicas``,
  ``availableReplicas``, ``observedGeneration``) and the ``ReplicaFailure`` condition
  (reason ``FailedCreate`` / ``FailedDelete``) while creating or deleting fails.

Example: replicas 5 with 2 active pods → expect 3 creations, create in batches 1 then 2.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import LabelSelector, label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._informers import CONTROLLER_INDEX, controller_uid_index
from suanli.controllers._pods import (
    PODS,
    REPLICASETS,
    Expectations,
    claim,
    controller_of,
    create_pod,
    delete_pod,
    deletion_order,
    is_active,
    is_available,
    is_ready,
    pod_from_template,
    rfc3339,
    set_condition,
)
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["ReplicaSetController", "slow_start_batch"]

log = logging.getLogger(__name__)

BURST_REPLICAS = 500


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Call ``fn`` ``count`` times in concurrent batches of initial, 2*initial, 4*initial, ...

    Stops after the first batch with a failure. Returns (successes, first error).
    Example: count 10, initial 1 → batches 1, 2, 4, 3.
    """
    done, size = 0, min(count, initial)
    while size > 0:
        results = await asyncio.gather(*(fn() for _ in range(size)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += size - len(errors)
        if errors:
            err = errors[0]
            if not isinstance(err, Exception):
                raise err
            return done, err
        remaining = count - done
        size = min(2 * size, remaining)
    return done, None


class ReplicaSetController(QueueController):
    """Reconciles every ReplicaSet; construct with a Client and call ``run()``/``stop()``."""

    name = "replicaset-controller"

    def __init__(
        self, client: Client, *, clock: Clock | None = None, workers: int = 2, burst: int = BURST_REPLICAS,
        factory: SharedInformerFactory | None = None,
    ) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.recorder = EventRecorder(client, "replicaset-controller", clock=self.clock)
        self.burst = burst
        self.expectations = Expectations(self.clock)
        self.rs_informer = self.watch(REPLICASETS)
        self.pod_informer = self.watch(PODS, indexers={CONTROLLER_INDEX: controller_uid_index})
        self.rs_informer.add_handler(self._rs_changed, lambda _o, n: self._rs_changed(n), self._rs_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- event handlers ------------------------------------------------------------------------

    def _rs_changed(self, rs: Obj) -> None:
        self.queue.add(object_key(rs))

    def _rs_deleted(self, rs: Obj) -> None:
        key = object_key(rs)
        self.expectations.forget(key)
        self.queue.add(key)

    def _owner_key(self, pod: Obj, ref: Obj | None = None) -> str | None:
        """``namespace/name`` of the cached ReplicaSet controlling ``pod`` (its controller reference
        ``ref`` when already looked up), else None."""
        if ref is None:
            ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet" or not str(ref.get("apiVersion", "")).startswith("apps/"):
            return None
        ns = pod["metadata"]["namespace"]
        rs = self.rs_informer.get(ns, str(ref.get("name")))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return f"{ns}/{ref['name']}"

    def _enqueue_matching(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        for rs in self.rs_informer.list(pod["metadata"]["namespace"]):
            try:
                if _selector(rs).matches(labels):
                    self.queue.add(object_key(rs))
            except ApiError:
                continue

    def _pod_added(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        ref = controller_of(pod)
        if ref is None:  # an orphan: a ReplicaSet whose selector matches may adopt it
            self._enqueue_matching(pod)
            return
        key = self._owner_key(pod, ref)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old is new:
            return
        ref = controller_of(new)
        if ref is None and controller_of(old) is None:  # orphan before and after: only adoption matters
            self._enqueue_matching(new)
            return
        key = self._owner_key(new, ref)
        if new["metadata"].get("deletionTimestamp") and key is not None:
            self.expectations.deletion_observed(key, object_key(new))
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)
        if key is not None:
            self.queue.add(key)
            rs = self.rs_informer.get_by_key(key)
            mrs = int(((rs or {}).get("spec") or {}).get("minReadySeconds") or 0)
            if mrs > 0 and is_ready(new) and not is_ready(old):
                self.queue.add_after(key, mrs + 1)
        elif controller_of(new) is None:
            self._enqueue_matching(new)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            ref = controller_of(pod)
            if ref is None or ref.get("kind") != "ReplicaSet":
                return
            key = f"{pod['metadata']['namespace']}/{ref.get('name')}"
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        rs = self.rs_informer.get(ns, name)
        if rs is None:
            self.expectations.forget(key)
            return
        try:
            selector = _selector(rs)
        except ApiError as err:
            log.warning("replicaset %s: invalid selector: %s", key, err)
            return
        need_sync = self.expectations.satisfied(key) and not rs["metadata"].get("deletionTimestamp")
        candidates = [p for p in self.pod_informer.list(ns) if is_active(p)]
        pods = await claim(self.client, PODS, rs, selector, candidates)
        failure: tuple[str, Exception] | None = None
        if need_sync:
            failure = await self._manage(key, rs, pods)
        await self._write_status(rs, pods, failure)
        if failure is not None:
            raise failure[1]
        mrs = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        now = self.clock.now()
        if mrs > 0 and any(is_ready(p) and not is_available(p, mrs, now) for p in pods):
            self.queue.add_after(key, float(mrs))

    async def _manage(self, key: str, rs: Obj, pods: list[Obj]) -> tuple[str, Exception] | None:
        replicas = (rs.get("spec") or {}).get("replicas")
        want = 1 if replicas is None else int(replicas)
        diff = len(pods) - want
        if diff < 0:
            n = min(-diff, self.burst)
            self.expectations.expect_creations(key, n)
            template = (rs.get("spec") or {}).get("template") or {}
            pod = pod_from_template(template, rs, generate_name=f"{rs['metadata']['name']}-")
            attempted = [0]

            async def create() -> None:
                attempted[0] += 1
                try:
                    await create_pod(self.client, self.recorder, rs, pod, rs["metadata"]["namespace"])
                except Exception:
                    self.expectations.creation_observed(key)
                    raise

            _, err = await slow_start_batch(n, 1, create)
            for _ in range(n - attempted[0]):
                self.expectations.creation_observed(key)  # never attempted
            if err is not None:
                return ("FailedCreate", err)
        elif diff > 0:
            n = min(diff, self.burst)
            victims = deletion_order(pods)[:n]
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])

            async def delete(p: Obj) -> None:
                try:
                    await delete_pod(self.client, self.recorder, rs, p)
                except ApiError as e:
                    self.expectations.deletion_observed(key, object_key(p))
                    if e.code != 404:
                        raise

            results = await asyncio.gather(*(delete(p) for p in victims), return_exceptions=True)
            errors = [r for r in results if isinstance(r, Exception)]
            if errors:
                return ("FailedDelete", errors[0])
        return None

    async def _write_status(self, rs: Obj, pods: list[Obj], failure: tuple[str, Exception] | None) -> None:
        spec = rs.get("spec") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        old = rs.get("status") or {}
        conditions: list[Obj] = list(old.get("conditions") or [])
        if failure is not None:
            verb = "create" if failure[0] == "FailedCreate" else "delete"
            conditions = set_condition(
                conditions,
                "ReplicaFailure",
                "True",
                failure[0],
                f"failed to {verb} pods: {getattr(failure[1], 'message', failure[1])}",
                rfc3339(now),
            )
        elif (
            failure is None
            and any(c.get("type") == "ReplicaFailure" for c in conditions)
            and self.expectations.satisfied(object_key(rs))
        ):
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in tlabels.items())
            ),
            "readyReplicas": sum(1 for p in pods if is_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_available(p, mrs, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
            "conditions": conditions or None,
        }
        current = {k: old.get(k) for k in status}
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            current[k] = current[k] or 0
        if current == status:
            return
        m = rs["metadata"]
        try:
            await self.client.patch(REPLICASETS, m["name"], {"status": status}, m["namespace"], subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise


def _selector(rs: Obj) -> LabelSelector:
    return label_selector_from_object((rs.get("spec") or {}).get("selector"))
