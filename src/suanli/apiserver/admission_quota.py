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
quota with a compare-and-swap on ``status.used``. As upstream's quota evaluator, requests are
batched per namespace: at most one batch per namespace is evaluated at a time (so two
concurrent creates cannot both take the last unit); a batch checks its requests one after
another against a running copy of the quotas, then writes each changed quota once, and only
then answers the requests it charged. A conflicting write (the quota controller recalculated
meanwhile) re-reads that quota and re-checks the batch against it, up to three times. Dry-run
requests are checked but not charged. Namespaces without quotas cost one store lookup.

``limitedResources`` of the plug-in's configuration (``--admission-control-config-file``, an
``AdmissionConfiguration`` carrying a ``ResourceQuotaConfiguration``; :func:`load_limited_resources`)
make consumption opt-in, as upstream: when an object of a listed ``apiGroup``/``resource`` uses
a quota resource whose name contains one of ``matchContains`` (e.g. ``cpu`` ->
``requests.cpu``), some quota of the namespace that matches the object must track that name,
else 403 ``insufficient quota to consume: requests.cpu``; when the object matches one of the
``matchScopes``, some quota's scope of the same name must match it too, else upstream's
``insufficient quota to match these scopes: [{PriorityClass In [cluster-services]}]`` —
which kube-apiserver answers as a plain error (500, reason ``Unknown``), and so do we. With
limited resources configured, namespaces without quotas are checked too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.admission_config import plugin_configuration
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
    scope_selectors,
    subtract_non_negative,
    used_of,
)
from suanli.storage import ConflictError, NotFoundError, Store, StoredObject

__all__ = ["QUOTAS_KEY", "LimitedResource", "ResourceQuotaAdmission", "check_request", "forbidden",
           "load_limited_resources", "parse_limited_resources"]

QUOTAS_KEY = "resourcequotas"
#: never quota'd (upstream's ignored resources, plus what is not stored)
IGNORED = frozenset({"events", "events.k8s.io/events", "metrics.k8s.io/pods", "metrics.k8s.io/nodes"})
_RETRIES = 3


#: (apiVersion, kind) of the ResourceQuota plug-in's configuration, current and legacy
QUOTA_CONFIG_KINDS = (("apiserver.config.k8s.io/v1", "ResourceQuotaConfiguration"),
                      ("resourcequota.admission.k8s.io/v1beta1", "Configuration"),
                      ("resourcequota.admission.k8s.io/v1alpha1", "Configuration"))


@dataclass(frozen=True)
class LimitedResource:
    """One ``limitedResources`` entry (upstream ``resourcequotaapi.LimitedResource``)."""

    resource: str
    api_group: str = ""
    match_contains: tuple[str, ...] = ()
    match_scopes: tuple[Obj, ...] = ()


def parse_limited_resources(config: Any, where: str = "ResourceQuotaConfiguration") -> tuple[LimitedResource, ...]:
    """The ``limitedResources`` of a ResourceQuota configuration object; ``ValueError`` naming the field."""
    if not isinstance(config, dict):
        raise ValueError(f"{where}: must be an object")
    if (config.get("apiVersion"), config.get("kind")) not in QUOTA_CONFIG_KINDS:
        raise ValueError(f"{where}: kind/apiVersion: Invalid value: \"{config.get('apiVersion')}, "
                         f"Kind={config.get('kind')}\": must be ResourceQuotaConfiguration in "
                         "apiserver.config.k8s.io/v1")
    entries = config.get("limitedResources") or []
    if not isinstance(entries, list):
        raise ValueError(f"{where}: limitedResources: Invalid value: must be a list")
    out: list[LimitedResource] = []
    for i, e in enumerate(entries):
        field = f"{where}: limitedResources[{i}]"
        if not isinstance(e, dict):
            raise ValueError(f"{field}: Invalid value: must be an object")
        if not e.get("resource"):
            raise ValueError(f"{field}.resource: Required value")
        contains = e.get("matchContains") or []
        scopes = e.get("matchScopes") or []
        if not isinstance(contains, list) or not all(isinstance(c, str) for c in contains):
            raise ValueError(f"{field}.matchContains: Invalid value: must be a list of strings")
        if not isinstance(scopes, list):
            raise ValueError(f"{field}.matchScopes: Invalid value: must be a list")
        for j, sc in enumerate(scopes):
            if not isinstance(sc, dict) or not sc.get("scopeName") or not sc.get("operator"):
                raise ValueError(f"{field}.matchScopes[{j}]: Required value: scopeName and operator")
        out.append(LimitedResource(str(e["resource"]), str(e.get("apiGroup") or ""), tuple(contains),
                                   tuple(scopes)))
    return tuple(out)


