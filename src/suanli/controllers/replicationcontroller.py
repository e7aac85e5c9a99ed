"""ReplicationController controller (core/v1): the ReplicaSet controller applied to RCs.

Upstream runs the same code for both (``pkg/controller/replication`` wraps
``replicaset.ReplicaSetController``); so do we: only the resource, the owner kind and the
selector differ — an RC's ``spec.selector`` is a plain equality map (``{app: web}``), not a
``LabelSelector``. Pods get ``generateName: <rc>-`` and a controller reference to the RC.
"""

from __future__ import annotations

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import LabelSelector, label_selector_from_object
from suanli.controllers.replicaset import ReplicaSetController
from suanli.wire import REPLICATIONCONTROLLERS

__all__ = ["REPLICATIONCONTROLLERS", "ReplicationControllerController"]


class ReplicationControllerController(ReplicaSetController):
    """Reconciles every ReplicationController; construct with a Client and call ``run()``/``stop()``."""

    name = "replicationcontroller-controller"
    resource = REPLICATIONCONTROLLERS
    kind = "ReplicationController"

    @staticmethod
    def selector_of(rs: Obj) -> LabelSelector:
        """An RC's map selector as a LabelSelector; an empty or missing one selects nothing."""
        sel = (rs.get("spec") or {}).get("selector")
        if not isinstance(sel, dict) or not sel:
            return label_selector_from_object(None)
        return label_selector_from_object({"matchLabels": sel})
