"""Namespace deletion: empty a terminating namespace, then release its ``kubernetes`` finalizer.

Like upstream's namespace controller, the kinds to empty come from API discovery through
the client (every namespaced resource with ``list`` and ``delete``, preferred versions),
read afresh for each pass, so CRD kinds are covered against any API server. Runs on the
reconcile runtime (:class:`~suanli.runtime.controller.QueueController`, keys are namespace
names); a namespace that still has content is looked at again after ``retry_delay``.
"""

from __future__ import annotations

import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.discovery import preferred_resources, server_resources
from suanli.client.protocol import Client
from suanli.runtime.controller import QueueController
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import NAMESPACES

__all__ = ["NamespaceController"]

log = logging.getLogger(__name__)
FINALIZER = "kubernetes"
_VERBS = frozenset({"list", "delete"})


class NamespaceController(QueueController):
    """Construct with a client (and optionally a shared informer factory); ``await run()``."""

    name = "namespace"

    def __init__(self, client: Client, *, retry_delay: float = 0.5, factory: SharedInformerFactory | None = None,
                 workers: int = 2) -> None:
        super().__init__(client, factory=factory, workers=workers)
        self.retry_delay = retry_delay
        self.informer = self.watch(NAMESPACES)
        self._registration = self.informer.add_handler(
            self._maybe_enqueue, lambda _o, n: self._maybe_enqueue(n), lambda _o: None)

    def _maybe_enqueue(self, ns: Obj) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def stop(self) -> None:
        self.informer.remove_handler(self._registration)
        await super().stop()

    async def reconcile(self, key: str) -> float | None:
        return self.retry_delay if await self._reconcile(key) else None

    async def _reconcile(self, name: str) -> bool:
        """One pass; True while content (or a conflicting finalize) remains."""
        try:
            ns = await self.client.get(NAMESPACES, name)
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        if not ns["metadata"].get("deletionTimestamp"):
            return False
        remaining = 0
        for res in preferred_resources(await server_resources(self.client), verbs=_VERBS):
            if not res.namespaced:
                continue
            is_pods = res.group_resource == "pods"
            try:
                items = (await self.client.list(res.gvr, name))["items"]
            except ApiError as err:
                if err.code in (404, 405):
                    continue
                raise
            for item in items:
                remaining += 1
                if item["metadata"].get("deletionTimestamp") and not is_pods:
                    continue
                try:
                    await self.client.delete(res.gvr, item["metadata"]["name"], name,
                                             propagation_policy="Background",
                                             grace_period_seconds=0 if is_pods else None)
                except ApiError as err:
                    if err.code != 404:
                        raise
        if remaining:
            return True
        new = deep_copy(ns)
        fins = [f for f in (new.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        new.setdefault("spec", {})["finalizers"] = fins
        try:
            await self.client.update(NAMESPACES, new, subresource="finalize")
        except ApiError as err:
            if err.code in (404,):
                return False
            if err.code == 409:
                return True
            raise
        return False
