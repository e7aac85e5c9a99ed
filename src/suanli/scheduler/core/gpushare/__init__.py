"""GPU-sharing placement core (open-gpu-share semantics) and the FGD family of policies.

Pure: stdlib, numpy and ``suanli.apimachinery`` only. Typical use::

    state = ClusterState(nodes)
    policy = make_policy("fgd", PolicyContext(TypicalPods.from_pods(trace)), state)
    placement = schedule_one(state, pod, policy)   # None if the pod fits nowhere
"""

from suanli.scheduler.core.gpushare.frag import FragCache, TypicalPods, cluster_frag_rate, node_frag
from suanli.scheduler.core.gpushare.model import (
    MILLI,
    ClusterState,
    NodeSpec,
    Placement,
    PodRequest,
    eligible_gpus,
    feasible_nodes,
)
from suanli.scheduler.core.gpushare.policies import (
    Policy,
    PolicyContext,
    make_policy,
    policy_names,
    register_policy,
    schedule_one,
)

__all__ = [
    "MILLI",
    "ClusterState",
    "FragCache",
    "NodeSpec",
    "Placement",
    "PodRequest",
    "Policy",
    "PolicyContext",
    "TypicalPods",
    "cluster_frag_rate",
    "eligible_gpus",
    "feasible_nodes",
    "make_policy",
    "node_frag",
    "policy_names",
    "register_policy",
    "schedule_one",
]