def load_limited_resources(path: Path) -> tuple[LimitedResource, ...]:
    """The ResourceQuota ``limitedResources`` of the admission configuration file ``path`` (none if unset)."""
    config = plugin_configuration(path, "ResourceQuota")
    if config is None:
        return ()
    return parse_limited_resources(config, f"--admission-control-config-file {path}: ResourceQuota")


def _go_scope(sel: Obj) -> str:
    """A scope requirement as Go's ``%v`` prints it: ``{PriorityClass In [a b]}``."""
    values = " ".join(str(v) for v in sel.get("values") or [])
    return f"{{{sel.get('scopeName')} {sel.get('operator')} [{values}]}}"


def _matching_scopes(ev: Evaluator, obj: Obj, selectors: Sequence[Obj]) -> list[Obj]:
    """Upstream ``MatchingScopes``: the selectors ``obj`` satisfies (only pods have scopes)."""
    fn = ev.scope_fn
    return [] if fn is None else [s for s in selectors if fn(s, obj)]


def forbidden(request: AdmissionRequest, detail: str) -> ApiError:
    """Upstream ``admission.NewForbidden``: ``pods "web" is forbidden: <detail>`` (403)."""
    rt = request.resource
    resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    name = request.name
    if not name and request.obj is not None:
        meta = request.obj.get("metadata") or {}
        name = str(meta.get("name") or meta.get("generateName") or "Unknown")
    return ApiError.forbidden(rt.plural, name, f'{resource} "{name}" is forbidden: {detail}')


def check_request(quotas: list[Obj], used: list[ResourceList], request: AdmissionRequest, ev: Evaluator,
                  now: datetime, hards: list[ResourceList] | None = None,
                  limited: Sequence[LimitedResource] = ()) -> list[tuple[int, ResourceList]]:
    """Upstream ``CheckRequest`` against ``quotas`` whose current usage is ``used`` and limits
    ``hards`` (their :func:`hard_of`; computed when None), all in the same order, with the
    configured ``limited`` resources: ``(index, new usage)`` for every quota the request changes;
    raises the :class:`ApiError` described in the module docstring."""
    obj = request.obj
    if obj is None:
        return []
    if hards is None:
        hards = [hard_of(q) for q in quotas]
    rt = request.resource
    limited_scopes = _matching_scopes(ev, obj, [s for lr in limited for s in lr.match_scopes])
    mine = [lr for lr in limited if lr.api_group == rt.group and lr.resource == rt.plural]
    usage: ResourceList | None = None
    limited_names: set[str] = set()
    if mine:
        usage = ev.usage(obj, now)
        limited_names = {k for lr in mine for k, v in usage.items()
                         if v > 0 and any(m in k for m in lr.match_contains)}
    interesting: list[int] = []
    covered: set[str] = set()
    quota_scopes: list[Obj] = []
    for i, q in enumerate(quotas):
        if limited_scopes:
            quota_scopes += _matching_scopes(ev, obj, scope_selectors(q))
        if not quota_matches(ev, q, obj, hards[i]):
            continue
        name = q["metadata"]["name"]
        restricted = ev.matching_resources(hards[i])
        err = ev.constraints(restricted, obj)
        if err:
            raise forbidden(request, f"failed quota: {name}: {err}")
        if any(r not in used[i] for r in restricted):
            raise forbidden(request, f"status unknown for quota: {name}, resources: {','.join(restricted)}")
        interesting.append(i)
        covered.update(restricted)
    uncovered = sorted(limited_names - covered)
    if uncovered:
        raise forbidden(request, f"insufficient quota to consume: {','.join(uncovered)}")
    names = {s.get("scopeName") for s in quota_scopes}
    missing = [s for s in limited_scopes if s.get("scopeName") not in names]
    if missing:  # upstream returns a plain error here: kube-apiserver answers 500, reason Unknown
        raise ApiError(500, "Unknown", "insufficient quota to match these scopes: "
                                       f"[{' '.join(_go_scope(s) for s in missing)}]")
    if not interesting:
        return []
    if usage is None:
        usage = ev.usage(obj, now)
    negative = sorted(k for k, v in usage.items() if v.numerator < 0)
    if negative:
        raise forbidden(request, f"quota usage is negative for resource(s): {','.join(negative)}")
    deltas = dict.fromkeys(interesting, usage)
    old = request.old
    if request.operation == "UPDATE" and old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        delta = subtract_non_negative(usage, ev.usage(old, now))
        for i in interesting:
            if quota_matches(ev, quotas[i], old, hards[i]):
                deltas[i] = delta
    out: list[tuple[int, ResourceList]] = []
    for i in interesting:
        hard = hards[i]
        requested = {k: v for k, v in deltas[i].items() if v.numerator and k in hard}
        if not requested:
            continue
        new_used = add(used[i], requested)
        over = exceeded(mask(new_used, requested), hard)
        if over:
            raise forbidden(request, f"exceeded quota: {quotas[i]['metadata']['name']}, "
                                     f"requested: {pretty_print(mask(requested, over))}, "
                                     f"used: {pretty_print(mask(used[i], over))}, "
                                     f"limited: {pretty_print(mask(hard, over))}")
        out.append((i, new_used))
    return out


