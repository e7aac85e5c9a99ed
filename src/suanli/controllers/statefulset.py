"""StatefulSet controller (apps/v1): stable pod identities, ordered rollout, revisions and claims.

Semantics follow kube-controller-manager's ``pkg/controller/statefulset`` (v1.28):

* **identity** — the pod of ordinal ``i`` is named ``<set>-<i>`` (ordinals start at
  ``spec.ordinals.start``, default 0), labelled ``statefulset.kubernetes.io/pod-name`` and
  ``apps.kubernetes.io/pod-index``, with ``hostname`` = its name and ``subdomain`` =
  ``spec.serviceName``;
* **storage** — each ``volumeClaimTemplates`` entry ``c`` gives pod ``<set>-<i>`` the claim
  ``<c>-<set>-<i>`` (created before the pod, never deleted by a pod restart) mounted as the
  volume named ``c``. ``persistentVolumeClaimRetentionPolicy``: ``whenDeleted: Delete`` makes
  the set an owner of every claim (the garbage collector deletes them with it);
  ``whenScaled: Delete`` makes a condemned pod the owner of its claims before it is deleted;
* **revisions** — every distinct ``spec.template`` is a ControllerRevision ``<set>-<hash>``
  (``data`` = ``{"spec": {"template": …, "$patch": "replace"}}``, ``revision`` increasing).
  Pods carry ``controller-revision-hash: <revision name>``. A template equal to an older
  revision re-uses it with the next revision number (a rollback). At most
  ``revisionHistoryLimit`` revisions that no pod and neither status revision use are kept;
* **pod management** — :func:`plan` decides what one sync does. ``OrderedReady`` creates one
  missing pod at a time in ascending order, only when every lower ordinal is Running and Ready
  (and available after ``minReadySeconds``), and deletes condemned pods one at a time from the
  highest ordinal; ``Parallel`` creates and deletes all at once. Failed or Succeeded pods are
  deleted to be recreated;
* **updates** — ``RollingUpdate`` deletes, from the highest ordinal down to ``partition``, pods
  whose revision is not the update revision, as MaxUnavailableStatefulSet (beta and on by
  default since v1.35) does: once every replica exists, up to ``maxUnavailable`` (default 1;
  a percentage of ``replicas`` rounded down, at least 1) minus the replicas already unavailable
  (not Running and Ready, terminating, or not yet available after ``minReadySeconds``), in one
  sync; pods below ``partition`` are (re)created at the current revision. ``OnDelete``
  creates new pods at the update revision but never deletes for an update;
* **status** — ``replicas`` (pods that exist), ``readyReplicas``, ``availableReplicas``,
  ``currentReplicas`` / ``updatedReplicas`` (non-terminating pods at the current / update
  revision), ``currentRevision``, ``updateRevision``, ``observedGeneration`` and
  ``collisionCount``. A RollingUpdate completes (current := update) once every pod is updated
  and ready; as upstream, an ``OnDelete`` set keeps its current revision.

Not implemented: in-place identity repair of pods
whose labels were edited, the StatefulSetStartOrdinal-change migration.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Literal

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import (
    PODS,
    claim,
    controller_of,
    is_available,
    is_ready,
    owner_reference,
    pod_from_template,
)
from suanli.controllers.deployment import pod_template_hash
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CONTROLLER_REVISIONS, PVCS, STATEFULSETS

__all__ = [
    "CONTROLLER_REVISIONS",
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "PVCS",
    "REVISION_LABEL",
    "STATEFULSETS",
    "Action",
    "StatefulSetController",
    "claim_name",
    "compute_status",
    "max_unavailable_of",
    "new_pod",
    "parent_and_ordinal",
    "plan",
    "revision_data",
]

log = logging.getLogger(__name__)

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# -- identity ----------------------------------------------------------------------------------


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """``("web", 2)`` for pod ``web-2``; ``("", -1)`` when the name has no ordinal suffix."""
    m = _ORDINAL.match(str((pod.get("metadata") or {}).get("name") or ""))
    if m is None:
        return "", -1
    return m.group(1), int(m.group(2))


def _ordinal_start(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def _replicas(sts: Obj) -> int:
    r = (sts.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    """The PersistentVolumeClaim of ``template_name`` for ordinal ``ordinal``: ``<claim>-<set>-<i>``."""
    return f"{template_name}-{set_name}-{ordinal}"


def revision_data(sts: Obj) -> Obj:
    """The ControllerRevision ``data`` of the set's current template (a replace patch, as upstream)."""
    template = deep_copy((sts.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def _template_of(revision: Obj) -> Obj:
    template: Obj = deep_copy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """The pod of ``ordinal`` built from ``template`` (a revision's template) at ``revision``."""
    m = sts["metadata"]
    spec = sts.get("spec") or {}
    name = f"{m['name']}-{ordinal}"
    pod = pod_from_template(template, sts, generate_name="",
                            labels={POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal), REVISION_LABEL: revision})
    pod["metadata"].pop("generateName", None)
    pod["metadata"]["name"] = name
    pod["spec"]["hostname"] = name
    if spec.get("serviceName"):
        pod["spec"]["subdomain"] = spec["serviceName"]
    claims = {str((t.get("metadata") or {}).get("name")): claim_name(str((t.get("metadata") or {}).get("name")),
                                                                     m["name"], ordinal)
              for t in spec.get("volumeClaimTemplates") or []}
    if claims:
        volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in claims]
        volumes += [{"name": t, "persistentVolumeClaim": {"claimName": c}} for t, c in claims.items()]
        pod["spec"]["volumes"] = volumes
    return pod


