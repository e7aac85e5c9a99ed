"""The reconcile runtime with non-string keys (the node agent's ``(kind, name)`` pairs): keys are
reconciled after the informers synced, a failure is retried with back-off and logged by the
controller's :meth:`log_failure` hook, a success resets the back-off."""

from __future__ import annotations

import asyncio
import logging

import pytest

from suanli.client.local import LocalClient
from suanli.runtime.controller import KeyedQueueController
from tests.scheduler.test_adapter_resync import NODES, _node, scheduler

__all__ = ["scheduler"]

Key = tuple[str, int]


class Flaky(KeyedQueueController[Key]):
    name = "flaky"

    def __init__(self, client: LocalClient, failures: int) -> None:
        super().__init__(client, workers=2)
        self.nodes = self.watch(NODES)
        self.failures = failures
        self.seen: list[Key] = []
        self.logged: list[tuple[Key, str]] = []

    def on_synced(self) -> None:
        for obj in self.nodes.list():
            self.queue.add(("node", len(obj["metadata"]["name"])))

    async def reconcile(self, key: Key) -> float | None:
        self.seen.append(key)
        if self.failures:
            self.failures -= 1
            raise ValueError("not yet")
        return None

    def log_failure(self, key: Key, err: Exception) -> None:
        self.logged.append((key, str(err)))


@pytest.mark.parametrize("failures", [0, 2], ids=["clean-once", "retried-until-clean"])
async def test_tuple_keys_are_reconciled_and_failures_retried(scheduler: tuple[object, LocalClient],
                                                              failures: int, caplog: pytest.LogCaptureFixture) -> None:
    _, client = scheduler
    await client.create(NODES, _node("n0"))
    ctl = Flaky(client, failures)
    task = asyncio.create_task(ctl.run())
    for _ in range(2000):
        if len(ctl.seen) == failures + 1:
            break
        await asyncio.sleep(0.005)  # yielding to the controller's workers (back-off 5 ms, 10 ms)
    await ctl.stop()
    await task
    assert ctl.seen == [("node", 2)] * (failures + 1)
    assert ctl.logged == [(("node", 2), "not yet")] * failures
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
