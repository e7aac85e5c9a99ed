"""The ``env`` job plugin: ``VK_TASK_INDEX`` and ``VC_TASK_INDEX`` (the pod's index in its task,
the last ``-``-separated part of its name when it has at least three parts) on every container
and init container. It takes no arguments and keeps no objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.controllers.volcanojob.plugins import Owned, add_env

__all__ = ["TASK_INDEX", "TASK_VK_INDEX", "EnvPlugin"]

TASK_VK_INDEX = "VK_TASK_INDEX"
TASK_INDEX = "VC_TASK_INDEX"


def _index_of(pod_name: str) -> str:
    parts = pod_name.split("-")
    return parts[-1] if len(parts) >= 3 else ""


@dataclass(frozen=True)
class EnvPlugin:
    name: str = "env"
    error: str | None = None

    @classmethod
    def build(cls, args: Sequence[str]) -> EnvPlugin:
        return cls()

    def on_pod_create(self, pod: Obj, job: Obj) -> None:
        index = _index_of(str(pod["metadata"]["name"]))
        add_env(pod, [{"name": TASK_VK_INDEX, "value": index}, {"name": TASK_INDEX, "value": index}])

    def on_job_add(self, job: Obj) -> list[Owned]:
        return []

    def on_job_update(self, job: Obj) -> list[Owned]:
        return []

    def on_job_delete(self, job: Obj) -> list[tuple[GVR, str]]:
        return []
