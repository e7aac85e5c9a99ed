"""One shared :class:`~suanli.runtime.informer.Informer` per watch for a whole process.

The client-go SharedInformerFactory equivalent.

Every consumer asking :meth:`SharedInformerFactory.informer` for the same
``(group, version, resource, namespace, label selector, field selector)`` gets the *same*
informer, so each watch event is received, cached and indexed once however many
controllers look at it. Consumers add their own handlers and indexers to it (indexers may
arrive after the informer has synced; existing objects are indexed at once).

Lifecycle contract:

* :meth:`~SharedInformerFactory.start` (needs a running event loop) starts every informer
  not yet running; once started, informers requested later start immediately. Calling it
  again is harmless, so each consumer calls it from its own ``run``.
* :meth:`~SharedInformerFactory.wait_synced` returns once the given informers (default all)
  have listed once.
* :meth:`~SharedInformerFactory.release` drops one consumer's claim; an informer nobody
  claims any more is stopped and forgotten, so asking again builds a fresh one (used when a
  resource type disappears, e.g. a deleted CRD).
* :meth:`~SharedInformerFactory.stop` stops every informer; informers requested after that
  are returned but never started.

Consumers of a shared informer must not call :meth:`Informer.stop` on it themselves.
"""

from __future__ import annotations

import asyncio
import logging

from suanli.apimachinery.gvr import GVR
from suanli.client.protocol import Client
from suanli.runtime.clock import Clock, RealClock
from suanli.runtime.informer import IndexFunc, Informer

__all__ = ["InformerKey", "SharedInformerFactory", "informer_key", "resolve_factory"]

log = logging.getLogger(__name__)

InformerKey = tuple[str, str, str, str, str, str]


def informer_key(gvr: GVR, namespace: str = "", label_selector: str = "", field_selector: str = "") -> InformerKey:
    """What makes two informers the same: ``(group, version, resource, namespace, labels, fields)``.

    >>> informer_key(GVR("", "v1", "pods"), "", "app=web")
    ('', 'v1', 'pods', '', 'app=web', '')
    """
    return (gvr.group, gvr.version, gvr.resource, namespace if gvr.namespaced else "", label_selector,
            field_selector)


class _Entry:
    __slots__ = ("claims", "informer", "task")

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.claims = 0
        self.task: asyncio.Task[None] | None = None


class SharedInformerFactory:
    """Creates, shares, starts and stops informers over one client (see the module docstring).

    ``clock``, ``page_size`` and ``watch_timeout_seconds`` apply to every informer made here.
    """

    def __init__(self, client: Client, *, clock: Clock | None = None, page_size: int = 500,
                 watch_timeout_seconds: int | None = 300) -> None:
        self.client = client
        self.clock: Clock = clock or RealClock()
        self.page_size = page_size
        self.watch_timeout_seconds = watch_timeout_seconds
        self._entries: dict[InformerKey, _Entry] = {}
        self._retired: set[asyncio.Task[None]] = set()  # released informers still winding down
        self._started = False
        self._stopped = False

    @property
    def started(self) -> bool:
        return self._started

    @property
    def stopped(self) -> bool:
        return self._stopped

    def informer(self, gvr: GVR, namespace: str = "", *, label_selector: str = "", field_selector: str = "",
                 indexers: dict[str, IndexFunc] | None = None) -> Informer:
        """The shared informer for this watch (created on first request), with ``indexers`` added.

        Each call is one claim (see :meth:`release`). Raises ValueError if an indexer name is
        already registered on the shared informer with a different function.
        """
        key = informer_key(gvr, namespace, label_selector, field_selector)
        entry = self._entries.get(key)
        if entry is None:
            inf = Informer(self.client, gvr, key[3], label_selector=label_selector, field_selector=field_selector,
                           clock=self.clock, page_size=self.page_size,
                           watch_timeout_seconds=self.watch_timeout_seconds)
            entry = _Entry(inf)
            if indexers:
                inf.add_indexers(indexers)
            self._entries[key] = entry
            if self._started and not self._stopped:
                self._launch(entry)
        elif indexers:
            entry.informer.add_indexers(indexers)
        entry.claims += 1
        return entry.informer

    def informers(self) -> list[Informer]:
        """Every informer currently held, in creation order."""
        return [e.informer for e in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)

    def start(self) -> None:
        """Start every informer not yet running (idempotent; no-op after :meth:`stop`)."""
        if self._stopped:
            return
        self._started = True
        for entry in self._entries.values():
            if entry.task is None:
                self._launch(entry)

    def _launch(self, entry: _Entry) -> None:
        entry.task = asyncio.get_running_loop().create_task(self._run(entry.informer))

    @staticmethod
    async def _run(inf: Informer) -> None:
        try:
            await inf.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("informer %s failed", inf.gvr)

    async def wait_synced(self, informers: list[Informer] | tuple[Informer, ...] | None = None) -> None:
        """Return once every informer in ``informers`` (default: all held now) has listed once."""
        for inf in (self.informers() if informers is None else informers):
            await inf.wait_synced()

    def release(self, informer: Informer) -> None:
        """Drop one claim on ``informer``; with none left it is stopped and forgotten."""
        for key, entry in self._entries.items():
            if entry.informer is informer:
                entry.claims -= 1
                if entry.claims <= 0:
                    del self._entries[key]
                    informer.stop()
                    if entry.task is not None:
                        entry.task.cancel()
                        self._retired.add(entry.task)
                        entry.task.add_done_callback(self._retired.discard)
                return

    async def stop(self) -> None:
        """Stop every informer and wait for their tasks to finish."""
        self._stopped = True
        entries = list(self._entries.values())
        for entry in entries:
            entry.informer.stop()
            if entry.task is not None:
                entry.task.cancel()
        tasks = [*(e.task for e in entries if e.task is not None), *self._retired]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def resolve_factory(client: Client, factory: SharedInformerFactory | None,
                    clock: Clock | None = None) -> tuple[SharedInformerFactory, bool]:
    """``(factory, owned)`` for a component: the shared ``factory`` (not owned: never stop it), or a
    new private one on ``clock`` (owned: the component starts and stops it itself)."""
    if factory is not None:
        return factory, False
    return SharedInformerFactory(client, clock=clock), True
