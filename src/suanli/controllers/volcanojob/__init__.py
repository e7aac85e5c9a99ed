"""Volcano ``batch.volcano.sh/v1alpha1`` Job controller (:mod:`.controller`) and its job
plugins ``env``, ``svc``, ``ssh`` (:mod:`.plugins` and one module each)."""

from suanli.controllers.volcanojob.controller import (
    COMPONENT,
    PLUGIN_BUILDERS,
    JobEvent,
    Task,
    VolcanoJobController,
    build_plugins,
    delay_persists,
    dependencies_met,
    derive_events,
    min_resources,
    pod_ready,
    podgroup_name,
    podgroup_pending_message,
    policy_action,
    policy_match,
    task_ready,
    tasks_of,
)

__all__ = [
    "COMPONENT",
    "PLUGIN_BUILDERS",
    "JobEvent",
    "Task",
    "VolcanoJobController",
    "build_plugins",
    "delay_persists",
    "dependencies_met",
    "derive_events",
    "min_resources",
    "pod_ready",
    "podgroup_name",
    "podgroup_pending_message",
    "policy_action",
    "policy_match",
    "task_ready",
    "tasks_of",
]
