"""CronJob controller (batch/v1): create Jobs on a cron schedule, as kube-controller-manager's v2 controller.

One sync per CronJob key (:meth:`CronJobController.reconcile`), following upstream ``syncCronJob``:

1. **reconcile ``status.active``** with the Jobs it controls: a finished Job leaves the list
   (Event ``SawCompletedJob``), a successful one moves ``status.lastSuccessfulTime`` forward; an
   active-list entry whose Job is gone leaves it (``MissingJob``); an unfinished Job it controls
   but does not list is reported (``UnexpectedJob``);
2. nothing more while the CronJob is being deleted, has an unknown ``spec.timeZone``
   (``UnknownTimeZone``), is ``suspend``-ed, or its schedule does not parse
   (``UnparseableSchedule`` / ``InvalidSchedule``);
3. the activation to run is the most recent unmet one (:mod:`suanli.controllers._cron`); more
   than 100 missed ones raise ``TooManyMissedTimes``; one older than
   ``startingDeadlineSeconds`` is skipped (``MissSchedule``); one already started (a listed Job
   of that name, or ``lastScheduleTime`` equal to it) is not started again;
4. ``concurrencyPolicy``: ``Forbid`` skips the activation while a Job is active
   (``JobAlreadyActive``); ``Replace`` deletes the active Jobs first (``SuccessfulDelete``);
5. the Job ``<cronjob>-<minutes since epoch>`` is created from ``jobTemplate`` (its labels and
   annotations, plus ``batch.kubernetes.io/cronjob-scheduled-timestamp`` = the activation in
   the schedule's zone, RFC 3339) and controlled by the CronJob (``SuccessfulCreate``);
   ``status.active`` gains it and ``status.lastScheduleTime`` becomes the activation;
6. finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` are deleted,
   oldest start time first (Background propagation);
7. the key is re-queued for the next activation (+100 ms).

All times come from the controller's :class:`~suanli.runtime.clock.Clock`, so tests drive it with
a fake clock (``suanli up`` can be given an offset clock for end-to-end tests, see
docs/architecture.md).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._cron import Schedule, job_name, load_zone, next_schedule_time, requeue_after
from suanli.controllers._pods import JOBS, controller_of, owner_reference, rfc3339, timestamp
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CRONJOBS

__all__ = ["SCHEDULED_TIMESTAMP_ANNOTATION", "CronJobController", "job_from_template"]

log = logging.getLogger(__name__)

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _finished(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def _newer(a: Obj, b: Obj) -> bool:
    """Whether ``a``'s resourceVersion is later than ``b``'s (numeric versions; opaque ones: never)."""
    try:
        return int(a["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return False


def job_from_template(cj: Obj, scheduled: datetime) -> Obj:
    """The Job for activation ``scheduled`` (upstream ``getJobFromTemplate2``)."""
    spec = cj.get("spec") or {}
    template = spec.get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    zone = load_zone(str(spec.get("timeZone") or ""))
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = scheduled.astimezone(zone).isoformat().replace("+00:00", "Z")
    meta: Obj = {"name": job_name(cj["metadata"]["name"], scheduled), "namespace": cj["metadata"]["namespace"],
                 "annotations": annotations, "ownerReferences": [owner_reference(cj)]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": deep_copy(template.get("spec") or {})}


class CronJobController(QueueController):
    """Reconciles every batch/v1 CronJob; construct with a Client (and a Clock) and call ``run()``/``stop()``."""

    name = "cronjob-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.events = EventRecorder(client, self.name, clock=self.clock)
        self.cronjobs = self.watch(CRONJOBS)
        self.jobs = self.watch(JOBS)
        self.cronjobs.add_handler(self._enqueue, self._cronjob_updated, self._deleted)
        #: the CronJob as this controller last wrote it, until the informer catches up (a Job can be
        #: seen before the status that lists it: without this it would look unexpected)
        self._written: dict[str, Obj] = {}
        self.jobs.add_handler(self._job_changed, lambda _o, n: self._job_changed(n), self._job_changed)

    def _enqueue(self, cj: Obj) -> None:
        self.queue.add(object_key(cj))

    def _deleted(self, cj: Obj) -> None:
        self._written.pop(object_key(cj), None)
        self.queue.add(object_key(cj))

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        if old is not new:
            self.queue.add(object_key(new))

    def _job_changed(self, job: Obj) -> None:
        ref = controller_of(job)
        if ref is not None and ref.get("kind") == "CronJob" and str(ref.get("apiVersion", "")).startswith("batch/"):
            self.queue.add(f"{job['metadata']['namespace']}/{ref.get('name')}")

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.cronjobs.get(ns, name)
        if cached is None:
            return
        written = self._written.get(key)
        if written is not None:
            if written["metadata"].get("uid") == cached["metadata"].get("uid") and _newer(written, cached):
                cached = written
            else:
                del self._written[key]
        cj = deep_copy(cached)
        uid = cj["metadata"]["uid"]
        jobs = [j for j in self.jobs.list(ns) if (controller_of(j) or {}).get("uid") == uid]
        status: Obj = deep_copy(cj.get("status") or {})
        cj["status"] = status
        await self._reconcile_active(cj, jobs)
        requeue = await self._schedule(cj)
        await self._cleanup_history(cj, jobs)
        if status != (cached.get("status") or {}):
            if not status.get("active"):
                status.pop("active", None)
            self._written[key] = await self.client.update(CRONJOBS, cj, ns, subresource="status")
        if requeue is not None:
            self.queue.add_after(key, requeue)

    async def _reconcile_active(self, cj: Obj, jobs: list[Obj]) -> None:
        status = cj["status"]
        active: list[Obj] = list(status.get("active") or [])
        listed = {str(r.get("uid")) for r in active}
        for job in jobs:
            juid = str(job["metadata"]["uid"])
            finished = _finished(job)
            if juid not in listed and not finished:
                await self.events.record(cj, "Warning", "UnexpectedJob",
                                         f"Saw a job that the controller did not create or forgot: "
                                         f"{job['metadata']['name']}")
            elif juid in listed and finished:
                active = [r for r in active if str(r.get("uid")) != juid]
                await self.events.record(cj, "Normal", "SawCompletedJob",
                                         f"Saw completed job: {job['metadata']['name']}, condition: {finished}")
            if finished == "Complete":
                done = timestamp((job.get("status") or {}).get("completionTime"))
                last = timestamp(status.get("lastSuccessfulTime"))
                if done is not None and (last is None or done > last):
                    status["lastSuccessfulTime"] = rfc3339(done)
        present = {str(j["metadata"]["uid"]) for j in jobs}
        for ref in list(active):
            if str(ref.get("uid")) in present:
                continue
            try:
                live = await self.client.get(JOBS, str(ref.get("name")), str(ref.get("namespace") or
                                                                              cj["metadata"]["namespace"]))
            except ApiError as err:
                if err.code != 404:
                    raise
                live = None
            if live is None or live["metadata"].get("uid") != ref.get("uid"):
                await self.events.record(cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                active = [r for r in active if r is not ref]
        status["active"] = active

    async def _schedule(self, cj: Obj) -> float | None:
        """Start the due activation, if any; seconds until the next one (None: do not re-queue)."""
        spec = cj.get("spec") or {}
        status = cj["status"]
        if cj["metadata"].get("deletionTimestamp"):
            return None
        zone = spec.get("timeZone")
        if zone is not None:
            try:
                load_zone(str(zone))
            except ValueError as err:
                await self.events.record(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{zone}": {err}')
                return None
        if spec.get("suspend"):
            return None
        text = str(spec.get("schedule") or "")
        try:
            schedule = Schedule.parse(text, None if zone is None else str(zone))
        except ValueError as err:
            await self.events.record(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{text}" : {err}')
            return None
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        try:
            scheduled, missed = next_schedule_time(cj, now, schedule)
        except ValueError as err:
            await self.events.record(cj, "Warning", "InvalidSchedule", f"invalid schedule: {text} : {err}")
            return None
        if missed == "many":
            await self.events.record(cj, "Warning", "TooManyMissedTimes",
                                     "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                     "or check clock skew")
        if scheduled is None:
            return requeue_after(cj, now, schedule)
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled.timestamp() + int(deadline) < now.timestamp():
            when = format_datetime(scheduled.astimezone(UTC))
            await self.events.record(cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {when}")
            return requeue_after(cj, now, schedule)
        name = job_name(cj["metadata"]["name"], scheduled)
        active: list[Obj] = status["active"]
        if any(r.get("name") == name for r in active) or \
                timestamp(status.get("lastScheduleTime")) == scheduled.timestamp():
            return requeue_after(cj, now, schedule)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            await self.events.record(cj, "Normal", "JobAlreadyActive",
                                     "Not starting job because prior execution is running and concurrency policy "
                                     "is Forbid")
            return requeue_after(cj, now, schedule)
        if policy == "Replace":
            for ref in list(active):
                await self._delete_job(cj, str(ref.get("name")))
            status["active"] = active = []
        job = job_from_template(cj, scheduled)
        try:
            created = await self.client.create(JOBS, job, cj["metadata"]["namespace"])
        except ApiError as err:
            if err.code != 409:
                await self.events.record(cj, "Warning", "FailedCreate", f"Error creating job: {err}")
                raise
            created = await self.client.get(JOBS, name, cj["metadata"]["namespace"])
            if (controller_of(created) or {}).get("uid") != cj["metadata"]["uid"]:
                raise
        else:
            await self.events.record(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        m = created["metadata"]
        active.append({"kind": "Job", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
                       "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion", "")})
        status["lastScheduleTime"] = rfc3339(scheduled.timestamp())
        return requeue_after(cj, now, schedule)

    async def _delete_job(self, cj: Obj, name: str) -> None:
        try:
            await self.client.delete(JOBS, name, cj["metadata"]["namespace"], propagation_policy="Background")
        except ApiError as err:
            if err.code != 404:
                await self.events.record(cj, "Warning", "FailedDelete", f"Deleted job: {err}")
                raise
        status = cj["status"]
        status["active"] = [r for r in status.get("active") or [] if r.get("name") != name]
        await self.events.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")

    async def _cleanup_history(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        ok_limit, failed_limit = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        for kind, limit in (("Complete", ok_limit), ("Failed", failed_limit)):
            if limit is None:
                continue
            done = [j for j in jobs if _finished(j) == kind and not j["metadata"].get("deletionTimestamp")]
            done.sort(key=lambda j: (timestamp((j.get("status") or {}).get("startTime")) is None,
                                     timestamp((j.get("status") or {}).get("startTime")) or 0.0,
                                     j["metadata"]["name"]))
            for job in done[:max(len(done) - int(limit), 0)]:
                await self._delete_job(cj, job["metadata"]["name"])
