"""DaemonSet controller (``apps/v1``): one pod per eligible node, rolling updates, status.

Contract (level-triggered over DaemonSet, Pod and Node informers and a work queue):

* **Eligibility** of a node for a DaemonSet's pod template (upstream ``nodeShouldRunDaemonPod``):
  ``spec.nodeName`` of the template (if set) names it, ``nodeSelector`` matches its
  labels, required node affinity matches (``nodeSelectorTerms`` ORed; per term
  ``matchExpressions`` on labels with ``In/NotIn/Exists/DoesNotExist/Gt/Lt`` and
  ``matchFields`` on ``metadata.name`` ANDed), and every ``NoSchedule``/``NoExecute`` taint
  is tolerated. DaemonSet pods tolerate what upstream adds: ``node.kubernetes.io/not-ready``
  and ``unreachable`` (NoExecute), ``disk-pressure``, ``memory-pressure``, ``pid-pressure``,
  ``unschedulable`` (NoSchedule) and ``network-unavailable`` (NoSchedule, hostNetwork pods).
  A pod already on a node whose only untolerated taints are ``NoSchedule`` keeps running.
* **Placement simplification:** pods are created with ``spec.nodeName`` set directly
  (upstream sets a ``metadata.name`` node-affinity term and lets the scheduler bind).
  Pod names are deterministic per node (``<ds>-<8 chars of sha256(node)>``), so a stale
  cache cannot create duplicates: a second create gets 409.
* Each pod carries the template's labels plus ``controller-revision-hash`` (a hash of the
  template) and a controller ``ownerReference`` (``blockOwnerDeletion: true``). A node gets
  a new pod only once it has no pod of the DaemonSet at all (a terminating one must go
  first). Extra pods on a node, ``Failed`` pods, pods on nodes that no longer qualify and
  pods on nodes that no longer exist are deleted.
* **RollingUpdate** (``maxUnavailable``, int or percent of desired, rounded up; default 1;
  ``maxSurge`` is not implemented and treated as 0): old-hash pods that are unavailable are
  replaced at once; available ones are deleted while fewer than ``maxUnavailable`` nodes
  are unavailable. **OnDelete** replaces a pod only after someone deletes it.
* **Status**: ``desiredNumberScheduled``, ``currentNumberScheduled``, ``numberMisscheduled``,
  ``numberReady``, ``numberAvailable`` (ready for ``minReadySeconds``),
  ``numberUnavailable``, ``updatedNumberScheduled``, ``observedGeneration``. A pod is ready
  when its ``Ready`` condition is True (a pod without conditions: when ``Running``).
* Not implemented: ControllerRevision objects / rollback history, adoption of orphan
  pods matching the selector, failed-pod backoff.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.nodeaffinity import node_affinity_matches as _node_affinity_matches
from suanli.apimachinery.nodeaffinity import tolerates
from suanli.apimachinery.objects import Obj, deep_copy, parse_time
from suanli.client.protocol import Client
from suanli.controllers._pods import create_pod, delete_pod
from suanli.runtime.clock import Clock
from suanli.runtime.controller import QueueController
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import DAEMONSETS, NODES, PODS

__all__ = [
    "DAEMON_TOLERATIONS",
    "HASH_LABEL",
    "DaemonSetController",
    "daemon_pod_tolerations",
    "node_affinity_matches",
    "placement",
    "pod_name_for_node",
    "resolve_max_unavailable",
    "template_hash",
    "toleration_matches",
]


HASH_LABEL = "controller-revision-hash"
OWNER_INDEX = "daemonset-owner"

DAEMON_TOLERATIONS: tuple[Obj, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
_NETWORK_TOLERATION: Obj = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                            "effect": "NoSchedule"}


# --------------------------------------------------------------------------------------------
# placement rules (pure)
# --------------------------------------------------------------------------------------------


def daemon_pod_tolerations(pod_spec: Obj) -> list[Obj]:
    """The template's tolerations plus the DaemonSet ones it lacks (upstream adds the same)."""
    out = [deep_copy(t) for t in pod_spec.get("tolerations") or []]
    extra = [*DAEMON_TOLERATIONS, *([_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])]
    for t in extra:
        if not any(o.get("key") == t["key"] and o.get("effect") == t["effect"] for o in out):
            out.append(dict(t))
    return out


