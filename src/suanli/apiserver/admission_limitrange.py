"""``LimitRanger`` admission (upstream ``plugin/pkg/admission/limitranger``).

Sees pod CREATEs and PersistentVolumeClaim CREATE/UPDATEs (never subresources, never objects
being deleted) against every LimitRange of the namespace.

* **Mutating (pods)** — each ``Container`` item's ``defaultRequest``/``default`` fill the
  requests/limits a container or init container leaves unset; the pod is annotated
  ``kubernetes.io/limit-ranger: "LimitRanger plugin set: cpu, memory request for container
  main; cpu limit for container main"`` and its ``status.qosClass`` recomputed.
* **Validating** — ``Container`` items bound each container and init container, ``Pod`` items
  the pod's aggregate requests/limits (Σ containers, max'd with each init container; no
  overhead), ``PersistentVolumeClaim`` items a claim's ``spec.resources.requests``: ``min``,
  ``max`` and ``maxLimitRequestRatio``. Violations are one 403, worded as upstream's:
  ``pods "web" is forbidden: maximum cpu usage per Container is 2, but limit is 3``; several
  are joined as ``[first, second]``.

Values compare in milli-units (rounded up), as upstream's ``MilliValue``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.quantity import to_milli
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.admission_quota import forbidden
from suanli.kinds.defaults import apply_builtin_defaults, pod_qos_class
from suanli.kinds.quota import ResourceList, format_resource, parse_resource_list, pod_requests_limits
from suanli.storage import Store

__all__ = ["LIMIT_RANGER_ANNOTATION", "LimitRangeDefaults", "LimitRangeValidation", "store_limit_ranges"]

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
LIMITRANGES_KEY = "limitranges"

#: ``namespace → its LimitRanges``
RangeLister = Callable[[str], list[Obj]]


def store_limit_ranges(store: Store) -> RangeLister:
    """A :data:`RangeLister` reading LimitRanges straight from ``store``."""
    return lambda ns: [so.obj for so in store.list(LIMITRANGES_KEY, ns).items]


def _items(limit_range: Obj) -> list[Obj]:
    """The ranges' items, with upstream's item defaults applied (old objects may predate them)."""
    copy = {"spec": {"limits": [dict(i) for i in (limit_range.get("spec") or {}).get("limits") or []
                                if isinstance(i, dict)]}}
    apply_builtin_defaults("LimitRange", copy)
    return list(copy["spec"]["limits"])


def _fmt(name: str, value: Fraction) -> str:
    return format_resource(name, value)


def _min(kind: str, name: str, enforced: Fraction, req: ResourceList, lim: ResourceList) -> str | None:
    e = _fmt(name, enforced)
    if name not in req:
        return f"minimum {name} usage per {kind} is {e}.  No request is specified"
    if to_milli(req[name]) < to_milli(enforced):
        return f"minimum {name} usage per {kind} is {e}, but request is {_fmt(name, req[name])}"
    if name in lim and to_milli(lim[name]) < to_milli(enforced):
        return f"minimum {name} usage per {kind} is {e}, but limit is {_fmt(name, lim[name])}"
    return None


def _max(kind: str, name: str, enforced: Fraction, req: ResourceList, lim: ResourceList) -> str | None:
    e = _fmt(name, enforced)
    if name not in lim:
        return f"maximum {name} usage per {kind} is {e}.  No limit is specified"
    if to_milli(lim[name]) > to_milli(enforced):
        return f"maximum {name} usage per {kind} is {e}, but limit is {_fmt(name, lim[name])}"
    if name in req and to_milli(req[name]) > to_milli(enforced):
        return f"maximum {name} usage per {kind} is {e}, but request is {_fmt(name, req[name])}"
    return None


def _max_request(kind: str, name: str, enforced: Fraction, req: ResourceList) -> str | None:
    e = _fmt(name, enforced)
    if name not in req:
        return f"maximum {name} usage per {kind} is {e}.  No request is specified"
    if to_milli(req[name]) > to_milli(enforced):
        return f"maximum {name} usage per {kind} is {e}, but request is {_fmt(name, req[name])}"
    return None


def _ratio(kind: str, name: str, enforced: Fraction, req: ResourceList, lim: ResourceList) -> str | None:
    e = _fmt(name, enforced)
    r = to_milli(req[name]) if name in req else 0
    m = to_milli(lim[name]) if name in lim else 0
    if r == 0:
        return f"{name} max limit to request ratio per {kind} is {e}, but no request is specified or request is 0"
    if m == 0:
        return f"{name} max limit to request ratio per {kind} is {e}, but no limit is specified or limit is 0"
    observed = Fraction(m, r)
    if observed > enforced:
        return f"{name} max limit to request ratio per {kind} is {e}, but provided ratio is {float(observed):f}"
    return None


def _bounds(item: Obj, kind: str, req: ResourceList, lim: ResourceList, errs: list[str]) -> None:
    for name, q in sorted(parse_resource_list(item.get("min")).items()):
        errs.append(_min(kind, name, q, req, lim) or "")
    for name, q in sorted(parse_resource_list(item.get("max")).items()):
        errs.append(_max(kind, name, q, req, lim) or "")
    for name, q in sorted(parse_resource_list(item.get("maxLimitRequestRatio")).items()):
        errs.append(_ratio(kind, name, q, req, lim) or "")


def aggregate(errs: list[str]) -> str:
    """Upstream ``utilerrors.NewAggregate(...).Error()``: one message as is, several (deduplicated)
    as ``[a, b]``; "" for none."""
    seen: list[str] = []
    for e in errs:
        if e and e not in seen:
            seen.append(e)
    if len(seen) <= 1:
        return seen[0] if seen else ""
    return "[" + ", ".join(seen) + "]"


def _containers(pod: Obj) -> list[Obj]:
    spec = pod.get("spec") or {}
    return [c for key in ("containers", "initContainers") for c in spec.get(key) or [] if isinstance(c, dict)]


def validate_pod(limit_range: Obj, pod: Obj) -> str:
    """Upstream ``PodValidateLimitFunc``: the aggregated violation text ("" when within bounds)."""
    errs: list[str] = []
    for item in _items(limit_range):
        kind = item.get("type")
        if kind == "Container":
            for c in _containers(pod):
                res = c.get("resources") or {}
                _bounds(item, "Container", parse_resource_list(res.get("requests")),
                        parse_resource_list(res.get("limits")), errs)
        elif kind == "Pod":
            req, lim = pod_requests_limits(pod.get("spec") or {}, overhead=False)
            _bounds(item, "Pod", req, lim, errs)
    return aggregate(errs)


def validate_claim(limit_range: Obj, claim: Obj) -> str:
    """Upstream ``PersistentVolumeClaimValidateLimitFunc``: min/max on ``spec.resources.requests``."""
    errs: list[str] = []
    req = parse_resource_list(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    for item in _items(limit_range):
        if item.get("type") != "PersistentVolumeClaim":
            continue
        for name, q in sorted(parse_resource_list(item.get("min")).items()):
            errs.append(_min("PersistentVolumeClaim", name, q, req, {}) or "")
        for name, q in sorted(parse_resource_list(item.get("max")).items()):
            errs.append(_max_request("PersistentVolumeClaim", name, q, req) or "")
    return aggregate(errs)


def default_pod(limit_range: Obj, pod: Obj) -> None:
    """Upstream ``PodMutateLimitFunc``: fill unset requests/limits from ``Container`` items, annotate."""
    requests: dict[str, object] = {}
    limits: dict[str, object] = {}
    for item in _items(limit_range):
        if item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    if not requests and not limits:
        return
    notes: list[str] = []
    spec = pod.get("spec") or {}
    for key, label in (("containers", "container"), ("initContainers", "init container")):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            res = c.setdefault("resources", {})
            set_limits = _fill(res, "limits", limits)
            set_requests = _fill(res, "requests", requests)
            if set_requests:
                notes.append(f"{', '.join(set_requests)} request for {label} {c.get('name', '')}")
            if set_limits:
                notes.append(f"{', '.join(set_limits)} limit for {label} {c.get('name', '')}")
    if notes:
        meta = pod.setdefault("metadata", {})
        meta.setdefault("annotations", {})[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
        if isinstance(pod.get("status"), dict) and "qosClass" in pod["status"]:
            pod["status"]["qosClass"] = pod_qos_class(pod)


def _fill(res: Obj, key: str, defaults: dict[str, object]) -> list[str]:
    if not defaults:
        return []
    current = res.get(key)
    if not isinstance(current, dict):
        current = res[key] = {}
    added = sorted(name for name in defaults if name not in current)
    for name in added:
        current[name] = defaults[name]
    return added


def _applies(request: AdmissionRequest) -> bool:
    if request.subresource or request.obj is None:
        return False
    if request.old is not None and (request.old.get("metadata") or {}).get("deletionTimestamp"):
        return False
    key = request.resource.storage_key
    return (key == "pods" and request.operation == "CREATE") or (
        key == "persistentvolumeclaims" and request.operation in ("CREATE", "UPDATE"))


class LimitRangeDefaults:
    """Mutating half of LimitRanger (module docstring)."""

    name = "LimitRanger"
    resources = frozenset({"pods"})

    def __init__(self, ranges: RangeLister) -> None:
        self._ranges = ranges

    def mutate(self, request: AdmissionRequest) -> None:
        if not _applies(request) or request.resource.storage_key != "pods":
            return
        assert request.obj is not None
        for lr in self._ranges(request.namespace):
            default_pod(lr, request.obj)


class LimitRangeValidation:
    """Validating half of LimitRanger (module docstring)."""

    name = "LimitRanger"
    resources = frozenset({"pods", "persistentvolumeclaims"})

    def __init__(self, ranges: RangeLister) -> None:
        self._ranges = ranges

    def validate(self, request: AdmissionRequest) -> None:
        if not _applies(request):
            return
        obj = request.obj
        assert obj is not None
        check = validate_pod if request.resource.storage_key == "pods" else validate_claim
        for lr in self._ranges(request.namespace):
            err = check(lr, obj)
            if err:
                raise forbidden(request, err)
