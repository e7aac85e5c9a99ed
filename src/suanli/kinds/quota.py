"""ResourceQuota accounting: what an object costs, which quotas it falls under, how usage compares.

One home for the quota rules shared by the ResourceQuota admission plug-in
(:mod:`suanli.apiserver.admission_quota`) and the quota controller
(:mod:`suanli.controllers.resourcequota`). Pure functions over plain objects; quantities are
exact :class:`~fractions.Fraction` values in a :data:`ResourceList` (``{"requests.cpu": 1/2}``).

Evaluators follow upstream's (``pkg/quota/v1/evaluator/core``, ``apiserver/pkg/quota/v1/generic``):

* **pods** — ``count/pods`` always; while the pod is not terminal (phase Succeeded/Failed, or
  deleted with its grace period over) also ``pods``, ``cpu``/``requests.cpu``,
  ``memory``/``requests.memory``, ``ephemeral-storage``/``requests.ephemeral-storage``,
  ``limits.{cpu,memory,ephemeral-storage}``, ``hugepages-*``/``requests.hugepages-*`` and
  ``requests.<extended>`` (extended resources are only quota'd in the ``requests.`` form, e.g.
  ``requests.huawei.com/Ascend910``). Pod requests are Σ containers, max'd with each init
  container, plus overhead. Example: one container requesting ``cpu: 500m`` →
  ``{count/pods: 1, pods: 1, cpu: 1/2, requests.cpu: 1/2}``. Scopes: ``Terminating``
  (``activeDeadlineSeconds`` ≥ 0), ``NotTerminating``, ``BestEffort``, ``NotBestEffort``,
  ``PriorityClass`` (scope selector In/NotIn/Exists/DoesNotExist on ``spec.priorityClassName``),
  ``CrossNamespacePodAffinity``. Counted on CREATE and on UPDATE (charged by the delta).
* **services** — ``services``, ``count/services``, ``services.loadbalancers`` (type
  LoadBalancer), ``services.nodeports`` (ports of NodePort/LoadBalancer services). CREATE and
  UPDATE.
* **persistentvolumeclaims** — ``persistentvolumeclaims``, ``count/persistentvolumeclaims``,
  ``requests.storage`` and the per-class ``<class>.storageclass.storage.k8s.io/requests.storage``
  and ``…/persistentvolumeclaims``. CREATE and UPDATE.
* **everything else** — object count ``count/<plural>`` (core) or ``count/<plural>.<group>``
  (``count/jobs.batch.volcano.sh``), plus the legacy names ``configmaps``, ``secrets``,
  ``replicationcontrollers``, ``resourcequotas``. CREATE only; scoped quotas never match them.

Deviation: a quantity's original format is not kept; :func:`format_resource` prints memory,
storage and hugepages quantities with binary suffixes when they are whole multiples of 1024
(``1Gi``), everything else in decimal form (``500m``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import format_quantity, parse_quantity
from suanli.kinds.defaults import is_extended_resource, is_native_resource, pod_qos_class

__all__ = [
    "QUOTA_SCOPES",
    "Evaluator",
    "ResourceList",
    "add",
    "calculate_usage",
    "count_name",
    "count_resource_of",
    "evaluator_for",
    "exceeded",
    "format_resource",
    "hard_of",
    "is_terminal_pod",
    "mask",
    "parse_resource_list",
    "pod_requests_limits",
    "pretty_print",
    "quota_matches",
    "scope_selectors",
    "subtract_non_negative",
    "tracked_resources",
    "used_of",
]

ResourceList = dict[str, Fraction]

QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                "CrossNamespacePodAffinity")

_ONE = Fraction(1)
_ZERO = Fraction(0)
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
#: if a quota tracks one of these, every container must state it (upstream's "validationSet")
_MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
_POD_RESOURCES = frozenset({"count/pods", "pods", "cpu", "memory", "ephemeral-storage", "requests.cpu",
                            "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
                            "limits.ephemeral-storage"})
_SERVICE_RESOURCES = frozenset({"services", "count/services", "services.loadbalancers", "services.nodeports"})
_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
#: DRA's implicit extended resources are quota'd like extended ones
_IMPLICIT_EXTENDED = "deviceclass.resource.kubernetes.io/"
#: core kinds whose object count also has a bare legacy name (``configmaps`` = ``count/configmaps``)
_LEGACY_COUNTS = frozenset({"configmaps", "secrets", "replicationcontrollers", "resourcequotas"})


# -- resource lists ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction | None:
    try:
        return parse_quantity(text)
    except ValueError:
        return None


def parse_resource_list(raw: Any) -> ResourceList:
    """``{"cpu": "500m"}`` → ``{"cpu": Fraction(1, 2)}``; unparsable quantities are skipped."""
    out: ResourceList = {}
    if isinstance(raw, dict):
        for name, q in raw.items():
            value = _parse_text(q) if type(q) is str else _parse_any(q)
            if value is not None:
                out[str(name)] = value
    return out


def _parse_any(q: Any) -> Fraction | None:
    try:
        return parse_quantity(q)
    except ValueError:
        return None


def hard_of(quota: Obj) -> ResourceList:
    """``status.hard`` (what admission enforces; the controller copies ``spec.hard`` there)."""
    return parse_resource_list((quota.get("status") or {}).get("hard"))


def used_of(quota: Obj) -> ResourceList:
    return parse_resource_list((quota.get("status") or {}).get("used"))


def add(a: ResourceList, b: ResourceList) -> ResourceList:
    out = dict(a)
    _add_into(out, b)
    return out


def subtract_non_negative(a: ResourceList, b: ResourceList) -> ResourceList:
    """``a - b`` per name of ``a``, floored at zero."""
    return {k: max(_ZERO, v - b.get(k, _ZERO)) for k, v in a.items()}


def mask(a: ResourceList, names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in a.items() if k in keep}


def exceeded(used: ResourceList, hard: ResourceList) -> list[str]:
    """Names in ``used`` (and in ``hard``) whose value is above ``hard``, sorted."""
    return sorted(k for k, v in used.items() if k in hard and v > hard[k])


def format_resource(name: str, value: Fraction) -> str:
    binary = any(s in name for s in ("memory", "storage", "hugepages"))
    return format_quantity(value, binary=binary)


def pretty_print(resources: ResourceList) -> str:
    """Upstream's ``prettyPrint``: ``name=value`` sorted by name, comma-joined."""
    return ",".join(f"{k}={format_resource(k, resources[k])}" for k in sorted(resources))


