"""Built-in plugins (one module each); importing this package registers them by name."""

from suanli.scheduler.core.plugins import (
    binpack,
    capacity,
    conformance,
    deviceshare,
    drf,
    gang,
    gpushare_policies,
    manycore,
    nodegroup,
    nodeorder,
    overcommit,
    predicates,
    priority,
    proportion,
)
from suanli.scheduler.core.registry import register_plugin

register_plugin("priority", priority.PriorityPlugin)
register_plugin("gang", gang.GangPlugin)
register_plugin("conformance", conformance.ConformancePlugin)
register_plugin("drf", drf.DrfPlugin)
register_plugin("proportion", proportion.ProportionPlugin)
register_plugin("overcommit", overcommit.OvercommitPlugin)
register_plugin("predicates", predicates.PredicatesPlugin)
register_plugin("nodeorder", nodeorder.NodeOrderPlugin)
register_plugin("binpack", binpack.BinpackPlugin)
register_plugin("capacity", capacity.CapacityPlugin)
register_plugin("nodegroup", nodegroup.NodeGroupPlugin)
register_plugin("deviceshare", deviceshare.DeviceSharePlugin)
register_plugin("manycore", manycore.ManyCorePlugin)
for _policy in gpushare_policies.policy_names():
    register_plugin(_policy, gpushare_policies.make_factory(_policy))

__all__ = [
    "binpack",
    "capacity",
    "conformance",
    "deviceshare",
    "drf",
    "gang",
    "gpushare_policies",
    "manycore",
    "nodegroup",
    "nodeorder",
    "overcommit",
    "predicates",
    "priority",
    "proportion",
]