_Waiter = tuple[AdmissionRequest, Evaluator, "asyncio.Future[None]"]


class ResourceQuotaAdmission:
    """Final plug-in enforcing and charging ResourceQuotas (module docstring); reads ``store``."""

    name = "ResourceQuota"
    resources: frozenset[str] = frozenset()

    def __init__(self, store: Store, limited: Sequence[LimitedResource] = ()) -> None:
        self._store = store
        #: the configured ``limitedResources`` (consumption needing a covering quota)
        self.limited = tuple(limited)
        self._pending: dict[str, list[_Waiter]] = {}
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def admit(self, request: AdmissionRequest) -> None:
        rt = request.resource
        if not rt.namespaced or request.obj is None or rt.storage_key in IGNORED:
            return
        ev = evaluator_for(rt.plural, rt.group)
        if not ev.handles(request.operation, request.subresource):
            return
        ns = request.namespace
        if not self.limited and not self._store.list(QUOTAS_KEY, ns, limit=1).items:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(ns, []).append((request, ev, fut))
        if ns not in self._busy:
            self._busy.add(ns)
            task = asyncio.create_task(self._drain(ns))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await fut

    async def _drain(self, ns: str) -> None:
        """Evaluate batches of ``ns`` until none is pending; every waiter is answered."""
        try:
            while self._pending.get(ns):
                batch = self._pending.pop(ns)
                try:
                    await self._check_batch(ns, batch)
                except BaseException as err:  # never leave a request waiting
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(err if isinstance(err, Exception) else ApiError(
                                500, "InternalError", "resource quota evaluation was interrupted"))
                    if not isinstance(err, Exception):
                        raise
        finally:
            self._busy.discard(ns)

    async def _check_batch(self, ns: str, batch: list[_Waiter]) -> None:
        stored = self._store.list(QUOTAS_KEY, ns).items
        waiting = batch
        now = datetime.now(UTC)
        for _ in range(_RETRIES):
            quotas = [so.obj for so in stored]
            used = [used_of(q) for q in quotas]
            hards = [hard_of(q) for q in quotas]
            changed: set[int] = set()
            charged: list[_Waiter] = []
            for waiter in waiting:
                request, ev, fut = waiter
                try:
                    changes = check_request(quotas, used, request, ev, now, hards, self.limited)
                except ApiError as err:
                    fut.set_exception(err)
                    continue
                if request.dry_run or not changes:
                    fut.set_result(None)
                    continue
                for i, new_used in changes:
                    used[i] = new_used
                    changed.add(i)
                charged.append(waiter)
            failed = await self._write(stored, used, changed)
            if not failed:
                for _, _, fut in charged:
                    fut.set_result(None)
                return
            stored = [so for so in self._store.list(QUOTAS_KEY, ns).items if so.obj["metadata"]["name"] in failed]
            waiting = charged
        for _, _, fut in waiting:
            fut.set_exception(ApiError.conflict(QUOTAS_KEY, "", "the object has been modified; please apply your "
                                                "changes to the latest version and try again"))

    async def _write(self, stored: list[StoredObject], used: list[ResourceList], changed: set[int]) -> set[str]:
        """Write the changed quotas' ``status.used``; the names whose write conflicted."""
        failed: set[str] = set()
        for i in sorted(changed):
            so = stored[i]
            status = dict(so.obj.get("status") or {})
            status["used"] = {k: format_resource(k, v) for k, v in sorted(used[i].items())}
            new = {**so.obj, "metadata": dict(so.obj["metadata"]), "status": status}
            try:
                await self._store.update(QUOTAS_KEY, new, expected_rv=so.rv)
            except ConflictError:
                failed.add(so.obj["metadata"]["name"])
            except NotFoundError:
                continue  # deleted meanwhile: nothing to charge
        return failed