# -- scopes ----------------------------------------------------------------------------------------


def scope_selectors(quota: Obj) -> list[Obj]:
    """``spec.scopes`` as ``Exists`` requirements, then ``spec.scopeSelector.matchExpressions``."""
    spec = quota.get("spec") or {}
    out: list[Obj] = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    sel = spec.get("scopeSelector") or {}
    out.extend(e for e in sel.get("matchExpressions") or [] if isinstance(e, dict))
    return out


def _is_terminating(pod: Obj) -> bool:
    ads = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return isinstance(ads, int) and not isinstance(ads, bool) and ads >= 0


def _cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        block = affinity.get(kind) or {}
        terms = list(block.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in block.get("preferredDuringSchedulingIgnoredDuringExecution")
                  or [] if isinstance(w, dict)]
        for t in terms:
            if isinstance(t, dict) and (t.get("namespaces") or t.get("namespaceSelector") is not None):
                return True
    return False


def _pod_matches_scope(selector: Obj, pod: Obj) -> bool:
    scope = selector.get("scopeName")
    if scope == "Terminating":
        return _is_terminating(pod)
    if scope == "NotTerminating":
        return not _is_terminating(pod)
    if scope == "BestEffort":
        return pod_qos_class(pod) == "BestEffort"
    if scope == "NotBestEffort":
        return pod_qos_class(pod) != "BestEffort"
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    if scope == "PriorityClass":
        pc = str((pod.get("spec") or {}).get("priorityClassName") or "")
        op = selector.get("operator")
        values = [str(v) for v in selector.get("values") or []]
        if op == "Exists":
            return bool(pc)
        if op == "DoesNotExist":
            return not pc
        if op == "In":
            return bool(pc) and pc in values
        if op == "NotIn":
            return not pc or pc not in values
    return False


