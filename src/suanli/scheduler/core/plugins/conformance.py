"""``conformance``: never evict critical pods — pods in ``kube-system`` or with priority
class ``system-cluster-critical`` / ``system-node-critical``.

Besides its tiered preemptable/reclaimable votes (as Volcano), the plugin registers
a hard protection, because an empty tier vote passes the decision on to the next
tier and would otherwise let a later tier choose a critical pod."""

from __future__ import annotations

from collections.abc import Sequence

from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo

__all__ = ["ConformancePlugin"]


class ConformancePlugin(BasePlugin):
    name = "conformance"

    def on_session_open(self, ssn: Session) -> None:
        def victims(actor: TaskInfo, candidates: Sequence[TaskInfo]) -> list[TaskInfo]:
            return [t for t in candidates if not t.critical]

        ssn.add_preemptable_fn(self.name, victims)
        ssn.add_protection_fn(self.name, lambda t: t.critical)
        ssn.add_reclaimable_fn(self.name, victims)
