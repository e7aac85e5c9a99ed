"""Node Feature Discovery: feature model, host sources, rule engine, default labels.

Pure and synchronous; controllers and node agents wire it to the API.
"""

from suanli.node.nfd.defaults import default_labels
from suanli.node.nfd.expressions import RuleError
from suanli.node.nfd.features import (
    NFD_API_VERSION,
    NODE_NAME_LABEL,
    Features,
    node_feature_object,
    parse_node_feature,
)
from suanli.node.nfd.rules import CompiledRuleSet, RuleOutput, compile_rules, evaluate_rules
from suanli.node.nfd.sources import discover_host

__all__ = [
    "NFD_API_VERSION",
    "NODE_NAME_LABEL",
    "CompiledRuleSet",
    "Features",
    "RuleError",
    "RuleOutput",
    "compile_rules",
    "default_labels",
    "discover_host",
    "evaluate_rules",
    "node_feature_object",
    "parse_node_feature",
]