# -- evaluators ------------------------------------------------------------------------------------


def is_terminal_pod(pod: Obj, now: datetime) -> bool:
    """Upstream ``!QuotaV1Pod``: phase Succeeded/Failed, or deleted and past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    meta = pod.get("metadata") or {}
    ts, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if ts and isinstance(grace, int):
        try:
            deleted = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
        except ValueError:
            return False
        return now > deleted + timedelta(seconds=grace)
    return False


def _container_lists(container: Any) -> tuple[ResourceList, ResourceList]:
    res = (container or {}).get("resources") if isinstance(container, dict) else None
    if not res:
        return {}, {}
    return parse_resource_list(res.get("requests")), parse_resource_list(res.get("limits"))


def _pod_totals(spec: Obj, which: int, overhead: bool = True) -> ResourceList:
    """Upstream ``PodRequests`` (``which`` 0) / ``PodLimits`` (1): Σ containers and sidecars, max
    with each regular init container (plus the sidecars started before it), plus overhead
    (limits: only on resources that have a limit)."""
    total: ResourceList = {}
    for c in spec.get("containers") or []:
        _add_into(total, _container_lists(c)[which])
    inits = spec.get("initContainers")
    if inits:
        sidecars: ResourceList = {}
        init_max: ResourceList = {}
        for c in inits:
            own = _container_lists(c)[which]
            if isinstance(c, dict) and c.get("restartPolicy") == "Always":
                _add_into(sidecars, own)
                own = sidecars
            else:
                own = add(own, sidecars)
            for k, v in own.items():
                init_max[k] = max(init_max.get(k, _ZERO), v)
        _add_into(total, sidecars)
        for k, v in init_max.items():
            total[k] = max(total.get(k, _ZERO), v)
    if overhead and spec.get("overhead"):
        for k, v in parse_resource_list(spec.get("overhead")).items():
            if which == 0 or k in total:
                total[k] = total.get(k, _ZERO) + v
    return total


def _add_into(into: ResourceList, other: ResourceList) -> None:
    for k, v in other.items():
        prev = into.get(k)
        into[k] = v if prev is None else prev + v


def pod_requests_limits(spec: Obj, *, overhead: bool) -> tuple[ResourceList, ResourceList]:
    """A pod spec's aggregate ``(requests, limits)`` (see :func:`_pod_totals`)."""
    return _pod_totals(spec, 0, overhead), _pod_totals(spec, 1, overhead)


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """Upstream ``podComputeUsageHelper``: quota names for a set of requests and limits."""
    out: ResourceList = {"pods": _ONE}
    for name in _COMPUTE:
        if name in requests:
            out[name] = requests[name]
            out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            out[name] = q
            out[f"requests.{name}"] = q
        elif is_extended_resource(name) or name.startswith(_IMPLICIT_EXTENDED):
            out[f"requests.{name}"] = q
    return out


def _pod_usage(pod: Obj, now: datetime) -> ResourceList:
    if is_terminal_pod(pod, now):
        return {"count/pods": _ONE}
    spec = pod.get("spec") or {}
    out = _compute_usage(_pod_totals(spec, 0), _pod_totals(spec, 1))
    out["count/pods"] = _ONE
    return out


def _stated(container: Obj) -> set[str]:
    """The cpu/memory quota names a container states (upstream: its ``podComputeUsageHelper`` keys)."""
    res = container.get("resources") or {}
    requests, limits = res.get("requests") or {}, res.get("limits") or {}
    out: set[str] = set()
    for name in ("cpu", "memory"):
        if name in requests:
            out.add(name)
            out.add(f"requests.{name}")
        if name in limits:
            out.add(f"limits.{name}")
    return out


