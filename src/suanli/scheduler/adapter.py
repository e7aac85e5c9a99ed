"""The live scheduler: informer caches → pure core → API writes.

Each cycle (``period`` seconds, or sooner after a change) builds an immutable snapshot
from the informer caches, runs :func:`suanli.scheduler.core.scheduler.schedule`, and
applies the decisions through the API:

* evictions through ``pods/{name}/eviction``;
* binds through ``pods/{name}/binding`` (device annotations such as
  ``volcano.sh/gpu-index`` are patched onto the pod first);
* ``PodScheduled=False`` (reason ``Unschedulable``) with the per-node reason summary on
  pods that got no node, plus a ``FailedScheduling`` Event; a ``Scheduled`` Event on bind;
* PodGroup and Queue ``status`` through their status subresource, only when changed.

Binds in flight are *assumed* (Volcano's cache semantics): the next cycle sees the pod on
its node even before the informer reports the bind, so nothing is placed twice.

The snapshot is built incrementally: the informers' handlers feed a
:class:`~suanli.scheduler.core.snapshot_builder.SnapshotBuilder`, so a cycle converts only the
objects that changed since the previous one (the result equals ``snapshot_from_objects`` over
the caches, with assumed binds applied).

The configuration is Volcano's ``volcano-scheduler.conf``: from the ConfigMap
``volcano-scheduler-configmap`` in ``volcano-system`` (key ``volcano-scheduler.conf``;
``suanli up`` creates it, see :mod:`suanli.scheduler.configmap`) when it exists, else from
``--scheduler-config FILE``, else Volcano's default. A change to the ConfigMap is picked up at
once: a Normal Event ``ConfigurationLoaded`` on the ConfigMap, plus one Warning Event
``IgnoredConfiguration`` per key, plugin or action that was skipped (the parser is as lenient
as Volcano's, see :mod:`suanli.scheduler.core.config`); an invalid one is reported as a Warning
Event ``InvalidConfiguration`` and the previous configuration stays in force. Warnings about a
``--scheduler-config`` file are logged at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, now_rfc3339
from suanli.apimachinery.quantity import parse_quantity
from suanli.client.protocol import Client
from suanli.runtime.events import EventRecorder, EventType
from suanli.runtime.informer import Informer
from suanli.runtime.informer_factory import SharedInformerFactory, resolve_factory
from suanli.runtime.metrics import MetricsRegistry, default_registry
from suanli.scheduler.configmap import CONFIGMAP_KEY, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, CONFIGMAPS
from suanli.scheduler.core.config import ConfigError, SchedulerConfig, parse_config
from suanli.scheduler.core.decisions import Bind, Decisions, Eviction, Unschedulable
from suanli.scheduler.core.scheduler import schedule
from suanli.scheduler.core.snapshot import Snapshot, SnapshotConfig
from suanli.scheduler.core.snapshot_builder import SnapshotBuilder
from suanli.wire import NODES, PODGROUPS, PODS, PRIORITY_CLASSES, QUEUES

__all__ = ["CONFIGMAP_KEY", "CONFIGMAP_NAME", "CONFIGMAP_NAMESPACE", "LiveScheduler", "stamp_conditions"]

log = logging.getLogger(__name__)


COMPONENT = "volcano"
_BIND_CONCURRENCY = 256
_STATUS_CONCURRENCY = 16  # Volcano's jobUpdaterWorker: PodGroup status writes in parallel
_T = TypeVar("_T")
_R = TypeVar("_R")
#: Shortest pause between cycles under continuous load: each cycle has a fixed cost (~15 ms for
#: 5,000 nodes and 12,000 pods), so SchedulingBasic binds ~7% more pods/s than with 50 ms pauses.
_MIN_PAUSE = 0.15
#: seconds a *finished* bind stays assumed until the informer shows it (kube-scheduler's cache starts
#: this clock at FinishBinding: a bind still queued or in flight never lapses, however slow the API)
_ASSUME_TTL = 30.0
_RESYNC_PERIOD = 30.0  # seconds between rebuilds of the incremental snapshot from the informer caches


def _updated(upsert: Callable[[Obj], None]) -> Callable[[Obj, Obj], None]:
    """An informer ``on_update`` handler that upserts the new object."""
    return lambda _old, new: upsert(new)


async def _concurrently(fn: Callable[[_T], Awaitable[_R]], items: Sequence[_T], limit: int) -> list[_R]:
    """``[await fn(x) for x in items]`` with up to ``limit`` calls in flight, results in order.

    A fixed pool of ``min(limit, len(items))`` workers rather than one task per item: thousands of
    binds per cycle would otherwise cost a task and a semaphore wake-up each.
    """
    results: list[_R | None] = [None] * len(items)
    cursor = iter(range(len(items)))

    async def worker() -> None:
        for i in cursor:
            results[i] = await fn(items[i])

    await asyncio.gather(*(worker() for _ in range(min(limit, len(items)))))
    return results  # type: ignore[return-value]  # every slot was filled


def _digest(snap: Snapshot) -> tuple[Any, ...]:
    """What scheduling decisions depend on, comparable between two snapshots of the same objects."""
    return (
        tuple(snap.nodes.names), snap.nodes.used.tobytes(), snap.nodes.allocatable.tobytes(),
        tuple((t.uid, t.job, t.status, t.node, t.priority, t.request.tobytes()) for t in snap.tasks),
        tuple(sorted((j.uid, j.queue, j.phase, j.min_member, tuple(j.tasks)) for j in snap.jobs.values())),
        tuple(sorted(snap.queues)),
    )


def _without_counts(message: str) -> str:
    """A pending reason without its node counts: the condition and Event are rewritten only when
    the reasons change, not every time the counts shift while a cluster fills up."""
    return re.sub(r"\d+", "#", message)


class LiveScheduler:
    """Run the scheduling core against a live API (``run()`` until ``stop()``)."""

    def __init__(self, client: Client, *, config_file: Path | None = None, period: float = 1.0,
                 scheduler_names: Iterable[str] = ("volcano", "default-scheduler", "suanli"),
                 metrics: MetricsRegistry | None = None, factory: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.factory, self._owns_factory = resolve_factory(client, factory)
        self.period = period
        self._file_text = config_file.read_text() if config_file is not None else None
        self.file_config = parse_config(self._file_text)  # an invalid file fails start-up loudly
        for warning in self.file_config.warnings:
            log.warning("scheduler configuration %s: %s", config_file, warning)
        self.config: SchedulerConfig = self.file_config
        # which pods preempt/reclaim may evict by default follows the configuration (see _use)
        self.snapshot_config = SnapshotConfig(scheduler_names=frozenset(scheduler_names),
                                              default_preemptable=self.config.default_preemptable)
        self._binding: set[asyncio.Future[list[bool]]] = set()  # binding cycles in flight
        self._config_source: tuple[str, str] | None = None
        informer = self.factory.informer
        self.nodes = informer(NODES)
        self.pods = informer(PODS)
        self.podgroups = informer(PODGROUPS)
        self.queues = informer(QUEUES)
        self.priority_classes = informer(PRIORITY_CLASSES)
        self.configmaps = informer(CONFIGMAPS, CONFIGMAP_NAMESPACE, field_selector=f"metadata.name={CONFIGMAP_NAME}")
        self.informers = (self.nodes, self.pods, self.podgroups, self.queues, self.priority_classes,
                          self.configmaps)
        self.events = EventRecorder(client, COMPONENT)
        self._assumed: dict[str, tuple[str, float]] = {}  # pod uid -> (node, when the bind finished; inf: not yet)
        self.snapshots = SnapshotBuilder(self.snapshot_config)
        self._resynced = time.monotonic()
        feeds: tuple[tuple[Informer, Callable[[Obj], None], Callable[[Obj], None]], ...] = (
            (self.nodes, lambda o: self.snapshots.upsert_node(o), lambda o: self.snapshots.remove_node(o)),
            (self.podgroups, lambda o: self.snapshots.upsert_podgroup(o), lambda o: self.snapshots.remove_podgroup(o)),
            (self.queues, lambda o: self.snapshots.upsert_queue(o), lambda o: self.snapshots.remove_queue(o)),
            (self.priority_classes, lambda o: self.snapshots.upsert_priority_class(o),
             lambda o: self.snapshots.remove_priority_class(o)))
        for inf, upsert, remove in feeds:
            inf.add_handler(upsert, _updated(upsert), remove)
        self._evicting: set[str] = set()
        self._last_unschedulable: dict[str, str] = {}
        self._last_pg_status: dict[str, Any] = {}
        self._last_queue_status: dict[str, Any] = {}
        self._pg_event_marks: dict[str, str] = {}  # "ns/name" -> the PodGroup verdict last told by an Event
        self.podgroups.add_handler(on_delete=self._podgroup_gone)
        self._exported: dict[tuple[str, str], set[str]] = {}  # (queue, status field) -> resources on gauges
        self._wake = asyncio.Event()
        self._last_compute = 0.0  # seconds the last cycle spent before its API writes
        self._stopped = False
        self.ready = asyncio.Event()
        reg = metrics or default_registry()
        self.m_cycle = reg.histogram("suanli_scheduler_cycle_duration_seconds",
                                     "Duration of one scheduling cycle (snapshot, core, writes).",
                                     [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
        self.m_attempts = reg.counter("suanli_scheduler_schedule_attempts_total",
                                      "Pod scheduling attempts by result.", ["result"])
        self.m_evictions = reg.counter("suanli_scheduler_evictions_total", "Pods evicted by reason.", ["reason"])
        self.m_queue_allocated = reg.gauge("suanli_queue_allocated", "Resources allocated to a queue.",
                                           ["queue", "resource"])
        self.m_queue_deserved = reg.gauge("suanli_queue_deserved", "Deserved share of a queue.",
                                          ["queue", "resource"])
        self.m_queue_pending = reg.gauge("suanli_queue_pending_podgroups", "Pending PodGroups per queue.",
                                         ["queue"])
        self._pending: set[str] = set()  # "ns/name" of unbound pods this scheduler serves
        self._dirty = True  # configuration, queues, PodGroups or priorities changed since the last cycle
        for inf in (self.configmaps, self.queues, self.podgroups, self.priority_classes):
            inf.add_handler(lambda _o: self._mark_dirty(), lambda _a, _b: self._mark_dirty(),
                            lambda _o: self._mark_dirty())
        # configuration, queue specs and priority classes take effect at once, even mid-pause
        self._urgent = asyncio.Event()
        for inf in (self.configmaps, self.priority_classes):
            inf.add_handler(lambda _o: self._urgent.set(), lambda _a, _b: self._urgent.set(),
                            lambda _o: self._urgent.set())
        self.queues.add_handler(lambda _o: self._urgent.set(), self._queue_updated, lambda _o: self._urgent.set())
        # pods, the busiest informer: one handler per event feeds the snapshot, tracks work and wakes
        self.pods.add_handler(self._pod_seen, lambda _old, new: self._pod_seen(new), self._pod_gone)
        for inf in self.informers:
            if inf is not self.pods:
                inf.add_handler(lambda _o: self._wake.set(), lambda _a, _b: self._wake.set(),
                                lambda _o: self._wake.set())

    # ------------------------------------------------------------------ is there work?

    def _pod_seen(self, pod: Obj) -> None:
        self.snapshots.upsert_pod(pod)
        self._track_pod(pod)
        self._wake.set()

    def _pod_gone(self, pod: Obj) -> None:
        self.snapshots.remove_pod(pod)
        self._untrack_pod(pod)
        self._wake.set()

    def _track_pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        waiting = (not spec.get("nodeName") and not meta.get("deletionTimestamp")
                   and spec.get("schedulerName", "default-scheduler") in self.snapshot_config.scheduler_names
                   and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        if waiting:
            self._pending.add(key)
        else:
            self._pending.discard(key)
            if spec.get("nodeName"):
                self._dirty = True  # node usage and queue allocation change with bound pods
                if self._assumed:
                    self._assumed.pop(str(meta.get("uid")), None)  # the informer has caught up with the bind

    def _untrack_pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        self._pending.discard(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
        self._evicting.discard(str(meta.get("uid")))
        self._last_unschedulable.pop(str(meta.get("uid")), None)
        if (pod.get("spec") or {}).get("nodeName"):
            self._dirty = True

    def _mark_dirty(self) -> None:
        self._dirty = True

    def _queue_updated(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("generation") != new["metadata"].get("generation"):
            self._urgent.set()  # a spec change, not the status this scheduler writes every cycle

    def has_work(self) -> bool:
        """A cycle can change something: pods wait, PodGroups wait to be enqueued or started, or
        bound pods, the configuration, queues, PodGroups or priorities changed.

        Node heartbeats and pods of other schedulers that are not bound cost no cycle, so a
        busy API server is not stalled by snapshots it does not need.
        """
        if self._pending or self._dirty:
            return True
        return any((pg.get("status") or {}).get("phase", "Pending") in ("Pending", "Inqueue")
                   for pg in self.podgroups.list())

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        self.factory.start()
        try:
            await self.factory.wait_synced(list(self.informers))
            self.ready.set()
            while not self._stopped:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.period)
                self._wake.clear()
                if self._stopped:
                    break
                if not self.has_work():
                    continue
                self._dirty = False
                self._urgent.clear()
                try:
                    await self.run_cycle(wait_binds=False)
                except Exception:
                    log.exception("scheduling cycle failed")
                    self.m_attempts.inc(1, "error")
                    self._discard_incremental_state()
                # Batch bursts of changes into one cycle: pause at least _MIN_PAUSE, and as long as
                # the cycle's snapshot + core part took, so that part stays at most about half of the
                # process under continuous load. The API writes (binds, Events) are per pod and gain
                # nothing from waiting, so they do not lengthen the pause. A pod arriving while the
                # scheduler is idle is scheduled at once (the wake-up above); a configuration, queue
                # spec or priority class change ends the pause.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(),
                                           timeout=min(self.period, max(_MIN_PAUSE, self._last_compute)))
        finally:
            for binding in list(self._binding):
                binding.cancel()
            await self.events.close()
            if self._owns_factory:
                await self.factory.stop()

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    # ------------------------------------------------------------------ one cycle

    def current_config(self) -> SchedulerConfig:
        """The ConfigMap's configuration if present and valid, else the file's (or the default)."""
        cm = self.configmaps.get(CONFIGMAP_NAMESPACE, CONFIGMAP_NAME)
        if cm is None:
            self._config_source = None
            self._use(self.file_config)
            return self.config
        text = str((cm.get("data") or {}).get(CONFIGMAP_KEY) or "")
        source = (str(cm["metadata"].get("uid")), text)
        if source != self._config_source:
            self._config_source = source
            try:
                config = parse_config(text) if text.strip() else self.file_config
            except (ConfigError, ValueError) as err:
                log.warning("invalid scheduler configuration in ConfigMap %s/%s: %s", CONFIGMAP_NAMESPACE,
                            CONFIGMAP_NAME, err)
                self._event(cm, "Warning", "InvalidConfiguration", str(err))
                return self.config
            self._use(config)
            log.info("scheduler configuration loaded from ConfigMap %s/%s (actions: %s; %d warnings)",
                     CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, ", ".join(config.actions), len(config.warnings))
            self._event(cm, "Normal", "ConfigurationLoaded",
                        f"actions: {', '.join(config.actions)}; plugins: "
                        f"{', '.join(p.name for t in config.tiers for p in t.plugins)}; "
                        f"{len(config.warnings)} ignored entries")
            for warning in config.warnings:
                log.warning("scheduler configuration in ConfigMap %s/%s: %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME,
                            warning)
                self._event(cm, "Warning", "IgnoredConfiguration", warning)
        return self.config

    def _use(self, config: SchedulerConfig) -> None:
        """Make ``config`` current; a changed ``defaultPreemptable`` rebuilds the snapshot's pods."""
        self.config = config
        if config.default_preemptable != self.snapshot_config.default_preemptable:
            self.snapshot_config = replace(self.snapshot_config, default_preemptable=config.default_preemptable)
            self.resync_snapshot()

    def _event(self, obj: Obj, type_: EventType, reason: str, message: str) -> None:
        """Record an Event in the background (best effort; called from the synchronous cycle)."""
        self.events.emit(obj, type_, reason, message)

    def build_snapshot(self) -> Snapshot:
        """The snapshot of the informer caches, with binds still in flight assumed.

        An assumption lapses when the informer shows the pod bound (``_track_pod``) or after
        ``_ASSUME_TTL`` seconds after its bind finished (the bind was lost: the pod is pending again).
        """
        if time.monotonic() - self._resynced > _RESYNC_PERIOD:
            self.resync_snapshot()
        if self._assumed:
            now = time.monotonic()
            for uid, (_node, when) in list(self._assumed.items()):
                if now - when > _ASSUME_TTL:
                    del self._assumed[uid]
                    self.snapshots.forget(uid)
        return self.snapshots.snapshot()

    def _fresh_builder(self) -> SnapshotBuilder:
        """An incremental snapshot builder fed from the informer caches, in-flight binds assumed."""
        fresh = SnapshotBuilder(self.snapshot_config)
        for objs, upsert in ((self.nodes.list(), fresh.upsert_node), (self.pods.list(), fresh.upsert_pod),
                             (self.podgroups.list(), fresh.upsert_podgroup), (self.queues.list(), fresh.upsert_queue),
                             (self.priority_classes.list(), fresh.upsert_priority_class)):
            for obj in objs:
                upsert(obj)
        for uid, (node, _when) in self._assumed.items():
            fresh.assume(uid, node)
        return fresh

    def _discard_incremental_state(self) -> None:
        """After a failed cycle the incremental snapshot may be half-updated (one bad object used
        to wedge every later cycle): start the next cycle from the informer caches instead."""
        self.snapshots = self._fresh_builder()
        self._resynced = time.monotonic()

    def resync_snapshot(self) -> bool:
        """Rebuild the incremental snapshot from the informer caches (a periodic resync, as
        informers do); in-flight binds stay assumed. Returns True, after logging a warning, if the
        incremental state had drifted from the caches (a bug: it must always agree)."""
        fresh = self._fresh_builder()
        drift = _digest(self.snapshots.snapshot()) != _digest(fresh.snapshot())
        if drift:
            log.warning("scheduler: the incremental snapshot had drifted from the informer caches; rebuilt it")
        self.snapshots = fresh
        self._resynced = time.monotonic()
        return drift

    async def run_cycle(self, *, wait_binds: bool = True) -> Decisions:
        """One cycle: snapshot, core, API writes. With ``wait_binds=False`` (the run loop) the
        binds are still in flight on return (see :meth:`wait_binds`)."""
        start = time.perf_counter()
        config = self.current_config()
        snapshot = self.build_snapshot()
        decisions = schedule(snapshot, config)
        self._last_compute = time.perf_counter() - start
        await self._apply(decisions, wait_binds=wait_binds)
        self.m_cycle.observe(time.perf_counter() - start)
        return decisions

    async def _apply(self, d: Decisions, *, wait_binds: bool = True) -> None:
        for ev in d.evictions:
            await self._evict(ev)
        # The binding cycle (kube-scheduler runs it in a goroutine per pod): binds are assumed in
        # the snapshot at once, written concurrently, and each success emits its Scheduled Event
        # through the recorder's background writers. The run loop does not wait for them, so over
        # a remote API server the next cycle overlaps this one's round trips.
        if d.binds:
            for b in d.binds:  # before the next cycle can start: it must see every one of them placed
                self._assume(b)
            binding = asyncio.ensure_future(_concurrently(self._bind, d.binds, _BIND_CONCURRENCY))
            self._binding.add(binding)
            binding.add_done_callback(self._binding.discard)
            if wait_binds:
                await binding
        # status writes in parallel, as Volcano's session close does (jobUpdater, 16 workers)
        await _concurrently(self._mark_unschedulable, d.unschedulable, _STATUS_CONCURRENCY)
        await _concurrently(self._update_podgroup, list(d.podgroup_status.items()), _STATUS_CONCURRENCY)
        for name, status in d.queue_status.items():
            await self._write_status(QUEUES, name, status, self._last_queue_status)
            self._export_queue(name, status)

    async def _update_podgroup(self, item: tuple[str, dict[str, Any]]) -> None:
        key, status = item
        await self._write_status(PODGROUPS, key, status, self._last_pg_status)
        self._podgroup_event(key, status)

    async def wait_binds(self) -> None:
        """Wait until every binding cycle started so far has finished."""
        while self._binding:
            await asyncio.gather(*self._binding, return_exceptions=True)

    async def _evict(self, ev: Eviction) -> None:
        if ev.uid in self._evicting:
            return
        self._evicting.add(ev.uid)
        try:
            await self.client.evict(ev.name, ev.namespace)
            self.m_evictions.inc(1, ev.reason)
            pod = self.pods.get(ev.namespace, ev.name)
            if pod is not None:
                reason = "Preempted" if ev.reason == "preempt" else "Reclaimed"
                self.events.emit(pod, "Normal", reason, ev.message or f"Evicted from {ev.node}")
        except ApiError as err:
            self._evicting.discard(ev.uid)
            log.debug("evicting %s/%s failed: %s", ev.namespace, ev.name, err)

    def _assume(self, b: Bind) -> None:
        """Place ``b``'s pod on its node in the snapshot until the informer shows the bind."""
        self._assumed[b.uid] = (b.node, float("inf"))
        self.snapshots.assume(b.uid, b.node)

    async def _bind(self, b: Bind) -> bool:
        """Write ``b`` (device annotations first, then the binding; assumed by the caller); True if
        the pod is bound."""
        try:
            if b.annotations:
                await self.client.patch(PODS, b.name, {"metadata": {"annotations": dict(b.annotations)}},
                                        b.namespace, patch_type="merge", field_manager=COMPONENT)
            await self.client.bind(b.name, b.namespace, b.node)
        except ApiError as err:
            self._assumed.pop(b.uid, None)
            self.snapshots.forget(b.uid)
            self.m_attempts.inc(1, "error")
            log.debug("binding %s/%s to %s failed: %s", b.namespace, b.name, b.node, err)
            return False
        if b.uid in self._assumed:  # else the informer has already shown the bind
            self._assumed[b.uid] = (b.node, time.monotonic())
        self.m_attempts.inc(1, "scheduled")
        self._last_unschedulable.pop(b.uid, None)
        pod = self.pods.get(b.namespace, b.name)
        if pod is not None:
            self.events.emit(pod, "Normal", "Scheduled", f"Successfully assigned {b.namespace}/{b.name} to {b.node}")
        return True

    async def _mark_unschedulable(self, u: Unschedulable) -> None:
        self.m_attempts.inc(1, "unschedulable")
        reason = _without_counts(u.message)
        if self._last_unschedulable.get(u.uid) == reason:
            return
        pod = self.pods.get(u.namespace, u.name)
        if pod is None or (pod.get("spec") or {}).get("nodeName"):
            return
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": u.message, "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
        try:
            await self.client.patch(PODS, u.name, {"status": {"conditions": [condition]}}, u.namespace,
                                    patch_type="strategic", subresource="status", field_manager=COMPONENT)
        except ApiError as err:
            log.debug("marking %s/%s unschedulable failed: %s", u.namespace, u.name, err)
            return
        self._last_unschedulable[u.uid] = reason
        self.events.emit(pod, "Warning", "FailedScheduling", u.message)

    async def _write_status(self, gvr: GVR, key: str, status: dict[str, Any], cache: dict[str, Any]) -> None:
        if cache.get(key) == status:
            return
        ns, _, name = key.rpartition("/") if gvr.namespaced else ("", "", key)
        informer = self.podgroups if gvr is PODGROUPS else self.queues
        current = informer.get(ns, name)
        old = dict((current or {}).get("status") or {})
        written = status
        if "conditions" in status:  # stamped here, not in the cache: a stamp alone is no change
            written = {**status, "conditions": stamp_conditions(old.get("conditions") or [], status["conditions"])}
        # a merge patch keeps keys it does not mention: null out resources no longer allocated
        patch = _with_removals(old, written)
        try:
            await self.client.patch(gvr, name, {"status": patch}, ns, patch_type="merge", subresource="status",
                                    field_manager=COMPONENT)
            cache[key] = status
        except ApiError as err:
            log.debug("writing %s %s status failed: %s", gvr.resource, key, err)

    def _podgroup_event(self, key: str, status: dict[str, Any]) -> None:
        """Volcano's PodGroup Events: ``Warning Unschedulable`` with the Unschedulable condition's
        message when the group's verdict changes (counts aside), ``Normal Scheduled`` "pod group is
        ready" when a cycle binds its pods after a different verdict; one Event per change, not
        one per cycle (a repeated verdict is not re-recorded)."""
        conds = status.get("conditions") or []
        if not conds:
            return
        cond = conds[0]
        unschedulable = cond.get("type") == "Unschedulable"
        mark = "U " + _without_counts(str(cond.get("message", ""))) if unschedulable else "S"
        if self._pg_event_marks.get(key) == mark:
            return
        ns, _, name = key.rpartition("/")
        pg = self.podgroups.get(ns, name)
        if pg is None:
            return
        self._pg_event_marks[key] = mark
        if unschedulable:
            self.events.emit(pg, "Warning", "Unschedulable", str(cond.get("message", "")))
        else:
            self.events.emit(pg, "Normal", "Scheduled", "pod group is ready")

    def _podgroup_gone(self, pg: Obj) -> None:
        """Forget what was written and told about a deleted PodGroup (bounded memory)."""
        m = pg.get("metadata") or {}
        key = f"{m.get('namespace', '')}/{m.get('name', '')}"
        self._pg_event_marks.pop(key, None)
        self._last_pg_status.pop(key, None)

    def _export_queue(self, name: str, status: dict[str, Any]) -> None:
        for field, gauge in (("allocated", self.m_queue_allocated), ("deserved", self.m_queue_deserved)):
            values = status.get(field) or {}
            for res in self._exported.get((name, field), set()) - set(values):
                gauge.set(0.0, name, res)  # a resource no longer listed is zero, not its last value
            self._exported[(name, field)] = set(values)
            for res, value in values.items():
                with contextlib.suppress(TypeError, ValueError):
                    gauge.set(float(parse_quantity(value)), name, res)
        self.m_queue_pending.set(float(status.get("pending") or 0), name)


def stamp_conditions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``new`` conditions with ``lastTransitionTime``: kept from the same condition in ``old``
    (type, status, reason and message equal), else now."""
    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return all(a.get(k) == b.get(k) for k in ("type", "status", "reason", "message"))

    stamp = now_rfc3339()
    return [{**c, "lastTransitionTime": next((o.get("lastTransitionTime") for o in old if same(o, c)), None) or stamp}
            for c in new]


def _with_removals(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` as a JSON merge patch over ``old``: keys of nested maps that ``new`` drops become ``None``.

    Example: old ``{"allocated": {"cpu": "1", "nvidia.com/gpu": "2"}}``, new ``{"allocated": {"cpu": "1"}}``
    → ``{"allocated": {"cpu": "1", "nvidia.com/gpu": None}}``.
    """
    out = dict(new)
    for key, was in old.items():
        now = new.get(key)
        if isinstance(was, dict) and isinstance(now, dict):
            out[key] = {**{k: None for k in was if k not in now}, **now}
        elif key not in new and isinstance(was, dict):
            out[key] = None
    return out
