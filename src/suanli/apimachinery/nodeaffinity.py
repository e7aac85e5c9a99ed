"""Node selection semantics shared by the scheduler and the DaemonSet controller.

Upstream rules (``k8s.io/component-helpers`` node affinity and taint helpers):

* a ``NodeSelectorRequirement`` with ``In``/``NotIn``/``Exists``/``DoesNotExist``/``Gt``/``Lt``
  (``NotIn`` and ``DoesNotExist`` match a missing label; ``Gt``/``Lt`` compare integers);
* a term matches when all its ``matchExpressions`` (labels) and ``matchFields`` (only
  ``metadata.name``) match; an empty term matches nothing; terms are ORed;
* a toleration tolerates a taint when the effects agree (an empty effect matches all), and
  ``Exists`` with no key tolerates everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["node_affinity_matches", "requirement_matches", "term_matches", "tolerates"]


def requirement_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    """One ``NodeSelectorRequirement`` against a label (or field) value; ``None`` = absent."""
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, bound = int(value), int(values[0])
        except ValueError:
            return False
        return have > bound if op == "Gt" else have < bound
    return False


def term_matches(term: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    """A ``NodeSelectorTerm`` against a node's labels and name."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(requirement_matches(e, labels.get(str(e.get("key")))) for e in exprs):
        return False
    return all(f.get("key") == "metadata.name" and requirement_matches(f, name) for f in fields)


def node_affinity_matches(pod_spec: Mapping[str, Any], labels: Mapping[str, str], name: str) -> bool:
    """``nodeSelector`` and required node affinity of ``pod_spec`` both accept the node."""
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != str(v):
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(t, labels, name) for t in required.get("nodeSelectorTerms") or [])


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether one toleration tolerates one taint (upstream ``ToleratesTaint``)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if not key:
        return op == "Exists"
    if key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return op == "Equal" and str(toleration.get("value") or "") == str(taint.get("value") or "")
