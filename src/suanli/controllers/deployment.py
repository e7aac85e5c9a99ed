"""Deployment controller (apps/v1): ReplicaSets per pod template, RollingUpdate and Recreate.

Level-triggered per Deployment key, following kube-controller-manager's semantics:

* the **new ReplicaSet** is the (oldest) one whose template equals the Deployment's, ignoring
  the ``pod-template-hash`` label; it is created as ``<deploy>-<hash>`` with that label added to
  its template and selector (:func:`pod_template_hash`), annotations
  ``deployment.kubernetes.io/revision`` (max old revision + 1; a reused ReplicaSet's previous
  revisions go to ``revision-history``), ``desired-replicas`` and ``max-replicas``, and the
  Deployment's own annotations (``kubernetes.io/change-cause`` shows in ``kubectl rollout
  history``). The Deployment carries the new ReplicaSet's revision too.
* **RollingUpdate**: scale the new RS up while the total stays ≤ replicas + maxSurge, scale
  old RSs down (unhealthy ones first) while the available total stays ≥ replicas -
  maxUnavailable (:func:`resolve_fenceposts`). **Recreate**: scale old RSs to 0, wait until no
  old pod runs, then scale the new RS to replicas.
* changing ``spec.replicas`` mid-rollout scales active RSs proportionally
  (:func:`proportional_sizes`); a ``paused`` Deployment only scales and cleans up;
  old RSs beyond ``revisionHistoryLimit`` with no replicas are deleted (oldest revision first).
* status: ``replicas``, ``updatedReplicas``, ``readyReplicas``, ``availableReplicas``,
  ``unavailableReplicas``, ``observedGeneration``, ``collisionCount``; conditions
  ``Available`` (MinimumReplicasAvailable / MinimumReplicasUnavailable) and ``Progressing``
  (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
  ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed), plus ``ReplicaFailure``
  copied from the new RS.
"""

from __future__ import annotations

import logging
import math

import orjson

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.selectors import LabelSelector, label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._informers import CONTROLLER_INDEX, controller_uid_index
from suanli.controllers._pods import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    claim,
    controller_of,
    owner_reference,
    rfc3339,
    set_condition,
    timestamp,
)
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = [
    "DeploymentController",
    "max_surge",
    "max_unavailable",
    "pod_template_hash",
    "proportional_sizes",
    "resolve_fenceposts",
    "scaled_value",
]

