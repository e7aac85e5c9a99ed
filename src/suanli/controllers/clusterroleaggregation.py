"""ClusterRole aggregation (upstream pkg/controller/clusterroleaggregation).

For every ClusterRole with an ``aggregationRule``, ``rules`` is kept equal to the union of the
rules of the ClusterRoles its ``clusterRoleSelectors`` match (itself excluded): selectors in
order, matches sorted by name, each rule once, in first-seen order. Any ClusterRole change
re-queues every aggregated ClusterRole (a label change can move a role in or out of any of
them). An invalid selector matches nothing.
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.selectors import label_selector_from_object
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CLUSTER_ROLES

__all__ = ["CLUSTER_ROLES", "ClusterRoleAggregationController", "aggregated_rules"]


def aggregated_rules(role: Obj, all_roles: list[Obj]) -> list[Obj]:
    """The rules ``role``'s aggregationRule selects out of ``all_roles``."""
    rules: list[Obj] = []
    name = role["metadata"].get("name")
    ordered = sorted(all_roles, key=lambda r: str(r["metadata"].get("name") or ""))
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        try:
            selector = label_selector_from_object(sel if isinstance(sel, dict) else None)
        except ApiError:
            continue
        for other in ordered:
            if other["metadata"].get("name") == name or not selector.matches(other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


class ClusterRoleAggregationController(QueueController):
    """Writes the aggregated rules of every ClusterRole that has an ``aggregationRule``."""

    name = "clusterrole-aggregation-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.roles = self.watch(CLUSTER_ROLES)
        self.roles.add_handler(lambda _o: self._enqueue_all(), lambda _o, _n: self._enqueue_all(),
                               lambda _o: self._enqueue_all())

    def _enqueue_all(self) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.queue.add(str(role["metadata"]["name"]))

    async def reconcile(self, key: str) -> None:
        role = self.roles.get("", key)
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.roles.list())
        if (role.get("rules") or []) == rules:
            return
        new = deep_copy(role)
        new["rules"] = rules
        await self.client.update(CLUSTER_ROLES, new)