def toleration_matches(tol: Obj, taint: Obj) -> bool:
    """Upstream ``ToleratesTaint`` (see :func:`suanli.apimachinery.nodeaffinity.tolerates`)."""
    return tolerates(tol, taint)


def _untolerated(tolerations: list[Obj], node: Obj, effects: Iterable[str]) -> list[Obj]:
    wanted = set(effects)
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") in wanted and not any(toleration_matches(tol, t) for tol in tolerations)]


def node_affinity_matches(pod_spec: Obj, node: Obj) -> bool:
    """``nodeSelector`` and required node affinity of ``pod_spec`` both accept ``node``."""
    meta = node.get("metadata") or {}
    return _node_affinity_matches(pod_spec, meta.get("labels") or {}, str(meta.get("name") or ""))


def placement(pod_spec: Obj, node: Obj) -> tuple[bool, bool]:
    """``(should_run, should_continue_running)`` of a DaemonSet pod with ``pod_spec`` on ``node``."""
    if node.get("metadata", {}).get("deletionTimestamp"):
        return False, False
    wanted = pod_spec.get("nodeName")
    if wanted and wanted != (node.get("metadata") or {}).get("name"):
        return False, False
    if not node_affinity_matches(pod_spec, node):
        return False, False
    tols = daemon_pod_tolerations(pod_spec)
    if _untolerated(tols, node, ("NoExecute",)):
        return False, False
    return not _untolerated(tols, node, ("NoSchedule",)), True


