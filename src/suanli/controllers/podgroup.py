"""PodGroup controller: give every Volcano-scheduled pod outside a Volcano Job a PodGroup.

Follows Volcano's ``pg_controller`` for "normal" pods. A pod is handled when its
``spec.schedulerName`` is one of ``scheduler_names`` (default ``volcano`` and ``suanli``),
it is not being deleted, it is not controlled by a Volcano Job (``batch.volcano.sh``), and
it has no group annotation (``scheduling.k8s.io/group-name`` or
``scheduling.volcano.sh/group-name``). For such a pod the controller

1. ensures the PodGroup ``podgroup-<uid>`` exists in the pod's namespace, where ``uid`` is
   the pod's controller's UID (one group per ReplicaSet, batch Job, …) or, for a
   standalone pod, the pod's own UID. The group has ``minMember: 1``, ``queue`` from the pod
   annotation ``scheduling.volcano.sh/queue-name`` (else ``default``), the pod's
   ``priorityClassName``, ``minResources`` = one pod's requests, the pod's owner references
   (a standalone pod becomes the group's owner, so the garbage collector removes the group
   with its owner) and the pod's ``volcano.sh/*`` / ``scheduling.volcano.sh/*`` annotations;
2. annotates the pod with ``scheduling.k8s.io/group-name: podgroup-<uid>``.

PodGroup ``status`` (phase Pending/Inqueue/Running/Completed, counts, conditions) is written
by the scheduler, not here. An existing group is never rewritten (Volcano behaves the same).
"""

from __future__ import annotations

import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import PODS, controller_of
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

__all__ = ["DEFAULT_SCHEDULER_NAMES", "PodGroupController", "podgroup_name_for"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAMES = ("volcano", "suanli")
_COPIED_ANNOTATION_PREFIXES = ("volcano.sh/", "scheduling.volcano.sh/")


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
                await self.client.create(PODGROUPS, self.podgroup_for(pod), ns)
            except ApiError as err:
                if err.code != 409:
                    raise
        patch = {"metadata": {"annotations": {GROUP_NAME_ANNOTATION: pg_name}}}
        try:
            await self.client.patch(PODS, name, patch, ns)
        except ApiError as err:
            if err.code != 404:
                raise

    @staticmethod
    def podgroup_for(pod: Obj) -> Obj:
        """The PodGroup (not yet created) for ``pod``."""
        m = pod["metadata"]
        ann = m.get("annotations") or {}
        spec = pod.get("spec") or {}
        refs = [dict(r) for r in m.get("ownerReferences") or []]
        if controller_of(pod) is None:
            refs.append({"apiVersion": "v1", "kind": "Pod", "name": m["name"], "uid": m["uid"], "controller": True})
        pg_spec: Obj = {
            "minMember": 1,
            "queue": ann.get(QUEUE_NAME_ANNOTATION) or DEFAULT_QUEUE,
            "minResources": format_resources(pod_requests(spec)),
        }
        if spec.get("priorityClassName"):
            pg_spec["priorityClassName"] = spec["priorityClassName"]
        meta: Obj = {"name": podgroup_name_for(pod), "namespace": m["namespace"], "ownerReferences": refs}
        copied = {
            k: v
            for k, v in ann.items()
            if k.startswith(_COPIED_ANNOTATION_PREFIXES) and k != VOLCANO_GROUP_NAME_ANNOTATION
        }
        if copied:
            meta["annotations"] = copied
        return {"apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "PodGroup", "metadata": meta, "spec": pg_spec}
