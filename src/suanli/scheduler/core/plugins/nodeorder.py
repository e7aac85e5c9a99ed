"""``nodeorder``: Kubernetes scoring, each term in [0, 100] times its weight, summed.

Arguments (weights): ``leastrequested.weight`` (1), ``mostrequested.weight`` (0),
``balancedresource.weight`` (1), ``nodeaffinity.weight`` (1). With ``u_r =
used_r + request_r`` and ``a_r`` the allocatable of r ∈ {cpu, memory}:

* least requested: ``mean_r floor((a_r - u_r) x 100 / a_r)`` (0 where ``u_r > a_r``
  or ``a_r = 0``); e.g. 4 CPU / 32 GiB node, 1 CPU and 8 GiB used after the pod →
  ``(75 + 75) / 2 = 75``;
* most requested: ``mean_r floor(u_r x 100 / a_r)`` (0 where ``u_r > a_r``);
* balanced allocation: ``f_r = min(u_r / a_r, 1)``, score ``floor((1 - |f_cpu - f_mem| / 2) x 100)``
  (the standard deviation of the two fractions); e.g. fractions 0.5 and 0.25 → 87;
* preferred node affinity: sum of the weights of matching
  ``preferredDuringSchedulingIgnoredDuringExecution`` terms, normalised so the
  best node in the cluster scores 100.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from suanli.scheduler.core.framework import Rows, rows_of
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.plugins._match import LabelIndex, term_mask
from suanli.scheduler.core.resources import CPU, MEMORY, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo

__all__ = ["NodeOrderPlugin", "balanced_score", "least_requested_score", "most_requested_score"]


def _fractions(alloc: FloatArray, used: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(cpu, memory) columns of used and allocatable."""
    assert (CPU, MEMORY) == (0, 1)
    return alloc[:, :2], used[:, :2]


def least_requested_score(alloc: FloatArray, used_after: FloatArray) -> FloatArray:
    """Vectorised least-requested score (see module docstring); ``[rows, D]`` inputs."""
    a, u = _fractions(alloc, used_after)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where((a > 0) & (u <= a), np.floor((a - u) * 100.0 / np.where(a > 0, a, 1.0)), 0.0)
    out: FloatArray = np.floor(per.sum(axis=1) / 2.0)
    return out


def most_requested_score(alloc: FloatArray, used_after: FloatArray) -> FloatArray:
    a, u = _fractions(alloc, used_after)
    per = np.where((a > 0) & (u <= a), np.floor(u * 100.0 / np.where(a > 0, a, 1.0)), 0.0)
    out: FloatArray = np.floor(per.sum(axis=1) / 2.0)
    return out


def balanced_score(alloc: FloatArray, used_after: FloatArray) -> FloatArray:
    a, u = _fractions(alloc, used_after)
    f = np.minimum(np.where(a > 0, u / np.where(a > 0, a, 1.0), 1.0), 1.0)
    out: FloatArray = np.floor((1.0 - np.abs(f[:, 0] - f[:, 1]) / 2.0) * 100.0 + 1e-9)
    return out


class NodeOrderPlugin(BasePlugin):
    name = "nodeorder"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.w_least = float_arg(self.args, "leastrequested.weight", 1.0)
        self.w_most = float_arg(self.args, "mostrequested.weight", 0.0)
        self.w_bal = float_arg(self.args, "balancedresource.weight", 1.0)
        self.w_aff = float_arg(self.args, "nodeaffinity.weight", 1.0)
        self._pref: dict[Any, FloatArray | None] = {}
        self.index = LabelIndex(ssn.snapshot.nodes)
        ssn.add_node_order_fn(self.name, self.score, one=self._score_one)

    def preferred(self, task: TaskInfo) -> FloatArray | None:
        key = task.spec_key[1]
        if key in self._pref:
            return self._pref[key]
        spec = task.pod.get("spec") or {}
        terms = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "preferredDuringSchedulingIgnoredDuringExecution"
        ) or []
        out: FloatArray | None = None
        if terms:
            raw = np.zeros(self.ssn.N)
            for t in terms:
                raw += float(t.get("weight", 0)) * term_mask(self.index, t.get("preference") or {})
            top = raw.max() if raw.size else 0.0
            out = np.floor(raw * 100.0 / top) if top > 0 else np.zeros(self.ssn.N)
        self._pref[key] = out
        return out

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        if rows is not None and len(rows) == 1:
            return np.array([self._score_one(task, int(rows[0]))])
        ssn = self.ssn
        alloc = rows_of(ssn.allocatable, rows)
        used = rows_of(ssn.used, rows) + task.request
        total = np.zeros(len(alloc))
        if self.w_least:
            total += self.w_least * least_requested_score(alloc, used)
        if self.w_most:
            total += self.w_most * most_requested_score(alloc, used)
        if self.w_bal:
            total += self.w_bal * balanced_score(alloc, used)
        if self.w_aff:
            pref = self.preferred(task)
            if pref is not None:
                total += self.w_aff * rows_of(pref, rows)
        return total

    def _score_one(self, task: TaskInfo, r: int) -> float:
        """:meth:`score` of one node with plain floats: the same IEEE operations in the same
        order as the vectorised terms, so results are bit-identical."""
        ssn = self.ssn
        alloc = ssn.allocatable[r].tolist()
        used = ssn.used[r].tolist()
        req = task.request.tolist()
        a0, a1 = alloc[CPU], alloc[MEMORY]
        u0, u1 = used[CPU] + req[CPU], used[MEMORY] + req[MEMORY]
        total = 0.0
        if self.w_least:
            p0 = math.floor((a0 - u0) * 100.0 / a0) if a0 > 0 and u0 <= a0 else 0.0
            p1 = math.floor((a1 - u1) * 100.0 / a1) if a1 > 0 and u1 <= a1 else 0.0
            total += self.w_least * math.floor((p0 + p1) / 2.0)
        if self.w_most:
            p0 = math.floor(u0 * 100.0 / a0) if a0 > 0 and u0 <= a0 else 0.0
            p1 = math.floor(u1 * 100.0 / a1) if a1 > 0 and u1 <= a1 else 0.0
            total += self.w_most * math.floor((p0 + p1) / 2.0)
        if self.w_bal:
            f0 = min(u0 / a0 if a0 > 0 else 1.0, 1.0)
            f1 = min(u1 / a1 if a1 > 0 else 1.0, 1.0)
            total += self.w_bal * math.floor((1.0 - abs(f0 - f1) / 2.0) * 100.0 + 1e-9)
        if self.w_aff:
            pref = self.preferred(task)
            if pref is not None:
                total += self.w_aff * float(pref[r])
        return total
