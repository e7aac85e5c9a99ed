"""``nodegroup``: queue → node-group affinity through node label ``volcano.sh/nodegroup-name``.

A queue's ``spec.affinity`` may hold ``nodeGroupAffinity`` and
``nodeGroupAntiAffinity``, each with ``requiredDuringSchedulingIgnoredDuringExecution``
and ``preferredDuringSchedulingIgnoredDuringExecution`` lists of group names.
With ``enableHierarchy`` a queue without affinity inherits its nearest
ancestor's. Queues without any rule are unaffected.

Predicate (for queues with rules): a node in a required anti-affinity group
fails; otherwise it passes if its group is in the required, preferred or
preferred-anti lists (so preferred anti-affinity still passes). An unlabelled
node fails in strict mode (argument ``strict``, default true) and passes
otherwise. Reason: "node(s) didn't match queue node group affinity".

Score: required group 100, +50 for a preferred group, -1 for a preferred
anti-affinity group (``nodegroup.weight`` multiplies, default 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suanli.scheduler.core.framework import Rows, rows_of
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo

__all__ = ["GROUP_LABEL", "REASON", "NodeGroupPlugin"]

GROUP_LABEL = "volcano.sh/nodegroup-name"
REASON = "node(s) didn't match queue node group affinity"
_REQ = "requiredDuringSchedulingIgnoredDuringExecution"
_PREF = "preferredDuringSchedulingIgnoredDuringExecution"


class NodeGroupPlugin(BasePlugin):
    name = "nodegroup"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        strict = self.args.get("strict", True)
        self.strict = strict if isinstance(strict, bool) else str(strict).lower() != "false"
        self.weight = float_arg(self.args, "nodegroup.weight", 1.0)
        self.groups = np.array([lab.get(GROUP_LABEL) for lab in ssn.snapshot.nodes.labels] + [None], dtype=object)[
            : ssn.N
        ]
        self._cache: dict[str, tuple[BoolArray, FloatArray] | None] = {}
        self.hierarchy = self.option.enabled("Hierarchy")
        ssn.add_predicate_fn(self.name, self.predicate, self.reasons)
        ssn.add_node_order_fn(self.name, self.score)

    def _rules(self, queue: str) -> dict[str, Any]:
        seen: set[str] = set()
        name: str | None = queue
        while name and name in self.ssn.queues and name not in seen:
            seen.add(name)
            q = self.ssn.queues[name]
            if q.affinity.get("nodeGroupAffinity") or q.affinity.get("nodeGroupAntiAffinity"):
                return q.affinity
            if not self.hierarchy:
                break
            name = q.parent
        return {}

    def _masks(self, queue: str) -> tuple[BoolArray, FloatArray] | None:
        if queue in self._cache:
            return self._cache[queue]
        rules = self._rules(queue)
        out: tuple[BoolArray, FloatArray] | None = None
        if rules:
            aff = rules.get("nodeGroupAffinity") or {}
            anti = rules.get("nodeGroupAntiAffinity") or {}

            def member(names: Any) -> BoolArray:
                wanted = {str(n) for n in names or []}
                return np.fromiter((g in wanted for g in self.groups), dtype=np.bool_, count=self.ssn.N)

            req, pref = member(aff.get(_REQ)), member(aff.get(_PREF))
            anti_req, anti_pref = member(anti.get(_REQ)), member(anti.get(_PREF))
            labelled = np.fromiter((g is not None for g in self.groups), dtype=np.bool_, count=self.ssn.N)
            ok = (req | pref | anti_pref) & ~anti_req
            if not self.strict:
                ok |= ~labelled
            score = np.where(req, 100.0, 0.0) + np.where(pref, 50.0, 0.0) - np.where(anti_pref, 1.0, 0.0)
            out = (ok, self.weight * score)
        self._cache[queue] = out
        return out

    def predicate(self, task: TaskInfo, rows: Rows) -> BoolArray:
        m = self._masks(self.ssn.jobs[task.job].queue)
        if m is None:
            return np.ones(self.ssn.N if rows is None else len(rows), dtype=np.bool_)
        out: BoolArray = rows_of(m[0], rows)
        return out

    def reasons(self, task: TaskInfo, rows: Rows) -> list[tuple[str, BoolArray]]:
        m = self._masks(self.ssn.jobs[task.job].queue)
        return [] if m is None else [(REASON, ~rows_of(m[0], rows))]

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        m = self._masks(self.ssn.jobs[task.job].queue)
        if m is None:
            return np.zeros(self.ssn.N if rows is None else len(rows))
        out: FloatArray = rows_of(m[1], rows)
        return out
