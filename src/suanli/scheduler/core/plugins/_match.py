"""Vectorised node matching: node selectors, node-affinity terms, taints and tolerations.

Semantics (Kubernetes): a ``nodeSelector`` needs every key=value; required
node affinity is an OR of ``nodeSelectorTerms``, each an AND of
``matchExpressions`` (label operators In, NotIn, Exists, DoesNotExist, Gt, Lt;
NotIn/DoesNotExist match nodes without the label; Gt/Lt compare integers) and
``matchFields`` (only ``metadata.name``, operators In/NotIn); a term with no
requirements matches nothing. A taint with effect NoSchedule or NoExecute must
be tolerated (``operator`` Exists matches any value, an empty key with Exists
matches every taint, an empty effect matches every effect).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from suanli.apimachinery.nodeaffinity import tolerates
from suanli.apimachinery.objects import Obj
from suanli.scheduler.core.resources import BoolArray
from suanli.scheduler.core.snapshot import NodeInfo

__all__ = ["LabelIndex", "first_untolerated", "term_mask", "terms_mask", "tolerates"]


class LabelIndex:
    """Per-label-key value arrays over all nodes (``None`` where the label is absent)."""

    def __init__(self, nodes: NodeInfo) -> None:
        self.nodes = nodes
        self.n = nodes.count
        self._cols: dict[str, np.ndarray[Any, np.dtype[np.object_]]] = {}
        self.names = np.array(nodes.names, dtype=object)

    def column(self, key: str) -> np.ndarray[Any, np.dtype[np.object_]]:
        col = self._cols.get(key)
        if col is None:
            col = np.array([lab.get(key) for lab in self.nodes.labels] + [None], dtype=object)[: self.n]
            self._cols[key] = col
        return col

    def expression(self, expr: Mapping[str, Any], field: bool = False) -> BoolArray:
        key = str(expr.get("key", ""))
        op = expr.get("operator", "In")
        values = [str(v) for v in expr.get("values") or []]
        if field:
            col = self.names if key == "metadata.name" else np.full(self.n, None, dtype=object)
        else:
            col = self.column(key)
        present = np.array([v is not None for v in col], dtype=np.bool_)
        if op in ("In", "NotIn"):
            wanted = set(values)
            hit = np.fromiter((v in wanted for v in col), dtype=np.bool_, count=self.n)
            return hit if op == "In" else ~hit
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return ~present
        if op in ("Gt", "Lt") and len(values) == 1:
            try:
                bound = int(values[0])
            except ValueError:
                return np.zeros(self.n, dtype=np.bool_)
            out = np.zeros(self.n, dtype=np.bool_)
            for i, v in enumerate(col):
                if v is not None:
                    try:
                        iv = int(v)
                    except ValueError:
                        continue
                    out[i] = iv > bound if op == "Gt" else iv < bound
            return out
        return np.zeros(self.n, dtype=np.bool_)


def term_mask(index: LabelIndex, term: Mapping[str, Any]) -> BoolArray:
    """Nodes matching one node-selector term (AND of its requirements; empty term → none)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return np.zeros(index.n, dtype=np.bool_)
    mask = np.ones(index.n, dtype=np.bool_)
    for e in exprs:
        mask &= index.expression(e)
    for f in fields:
        mask &= index.expression(f, field=True)
    return mask


def terms_mask(index: LabelIndex, terms: Sequence[Mapping[str, Any]]) -> BoolArray:
    """OR of terms."""
    mask = np.zeros(index.n, dtype=np.bool_)
    for t in terms:
        mask |= term_mask(index, t)
    return mask


def first_untolerated(taints: Sequence[Obj], tolerations: Sequence[Mapping[str, Any]]) -> Obj | None:
    """The first NoSchedule/NoExecute taint no toleration tolerates, or None."""
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None
