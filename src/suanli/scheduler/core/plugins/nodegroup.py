"""``nodegroup``: queue → node-group affinity through node label ``volcano.sh/nodegroup-name``
(Volcano's nodegroup plugin).

A queue's ``spec.affinity`` may hold ``nodeGroupAffinity`` and
``nodeGroupAntiAffinity``, each with ``requiredDuringSchedulingIgnoredDuringExecution``
and ``preferredDuringSchedulingIgnoredDuringExecution`` lists of group names. With
``enableHierarchy`` a queue without ``spec.affinity`` takes its nearest ancestor's
(``spec.parent``, else ``root``).

Predicate, for every queue (a queue without rules is affected too):

* an unlabelled node passes only when ``strict`` is false (argument, default true)
  and the queue has no rules — else "node group label not found";
* a labelled node fails when the queue has no rules — "node group affinity not specified";
* otherwise it passes if its group is required or preferred, not required-anti, or
  preferred-anti (which passes even when required-anti) — else "node does not
  satisfy the node group affinity".

Score (labelled nodes of queues with ``spec.affinity``): required group 100, plus 50
for a preferred group — with argument ``enablePreferredOrder``, ``50·(n-i)/n`` for
the i-th of n preferred groups — and exactly -1 for a preferred anti-affinity group;
``nodegroup.weight`` multiplies (default 1). Not supported: the per-node-group
resource limits annotation of newer Volcano releases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.core.framework import Rows, rows_of
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import ROOT_QUEUE, TaskInfo
from suanli.wire import NODEGROUP_LABEL as GROUP_LABEL

__all__ = ["GROUP_LABEL", "NO_AFFINITY", "NO_LABEL", "UNSATISFIED", "NodeGroupPlugin"]

NO_LABEL = "node group label not found"
NO_AFFINITY = "node group affinity not specified"
UNSATISFIED = "node does not satisfy the node group affinity"
_REQ = "requiredDuringSchedulingIgnoredDuringExecution"
_PREF = "preferredDuringSchedulingIgnoredDuringExecution"


def _flag(args: Any, key: str, default: bool) -> bool:
    value = args.get(key, default)
    return value if isinstance(value, bool) else str(value).lower() == "true"


class NodeGroupPlugin(BasePlugin):
    name = "nodegroup"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        self.strict = _flag(self.args, "strict", True)
        self.preferred_order = _flag(self.args, "enablePreferredOrder", False)
        self.weight = float_arg(self.args, "nodegroup.weight", 1.0)
        self.groups = [lab.get(GROUP_LABEL) for lab in ssn.snapshot.nodes.labels][: ssn.N]
        self.labelled: BoolArray = np.fromiter((g is not None for g in self.groups), dtype=np.bool_, count=ssn.N)
        self._cache: dict[str, tuple[BoolArray, FloatArray, list[tuple[str, BoolArray]]]] = {}
        self.hierarchy = self.option.enabled("Hierarchy")
        ssn.add_predicate_fn(self.name, self.predicate, self.reasons)
        ssn.add_node_order_fn(self.name, self.score)

    def _affinity(self, queue: str) -> dict[str, Any] | None:
        """The queue's ``spec.affinity`` (None when unset); with hierarchy, else the nearest
        ancestor's."""
        seen: set[str] = set()
        name: str | None = queue
        while name and name not in seen:
            seen.add(name)
            q = self.ssn.queues.get(name)
            if q is None:
                return None
            spec = (q.obj or {}).get("spec") or {}
            if spec.get("affinity") is not None:
                return dict(q.affinity)
            if not self.hierarchy or name == ROOT_QUEUE:
                return None
            name = q.parent or ROOT_QUEUE
        return None

    def _masks(self, queue: str) -> tuple[BoolArray, FloatArray, list[tuple[str, BoolArray]]]:
        """``(passes, score, [(reason, failing nodes)…])`` of queue ``queue``'s tasks."""
        hit = self._cache.get(queue)
        if hit is not None:
            return hit
        n = self.ssn.N
        affinity = self._affinity(queue)
        aff = (affinity or {}).get("nodeGroupAffinity") or {}
        anti = (affinity or {}).get("nodeGroupAntiAffinity") or {}
        req, pref = [str(g) for g in aff.get(_REQ) or []], [str(g) for g in aff.get(_PREF) or []]
        anti_req, anti_pref = [str(g) for g in anti.get(_REQ) or []], [str(g) for g in anti.get(_PREF) or []]

        def member(names: list[str]) -> BoolArray:
            wanted = set(names)
            return np.fromiter((g in wanted for g in self.groups), dtype=np.bool_, count=n)

        m_req, m_pref, m_anti_req, m_anti_pref = member(req), member(pref), member(anti_req), member(anti_pref)
        labelled = self.labelled
        unset = not (req or pref or anti_req or anti_pref)
        if unset:
            ok = ~labelled if not self.strict else np.zeros(n, dtype=np.bool_)
            reasons = [(NO_LABEL, ~labelled & ~ok), (NO_AFFINITY, labelled)]
        else:
            satisfied = ((m_req | m_pref) & ~m_anti_req) | m_anti_pref
            ok = labelled & satisfied
            reasons = [(NO_LABEL, ~labelled), (UNSATISFIED, labelled & ~satisfied)]
        score = np.zeros(n)
        if affinity is not None:
            score += np.where(m_req, 100.0, 0.0)
            if self.preferred_order:
                index = {g: i for i, g in enumerate(pref)}
                k = len(index)
                score += np.array([50.0 * (k - index[g]) / k if g in index else 0.0 for g in self.groups])
            else:
                score += np.where(m_pref, 50.0, 0.0)
            score = np.where(m_anti_pref, -1.0, score)
            score = np.where(labelled, score, 0.0)
        out = (ok, self.weight * score, reasons)
        self._cache[queue] = out
        return out

    def predicate(self, task: TaskInfo, rows: Rows) -> BoolArray:
        out: BoolArray = rows_of(self._masks(self.ssn.jobs[task.job].queue)[0], rows)
        return out

    def reasons(self, task: TaskInfo, rows: Rows) -> list[tuple[str, BoolArray]]:
        return [(r, rows_of(m, rows)) for r, m in self._masks(self.ssn.jobs[task.job].queue)[2]]

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        out: FloatArray = rows_of(self._masks(self.ssn.jobs[task.job].queue)[1], rows)
        return out