# -- pod state -----------------------------------------------------------------------------------


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _running_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and is_ready(pod)


def _running_available(pod: Obj, min_ready: int, now: float) -> bool:
    return _phase(pod) == "Running" and is_available(pod, min_ready, now)


def _healthy(pod: Obj) -> bool:
    return _running_ready(pod) and not _terminating(pod)


def _revision_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL) or "")


# -- the pure decision -------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One step of a sync: create the pod of ``ordinal`` at ``revision``, or delete it.

    ``reason`` is ``"create"``, ``"scale-down"``, ``"update"`` or ``"recreate"`` (a Failed or
    Succeeded pod removed so it can be created again).
    """

    op: Literal["create", "delete"]
    ordinal: int
    revision: str = ""
    reason: str = "create"


def plan(sts: Obj, pods: list[Obj], current: str, update: str, *, now: float) -> list[Action]:
    """What one sync of ``sts`` does, given its pods and its current/update revision names.

    ``pods`` are the set's pods (any order); ones without an ordinal name are ignored. The
    result is empty while the set waits (an OrderedReady predecessor not yet Running and
    Ready, a pod still terminating, an updated pod not yet healthy).
    """
    spec = sts.get("spec") or {}
    start, count = _ordinal_start(sts), _replicas(sts)
    min_ready = int(spec.get("minReadySeconds") or 0)
    monotonic = spec.get("podManagementPolicy") != "Parallel"
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") if strategy.get("type", "RollingUpdate") == "RollingUpdate" else None
    partition = int((rolling or {}).get("partition") or 0)
    current_replicas = int((sts.get("status") or {}).get("currentReplicas") or 0)

    replicas: list[Obj | None] = [None] * count
    condemned: list[Obj] = []
    for pod in pods:
        _, ordinal = parent_and_ordinal(pod)
        if ordinal < 0:
            continue
        if start <= ordinal < start + count:
            replicas[ordinal - start] = pod
        else:
            condemned.append(pod)
    condemned.sort(key=lambda p: parent_and_ordinal(p)[1], reverse=True)
    # the first unhealthy pod: the lowest replica, else the lowest condemned ordinal
    unhealthy = [p for p in [*replicas, *reversed(condemned)] if p is not None and not _healthy(p)]
    first_unhealthy = unhealthy[0] if unhealthy else None

    def revision_for(ordinal: int) -> str:
        rolling_type = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        if rolling_type and ((rolling is None and ordinal < current_replicas) or
                             (rolling is not None and ordinal < partition)):
            return current
        return update

    actions: list[Action] = []
    if sts["metadata"].get("deletionTimestamp"):
        return actions
    for index, slot in enumerate(replicas):
        ordinal = start + index
        if slot is not None and _phase(slot) in ("Failed", "Succeeded") and not _terminating(slot):
            actions.append(Action("delete", ordinal, reason="recreate"))
            if monotonic:
                return actions
            continue
        if slot is None:
            actions.append(Action("create", ordinal, revision_for(ordinal)))
            if monotonic:
                return actions
            continue
        if monotonic and (_terminating(slot) or not _running_available(slot, min_ready, now)):
            return actions
    for pod in condemned:
        ordinal = parent_and_ordinal(pod)[1]
        if _terminating(pod):
            if monotonic:
                return actions
            continue
        if monotonic and not _running_ready(pod) and pod is not first_unhealthy:
            return actions
        actions.append(Action("delete", ordinal, reason="scale-down"))
        if monotonic:
            return actions
    if actions or rolling is None:
        return actions
    # MaxUnavailableStatefulSet (beta, on by default since v1.35): with every slot filled, at most
    # maxUnavailable replicas may be unavailable; delete that many minus those already unavailable,
    # highest ordinal first, down to the partition.
    max_unavailable = max_unavailable_of(sts)
    unavailable = sum(1 for p in replicas if p is not None and
                      (not _healthy(p) or not _running_available(p, min_ready, now)))
    budget = max_unavailable - unavailable
    updates: list[Action] = []
    for index in range(count - 1, partition - 1, -1):
        if len(updates) >= budget:
            break
        target = replicas[index]
        assert target is not None  # every slot was filled above or we returned
        if _revision_of(target) != update and not _terminating(target):
            updates.append(Action("delete", start + index, reason="update"))
    return updates


def max_unavailable_of(sts: Obj) -> int:
    """``spec.updateStrategy.rollingUpdate.maxUnavailable`` as a pod count (upstream
    ``getStatefulSetMaxUnavailable``): default 1, percentages of ``spec.replicas`` rounded down,
    never below 1. E.g. ``"50%"`` of 5 replicas → 2; ``"10%"`` of 5 → 1."""
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        count = int(value[:-1] or 0) * _replicas(sts) // 100
    else:
        count = int(value) if isinstance(value, int | str) and str(value).isdigit() else 1
    return max(1, count)


def compute_status(sts: Obj, pods: list[Obj], current: str, update: str, *, now: float,
                   collision_count: int = 0) -> Obj:
    """The set's status from its pods (upstream ``computeReplicaStatus`` + ``completeRollingUpdate``)."""
    spec = sts.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    replicas = ready = available = current_n = updated = 0
    for pod in pods:
        if parent_and_ordinal(pod)[1] < 0:
            continue
        replicas += 1
        if _running_ready(pod):
            ready += 1
            if _running_available(pod, min_ready, now):
                available += 1
        if not _terminating(pod):
            rev = _revision_of(pod)
            current_n += rev == current
            updated += rev == update
    status: Obj = {
        "observedGeneration": int(sts["metadata"].get("generation") or 0),
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": available,
        "currentReplicas": current_n,
        "updatedReplicas": updated,
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": collision_count,
    }
    strategy_type = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy_type == "RollingUpdate" and updated == replicas and ready == replicas:
        status["currentReplicas"] = updated
        status["currentRevision"] = update
    return status