def _pod_constraints(required: Iterable[str], pod: Obj) -> str | None:
    """Upstream pod ``Constraints``: every container must state each tracked cpu/memory resource."""
    need = set(required) & _MUST_SPECIFY
    if not need:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if not isinstance(c, dict):
            continue
        for name in need - _stated(c):
            missing.setdefault(name, set()).add(str(c.get("name") or ""))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def _service_usage(svc: Obj, _now: datetime) -> ResourceList:
    out: ResourceList = {"services": _ONE, "count/services": _ONE}
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    kind = spec.get("type")
    if kind == "NodePort":
        out["services.nodeports"] = Fraction(len(ports))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            out["services.nodeports"] = Fraction(sum(1 for p in ports if p.get("nodePort")))
        else:
            out["services.nodeports"] = Fraction(len(ports))
        out["services.loadbalancers"] = _ONE
    return out


def _pvc_usage(pvc: Obj, _now: datetime) -> ResourceList:
    out: ResourceList = {"persistentvolumeclaims": _ONE, "count/persistentvolumeclaims": _ONE}
    spec = pvc.get("spec") or {}
    cls = spec.get("storageClassName")
    if cls:
        out[f"{cls}{_STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
    storage = parse_resource_list((spec.get("resources") or {}).get("requests")).get("storage")
    allocated = parse_resource_list((pvc.get("status") or {}).get("allocatedResources")).get("storage")
    if allocated is not None and (storage is None or allocated > storage):
        storage = allocated
    if storage is not None:
        out["requests.storage"] = storage
        if cls:
            out[f"{cls}{_STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return out


@dataclass(frozen=True)
class Evaluator:
    """How quota measures one resource (``plural``/``group``); see the module docstring."""

    plural: str
    group: str
    usage_fn: Callable[[Obj, datetime], ResourceList]
    names: frozenset[str]
    #: also matches ``name`` when this returns True (prefixed or extended names)
    name_predicate: Callable[[str], bool] | None = None
    scope_fn: Callable[[Obj, Obj], bool] | None = None
    constraints_fn: Callable[[Iterable[str], Obj], str | None] | None = None
    on_update: bool = False
    _matching: dict[tuple[str, ...], list[str]] = field(default_factory=dict, compare=False, repr=False)

    def handles(self, operation: str, subresource: str) -> bool:
        """Whether an admission request can change this resource's usage."""
        if subresource:
            return False
        return operation == "CREATE" or (operation == "UPDATE" and self.on_update)

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        """The quota resource names (of ``names``) this evaluator accounts for."""
        key = tuple(names)
        hit = self._matching.get(key)
        if hit is None:
            pred = self.name_predicate
            hit = sorted(n for n in key if n in self.names or (pred is not None and pred(n)))
            if len(self._matching) < 1024:
                self._matching[key] = hit
        return list(hit)

    def matches_scopes(self, quota: Obj, obj: Obj) -> bool:
        """All the quota's scope requirements hold for ``obj`` (none → True)."""
        fn = self.scope_fn
        sels = scope_selectors(quota)
        return not sels or (fn is not None and all(fn(sel, obj) for sel in sels))

    def usage(self, obj: Obj, now: datetime) -> ResourceList:
        return self.usage_fn(obj, now)

    def constraints(self, required: Iterable[str], obj: Obj) -> str | None:
        """An error text (``must specify …``) when ``obj`` omits a resource the quota requires."""
        return None if self.constraints_fn is None else self.constraints_fn(required, obj)


def _pod_name_predicate(name: str) -> bool:
    if name.startswith(("hugepages-", "requests.hugepages-")):
        return True
    return not is_native_resource(name) and name.startswith("requests.")


def _pvc_name_predicate(name: str) -> bool:
    return _STORAGE_CLASS_SUFFIX in name and name.endswith(("/requests.storage", "/persistentvolumeclaims"))


def count_name(plural: str, group: str) -> str:
    """``count/pods``, ``count/jobs.batch.volcano.sh``."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


_POD_EVALUATOR = Evaluator("pods", "", _pod_usage, _POD_RESOURCES, _pod_name_predicate, _pod_matches_scope,
                           _pod_constraints, on_update=True)
_SERVICE_EVALUATOR = Evaluator("services", "", _service_usage, _SERVICE_RESOURCES, on_update=True)
_PVC_EVALUATOR = Evaluator("persistentvolumeclaims", "", _pvc_usage,
                           frozenset({"persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage"}),
                           _pvc_name_predicate, on_update=True)


def _object_count_evaluator(plural: str, group: str) -> Evaluator:
    names = {count_name(plural, group)}
    if not group and plural in _LEGACY_COUNTS:
        names.add(plural)
    frozen = frozenset(names)

    def usage(_obj: Obj, _now: datetime) -> ResourceList:
        return dict.fromkeys(frozen, _ONE)

    return Evaluator(plural, group, usage, frozen)


_EVALUATORS: dict[tuple[str, str], Evaluator] = {}


def evaluator_for(plural: str, group: str) -> Evaluator:
    """The evaluator of ``plural.group`` (object count for anything without a special one)."""
    key = (plural, group)
    ev = _EVALUATORS.get(key)
    if ev is None:
        if not group and plural == "pods":
            ev = _POD_EVALUATOR
        elif not group and plural == "services":
            ev = _SERVICE_EVALUATOR
        elif not group and plural == "persistentvolumeclaims":
            ev = _PVC_EVALUATOR
        else:
            ev = _object_count_evaluator(plural, group)
        _EVALUATORS[key] = ev
    return ev


def quota_matches(ev: Evaluator, quota: Obj, obj: Obj, hard: ResourceList | None = None) -> bool:
    """Upstream ``generic.Matches``: the quota tracks one of ``ev``'s resources and its scopes hold
    (``hard``: the quota's :func:`hard_of`, when the caller has it already)."""
    names = hard_of(quota) if hard is None else hard
    return bool(ev.matching_resources(names)) and ev.matches_scopes(quota, obj)


def count_resource_of(name: str) -> tuple[str, str] | None:
    """``count/jobs.batch.volcano.sh`` → ``("jobs", "batch.volcano.sh")``; ``count/pods`` → ``("pods", "")``;
    legacy bare names (``configmaps``) → their core resource; anything else None."""
    if name in _LEGACY_COUNTS:
        return name, ""
    if not name.startswith("count/"):
        return None
    plural, _, group = name[len("count/"):].partition(".")
    return plural, group


def tracked_resources(hard: Iterable[str]) -> set[tuple[str, str]]:
    """The ``(plural, group)`` resources whose objects a quota over ``hard`` must count."""
    out: set[tuple[str, str]] = set()
    for name in hard:
        for key, ev in (("pods", ""), _POD_EVALUATOR), (("services", ""), _SERVICE_EVALUATOR), \
                (("persistentvolumeclaims", ""), _PVC_EVALUATOR):
            if ev.matching_resources([name]):
                out.add(key)
        counted = count_resource_of(name)
        if counted is not None:
            out.add(counted)
    return out


def calculate_usage(quota: Obj, objects: dict[tuple[str, str], list[Obj]], now: datetime) -> ResourceList:
    """``status.used`` for ``quota`` (over ``spec.hard``) from the namespace's ``objects`` per resource.

    Every hard resource gets a value (0 when nothing counts), as upstream's ``CalculateUsage``.
    """
    hard = parse_resource_list((quota.get("spec") or {}).get("hard"))
    used: ResourceList = dict.fromkeys(hard, _ZERO)
    for (plural, group), items in objects.items():
        ev = evaluator_for(plural, group)
        names = ev.matching_resources(hard)
        if not names:
            continue
        for obj in items:
            if not ev.matches_scopes(quota, obj):
                continue
            for k, v in mask(ev.usage(obj, now), names).items():
                used[k] = used[k] + v
    return used
