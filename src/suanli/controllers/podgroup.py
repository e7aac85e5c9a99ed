"""PodGroup controller: give every Volcano-scheduled pod outside a Volcano Job a PodGroup.

Follows Volcano's ``pg_controller`` for "normal" pods. A pod is handled when its
``spec.schedulerName`` is one of ``scheduler_names`` (default ``volcano`` and ``suanli``),
it is not being deleted, it is not controlled by a Volcano Job (``batch.volcano.sh``), and
it has no group annotation (``scheduling.k8s.io/group-name`` or
``scheduling.volcano.sh/group-name``). Pods of other schedulers (``default-scheduler``: the
kube-scheduler role Suanli's scheduler also plays) never get one. For a handled pod the
controller

1. ensures the PodGroup ``podgroup-<uid>`` exists in the pod's namespace, where ``uid`` is
   the pod's controller's UID (one group per ReplicaSet, batch Job, …) or, for a
   standalone pod, the pod's own UID, built as upstream's ``buildPodGroupFromPod``
   (:meth:`PodGroupController.podgroup_for`): ``minMember`` from the owner's annotation
   ``scheduling.volcano.sh/group-min-member`` (else 1; an unparseable or negative value
   counts as 1), ``minResources`` = one pod's requests times ``minMember``, the pod's
   ``priorityClassName``, ``queue`` from the pod annotation
   ``scheduling.volcano.sh/queue-name`` (else ``default``), phase ``Pending``; annotations
   inherited from the owners (ReplicaSet, DaemonSet, StatefulSet, batch Job) with prefix
   ``volcano.sh/``, then the pod's ``volcano.sh/preemptable``, ``volcano.sh/cooldown-time``,
   ``volcano.sh/revocable-zone`` and ``volcano.sh/jdb-min-available`` (else
   ``volcano.sh/jdb-max-unavailable``); labels ``volcano.sh/preemptable`` and
   ``volcano.sh/cooldown-time`` from the pod's labels; owner references: the pod's own when
   it has a controller, else the pod as controller (so the garbage collector removes the
   group with it);
2. annotates the pod with ``scheduling.k8s.io/group-name: podgroup-<uid>``.

PodGroup ``status`` (phase Pending/Inqueue/Running/Completed, counts, conditions) is then
written by the scheduler. An existing group is never rewritten (Volcano behaves the same for
all but StatefulSet template changes, which are not followed here).
"""

from __future__ import annotations

import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import JOBS, PODS, REPLICASETS, controller_of
from suanli.kinds.volcano import (
    DEFAULT_QUEUE,
    GROUP_NAME_ANNOTATION,
    PODGROUP_PREFIX,
    PODGROUPS,
    QUEUE_NAME_ANNOTATION,
    VOLCANO_GROUP_NAME_ANNOTATION,
    format_resources,
    pod_requests,
)
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import MIN_MEMBER_ANNOTATION

