"""Shared fixtures for controller tests: the real API stack in-process, plus polling helpers.

``api`` yields an :class:`Api` (LocalClient, ApiService, Registry) over an in-memory store
with the ``default`` namespace and a running garbage collector, built as
``suanli.cli.platform`` does. Tests start the controller under test themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.controllers.garbage_collector import GarbageCollector
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.storage import Store

T = TypeVar("T")


@dataclass
class Api:
    client: LocalClient
    service: ApiService
    registry: Registry
    store: Store

    def __iter__(self) -> Any:  # allows ``client, service, registry = api``
        return iter((self.client, self.service, self.registry))


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None, compaction_interval=0)
    await store.start()
    service = ApiService(store, registry)
    client = LocalClient(service)
    ns_rt = registry.get("", "v1", "namespaces")
    assert ns_rt is not None
    await service.create(ns_rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    gc = GarbageCollector(client, retry_delay=0.05, discovery_resync=0.2)
    gc_task = asyncio.create_task(gc.run())
    try:
        yield Api(client, service, registry, store)
    finally:
        await gc.stop()
        gc_task.cancel()
        with contextlib.suppress(BaseException):
            await gc_task
        await service.drain_background()
        await store.stop()


async def eventually(
    fn: Callable[[], Awaitable[T | None] | T | None], timeout: float = 5.0, what: str = "condition"
) -> T:
    """Poll ``fn`` (sync or async) until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = fn()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            last = result
            if result:
                return result  # type: ignore[return-value]
        except AssertionError as err:
            last = err
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(*controllers: Any) -> AsyncIterator[None]:
    """Run components exposing ``async run()``/``async stop()`` for the body of the block."""
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    try:
        yield
    finally:
        for c in controllers:
            await c.stop()
        for t in tasks:
            try:
                await asyncio.wait_for(t, 5)
            except (asyncio.CancelledError, TimeoutError):
                t.cancel()
            if t.done() and not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