log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- pure rollout arithmetic -------------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An int-or-percent against ``total``: ``"25%"`` of 10 is 3 rounding up, 2 rounding down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        pct = int(text[:-1])
        exact = pct * total
        return -(-exact // 100) if round_up else exact // 100
    return int(text)


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts: surge rounds up, unavailable rounds down; if both are
    0, unavailable becomes 1 so a rollout can make progress.

    Example: desired 10, 25%/25% → (3, 2); desired 1, 25%/25% → (1, 0).
    """
    s = scaled_value(surge, desired, True)
    u = scaled_value(unavailable, desired, False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def _replicas(d: Obj) -> int:
    r = (d.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _rolling(d: Obj) -> Obj | None:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    rolling = strategy.get("rollingUpdate") or {}
    return {"maxSurge": rolling.get("maxSurge", "25%"), "maxUnavailable": rolling.get("maxUnavailable", "25%")}


def max_surge(d: Obj) -> int:
    """Extra pods allowed above replicas (0 for Recreate)."""
    rolling = _rolling(d)
    if rolling is None:
        return 0
    return resolve_fenceposts(rolling["maxSurge"], rolling["maxUnavailable"], _replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    """Pods allowed below replicas during a rollout (0 for Recreate or zero replicas), at most replicas."""
    rolling = _rolling(d)
    replicas = _replicas(d)
    if rolling is None or replicas == 0:
        return 0
    return min(resolve_fenceposts(rolling["maxSurge"], rolling["maxUnavailable"], replicas)[1], replicas)


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pod_template_hash(template: Obj, collision_count: int | None = None) -> str:
    """A stable, label-safe hash of a pod template (FNV-32a of canonical JSON, plus the collision count).

    The decimal digest is mapped character by character onto a vowel-free alphabet, as upstream
    renders it, so names never spell words.
    """
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little", signed=False)
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(_fnv32a(data)))


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def proportional_sizes(
    rss: list[tuple[str, int, int | None, float]], replicas: int, surge: int, status_replicas: int
) -> dict[str, int]:
    """New sizes for active ReplicaSets when a Deployment is resized mid-rollout.

    ``rss`` holds (name, spec replicas, max-replicas annotation or None, creation time).
    The allowed total is ``replicas + surge`` (0 when replicas is 0); the difference to the
    current total is shared in proportion to each RS's size relative to its annotated
    maximum (``round(size * allowed / annotated) - size``), largest RS first (newer first on
    ties when adding, older first when removing); the rounding leftover goes to the first.

    Example: two RSs of 5 (annotated max 10+3=13 → replicas 10, surge 3), resized to
    replicas 20 (surge 5, allowed 25): each gets round(5*25/13)-5 = 5 more → 10 and 10; the
    leftover 25-20=5 goes to the first (newer) → 15 and 10.
    """
    allowed = replicas + surge if replicas > 0 else 0
    current = sum(r[1] for r in rss)
    to_add = allowed - current
    if to_add > 0:
        ordered = sorted(rss, key=lambda r: (-r[1], -r[3], r[0]))
    else:
        ordered = sorted(rss, key=lambda r: (-r[1], r[3], r[0]))
    sizes: dict[str, int] = {}
    added = 0
    for name, size, annotated, _ in ordered:
        proportion = 0
        if to_add != 0 and size > 0 and to_add != added:
            if replicas == 0:
                fraction = -size
            else:
                base = annotated if annotated else status_replicas
                fraction = _round_half_away(size * allowed / base) - size if base else 0
            left = to_add - added
            proportion = min(fraction, left) if to_add > 0 else max(fraction, left)
        sizes[name] = size + proportion
        added += proportion
    if ordered and to_add != 0:
        first = ordered[0][0]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


# -- object helpers ----------------------------------------------------------------------------


def _spec_replicas(rs: Obj | None) -> int:
    if rs is None:
        return 0
    r = (rs.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _st(rs: Obj | None, field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)


def _ann(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _int_ann(obj: Obj, key: str) -> int | None:
    try:
        return int(_ann(obj)[key])
    except (KeyError, ValueError):
        return None


def _revision(rs: Obj) -> int:
    return _int_ann(rs, REVISION) or 0


def _created(obj: Obj) -> float:
    return timestamp(obj["metadata"].get("creationTimestamp")) or 0.0


def _without_hash(template: Obj) -> Obj:
    t: Obj = deep_copy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return t


def _equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return bool(_without_hash(a) == _without_hash(b))


def _cond(d: Obj, ctype: str) -> Obj | None:
    for c in (d.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


class DeploymentController(QueueController):
    """Reconciles every Deployment; construct with a Client and call ``run()``/``stop()``."""

    name = "deployment-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.recorder = EventRecorder(client, "deployment-controller", clock=self.clock)
        self.d_informer = self.watch(DEPLOYMENTS)
        self.rs_informer = self.watch(REPLICASETS, indexers={CONTROLLER_INDEX: controller_uid_index})
        self.pod_informer = self.watch(PODS, indexers={CONTROLLER_INDEX: controller_uid_index})
        self.d_informer.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), self._enqueue)
        self.rs_informer.add_handler(self._rs_changed, self._rs_updated, self._rs_changed)
        self.pod_informer.add_handler(None, self._pod_updated, self._pod_changed)

    # -- handlers ------------------------------------------------------------------------------

    def _enqueue(self, d: Obj) -> None:
        self.queue.add(object_key(d))

    def _owner_key(self, rs: Obj) -> str | None:
        ref = controller_of(rs)
        if ref is None or ref.get("kind") != "Deployment":
            return None
        return f"{rs['metadata']['namespace']}/{ref.get('name')}"

    def _rs_changed(self, rs: Obj) -> None:
        key = self._owner_key(rs)
        if key is not None:
            self.queue.add(key)
        elif controller_of(rs) is None:
            labels = rs["metadata"].get("labels") or {}
            for d in self.d_informer.list(rs["metadata"]["namespace"]):
                try:
                    if _selector(d).matches(labels):
                        self._enqueue(d)
                except ApiError:
                    continue

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if old is new:
            return
        old_key = self._owner_key(old)
        if old_key is not None and old_key != self._owner_key(new):
            self.queue.add(old_key)
        self._rs_changed(new)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old is not new and (old.get("status") or {}).get("phase") != (new.get("status") or {}).get("phase"):
            self._pod_changed(new)

    def _pod_changed(self, pod: Obj) -> None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(pod["metadata"]["namespace"], str(ref.get("name")))
        if rs is None:
            return
        key = self._owner_key(rs)
        d = self.d_informer.get_by_key(key) if key else None
        if d is not None and ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            self.queue.add(object_key(d))

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.d_informer.get(ns, name)
        if cached is None:
            return
        d = deep_copy(cached)
        try:
            selector = _selector(d)
        except ApiError as err:
            log.warning("deployment %s: invalid selector: %s", key, err)
            return
        if selector.empty:
            log.warning("deployment %s: empty selector selects everything; skipping", key)
            return
        rs_list = [
            deep_copy(rs) for rs in await claim(self.client, REPLICASETS, d, selector, self.rs_informer.list(ns))
        ]
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old = await self._get_all(d, rs_list, create=False)
            await self._sync_status(d, new_rs, old)
            return
        await self._check_paused(d)
        spec = d.get("spec") or {}
        if spec.get("paused") or await self._is_scaling_event(d, rs_list):
            await self._sync(d, rs_list)
            return
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            await self._recreate(d, rs_list)
        else:
            await self._rolling_update(d, rs_list)

    # -- new/old ReplicaSets -------------------------------------------------------------------

    async def _get_all(self, d: Obj, rs_list: list[Obj], *, create: bool) -> tuple[Obj | None, list[Obj]]:
        template = (d.get("spec") or {}).get("template") or {}
        ordered = sorted(rs_list, key=lambda r: (_created(r), r["metadata"]["name"]))
        existing = next(
            (r for r in ordered if _equal_ignore_hash((r.get("spec") or {}).get("template") or {}, template)), None
        )
        old = [r for r in ordered if r is not existing]
        new_rs = await self._new_rs(d, existing, old, create)
        return new_rs, old

    async def _new_rs(self, d: Obj, existing: Obj | None, old: list[Obj], create: bool) -> Obj | None:
        new_revision = str(max((_revision(r) for r in old), default=0) + 1)
        spec = d.get("spec") or {}
        mrs = int(spec.get("minReadySeconds") or 0)
        if existing is not None:
            rs = deep_copy(existing)
            changed = self._set_rs_annotations(d, rs, new_revision, exists=True)
            if int((rs.get("spec") or {}).get("minReadySeconds") or 0) != mrs:
                rs["spec"]["minReadySeconds"] = mrs
                changed = True
            if changed:
                rs = deep_copy(await self.client.update(REPLICASETS, rs, rs["metadata"]["namespace"]))
                existing.clear()
                existing.update(rs)
            await self._set_deployment_revision(d, _ann(existing).get(REVISION, ""))
            if spec.get("progressDeadlineSeconds") is not None and _cond(d, "Progressing") is None:
                await self._patch_conditions(
                    d,
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    f'Found new replica set "{existing["metadata"]["name"]}"',
                )
            return existing
        if not create:
            return None
        collisions = (d.get("status") or {}).get("collisionCount")
        template = deep_copy(spec.get("template") or {})
        digest = pod_template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = digest
        selector = deep_copy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = digest
        name = f"{d['metadata']['name']}-{digest}"
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": d["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {"replicas": 0, "minReadySeconds": mrs, "selector": selector, "template": template},
        }
        new_rs["spec"]["replicas"] = self._new_rs_replicas(d, old, new_rs)
        self._set_rs_annotations(d, new_rs, new_revision, exists=False)
        try:
            new_obj: Obj = deep_copy(await self.client.create(REPLICASETS, new_rs, d["metadata"]["namespace"]))
        except ApiError as err:
            if err.code != 409:
                raise
            current = await self.client.get(REPLICASETS, name, d["metadata"]["namespace"])
            ref = controller_of(current)
            if (
                ref is not None
                and ref.get("uid") == d["metadata"]["uid"]
                and _equal_ignore_hash((current.get("spec") or {}).get("template") or {}, spec.get("template") or {})
            ):
                mine: Obj = deep_copy(current)  # our informer is behind: it is ours
                return mine
            count = int(collisions or 0) + 1
            await self.client.patch(
                DEPLOYMENTS,
                d["metadata"]["name"],
                {"status": {"collisionCount": count}},
                d["metadata"]["namespace"],
                subresource="status",
            )
            raise
        if _spec_replicas(new_obj) > 0:
            await self.recorder.record(
                d, "Normal", "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {_spec_replicas(new_obj)}",
            )
        await self._set_deployment_revision(d, new_revision)
        if spec.get("progressDeadlineSeconds") is not None:
            await self._patch_conditions(
                d, "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"'
            )
        return new_obj

    def _set_rs_annotations(self, d: Obj, rs: Obj, new_revision: str, *, exists: bool) -> bool:
        """Copy the Deployment's annotations and advance the revision; True if anything changed."""
        ann = rs["metadata"].setdefault("annotations", {})
        before = dict(ann)
        for k, v in _ann(d).items():
            if k not in _NOT_COPIED:
                ann[k] = v
        old_revision = ann.get(REVISION, "")
        try:
            old_int = int(old_revision) if old_revision else 0
        except ValueError:
            old_int = 0
        if old_int < int(new_revision):
            ann[REVISION] = new_revision
            if old_revision and exists:
                history = ann.get(REVISION_HISTORY, "")
                ann[REVISION_HISTORY] = f"{history},{old_revision}" if history else old_revision
        if not exists:
            ann[DESIRED] = str(_replicas(d))
            ann[MAX_REPLICAS] = str(_replicas(d) + max_surge(d))
        return bool(ann != before)

    async def _set_deployment_revision(self, d: Obj, revision: str) -> None:
        if not revision or _ann(d).get(REVISION) == revision:
            return
        out = await self.client.patch(
            DEPLOYMENTS,
            d["metadata"]["name"],
            {"metadata": {"annotations": {REVISION: revision}}},
            d["metadata"]["namespace"],
        )
        d["metadata"] = deep_copy(out["metadata"])

    def _new_rs_replicas(self, d: Obj, old: list[Obj], new_rs: Obj) -> int:
        if _rolling(d) is None:
            return _replicas(d)
        current = sum(_spec_replicas(r) for r in old) + _spec_replicas(new_rs)
        max_total = _replicas(d) + max_surge(d)
        if current >= max_total:
            return _spec_replicas(new_rs)
        up = min(max_total - current, _replicas(d) - _spec_replicas(new_rs))
        return _spec_replicas(new_rs) + max(up, 0)

    async def _scale(self, d: Obj, rs: Obj, size: int) -> bool:
        """Set ``rs`` (in place) to ``size`` with current replica annotations; True if the size changed."""
        ann = rs["metadata"].get("annotations") or {}
        want_desired, want_max = str(_replicas(d)), str(_replicas(d) + max_surge(d))
        resized = _spec_replicas(rs) != size
        if not resized and ann.get(DESIRED) == want_desired and ann.get(MAX_REPLICAS) == want_max:
            return False
        new = deep_copy(rs)
        new["spec"]["replicas"] = size
        new_ann = new["metadata"].setdefault("annotations", {})
        new_ann[DESIRED], new_ann[MAX_REPLICAS] = want_desired, want_max
        out = await self.client.update(REPLICASETS, new, rs["metadata"]["namespace"])
        if resized:
            old_size = _spec_replicas(rs)
            await self.recorder.record(
                d, "Normal", "ScalingReplicaSet",
                f"Scaled {'up' if old_size < size else 'down'} replica set {rs['metadata']['name']} "
                f"from {old_size} to {size}",
            )
        rs.clear()
        rs.update(deep_copy(out))
        return resized

    # -- strategies ----------------------------------------------------------------------------

    async def _rolling_update(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old = await self._get_all(d, rs_list, create=True)
        assert new_rs is not None
        # scale the new RS up within the surge budget
        want = _spec_replicas(new_rs)
        if want < _replicas(d):
            want = self._new_rs_replicas(d, old, new_rs)
        elif want > _replicas(d):
            want = _replicas(d)
        if await self._scale(d, new_rs, want):
            await self._sync_rollout(d, new_rs, old)
            return
        if await self._scale_down_old(d, new_rs, old):
            await self._sync_rollout(d, new_rs, old)
            return
        if _complete(d, d.get("status") or {}):
            await self._cleanup(d, old)
        await self._sync_rollout(d, new_rs, old)

    async def _scale_down_old(self, d: Obj, new_rs: Obj, old: list[Obj]) -> bool:
        old_count = sum(_spec_replicas(r) for r in old)
        if old_count == 0:
            return False
        all_rs = [*old, new_rs]
        total = sum(_spec_replicas(r) for r in all_rs)
        min_available = _replicas(d) - max_unavailable(d)
        new_unavailable = _spec_replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_down = total - min_available - new_unavailable
        if max_down <= 0:
            return False
        scaled = 0
        by_age = sorted(old, key=lambda r: (_created(r), r["metadata"]["name"]))
        # first remove unhealthy (unavailable) replicas of old RSs
        for rs in by_age:
            if scaled >= max_down:
                break
            if _spec_replicas(rs) == 0:
                continue
            unhealthy = _spec_replicas(rs) - _st(rs, "availableReplicas")
            n = min(max_down - scaled, unhealthy)
            if n <= 0:
                continue
            await self._scale(d, rs, _spec_replicas(rs) - n)
            scaled += n
        max_down -= scaled
        # then scale down healthy ones while availability stays ≥ minAvailable
        available = sum(_st(r, "availableReplicas") for r in all_rs)
        if available > min_available and max_down > 0:
            budget = min(available - min_available, max_down)
            done = 0
            for rs in by_age:
                if done >= budget:
                    break
                if _spec_replicas(rs) == 0:
                    continue
                n = min(_spec_replicas(rs), budget - done)
                await self._scale(d, rs, _spec_replicas(rs) - n)
                done += n
            scaled += done
        return scaled > 0

    async def _recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old = await self._get_all(d, rs_list, create=False)
        scaled = False
        for rs in old:
            if _spec_replicas(rs) > 0:
                await self._scale(d, rs, 0)
                scaled = True
        if scaled:
            await self._sync_rollout(d, new_rs, old)
            return
        if self._old_pods_running(old):
            await self._sync_rollout(d, new_rs, old)
            return
        if new_rs is None:
            new_rs, old = await self._get_all(d, rs_list, create=True)
        assert new_rs is not None
        await self._scale(d, new_rs, _replicas(d))
        if _complete(d, d.get("status") or {}):
            await self._cleanup(d, old)
        await self._sync_rollout(d, new_rs, old)

    def _old_pods_running(self, old: list[Obj]) -> bool:
        for rs in old:
            if _st(rs, "replicas") > 0:
                return True
            for pod in self.pod_informer.by_index(CONTROLLER_INDEX, rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                    return True
        return False

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """Scale (and clean up when paused) without rolling out; used when paused or resized."""
        new_rs, old = await self._get_all(d, rs_list, create=False)
        await self._proportional_scale(d, new_rs, old)
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old)
        await self._sync_status(d, new_rs, old)

    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old = await self._get_all(d, rs_list, create=False)
        for rs in [*old, *([new_rs] if new_rs else [])]:
            if _spec_replicas(rs) <= 0:
                continue
            desired = _int_ann(rs, DESIRED)
            if desired is not None and desired != _replicas(d):
                return True
        return False

    async def _proportional_scale(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        newest_old = sorted(old, key=lambda r: (-_created(r), r["metadata"]["name"]))
        active = [r for r in [*([new_rs] if new_rs else []), *newest_old] if _spec_replicas(r) > 0]
        target: Obj | None = None
        if not active:
            target = new_rs if new_rs is not None else (newest_old[0] if newest_old else None)
        elif len(active) == 1:
            target = active[0]
        if target is not None or not active:
            if target is not None and _spec_replicas(target) != _replicas(d):
                await self._scale(d, target, _replicas(d))
            return
        if (
            new_rs is not None
            and _spec_replicas(new_rs) == _replicas(d)
            and _int_ann(new_rs, DESIRED) == _replicas(d)
            and _st(new_rs, "availableReplicas") == _replicas(d)
        ):
            for rs in old:
                if _spec_replicas(rs) > 0:
                    await self._scale(d, rs, 0)
            return
        if _rolling(d) is None:
            return
        sizes = proportional_sizes(
            [(r["metadata"]["name"], _spec_replicas(r), _int_ann(r, MAX_REPLICAS), _created(r)) for r in active],
            _replicas(d),
            max_surge(d),
            _st(d, "replicas"),
        )
        for rs in active:
            await self._scale(d, rs, sizes[rs["metadata"]["name"]])

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [r for r in old if not r["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(limit)
        if excess <= 0:
            return
        for rs in sorted(alive, key=lambda r: (_revision(r), _created(r))):
            if excess <= 0:
                break
            if (
                _st(rs, "replicas")
                or _spec_replicas(rs)
                or int(rs["metadata"].get("generation") or 0) > _st(rs, "observedGeneration")
            ):
                continue
            try:
                await self.client.delete(
                    REPLICASETS,
                    rs["metadata"]["name"],
                    rs["metadata"]["namespace"],
                    preconditions={"uid": rs["metadata"]["uid"]},
                )
            except ApiError as err:
                if err.code not in (404, 409):
                    raise
            excess -= 1

    # -- status --------------------------------------------------------------------------------

    def _calculate_status(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> Obj:
        all_rs = [*old, *([new_rs] if new_rs else [])]
        available = sum(_st(r, "availableReplicas") for r in all_rs)
        total_spec = sum(_spec_replicas(r) for r in all_rs)
        prev = d.get("status") or {}
        status: Obj = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": sum(_st(r, "replicas") for r in all_rs),
            "updatedReplicas": _st(new_rs, "replicas"),
            "readyReplicas": sum(_st(r, "readyReplicas") for r in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(total_spec - available, 0),
        }
        if prev.get("collisionCount") is not None:
            status["collisionCount"] = prev["collisionCount"]
        now = rfc3339(self.clock.now())
        conds = [dict(c) for c in prev.get("conditions") or []]
        if available >= _replicas(d) - max_unavailable(d):
            conds = set_condition(
                conds,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                update_time=True,
            )
        else:
            conds = set_condition(
                conds,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
                update_time=True,
            )
        status["conditions"] = conds
        return status

    async def _sync_status(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        await self._write_status(d, self._calculate_status(d, new_rs, old))

    async def _sync_rollout(self, d: Obj, new_rs: Obj | None, old: list[Obj]) -> None:
        status = self._calculate_status(d, new_rs, old)
        conds: list[Obj] = status["conditions"]
        deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
        now_epoch = self.clock.now()
        now = rfc3339(now_epoch)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        current = _cond(d, "Progressing")
        if deadline is not None and not (current and current.get("reason") == "ProgressDeadlineExceeded"):
            if _complete(d, status):
                conds = set_condition(
                    conds,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    now,
                    update_time=True,
                )
            elif _progressing(d, status):
                conds = [c for c in conds if c.get("type") != "Progressing"]
                keep = current is not None and current.get("status") == "True"
                conds.append(
                    {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "ReplicaSetUpdated",
                        "message": f'ReplicaSet "{rs_name}" is progressing.',
                        "lastUpdateTime": now,
                        "lastTransitionTime": current.get("lastTransitionTime", now)
                        if keep and current is not None
                        else now,
                    }
                )
            elif self._timed_out(d, current, now_epoch):
                conds = set_condition(
                    conds,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    now,
                    update_time=True,
                )
        failure = next(
            (
                c
                for c in ((new_rs or {}).get("status") or {}).get("conditions") or []
                if c.get("type") == "ReplicaFailure"
            ),
            None,
        )
        if failure is not None:
            conds = set_condition(
                conds,
                "ReplicaFailure",
                failure.get("status", "True"),
                failure.get("reason", ""),
                failure.get("message", ""),
                now,
                update_time=True,
            )
        else:
            conds = [c for c in conds if c.get("type") != "ReplicaFailure"]
        status["conditions"] = conds
        await self._write_status(d, status)
        if deadline is not None and not _complete(d, status):
            prog = next((c for c in conds if c.get("type") == "Progressing"), None)
            if prog is not None and prog.get("reason") not in ("ProgressDeadlineExceeded", "NewReplicaSetAvailable"):
                since = timestamp(prog.get("lastUpdateTime")) or now_epoch
                self.queue.add_after(object_key(d), max(since + float(deadline) - now_epoch, 0.0) + 1.0)

    def _timed_out(self, d: Obj, cond: Obj | None, now: float) -> bool:
        if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return True
        since = timestamp(cond.get("lastUpdateTime"))
        deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
        return since is not None and deadline is not None and since + float(deadline) < now

    async def _check_paused(self, d: Obj) -> None:
        spec = d.get("spec") or {}
        if spec.get("progressDeadlineSeconds") is None:
            return
        cond = _cond(d, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return
        paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
        if spec.get("paused") and not paused_cond:
            await self._patch_conditions(d, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not spec.get("paused") and paused_cond:
            await self._patch_conditions(d, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed")

    async def _patch_conditions(self, d: Obj, ctype: str, status: str, reason: str, message: str) -> None:
        conds = set_condition(
            list((d.get("status") or {}).get("conditions") or []),
            ctype,
            status,
            reason,
            message,
            rfc3339(self.clock.now()),
            update_time=True,
        )
        new_status = dict(d.get("status") or {})
        new_status["conditions"] = conds
        await self._write_status(d, new_status)

    async def _write_status(self, d: Obj, status: Obj) -> None:
        prev = d.get("status") or {}
        if all(prev.get(k, 0 if k != "conditions" else None) == v for k, v in status.items()):
            return
        out = await self.client.patch(
            DEPLOYMENTS, d["metadata"]["name"], {"status": status}, d["metadata"]["namespace"], subresource="status"
        )
        d["status"] = deep_copy(out.get("status") or {})
        d["metadata"] = deep_copy(out["metadata"])


def _complete(d: Obj, status: Obj) -> bool:
    r = _replicas(d)
    return bool(
        status.get("updatedReplicas", 0) == r
        and status.get("replicas", 0) == r
        and status.get("availableReplicas", 0) == r
        and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)
    )


def _progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(new.get("replicas") or 0) - int(new.get("updatedReplicas") or 0)
    return bool(
        int(new.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or int(new.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0)
        or int(new.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)
    )


def _selector(d: Obj) -> LabelSelector:
    return label_selector_from_object((d.get("spec") or {}).get("selector"))