__all__ = ["DEFAULT_SCHEDULER_NAMES", "PodGroupController", "podgroup_name_for"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAMES = ("volcano", "suanli")
#: Owner annotations with this prefix are inherited by the PodGroup (Volcano's ``AnnotationPrefix``).
INHERITED_PREFIX = "volcano.sh/"
#: Owner annotation giving the group's ``minMember``.
#: Pod annotations (and, for the first two, labels) copied onto the group.
_POD_ANNOTATIONS = ("volcano.sh/preemptable", "volcano.sh/cooldown-time", "volcano.sh/revocable-zone")
_POD_LABELS = ("volcano.sh/preemptable", "volcano.sh/cooldown-time")
_JDB_ANNOTATIONS = ("volcano.sh/jdb-min-available", "volcano.sh/jdb-max-unavailable")
#: Owner kinds whose annotations a group inherits, by their API.
_OWNER_KINDS = {
    "ReplicaSet": REPLICASETS,
    "DaemonSet": GVR("apps", "v1", "daemonsets"),
    "StatefulSet": GVR("apps", "v1", "statefulsets"),
    "Job": JOBS,
}


def podgroup_name_for(pod: Obj) -> str:
    """``podgroup-<controller uid>``, or ``podgroup-<pod uid>`` for a pod without a controller."""
    ref = controller_of(pod)
    uid = ref.get("uid") if ref is not None else None
    return f"{PODGROUP_PREFIX}{uid or pod['metadata']['uid']}"


class PodGroupController(QueueController):
    """Reconciles pods (keys ``namespace/name``); construct with a Client and call ``run()``/``stop()``."""

    name = "podgroup-controller"

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        workers: int = 2,
        scheduler_names: tuple[str, ...] = DEFAULT_SCHEDULER_NAMES,
        factory: SharedInformerFactory | None = None,
    ) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.scheduler_names = frozenset(scheduler_names)
        self.pod_informer = self.watch(PODS)
        self.pg_informer = self.watch(PODGROUPS)
        self.pod_informer.add_handler(self._pod_changed, self._pod_updated)

    def _pod_updated(self, _old: Obj, new: Obj) -> None:
        if self.wants(new):
            self.queue.add(object_key(new))

    def _pod_changed(self, pod: Obj) -> None:
        if self.wants(pod):
            self.queue.add(object_key(pod))

    def wants(self, pod: Obj) -> bool:
        """True when ``pod`` should get a PodGroup (see the module docstring)."""
        m = pod.get("metadata") or {}
        if m.get("deletionTimestamp"):
            return False
        if (pod.get("spec") or {}).get("schedulerName") not in self.scheduler_names:
            return False
        ann = m.get("annotations") or {}
        if ann.get(GROUP_NAME_ANNOTATION) or ann.get(VOLCANO_GROUP_NAME_ANNOTATION):
            return False
        ref = controller_of(pod)
        return not (ref is not None and str(ref.get("apiVersion", "")).startswith("batch.volcano.sh/"))

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        pod = self.pod_informer.get(ns, name)
        if pod is None or not self.wants(pod):
            return
        pg_name = podgroup_name_for(pod)
        if self.pg_informer.get(ns, pg_name) is None:
            try:
                await self.client.create(PODGROUPS, self.podgroup_for(pod, await self._owner_annotations(pod)), ns)
            except ApiError as err:
                if err.code != 409:
                    raise
        patch = {"metadata": {"annotations": {GROUP_NAME_ANNOTATION: pg_name}}}
        try:
            await self.client.patch(PODS, name, patch, ns)
        except ApiError as err:
            if err.code != 404:
                raise

    async def _owner_annotations(self, pod: Obj) -> dict[str, str]:
        """The annotations of the pod's ReplicaSet/DaemonSet/StatefulSet/Job owners (the first
        owner listed wins a key); an owner that cannot be read is skipped."""
        out: dict[str, str] = {}
        m = pod["metadata"]
        for ref in m.get("ownerReferences") or []:
            gvr = _OWNER_KINDS.get(str(ref.get("kind", "")))
            if gvr is None or not ref.get("name"):
                continue
            try:
                owner = await self.client.get(gvr, str(ref["name"]), m["namespace"])
            except ApiError as err:
                log.debug("owner %s %s of pod %s/%s not read: %s", ref.get("kind"), ref.get("name"),
                          m["namespace"], m["name"], err)
                continue
            for k, v in ((owner.get("metadata") or {}).get("annotations") or {}).items():
                out.setdefault(k, v)
        return out

    @staticmethod
    def podgroup_for(pod: Obj, owner_annotations: Obj | None = None) -> Obj:
        """The PodGroup (not yet created) for ``pod`` whose owners carry ``owner_annotations``."""
        m = pod["metadata"]
        ann = m.get("annotations") or {}
        labels = m.get("labels") or {}
        spec = pod.get("spec") or {}
        owners = owner_annotations or {}
        min_member = _min_member(owners.get(MIN_MEMBER_ANNOTATION))
        requests = pod_requests(spec)
        if controller_of(pod) is not None:
            refs = [dict(r) for r in m.get("ownerReferences") or []]
        else:
            refs = [{"apiVersion": "v1", "kind": "Pod", "name": m["name"], "uid": m["uid"], "controller": True,
                     "blockOwnerDeletion": True}]
        pg_spec: Obj = {
            "minMember": min_member,
            "queue": ann.get(QUEUE_NAME_ANNOTATION) or DEFAULT_QUEUE,
            "minResources": format_resources({k: v * min_member for k, v in requests.items()}),
        }
        if spec.get("priorityClassName"):
            pg_spec["priorityClassName"] = spec["priorityClassName"]
        pg_ann = {k: str(v) for k, v in owners.items() if k.startswith(INHERITED_PREFIX)}
        pg_ann.update({k: ann[k] for k in _POD_ANNOTATIONS if k in ann})
        jdb = next((k for k in _JDB_ANNOTATIONS if k in ann), None)
        if jdb is not None:
            pg_ann[jdb] = ann[jdb]
        meta: Obj = {"name": podgroup_name_for(pod), "namespace": m["namespace"], "ownerReferences": refs}
        if pg_ann:
            meta["annotations"] = pg_ann
        pg_labels = {k: labels[k] for k in _POD_LABELS if k in labels}
        if pg_labels:
            meta["labels"] = pg_labels
        return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup", "metadata": meta, "spec": pg_spec,
                "status": {"phase": "Pending"}}


def _min_member(value: object) -> int:
    """``minMember`` from the owner annotation: its integer value when that is ≥ 0, else 1."""
    try:
        n = int(str(value)) if value is not None else 1
    except ValueError:
        log.warning("PodGroup owner annotation %s=%r is not a number; minMember stays 1", MIN_MEMBER_ANNOTATION, value)
        return 1
    return n if n >= 0 else 1
