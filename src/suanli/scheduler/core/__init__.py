"""Pure scheduling core: stdlib, numpy and suanli.apimachinery only.

Volcano-compatible: a :class:`Session` per cycle over an immutable
:class:`Snapshot`, actions (enqueue, allocate, backfill, preempt, reclaim) and
plugins configured by ``volcano-scheduler.conf``. Typical use (live adapter or
simulator)::

    snap = snapshot_from_objects(nodes, pods, podgroups, queues, priority_classes)
    decisions = schedule(snap, parse_config(conf_text))   # or schedule(snap) for the default
    for b in decisions.binds: ...                         # bind b.name to b.node with b.annotations
"""

from suanli.scheduler.core.config import (
    DEFAULT_CONFIG,
    ConfigError,
    PluginOption,
    SchedulerConfig,
    Tier,
    parse_config,
)
from suanli.scheduler.core.decisions import Bind, Decisions, Eviction, Pipelined, Unschedulable, summarise_reasons
from suanli.scheduler.core.registry import action_names, plugin_names, register_action, register_plugin
from suanli.scheduler.core.scheduler import run_session, schedule
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import (
    JobInfo,
    NodeInfo,
    QueueInfo,
    Snapshot,
    SnapshotConfig,
    TaskInfo,
    TaskStatus,
    snapshot_from_objects,
)
from suanli.scheduler.core.statement import Statement

__all__ = [
    "DEFAULT_CONFIG",
    "Bind",
    "ConfigError",
    "Decisions",
    "Eviction",
    "JobInfo",
    "NodeInfo",
    "Pipelined",
    "PluginOption",
    "QueueInfo",
    "SchedulerConfig",
    "Session",
    "Snapshot",
    "SnapshotConfig",
    "Statement",
    "TaskInfo",
    "TaskStatus",
    "Tier",
    "Unschedulable",
    "action_names",
    "parse_config",
    "plugin_names",
    "register_action",
    "register_plugin",
    "run_session",
    "schedule",
    "snapshot_from_objects",
    "summarise_reasons",
]
