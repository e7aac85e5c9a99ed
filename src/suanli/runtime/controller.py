"""The one reconcile runtime: informers feed keys into a WorkQueue; workers reconcile.

Subclasses register informers with :meth:`QueueController.watch` in ``__init__``, enqueue
``namespace/name`` keys from their handlers and implement :meth:`reconcile`. Informers come
from a :class:`~suanli.runtime.informer_factory.SharedInformerFactory`: the one passed as
``factory`` (shared with other components, started by the first and stopped by its owner),
or a private one the controller creates, starts and stops itself. Contract:

* :meth:`run` starts the factory's informers, waits until the controller's own have listed
  once, then runs ``workers`` workers until :meth:`stop`;
* a reconcile that raises is retried with the queue's per-key exponential backoff
  (409 conflicts quietly, anything else logged); a clean one resets the backoff; one that
  returns a number of seconds is reconciled again after that delay (controller-runtime's
  ``RequeueAfter``: "not done yet, nothing failed");
* :meth:`on_synced` runs between the two (queue every object for a first full pass);
* :meth:`wait_synced` is the start gate (default: every informer from :meth:`watch` has
  listed once); controllers with informers that come and go (the garbage collector)
  override it;
* a key is never reconciled by two workers at once (WorkQueue semantics);
* :meth:`log_failure` decides how a failed reconcile is logged (expected retries quietly).

Keys are ``namespace/name`` strings (:class:`QueueController`); a controller whose work items are
not objects of one kind (the node agent: pods, nodes and Leases) uses
:class:`KeyedQueueController` with its own hashable key type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Generic, TypeVar

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.informer import IndexFunc, Informer
from suanli.runtime.informer_factory import SharedInformerFactory, resolve_factory
from suanli.runtime.workqueue import QueueShutDown, WorkQueue

__all__ = ["KeyedQueueController", "QueueController"]

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)


class KeyedQueueController(Generic[K]):
    """Base class: informers + a deduplicating work queue of keys of type ``K``."""

    name = "controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.clock: Clock = clock or RealClock()
        self.workers = workers
        self.queue: WorkQueue[K] = WorkQueue(clock=self.clock, name=self.name)
        self.factory, self._owns_factory = resolve_factory(client, factory, self.clock)
        self.informers: list[Informer] = []
        self._stopped = asyncio.Event()

    def watch(self, gvr: GVR, namespace: str = "", *, label_selector: str = "", field_selector: str = "",
              indexers: dict[str, IndexFunc] | None = None) -> Informer:
        """The factory's informer over ``gvr`` in ``namespace`` ("" = all) matching ``label_selector``
        and ``field_selector``, with ``indexers`` added."""
        inf = self.factory.informer(gvr, namespace, label_selector=label_selector, field_selector=field_selector,
                                    indexers=indexers)
        self.informers.append(inf)
        return inf

    async def reconcile(self, key: K) -> float | None:  # pragma: no cover - abstract
        """Bring ``key`` to its desired state; return seconds to look again later, or None."""
        raise NotImplementedError

    async def run(self) -> None:
        self.factory.start()
        try:
            synced: asyncio.Future[object] = asyncio.ensure_future(self.wait_synced())
            stopped: asyncio.Future[object] = asyncio.ensure_future(self._stopped.wait())
            await asyncio.wait({synced, stopped}, return_when=asyncio.FIRST_COMPLETED)
            synced.cancel()
            stopped.cancel()
            if not self._stopped.is_set():
                self.on_synced()
                await asyncio.gather(*(self._worker() for _ in range(max(1, self.workers))))
        finally:
            if self._owns_factory:
                await self.factory.stop()

    async def on_error(self, key: K, err: Exception) -> None:
        """Hook run after a failed reconcile, before the retry is queued (e.g. report it in status)."""

    def on_synced(self) -> None:
        """Hook run once the informers have synced, before the workers start (e.g. queue everything)."""

    async def wait_synced(self) -> None:
        for inf in self.informers:
            await inf.wait_synced()

    async def stop(self) -> None:
        self._stopped.set()
        self.queue.shutdown()
        if self._owns_factory:
            await self.factory.stop()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                again = await self.reconcile(key)
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            except Exception as err:
                self.log_failure(key, err)
                await self.on_error(key, err)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    def log_failure(self, key: K, err: Exception) -> None:
        """Log a failed reconcile (it is retried): API errors in one line, conflicts and vanished
        objects at debug level; anything else with its traceback."""
        if isinstance(err, ApiError):
            log.log(logging.DEBUG if err.code in (404, 409, 422) else logging.WARNING, "%s: %s: %s", self.name, key,
                    err)
        else:
            log.exception("%s: reconcile %s failed", self.name, key, exc_info=err)


class QueueController(KeyedQueueController[str]):
    """A :class:`KeyedQueueController` whose keys are ``namespace/name`` strings."""
