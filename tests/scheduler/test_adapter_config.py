"""The scheduler ConfigMap in process: what ``ensure_scheduler_configmap`` does with an absent, unedited or
edited ConfigMap, and the live adapter applying ``defaultPreemptable`` from it to pods already known."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.client.local import LocalClient
from suanli.runtime.events import EventRecorder
from suanli.scheduler.adapter import LiveScheduler
from suanli.scheduler.configmap import (
    APPLIED_ANNOTATION,
    CONFIGMAP_KEY,
    CONFIGMAP_NAME,
    CONFIGMAP_NAMESPACE,
    CONFIGMAPS,
    ensure_scheduler_configmap,
)
from suanli.scheduler.core.config import DEFAULT_CONFIG_TEXT

from .test_adapter_resync import NODES, PODS, _node, _pod, _until, scheduler

__all__ = ["scheduler"]  # the fixture, reused

EVENTS = GVR("", "v1", "events")
FILE_TEXT = DEFAULT_CONFIG_TEXT.replace("  - name: nodeorder\n", "  - name: binpack\n")


async def _text(client: LocalClient) -> tuple[str, str | None]:
    cm = await client.get(CONFIGMAPS, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
    return cm["data"][CONFIGMAP_KEY], cm["metadata"].get("annotations", {}).get(APPLIED_ANNOTATION)


async def _reasons(client: LocalClient) -> list[str]:
    return [e["reason"] for e in (await client.list(EVENTS, CONFIGMAP_NAMESPACE))["items"]]


async def _edit(client: LocalClient, text: str) -> None:
    await client.patch(CONFIGMAPS, CONFIGMAP_NAME, {"data": {CONFIGMAP_KEY: text}}, CONFIGMAP_NAMESPACE)


async def test_absent_configmap_is_created_and_an_unedited_one_follows_the_new_text(
    scheduler: tuple[LiveScheduler, LocalClient],
) -> None:
    _, client = scheduler
    assert await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT) == "created"
    text, applied = await _text(client)
    assert text == DEFAULT_CONFIG_TEXT and applied is not None
    assert await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT) == "unchanged"
    assert await ensure_scheduler_configmap(client, FILE_TEXT, source="file.conf") == "updated"
    assert (await _text(client))[0] == FILE_TEXT
    assert await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT) == "updated"
    assert (await _text(client))[0] == DEFAULT_CONFIG_TEXT


@pytest.mark.parametrize(("source", "reasons"), [(None, []), ("file.conf", ["ConfigurationNotApplied"])],
                         ids=["newer-default-keeps-the-edit-quietly", "file-keeps-the-edit-and-says-so"])
async def test_an_edited_configmap_is_never_overwritten(scheduler: tuple[LiveScheduler, LocalClient],
                                                        source: str | None, reasons: list[str]) -> None:
    _, client = scheduler
    await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT)
    edited = DEFAULT_CONFIG_TEXT + "# mine\n"
    await _edit(client, edited)
    outcome = await ensure_scheduler_configmap(client, FILE_TEXT, source=source,
                                               events=EventRecorder(client, "volcano"))
    assert outcome == "kept" and (await _text(client))[0] == edited
    assert [r for r in await _reasons(client) if r == "ConfigurationNotApplied"] == reasons


async def test_a_configmap_created_by_the_user_counts_as_edited(scheduler: tuple[LiveScheduler, LocalClient]) -> None:
    _, client = scheduler
    await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT)
    await client.delete(CONFIGMAPS, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
    mine: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": CONFIGMAP_NAME, "namespace": CONFIGMAP_NAMESPACE},
                            "data": {CONFIGMAP_KEY: FILE_TEXT}}
    await client.create(CONFIGMAPS, mine, CONFIGMAP_NAMESPACE)
    assert await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT) == "kept"
    assert (await _text(client))[0] == FILE_TEXT


async def test_default_preemptable_from_the_configmap_applies_to_pods_already_known(
    scheduler: tuple[LiveScheduler, LocalClient],
) -> None:
    sched, client = scheduler
    await client.create(NODES, _node("n0"))
    await client.create(PODS, _pod("bound", "n0"), "default")
    await _until(lambda: len(sched.pods.list()) == 1 and len(sched.nodes.list()) == 1)

    def preemptable() -> list[bool]:
        sched.current_config()
        return [t.preemptable for t in sched.build_snapshot().tasks]

    assert preemptable() == [True]  # Volcano's default: neither annotation nor label
    await ensure_scheduler_configmap(client, DEFAULT_CONFIG_TEXT)
    await _edit(client, DEFAULT_CONFIG_TEXT + "configurations:\n- name: suanli\n  arguments:\n"
                                              "    defaultPreemptable: false\n")
    await _until(lambda: sched.configmaps.get(CONFIGMAP_NAMESPACE, CONFIGMAP_NAME) is not None
                 and "defaultPreemptable" in sched.configmaps.get(CONFIGMAP_NAMESPACE, CONFIGMAP_NAME)["data"][
                     CONFIGMAP_KEY])
    assert preemptable() == [False]
    await client.delete(CONFIGMAPS, CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
    await _until(lambda: sched.configmaps.get(CONFIGMAP_NAMESPACE, CONFIGMAP_NAME) is None)
    assert preemptable() == [True]  # back to the file's (here: the default) configuration
