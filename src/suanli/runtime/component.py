"""The one lifecycle every long-running piece of Suanli implements.

A :class:`Component` is anything with ``async run()`` (returns when stopped, raises on a
fatal failure) and ``async stop()`` (idempotent; makes ``run`` return soon). Controllers,
the scheduler, node agents, informer factories, the whole controllers bundle and the
embedded platform's pieces all satisfy it structurally.

:class:`ComponentGroup` runs several components as one: ``run`` starts each as a task and
returns when all have returned (with ``fail_fast``, the default, re-raising the first failure
after stopping the others; without, logging it and keeping the others running);
``stop`` stops them in order, then cancels any that did not return within a grace period. It is itself a Component,
so a group nests in a
:class:`~suanli.runtime.leaderelection.LeaderElectedComponent`.

Health: a component may also offer ``health_checks() -> {name: check}``, each check
returning ``None`` when healthy or a reason; :func:`health_checks_of` collects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

__all__ = ["Component", "ComponentGroup", "HealthCheck", "health_checks_of"]

log = logging.getLogger(__name__)

#: ``None`` when healthy, else a one-line reason
HealthCheck = Callable[[], str | None]


@runtime_checkable
class Component(Protocol):
    """``run()`` until ``stop()``."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


def health_checks_of(component: object) -> dict[str, HealthCheck]:
    """The component's named health checks (``{}`` when it offers none)."""
    fn = getattr(component, "health_checks", None)
    return dict(fn()) if callable(fn) else {}


class ComponentGroup:
    """Components run together; ``stop`` order is the order they were added in."""

    def __init__(self, components: Iterable[Component] = (), *, name: str = "components",
                 grace: float = 1.0, fail_fast: bool = True) -> None:
        self.name = name
        self.grace = grace
        #: a component failing stops the group and re-raises (a process exits, its supervisor
        #: restarts it); without, the failure is logged and the others keep running
        self.fail_fast = fail_fast
        self.components: list[Component] = list(components)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def add(self, component: Component) -> None:
        self.components.append(component)

    def health_checks(self) -> dict[str, HealthCheck]:
        out: dict[str, HealthCheck] = {}
        for c in self.components:
            out.update(health_checks_of(c))
        return out

    def start(self) -> list[asyncio.Task[None]]:
        """Start every component as a task (``run`` does this and waits)."""
        self._tasks = [asyncio.create_task(c.run(), name=f"{self.name}:{type(c).__name__}")
                       for c in self.components]
        return self._tasks

    async def run(self) -> None:
        tasks = self._tasks or self.start()
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t.cancelled() or t.exception() is None or self._stopping:
                    continue
                log.error("%s: %s failed", self.name, t.get_name(), exc_info=t.exception())
                if self.fail_fast:
                    await self.stop()
                    raise t.exception()  # type: ignore[misc]

    async def stop(self) -> None:
        """Stop every component, give them ``grace`` seconds to return, then cancel the rest."""
        self._stopping = True
        for c in self.components:
            with contextlib.suppress(Exception):
                await c.stop()
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.grace)
        for t in pending:
            if not t.done():
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, timeout=10)
