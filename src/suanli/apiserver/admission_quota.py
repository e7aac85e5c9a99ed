"""``ResourceQuota`` admission (upstream ``apiserver/pkg/admission/plugin/resourcequota``).

A final plug-in (awaited after validation and webhooks, as upstream runs ResourceQuota last).
For a write its evaluator (:func:`suanli.kinds.quota.evaluator_for`) handles — CREATE of
anything namespaced, UPDATE of pods, services and claims — it checks every ResourceQuota of the
namespace whose ``status.hard`` names a resource the object uses and whose scopes match:

* a quota tracking ``cpu``/``memory`` (requests or limits) rejects a pod whose containers omit
  it: 403 ``pods "p" is forbidden: failed quota: q: must specify limits.cpu for: main``;
* a quota whose ``status.used`` lacks a tracked resource (the controller has not synced it)
  rejects: ``status unknown for quota: q, resources: requests.cpu``;
* usage + the object's cost (on UPDATE: the increase over the old object, floored at zero)
  above ``status.hard`` rejects: ``exceeded quota: q, requested: requests.cpu=2, used:
  requests.cpu=1, limited: requests.cpu=2``.

Admitted requests are charged: each affected quota's ``status.used`` is written through the
store with a resourceVersion check before the object itself is stored, as upstream charges
quota with a compare-and-swap on ``status.used``. Requests of one namespace are serialised by
a per-namespace lock, so two concurrent creates cannot both take the last unit; a conflicting
write (the quota controller recalculated meanwhile) re-reads the quota and re-checks, up to
three times. Dry-run requests are checked but not charged. Namespaces without quotas cost one
store lookup.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apiserver.admission import AdmissionRequest
from suanli.kinds.quota import (
    Evaluator,
    ResourceList,
    add,
    evaluator_for,
    exceeded,
    format_resource,
    hard_of,
    mask,
    pretty_print,
    quota_matches,
    subtract_non_negative,
    used_of,
)
from suanli.storage import ConflictError, NotFoundError, Store

__all__ = ["QUOTAS_KEY", "ResourceQuotaAdmission", "check_request", "forbidden"]

QUOTAS_KEY = "resourcequotas"
#: never quota'd (upstream's ignored resources, plus what is not stored)
IGNORED = frozenset({"events", "events.k8s.io/events", "metrics.k8s.io/pods", "metrics.k8s.io/nodes"})
_RETRIES = 3


def forbidden(request: AdmissionRequest, detail: str) -> ApiError:
    """Upstream ``admission.NewForbidden``: ``pods "web" is forbidden: <detail>`` (403)."""
    rt = request.resource
    resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    name = request.name
    if not name and request.obj is not None:
        meta = request.obj.get("metadata") or {}
        name = str(meta.get("name") or meta.get("generateName") or "Unknown")
    return ApiError.forbidden(rt.plural, name, f'{resource} "{name}" is forbidden: {detail}')


def check_request(quotas: list[Obj], request: AdmissionRequest, ev: Evaluator,
                  now: datetime) -> list[tuple[int, ResourceList]]:
    """Upstream ``CheckRequest``: ``(index, new status.used)`` for every quota the request changes;
    raises the 403 :class:`ApiError` described in the module docstring."""
    obj = request.obj
    if obj is None:
        return []
    interesting: list[int] = []
    for i, q in enumerate(quotas):
        if not quota_matches(ev, q, obj):
            continue
        name = q["metadata"]["name"]
        restricted = ev.matching_resources(hard_of(q))
        err = ev.constraints(restricted, obj)
        if err:
            raise forbidden(request, f"failed quota: {name}: {err}")
        used = (q.get("status") or {}).get("used") or {}
        if any(r not in used for r in restricted):
            raise forbidden(request, f"status unknown for quota: {name}, resources: {','.join(restricted)}")
        interesting.append(i)
    if not interesting:
        return []
    usage = ev.usage(obj, now)
    negative = sorted(k for k, v in usage.items() if v < 0)
    if negative:
        raise forbidden(request, f"quota usage is negative for resource(s): {','.join(negative)}")
    deltas = dict.fromkeys(interesting, usage)
    old = request.old
    if request.operation == "UPDATE" and old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        delta = subtract_non_negative(usage, ev.usage(old, now))
        for i in interesting:
            if quota_matches(ev, quotas[i], old):
                deltas[i] = delta
    out: list[tuple[int, ResourceList]] = []
    for i in interesting:
        requested = mask({k: v for k, v in deltas[i].items() if v != 0}, hard_of(quotas[i]))
        if not requested:
            continue
        hard = hard_of(quotas[i])
        used = used_of(quotas[i])
        new_used = add(used, requested)
        over = exceeded(mask(new_used, requested), hard)
        if over:
            raise forbidden(request, f"exceeded quota: {quotas[i]['metadata']['name']}, "
                                     f"requested: {pretty_print(mask(requested, over))}, "
                                     f"used: {pretty_print(mask(used, over))}, "
                                     f"limited: {pretty_print(mask(hard, over))}")
        out.append((i, new_used))
    return out


class ResourceQuotaAdmission:
    """Final plug-in enforcing and charging ResourceQuotas (module docstring); reads ``store``."""

    name = "ResourceQuota"
    resources: frozenset[str] = frozenset()

    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def admit(self, request: AdmissionRequest) -> None:
        rt = request.resource
        if not rt.namespaced or request.obj is None or rt.storage_key in IGNORED:
            return
        ev = evaluator_for(rt.plural, rt.group)
        if not ev.handles(request.operation, request.subresource):
            return
        ns = request.namespace
        if not self._store.list(QUOTAS_KEY, ns, limit=1).items:
            return
        lock = self._locks.get(ns)
        if lock is None:
            lock = self._locks[ns] = asyncio.Lock()
        async with lock:
            await self._charge(request, ev)

    async def _charge(self, request: AdmissionRequest, ev: Evaluator) -> None:
        stored = self._store.list(QUOTAS_KEY, request.namespace).items
        last: ApiError | None = None
        for _ in range(_RETRIES):
            changes = check_request([so.obj for so in stored], request, ev, datetime.now(UTC))
            if request.dry_run or not changes:
                return
            failed: set[str] = set()
            for i, used in changes:
                so = stored[i]
                new = deep_copy(so.obj)
                new.setdefault("status", {})["used"] = {k: format_resource(k, v) for k, v in sorted(used.items())}
                try:
                    await self._store.update(QUOTAS_KEY, new, expected_rv=so.rv)
                except ConflictError:
                    name = so.obj["metadata"]["name"]
                    failed.add(name)
                    last = ApiError.conflict(QUOTAS_KEY, name, "the object has been modified; please apply "
                                             "your changes to the latest version and try again")
                except NotFoundError:
                    continue  # deleted meanwhile: nothing to charge
            if not failed:
                return
            stored = [so for so in self._store.list(QUOTAS_KEY, request.namespace).items
                      if so.obj["metadata"]["name"] in failed]
        assert last is not None
        raise last