# -- the controller ----------------------------------------------------------------------------


class StatefulSetController(QueueController):
    """Reconciles every apps/v1 StatefulSet; construct with a Client and call ``run()``/``stop()``."""

    name = "statefulset-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.events = EventRecorder(client, self.name, clock=self.clock)
        self.sets = self.watch(STATEFULSETS)
        self.pods = self.watch(PODS)
        self.revisions = self.watch(CONTROLLER_REVISIONS)
        self.claims = self.watch(PVCS)
        self.sets.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), self._enqueue)
        self.pods.add_handler(self._pod_changed, lambda _o, n: self._pod_changed(n), self._pod_changed)

    def _enqueue(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _pod_changed(self, pod: Obj) -> None:
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") == "StatefulSet" and str(ref.get("apiVersion", "")).startswith("apps/"):
                self.queue.add(f"{pod['metadata']['namespace']}/{ref.get('name')}")
            return
        parent, ordinal = parent_and_ordinal(pod)  # an orphan may be adopted by its named set
        if ordinal >= 0 and self.sets.get(str(pod["metadata"].get("namespace") or ""), parent) is not None:
            self.queue.add(f"{pod['metadata']['namespace']}/{parent}")

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.sets.get(ns, name)
        if cached is None or cached["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes its pods and revisions
        sts = deep_copy(cached)
        uid = sts["metadata"]["uid"]
        selector = label_selector_from_object((sts.get("spec") or {}).get("selector"))
        candidates = [p for p in self.pods.list(ns) if parent_and_ordinal(p)[0] == name or
                      (controller_of(p) or {}).get("uid") == uid]
        pods = await claim(self.client, PODS, sts, selector, candidates)
        revisions = sorted((r for r in self.revisions.list(ns) if (controller_of(r) or {}).get("uid") == uid),
                           key=lambda r: int(r.get("revision") or 0))
        update_rev, collisions = await self._update_revision(sts, revisions)
        revisions = [r for r in revisions if r["metadata"]["name"] != update_rev["metadata"]["name"]] + [update_rev]
        by_name = {r["metadata"]["name"]: r for r in revisions}
        status_current = str((sts.get("status") or {}).get("currentRevision") or "")
        current_rev = by_name.get(status_current, update_rev)
        current, update = current_rev["metadata"]["name"], update_rev["metadata"]["name"]
        now = self.clock.now()
        await self._retain_claims(sts, pods)
        actions = plan(sts, pods, current, update, now=now)
        by_ordinal = {parent_and_ordinal(p)[1]: p for p in pods}
        for action in actions:
            if action.op == "create":
                template = _template_of(by_name[action.revision])
                await self._create(sts, new_pod(sts, template, action.ordinal, action.revision))
            else:
                await self._delete(sts, by_ordinal[action.ordinal], action.reason)
        status = compute_status(sts, pods, current, update, now=now, collision_count=collisions)
        await self._truncate_history(sts, pods, revisions, status)
        min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status["readyReplicas"] != status["availableReplicas"]:
            self.queue.add_after(key, float(min_ready) + 0.5)
        old = sts.get("status") or {}
        if any(old.get(k) != v for k, v in status.items()):
            sts["status"] = {**old, **status}
            await self.client.update(STATEFULSETS, sts, ns, subresource="status")

    async def _update_revision(self, sts: Obj, revisions: list[Obj]) -> tuple[Obj, int]:
        """The ControllerRevision of the current template (created, or re-numbered on rollback)."""
        m = sts["metadata"]
        data = revision_data(sts)
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        latest = max((int(r.get("revision") or 0) for r in revisions), default=0)
        equal = [r for r in revisions if r.get("data") == data]
        if equal:
            rev = equal[-1]
            if int(rev.get("revision") or 0) != latest:
                rev = deep_copy(rev)
                rev["revision"] = latest + 1
                rev = await self.client.update(CONTROLLER_REVISIONS, rev, m["namespace"])
            return rev, collisions
        while True:
            name = f"{m['name']}-{pod_template_hash(data, collisions or None)}"
            body: Obj = {
                "apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": m["namespace"],
                             "labels": dict((((sts.get("spec") or {}).get("template") or {}).get("metadata") or {})
                                            .get("labels") or {}),
                             "ownerReferences": [owner_reference(sts)]},
                "data": data, "revision": latest + 1,
            }
            try:
                return await self.client.create(CONTROLLER_REVISIONS, body, m["namespace"]), collisions
            except ApiError as err:
                if err.code != 409:
                    raise
            existing = await self.client.get(CONTROLLER_REVISIONS, name, m["namespace"])
            if existing.get("data") == data and (controller_of(existing) or {}).get("uid") == m["uid"]:
                return existing, collisions
            collisions += 1

    async def _create(self, sts: Obj, pod: Obj) -> None:
        m = sts["metadata"]
        ns = m["namespace"]
        ordinal = parent_and_ordinal(pod)[1]
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            tname = str((template.get("metadata") or {}).get("name"))
            cname = claim_name(tname, m["name"], ordinal)
            if self.claims.get(ns, cname) is not None:
                continue
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels.update(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
            pvc: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": cname, "namespace": ns, "labels": labels},
                        "spec": deep_copy(template.get("spec") or {})}
            annotations = (template.get("metadata") or {}).get("annotations")
            if annotations:
                pvc["metadata"]["annotations"] = dict(annotations)
            if policy.get("whenDeleted") == "Delete":
                pvc["metadata"]["ownerReferences"] = [_plain_ref(sts)]
            try:
                await self.client.create(PVCS, pvc, ns)
            except ApiError as err:
                if err.code != 409:
                    await self.events.record(sts, "Warning", "FailedCreate",
                                             f"create Claim {cname} for Pod {pod['metadata']['name']} in "
                                             f"StatefulSet {m['name']} failed error: {err}")
                    raise
                continue
            await self.events.record(sts, "Normal", "SuccessfulCreate",
                                     f"create Claim {cname} Pod {pod['metadata']['name']} in StatefulSet "
                                     f"{m['name']} success")
        pname = pod["metadata"]["name"]
        try:
            await self.client.create(PODS, pod, ns)
        except ApiError as err:
            if err.code == 409:  # created by an earlier sync the informer has not shown yet
                return
            await self.events.record(sts, "Warning", "FailedCreate",
                                     f"create Pod {pname} in StatefulSet {m['name']} failed error: {err}")
            raise
        await self.events.record(sts, "Normal", "SuccessfulCreate",
                                 f"create Pod {pname} in StatefulSet {m['name']} successful")

    async def _delete(self, sts: Obj, pod: Obj, reason: str) -> None:
        m, pm = sts["metadata"], pod["metadata"]
        if reason == "recreate":
            await self.events.record(sts, "Warning", "RecreatingFailedPod" if _phase(pod) == "Failed"
                                     else "RecreatingTerminatedPod",
                                     f"StatefulSet {m['namespace']}/{m['name']} is recreating "
                                     f"{'failed' if _phase(pod) == 'Failed' else 'terminated'} Pod {pm['name']}")
        if reason == "scale-down" and ((sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy")
                                       or {}).get("whenScaled") == "Delete":
            await self._own_claims_by(sts, pod)
        try:
            await self.client.delete(PODS, pm["name"], pm["namespace"], preconditions={"uid": pm["uid"]})
        except ApiError as err:
            if err.code in (404, 409):
                return
            await self.events.record(sts, "Warning", "FailedDelete",
                                     f"delete Pod {pm['name']} in StatefulSet {m['name']} failed error: {err}")
            raise
        await self.events.record(sts, "Normal", "SuccessfulDelete",
                                 f"delete Pod {pm['name']} in StatefulSet {m['name']} successful")

    def _claims_of(self, sts: Obj, ordinal: int) -> list[Obj]:
        m = sts["metadata"]
        out: list[Obj] = []
        for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
            cname = claim_name(str((template.get("metadata") or {}).get("name")), m["name"], ordinal)
            pvc = self.claims.get(m["namespace"], cname)
            if pvc is not None:
                out.append(pvc)
        return out

    async def _own_claims_by(self, sts: Obj, pod: Obj) -> None:
        """``whenScaled: Delete``: the condemned pod owns its claims, so they go with it."""
        ref = _plain_ref(pod)
        for pvc in self._claims_of(sts, parent_and_ordinal(pod)[1]):
            refs = list(pvc["metadata"].get("ownerReferences") or [])
            if any(r.get("uid") == ref["uid"] for r in refs):
                continue
            await self.client.patch(PVCS, pvc["metadata"]["name"], {"metadata": {"ownerReferences": [*refs, ref]}},
                                    pvc["metadata"]["namespace"])

    async def _retain_claims(self, sts: Obj, pods: list[Obj]) -> None:
        """``whenDeleted: Delete`` → the set owns every claim of its pods; ``Retain`` → it owns none."""
        delete = ((sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get(
            "whenDeleted") == "Delete"
        uid = sts["metadata"]["uid"]
        for pod in pods:
            for pvc in self._claims_of(sts, parent_and_ordinal(pod)[1]):
                refs = list(pvc["metadata"].get("ownerReferences") or [])
                owned = any(r.get("uid") == uid for r in refs)
                if delete and not owned:
                    refs.append(_plain_ref(sts))
                elif not delete and owned:
                    refs = [r for r in refs if r.get("uid") != uid]
                else:
                    continue
                await self.client.patch(PVCS, pvc["metadata"]["name"], {"metadata": {"ownerReferences": refs}},
                                        pvc["metadata"]["namespace"])

    async def _truncate_history(self, sts: Obj, pods: list[Obj], revisions: list[Obj], status: Obj) -> None:
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        live = {status["currentRevision"], status["updateRevision"], *(_revision_of(p) for p in pods)}
        history = [r for r in revisions if r["metadata"]["name"] not in live]
        excess = history[:max(len(history) - limit, 0)]  # oldest first (sorted by revision)
        results = await asyncio.gather(*(self.client.delete(CONTROLLER_REVISIONS, r["metadata"]["name"],
                                                            r["metadata"]["namespace"]) for r in excess),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, ApiError) and r.code != 404:
                raise r


def _plain_ref(owner: Obj) -> Obj:
    """A non-controller ownerReference (claims are owned, not controlled, as upstream)."""
    ref = owner_reference(owner)
    ref.pop("controller", None)
    ref.pop("blockOwnerDeletion", None)
    if owner.get("kind") == "Pod":
        ref["apiVersion"], ref["kind"] = "v1", "Pod"
    return ref
