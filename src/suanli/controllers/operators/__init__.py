"""Device operators (openFuyao NPU and KAE) modelled on the NVIDIA GPU Operator's ClusterPolicy.

Construct :class:`NPUClusterPolicyController` / :class:`KAEClusterPolicyController` with a
client after creating the CRDs from :func:`operator_crds`.
"""

from suanli.controllers.operators.controller import ClusterPolicyController
from suanli.controllers.operators.crds import operator_crd, operator_crds
from suanli.controllers.operators.kae import KAE_DISCOVERY_SELECTORS, KAE_OPERATOR, KAEClusterPolicyController
from suanli.controllers.operators.npu import NPU_DISCOVERY_SELECTORS, NPU_OPERATOR, NPUClusterPolicyController
from suanli.controllers.operators.state import Component, OperatorConfig

__all__ = [
    "KAE_DISCOVERY_SELECTORS",
    "KAE_OPERATOR",
    "NPU_DISCOVERY_SELECTORS",
    "NPU_OPERATOR",
    "ClusterPolicyController",
    "Component",
    "KAEClusterPolicyController",
    "NPUClusterPolicyController",
    "OperatorConfig",
    "operator_crd",
    "operator_crds",
]
