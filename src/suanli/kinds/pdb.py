"""PodDisruptionBudget rules shared by the eviction subresource and the disruption controller.

Upstream: ``pkg/registry/core/pod/storage/eviction.go`` (which budgets guard a pod, when an
eviction may skip them, ``checkAndDecrement``) and ``pkg/controller/disruption`` (the
``DisruptionAllowed`` condition). Pure functions over plain objects; nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import label_selector_from_object

__all__ = [
    "DISRUPTION_ALLOWED",
    "MAX_DISRUPTED_PODS",
    "budgets_for",
    "can_ignore_budget",
    "check_and_decrement",
    "disruption_allowed_condition",
    "pod_ready",
]

DISRUPTION_ALLOWED = "DisruptionAllowed"
# upstream MaxDisruptedPodSize: evictions the controller has not yet confirmed
MAX_DISRUPTED_PODS = 2000
_VIOLATES = "Cannot evict pod as it would violate the pod's disruption budget."
_CAUSE = "DisruptionBudget"


def _forbidden(name: str, why: str) -> str:
    return f'poddisruptionbudget.policy "{name}" is forbidden: {why}'


def pod_ready(pod: Obj) -> bool:
    """Upstream ``IsPodReady``: condition ``Ready`` is ``True``."""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def can_ignore_budget(pod: Obj) -> bool:
    """Terminal, pending or already-deleting pods are deleted without consulting any budget."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def budgets_for(pod: Obj, budgets: list[Obj]) -> list[Obj]:
    """The budgets in ``budgets`` whose selector matches ``pod`` (same namespace).

    A nil or empty selector matches nothing (policy/v1 eviction semantics); an unparsable
    selector is skipped.
    """
    ns = pod["metadata"].get("namespace")
    labels = pod["metadata"].get("labels") or {}
    out = []
    for pdb in budgets:
        if pdb["metadata"].get("namespace") != ns:
            continue
        sel = (pdb.get("spec") or {}).get("selector")
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            continue
        try:
            if label_selector_from_object(sel).matches(labels):
                out.append(pdb)
        except ApiError:
            continue
    return out


def disruption_allowed_condition(allowed: int, old: list[Any], now: str, *, sync_failed: bool = False,
                                 message: str = "", generation: int | None = None) -> list[Obj]:
    """``status.conditions`` with ``DisruptionAllowed`` set as the disruption controller sets it.

    Reasons: ``SufficientPods`` (True), ``InsufficientPods`` (False), ``SyncFailed`` (False,
    with ``message``). ``lastTransitionTime`` changes only when the status flips;
    ``observedGeneration`` is set when ``generation`` is given.
    """
    status, reason = ("True", "SufficientPods") if allowed > 0 else ("False", "InsufficientPods")
    if sync_failed:
        status, reason = "False", "SyncFailed"
    conds = [dict(c) for c in old if isinstance(c, dict)]
    mine = next((c for c in conds if c.get("type") == DISRUPTION_ALLOWED), None)
    if mine is None:
        mine = {"type": DISRUPTION_ALLOWED, "lastTransitionTime": now}
        conds.append(mine)
    elif mine.get("status") != status:
        mine["lastTransitionTime"] = now
    mine.update(status=status, reason=reason, message=message)
    if generation is not None:
        mine["observedGeneration"] = generation
    return conds


def check_and_decrement(pdb: Obj, pod_name: str, now: str) -> Obj:
    """The budget's new ``status`` after allowing one eviction of ``pod_name``, or an ApiError.

    * status not yet observed for the current generation → 429 with retry-after 10;
    * ``disruptionsAllowed`` negative, or too many unconfirmed disruptions → 403;
    * ``disruptionsAllowed`` zero → 429 naming the healthy counts;
    * else decrements ``disruptionsAllowed`` and records the pod in ``disruptedPods``.
    """
    name = pdb["metadata"]["name"]
    status = dict(pdb.get("status") or {})
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise ApiError(429, "TooManyRequests", _VIOLATES, retry_after_seconds=10, causes=[
            Cause("", f"The disruption budget {name} is still being processed by the server.", _CAUSE)])
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise ApiError.forbidden("poddisruptionbudget", name, _forbidden(name, "pdb disruptions allowed is negative"))
    disrupted = dict(status.get("disruptedPods") or {})
    if len(disrupted) > MAX_DISRUPTED_PODS:
        raise ApiError.forbidden("poddisruptionbudget", name, _forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
    if allowed == 0:
        raise ApiError(429, "TooManyRequests", _VIOLATES, retry_after_seconds=0, causes=[
            Cause("", f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy "
                      f"pods and has {int(status.get('currentHealthy') or 0)} currently", _CAUSE)])
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        status["conditions"] = disruption_allowed_condition(0, list(status.get("conditions") or []), now,
                                                            generation=status.get("observedGeneration"))
    disrupted[pod_name] = now
    status["disruptedPods"] = disrupted
    return status