def template_hash(template: Obj) -> str:
    """A stable 10-character hash of a pod template (key order does not matter)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:10]


def pod_name_for_node(ds_name: str, node_name: str) -> str:
    """Deterministic pod name: ``<ds (≤ 54 chars)>-<8 base32 chars of sha256(node)>``."""
    suffix = base64.b32encode(hashlib.sha256(node_name.encode()).digest()).decode().lower()[:8]
    return f"{ds_name[:54].rstrip('-.')}-{suffix}"


def resolve_max_unavailable(ds: Obj, desired: int) -> int:
    """``maxUnavailable`` as a count: percentages of ``desired`` round up; never below 1.

    Example: ``"25%"`` of 10 nodes → 3 (2.5 rounded up); ``0`` → 1 (maxSurge is not supported).
    """
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    raw = rolling.get("maxUnavailable", 1)
    if isinstance(raw, str) and raw.endswith("%"):
        try:
            pct = int(raw[:-1])
        except ValueError:
            pct = 0
        value = -(-pct * desired // 100)
    else:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            value = 1
    return max(value, 1)


# --------------------------------------------------------------------------------------------
# pod state helpers
# --------------------------------------------------------------------------------------------


def _ready_since(pod: Obj) -> float | None:
    """Epoch seconds since the pod is ready (0.0 if unknown), or ``None`` if not ready."""
    status = pod.get("status") or {}
    conds = status.get("conditions") or []
    for c in conds:
        if c.get("type") == "Ready":
            if c.get("status") != "True":
                return None
            ts = c.get("lastTransitionTime")
            try:
                return parse_time(str(ts)).timestamp() if ts else 0.0
            except ValueError:
                return 0.0
    return 0.0 if not conds and status.get("phase") == "Running" else None


def _controller_ref(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _owner_index(pod: Obj) -> list[str]:
    ref = _controller_ref(pod)
    return [str(ref.get("uid"))] if ref and ref.get("kind") == "DaemonSet" else []


def _created(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


# --------------------------------------------------------------------------------------------
# controller
# --------------------------------------------------------------------------------------------


class DaemonSetController(QueueController):
    """Reconciles every DaemonSet on the reconcile runtime; construct with a client, then
    ``await run()`` / ``await stop()``."""

    name = "daemonset"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.recorder = EventRecorder(client, "daemonset-controller", clock=self.clock)
        self.daemonsets = self.watch(DAEMONSETS)
        self.pods = self.watch(PODS, indexers={OWNER_INDEX: _owner_index})
        self.nodes = self.watch(NODES)
        self._deleting: set[str] = set()  # pod UIDs we asked to delete, until the cache shows it
        self.daemonsets.add_handler(self._enqueue_ds, lambda _o, n: self._enqueue_ds(n), self._enqueue_ds)
        self.pods.add_handler(self._on_pod, lambda _o, n: self._on_pod(n), self._on_pod_deleted)
        self.nodes.add_handler(lambda _n: self._enqueue_all(), self._on_node_update, lambda _n: self._enqueue_all())

    # -- event handlers --------------------------------------------------------------------------

    @staticmethod
    def _key(obj: Obj) -> str:
        m = obj.get("metadata") or {}
        return f"{m.get('namespace')}/{m.get('name')}"

    def _enqueue_ds(self, ds: Obj) -> None:
        self.queue.add(self._key(ds))

    def _enqueue_all(self) -> None:
        for ds in self.daemonsets.list():
            self._enqueue_ds(ds)

    def _on_pod(self, pod: Obj) -> None:
        m = pod.get("metadata") or {}
        if m.get("deletionTimestamp"):
            self._deleting.discard(str(m.get("uid")))
        ref = _controller_ref(pod)
        if ref and ref.get("kind") == "DaemonSet":
            self.queue.add(f"{m.get('namespace')}/{ref.get('name')}")

    def _on_pod_deleted(self, pod: Obj) -> None:
        self._deleting.discard(str((pod.get("metadata") or {}).get("uid")))
        self._on_pod(pod)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        def shape(n: Obj) -> Any:
            m = n.get("metadata") or {}
            return (m.get("labels"), (n.get("spec") or {}).get("taints"), m.get("deletionTimestamp"))

        if shape(old) != shape(new):
            self._enqueue_all()

    def on_synced(self) -> None:
        self._enqueue_all()

    # -- reconcile -------------------------------------------------------------------------------

    def _terminating(self, pod: Obj) -> bool:
        m = pod.get("metadata") or {}
        return bool(m.get("deletionTimestamp")) or str(m.get("uid")) in self._deleting

    async def reconcile(self, key: str) -> float | None:
        """Bring one DaemonSet's pods and status to the desired state; returns a requeue delay."""
        ns, _, name = key.partition("/")
        ds = self.daemonsets.get(ns, name)
        if ds is None or (ds.get("metadata") or {}).get("deletionTimestamp"):
            return None
        spec = ds.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        cur_hash = template_hash(template)
        uid = str(ds["metadata"].get("uid"))
        by_node: dict[str, list[Obj]] = {}
        for pod in self.pods.by_index(OWNER_INDEX, uid):
            by_node.setdefault(str((pod.get("spec") or {}).get("nodeName") or ""), []).append(pod)
        nodes = {str(n["metadata"]["name"]): n for n in self.nodes.list()}
        to_delete: list[Obj] = []
        to_create: list[str] = []
        runs: dict[str, bool] = {}
        for node_name, node in nodes.items():
            should_run, should_continue = placement(pod_spec, node)
            runs[node_name] = should_run
            pods = by_node.get(node_name, [])
            active = [p for p in pods if not self._terminating(p)]
            if should_run and not pods:
                to_create.append(node_name)
            elif should_run or should_continue:
                failed = [p for p in active if (p.get("status") or {}).get("phase") == "Failed"]
                keep = sorted((p for p in active if p not in failed),
                              key=lambda p: ((p["metadata"].get("labels") or {}).get(HASH_LABEL) != cur_hash,
                                             _created(p), p["metadata"]["name"]))
                to_delete += failed + keep[1:]
            else:
                to_delete += active
        for node_name, pods in by_node.items():
            if node_name not in nodes:
                to_delete += [p for p in pods if not self._terminating(p)]
        strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self.clock.now()
        doomed = {str(p["metadata"].get("uid")) for p in to_delete}
        if strategy == "RollingUpdate":
            to_delete += self._rolling_victims(ds, by_node, runs, cur_hash, doomed, min_ready, now)
        for pod in to_delete:
            await self._delete_pod(ds, pod)
        for node_name in to_create:
            await self._create_pod(ds, node_name, cur_hash)
        return await self._update_status(ds, by_node, runs, cur_hash, min_ready, now)

    def _available(self, pod: Obj, min_ready: int, now: float) -> bool:
        since = _ready_since(pod)
        return since is not None and (min_ready <= 0 or since + min_ready <= now)

    def _rolling_victims(self, ds: Obj, by_node: dict[str, list[Obj]], runs: dict[str, bool], cur_hash: str,
                         doomed: set[str], min_ready: int, now: float) -> list[Obj]:
        desired = sum(runs.values())
        budget = resolve_max_unavailable(ds, desired)
        unavailable = 0
        replace: list[Obj] = []
        candidates: list[Obj] = []
        for node_name in sorted(n for n, r in runs.items() if r):
            active = [p for p in by_node.get(node_name, [])
                      if not self._terminating(p) and str(p["metadata"].get("uid")) not in doomed]
            new = [p for p in active if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == cur_hash]
            old = [p for p in active if p not in new]
            if not active or (new and old):
                unavailable += 1
            elif new:
                if not self._available(new[0], min_ready, now):
                    unavailable += 1
            elif not self._available(old[0], min_ready, now):
                replace.append(old[0])
            else:
                candidates.append(old[0])
        return replace + candidates[:max(0, budget - unavailable - len(replace))]

    async def _delete_pod(self, ds: Obj, pod: Obj) -> None:
        m = pod["metadata"]
        self._deleting.add(str(m.get("uid")))
        try:
            await delete_pod(self.client, self.recorder, ds, pod)
        except ApiError as err:
            self._deleting.discard(str(m.get("uid")))
            if err.code not in (404, 409):
                raise

    def _pod_for(self, ds: Obj, node_name: str, cur_hash: str) -> Obj:
        m = ds["metadata"]
        template = deep_copy((ds.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        labels[HASH_LABEL] = cur_hash
        pod_meta: Obj = {
            "name": pod_name_for_node(str(m["name"]), node_name),
            "namespace": m.get("namespace"),
            "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": m["name"],
                                 "uid": m.get("uid"), "controller": True, "blockOwnerDeletion": True}],
        }
        if tmeta.get("annotations"):
            pod_meta["annotations"] = dict(tmeta["annotations"])
        pod_spec = template.get("spec") or {}
        pod_spec["nodeName"] = node_name
        pod_spec["tolerations"] = daemon_pod_tolerations(pod_spec)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}

    async def _create_pod(self, ds: Obj, node_name: str, cur_hash: str) -> None:
        pod = self._pod_for(ds, node_name, cur_hash)
        ns = str(ds["metadata"].get("namespace") or "")
        try:
            await create_pod(self.client, self.recorder, ds, pod, ns)
        except ApiError as err:
            if err.code != 409:
                raise
            existing = await self.client.get(PODS, pod["metadata"]["name"], ns)
            if (existing.get("spec") or {}).get("nodeName") != node_name:  # name-hash collision
                pod["metadata"].pop("name")
                pod["metadata"]["generateName"] = f"{str(ds['metadata']['name'])[:54]}-"
                await create_pod(self.client, self.recorder, ds, pod, ns)

    async def _update_status(self, ds: Obj, by_node: dict[str, list[Obj]], runs: dict[str, bool],
                             cur_hash: str, min_ready: int, now: float) -> float | None:
        current = ready = available = updated = misscheduled = 0
        requeue: float | None = None
        for node_name, pods in by_node.items():
            active = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
            if not active:
                continue
            if not runs.get(node_name, False):
                misscheduled += 1
                continue
            current += 1
            best = sorted(active, key=lambda p: ((p["metadata"].get("labels") or {}).get(HASH_LABEL) != cur_hash,
                                                 _ready_since(p) is None, _created(p)))[0]
            if (best["metadata"].get("labels") or {}).get(HASH_LABEL) == cur_hash:
                updated += 1
            since = _ready_since(best)
            if since is not None:
                ready += 1
                if min_ready <= 0 or since + min_ready <= now:
                    available += 1
                else:
                    wait = since + min_ready - now
                    requeue = wait if requeue is None else min(requeue, wait)
        desired = sum(runs.values())
        status = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": max(0, desired - available),
            "updatedNumberScheduled": updated,
            "observedGeneration": int(ds["metadata"].get("generation") or 0),
        }
        old = ds.get("status") or {}
        if any(old.get(k, 0) != v for k, v in status.items()):
            m = ds["metadata"]
            await self.client.patch(DAEMONSETS, str(m["name"]), {"status": status}, str(m.get("namespace") or ""),
                                    patch_type="merge", subresource="status")
        return requeue
