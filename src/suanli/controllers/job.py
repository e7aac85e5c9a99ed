"""Job controller (batch/v1): run pods until ``completions`` succeed, within ``backoffLimit``.

Level-triggered per Job key, following kube-controller-manager's semantics:

* pods come from the template with ``generateName: <job>-``, the labels
  ``batch.kubernetes.io/controller-uid``, ``batch.kubernetes.io/job-name`` (+ legacy
  ``controller-uid``, ``job-name``) and the finalizer ``batch.kubernetes.io/job-tracking``;
* **counting** is exact across pod deletion: a finished pod's UID is first recorded in
  ``status.uncountedTerminatedPods``, then its finalizer is removed, then it moves into
  ``succeeded``/``failed``. A pod deleted before finishing counts as failed;
* active pods = ``min(parallelism, completions - succeeded)`` (``parallelism`` when
  ``completions`` is unset, until one pod succeeds). **Indexed** mode gives each pod the
  ``batch.kubernetes.io/job-completion-index`` annotation/label and hostname ``<job>-<i>``
  and tracks ``status.completedIndexes`` (``"0-2,5"``);
* failure: ``failed > backoffLimit`` (BackoffLimitExceeded) or ``activeDeadlineSeconds``
  elapsed since ``startTime`` (DeadlineExceeded) → ``FailureTarget``, active pods deleted,
  then ``Failed``. Success → ``SuccessCriteriaMet``, leftover pods deleted, then ``Complete``
  with ``completionTime``;
* ``suspend`` deletes active pods (condition ``Suspended``); resuming resets ``startTime``;
* ``ttlSecondsAfterFinished`` deletes the finished Job (Background propagation) when due.

Not implemented: the exponential delay before re-creating failed pods, podFailurePolicy,
backoffLimitPerIndex, successPolicy, podReplacementPolicy.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import (
    JOBS,
    PODS,
    Expectations,
    claim,
    controller_of,
    create_pod,
    delete_pod,
    deletion_order,
    is_active,
    is_ready,
    pod_from_template,
    rfc3339,
    set_condition,
    timestamp,
)
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import JOB_NAME_LABEL as NAME_LABEL
from suanli.wire import JOB_UID_LABEL as UID_LABEL

__all__ = ["TRACKING_FINALIZER", "JobController", "format_indexes", "parse_indexes"]

log = logging.getLogger(__name__)

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"


def parse_indexes(text: str | None) -> set[int]:
    """``"0-2,5"`` → {0, 1, 2, 5}; malformed parts are ignored."""
    out: set[int] = set()
    for part in (text or "").split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            out.update(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            continue
    return out


def format_indexes(indexes: set[int]) -> str:
    """{0, 1, 2, 5} → ``"0-2,5"`` (sorted ranges, as upstream renders ``completedIndexes``)."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def _finished(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def _index(pod: Obj) -> int | None:
    try:
        return int(((pod.get("metadata") or {}).get("annotations") or {})[INDEX_KEY])
    except (KeyError, ValueError):
        return None


def _has_condition(status: Obj, ctype: str) -> Obj | None:
    return next(
        (c for c in status.get("conditions") or [] if c.get("type") == ctype and c.get("status") == "True"), None
    )


