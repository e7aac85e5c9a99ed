"""ComponentGroup: run together, stop in order, a failure stops the rest and surfaces."""

from __future__ import annotations

import asyncio

import pytest

from suanli.runtime.component import Component, ComponentGroup, health_checks_of


class Loop:
    def __init__(self, log: list[str], name: str, *, fail: bool = False, ignore_stop: bool = False) -> None:
        self.log, self.name, self.fail, self.ignore_stop = log, name, fail, ignore_stop
        self.started = asyncio.Event()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.started.set()
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        await (asyncio.Event().wait() if self.ignore_stop else self._stop.wait())
        self.log.append(f"{self.name} returned")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        self._stop.set()

    def health_checks(self) -> dict[str, object]:
        return {f"{self.name}-check": lambda: None}


async def test_stop_stops_in_order_and_cancels_what_does_not_return() -> None:
    log: list[str] = []
    a, b, c = Loop(log, "a"), Loop(log, "b", ignore_stop=True), Loop(log, "c")
    group = ComponentGroup([a, b, c])
    task = asyncio.create_task(group.run())
    for comp in (a, b, c):
        await asyncio.wait_for(comp.started.wait(), timeout=5)
    await group.stop()
    await asyncio.wait_for(task, timeout=5)
    assert [e for e in log if e.startswith("stop")] == ["stop a", "stop b", "stop c"]
    assert "b returned" not in log and {"a returned", "c returned"} <= set(log)


async def test_a_failing_component_stops_the_others_and_the_group_raises() -> None:
    log: list[str] = []
    ok, bad = Loop(log, "ok"), Loop(log, "bad", fail=True)
    group = ComponentGroup([ok, bad])
    with pytest.raises(RuntimeError, match="bad broke"):
        await asyncio.wait_for(group.run(), timeout=5)
    assert "stop ok" in log


def test_groups_and_loops_are_components_and_collect_health_checks() -> None:
    log: list[str] = []
    group = ComponentGroup([Loop(log, "a"), Loop(log, "b")])
    assert isinstance(group, Component)
    assert set(health_checks_of(group)) == {"a-check", "b-check"}
    assert health_checks_of(object()) == {}


async def test_without_fail_fast_a_failure_is_logged_and_the_others_keep_running() -> None:
    log: list[str] = []
    ok, bad = Loop(log, "ok"), Loop(log, "bad", fail=True)
    group = ComponentGroup([ok, bad], fail_fast=False)
    task = asyncio.create_task(group.run())
    await asyncio.wait_for(ok.started.wait(), timeout=5)
    await asyncio.wait_for(bad.started.wait(), timeout=5)
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done() and "stop ok" not in log
    await group.stop()
    await asyncio.wait_for(task, timeout=5)
    assert "ok returned" in log