class JobController(QueueController):
    """Reconciles every batch/v1 Job; construct with a Client and call ``run()``/``stop()``."""

    name = "job-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.recorder = EventRecorder(client, "job-controller", clock=self.clock)
        self.expectations = Expectations(self.clock)
        self.job_informer = self.watch(JOBS)
        self.pod_informer = self.watch(PODS)
        self.job_informer.add_handler(self._job_changed, lambda _o, n: self._job_changed(n), self._job_deleted)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- handlers ------------------------------------------------------------------------------

    def _job_changed(self, job: Obj) -> None:
        self.queue.add(object_key(job))

    def _job_deleted(self, job: Obj) -> None:
        key = object_key(job)
        self.expectations.forget(key)
        self.queue.add(key)

    @staticmethod
    def _owner_key(pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "Job" or not str(ref.get("apiVersion", "")).startswith("batch/"):
            return None
        return f"{pod['metadata']['namespace']}/{ref.get('name')}"

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is None:
            return
        if pod["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, object_key(pod))
        else:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old is new:
            return
        key = self._owner_key(new)
        if key is None:
            return
        if new["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(key, object_key(new))
        self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)

    # -- reconcile -----------------------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        cached = self.job_informer.get(ns, name)
        if cached is None:
            self.expectations.forget(key)
            await self._release_orphans(ns, name)
            return
        job = deep_copy(cached)
        now = self.clock.now()
        if _finished(job):
            await self._release_finished(job)
            await self._ttl(job, now)
            return
        spec = job.get("spec") or {}
        selector = label_selector_from_object(spec.get("selector"))
        pods = await claim(self.client, PODS, job, selector, self.pod_informer.list(ns))
        job = await self._track(job, pods)
        status: Obj = deep_copy(job.get("status") or {})
        stamp = rfc3339(now)
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        par = spec.get("parallelism")
        parallelism = 1 if par is None else int(par)
        backoff = spec.get("backoffLimit")
        backoff_limit = 6 if backoff is None else int(backoff)
        active = [p for p in pods if is_active(p)]
        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)
        done_indexes = parse_indexes(status.get("completedIndexes"))
        suspended = bool(spec.get("suspend"))
        uncounted = status.get("uncountedTerminatedPods") or {}
        pending_count = bool(uncounted.get("succeeded") or uncounted.get("failed"))
        conds: list[Obj] = list(status.get("conditions") or [])
        if not suspended and not status.get("startTime"):
            status["startTime"] = stamp
        start = timestamp(status.get("startTime"))
        deadline = spec.get("activeDeadlineSeconds")

        failure: tuple[str, str] | None = None
        target = _has_condition(status, "FailureTarget")
        if target is not None:
            failure = (str(target.get("reason")), str(target.get("message")))
        elif failed > backoff_limit:
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline is not None and start is not None and not suspended and now - start >= int(deadline):
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        if completions is not None:
            success = (len(done_indexes) if indexed else succeeded) >= int(completions)
        else:
            success = succeeded > 0 and not active
        success = success or _has_condition(status, "SuccessCriteriaMet") is not None

        deleted = created = 0
        if failure is not None:
            conds = set_condition(conds, "FailureTarget", "True", failure[0], failure[1], stamp)
            deleted = await self._delete_pods(key, active, job)
            if not active and not pending_count:
                if _has_condition(status, "Failed") is None:
                    await self.recorder.record(job, "Warning", failure[0], failure[1])
                conds = set_condition(conds, "Failed", "True", failure[0], failure[1], stamp)
        elif success:
            conds = set_condition(
                conds,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                stamp,
            )
            deleted = await self._delete_pods(key, active, job)
            if not active and not pending_count:
                if _has_condition(status, "Complete") is None:
                    await self.recorder.record(job, "Normal", "Completed", "Job completed")
                conds = set_condition(
                    conds, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", stamp
                )
                status["completionTime"] = stamp
        elif suspended:
            deleted = await self._delete_pods(key, active, job)
            if _has_condition(status, "Suspended") is None:
                await self.recorder.record(job, "Normal", "Suspended", "Job suspended")
            conds = set_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
        else:
            if _has_condition(status, "Suspended") is not None:
                await self.recorder.record(job, "Normal", "Resumed", "Job resumed")
                conds = set_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", stamp)
                status["startTime"] = stamp
            if self.expectations.satisfied(key):
                created, deleted = await self._manage(
                    key, job, active, parallelism, completions, succeeded, done_indexes if indexed else None
                )
            if deadline is not None and start is not None:
                self.queue.add_after(key, max(start + int(deadline) - now, 0.0) + 0.001)

        status["active"] = max(len(active) + created - deleted, 0)
        status["ready"] = sum(1 for p in active if is_ready(p))
        status["conditions"] = conds or None
        if not status.get("conditions"):
            status.pop("conditions", None)
        if status != (job.get("status") or {}):
            job["status"] = status
            await self.client.update(JOBS, job, ns, subresource="status")

    async def _manage(
        self,
        key: str,
        job: Obj,
        active: list[Obj],
        parallelism: int,
        completions: Any,
        succeeded: int,
        done_indexes: set[int] | None,
    ) -> tuple[int, int]:
        if completions is None:
            want = 0 if succeeded > 0 else parallelism
        else:
            remaining = int(completions) - (len(done_indexes) if done_indexes is not None else succeeded)
            want = max(min(parallelism, remaining), 0)
        diff = want - len(active)
        if diff < 0:
            return 0, await self._delete_pods(key, deletion_order(active)[:-diff], job)
        if diff == 0:
            return 0, 0
        indexes: list[int | None] = [None] * diff
        if done_indexes is not None:
            busy = done_indexes | {i for p in active if (i := _index(p)) is not None}
            free = [i for i in range(int(completions)) if i not in busy]
            indexes = list(free[:diff])
        self.expectations.expect_creations(key, len(indexes))
        results = await asyncio.gather(*(self._create(key, job, i) for i in indexes), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            err = errors[0]
            raise err
        return len(indexes), 0

    async def _create(self, key: str, job: Obj, index: int | None) -> None:
        m = job["metadata"]
        spec = job.get("spec") or {}
        labels = {UID_LABEL: m["uid"], NAME_LABEL: m["name"], "controller-uid": m["uid"], "job-name": m["name"]}
        annotations: dict[str, str] = {}
        template = spec.get("template") or {}
        generate = f"{m['name']}-"
        if index is not None:
            labels[INDEX_KEY] = str(index)
            annotations[INDEX_KEY] = str(index)
            generate = f"{m['name']}-{index}-"
        pod = pod_from_template(
            template,
            job,
            generate_name=generate,
            labels=labels,
            annotations=annotations,
            finalizers=[TRACKING_FINALIZER],
        )
        if index is not None:
            pod["spec"].setdefault("hostname", f"{m['name']}-{index}")
            for c in pod["spec"].get("containers") or []:
                env = c.setdefault("env", [])
                if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
                    env.append(
                        {
                            "name": "JOB_COMPLETION_INDEX",
                            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}},
                        }
                    )
        try:
            await create_pod(self.client, self.recorder, job, pod, m["namespace"])
        except Exception:
            self.expectations.creation_observed(key)
            raise

    async def _delete_pods(self, key: str, pods: list[Obj], job: Obj) -> int:
        if not pods:
            return 0
        self.expectations.expect_deletions(key, [object_key(p) for p in pods])

        async def one(p: Obj) -> None:
            try:
                await delete_pod(self.client, self.recorder, job, p)
            except ApiError as err:
                self.expectations.deletion_observed(key, object_key(p))
                if err.code != 404:
                    raise

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return len(pods)

    # -- exact counting through the tracking finalizer -----------------------------------------

    async def _track(self, job: Obj, pods: list[Obj]) -> Obj:
        """Record finished pods as uncounted, drop their finalizers, then count them.

        Returns the Job as last written. Each step is idempotent, so a crash or conflict in
        between is completed by the next reconcile.
        """
        status: Obj = deep_copy(job.get("status") or {})
        uncounted = status.get("uncountedTerminatedPods") or {}
        succ: list[str] = list(uncounted.get("succeeded") or [])
        fail: list[str] = list(uncounted.get("failed") or [])
        seen = set(succ) | set(fail)
        indexes = parse_indexes(status.get("completedIndexes"))
        grew = False
        for p in pods:
            m = p["metadata"]
            if TRACKING_FINALIZER not in (m.get("finalizers") or []) or m["uid"] in seen:
                continue
            phase = (p.get("status") or {}).get("phase")
            if phase == "Succeeded":
                succ.append(m["uid"])
                if (i := _index(p)) is not None:
                    indexes.add(i)
            elif phase == "Failed" or m.get("deletionTimestamp"):
                fail.append(m["uid"])
            else:
                continue
            grew = True
        if grew:
            status["uncountedTerminatedPods"] = {"succeeded": succ, "failed": fail}
            if indexes:
                status["completedIndexes"] = format_indexes(indexes)
            job["status"] = status
            job = deep_copy(await self.client.update(JOBS, job, job["metadata"]["namespace"], subresource="status"))
            status = deep_copy(job.get("status") or {})
        if not succ and not fail:
            return job
        by_uid = {p["metadata"]["uid"]: p for p in pods}
        released: set[str] = set()
        for uid in [*succ, *fail]:
            pod = by_uid.get(uid)
            if pod is None or TRACKING_FINALIZER not in (pod["metadata"].get("finalizers") or []):
                live = self.pod_informer.get(job["metadata"]["namespace"], pod["metadata"]["name"]) if pod else None
                if live is None or TRACKING_FINALIZER not in (live["metadata"].get("finalizers") or []):
                    released.add(uid)
                    continue
                pod = live
            if await self._remove_finalizer(pod):
                released.add(uid)
        if not released:
            return job
        status["succeeded"] = int(status.get("succeeded") or 0) + sum(1 for u in succ if u in released)
        status["failed"] = int(status.get("failed") or 0) + sum(1 for u in fail if u in released)
        status["uncountedTerminatedPods"] = {
            "succeeded": [u for u in succ if u not in released],
            "failed": [u for u in fail if u not in released],
        }
        job["status"] = status
        out: Obj = deep_copy(await self.client.update(JOBS, job, job["metadata"]["namespace"], subresource="status"))
        return out

    async def _remove_finalizer(self, pod: Obj) -> bool:
        m = pod["metadata"]
        fins = [f for f in m.get("finalizers") or [] if f != TRACKING_FINALIZER]
        try:
            await self.client.patch(
                PODS,
                m["name"],
                [
                    {"op": "test", "path": "/metadata/uid", "value": m["uid"]},
                    {"op": "replace", "path": "/metadata/finalizers", "value": fins},
                ],
                m["namespace"],
                patch_type="json",
            )
        except ApiError as err:
            if err.code == 404:
                return True
            if err.code == 422:
                return False
            raise
        return True

    async def _release_orphans(self, ns: str, name: str) -> None:
        """The Job is gone: its pods must not stay stuck on our finalizer."""
        for pod in self.pod_informer.list(ns):
            ref = controller_of(pod)
            if (
                ref is not None
                and ref.get("kind") == "Job"
                and ref.get("name") == name
                and TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])
            ):
                await self._remove_finalizer(pod)

    async def _release_finished(self, job: Obj) -> None:
        for pod in self.pod_informer.list(job["metadata"]["namespace"]):
            ref = controller_of(pod)
            if (
                ref is not None
                and ref.get("uid") == job["metadata"]["uid"]
                and TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])
            ):
                await self._remove_finalizer(pod)

    async def _ttl(self, job: Obj, now: float) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        status = job.get("status") or {}
        finished = timestamp(status.get("completionTime"))
        if finished is None:
            cond = _has_condition(status, "Failed")
            finished = timestamp(cond.get("lastTransitionTime")) if cond else None
        if finished is None:
            return
        due = finished + int(ttl)
        if now < due:
            self.queue.add_after(object_key(job), due - now)
            return
        m = job["metadata"]
        try:
            await self.client.delete(
                JOBS, m["name"], m["namespace"], propagation_policy="Background", preconditions={"uid": m["uid"]}
            )
        except ApiError as err:
            if err.code not in (404, 409):
                raise
