"""The resource quota controller (upstream ``pkg/controller/resourcequota``): keeps each
ResourceQuota's ``status.hard`` (= ``spec.hard``) and ``status.used`` true.

Level-triggered per ``namespace/name`` quota key. ``status.used`` is recalculated from informer
caches (:func:`suanli.kinds.quota.calculate_usage`) over every resource ``spec.hard`` tracks:
pods, services and claims always have informers; object counts of other kinds
(``count/jobs.batch.volcano.sh``) get one on first use, through ``resolve`` (``(plural, group)``
→ GVR, None for a kind the server does not serve: it counts 0). A quota is synced when it is
created or its ``spec`` changes; all quotas of a namespace are replenished when an object
there is deleted, when a pod turns terminal (Succeeded/Failed) or changes its resources, when
a service changes type or ports and when a claim changes its request; every quota is resynced
every ``resync`` seconds (upstream's default: 5 minutes). The write is an update of the
``status`` subresource carrying the resourceVersion read, so a concurrent admission charge
makes it conflict and retry (queue backoff) instead of losing the charge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.kinds.quota import (
    calculate_usage,
    format_resource,
    is_terminal_pod,
    parse_resource_list,
    tracked_resources,
)
from suanli.kinds.registry import Registry
from suanli.runtime.clock import Clock
from suanli.runtime.informer import Informer
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import PODS, RESOURCEQUOTAS, SERVICES
from suanli.wire import PVCS as CLAIMS

__all__ = ["RESOURCEQUOTAS", "Resolver", "ResourceQuotaController", "registry_resolver"]

log = logging.getLogger(__name__)

DEFAULT_RESYNC = 300.0

#: ``(plural, group)`` → the GVR to list, or None when not served
Resolver = Callable[[str, str], GVR | None]


def registry_resolver(registry: Registry) -> Resolver:
    """A :data:`Resolver` over the served kinds of ``registry`` (namespaced, listable ones only)."""

    def resolve(plural: str, group: str) -> GVR | None:
        for rt in registry.all():
            if rt.plural == plural and rt.group == group and rt.namespaced and "list" in rt.verbs:
                return GVR(rt.group, rt.version, rt.plural, True)
        return None

    return resolve


def _key(obj: Obj) -> str:
    m = obj["metadata"]
    return f"{m.get('namespace', '')}/{m['name']}"


def _resources(obj: Obj) -> object:
    spec = obj.get("spec") or {}
    return ([c.get("resources") for c in spec.get("containers") or [] if isinstance(c, dict)],
            [c.get("resources") for c in spec.get("initContainers") or [] if isinstance(c, dict)])


class ResourceQuotaController(QueueController):
    """Construct with a Client and a :data:`Resolver`; ``run()``/``stop()`` (module docstring)."""

    name = "resourcequota-controller"

    def __init__(self, client: Client, resolve: Resolver, *, clock: Clock | None = None, workers: int = 2,
                 factory: SharedInformerFactory | None = None, resync: float = DEFAULT_RESYNC) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.resolve = resolve
        self.resync = resync
        self.quotas = self.watch(RESOURCEQUOTAS)
        self._counted: dict[tuple[str, str], Informer | None] = {
            ("pods", ""): self.watch(PODS),
            ("services", ""): self.watch(SERVICES),
            ("persistentvolumeclaims", ""): self.watch(CLAIMS),
        }
        self.quotas.add_handler(self._quota_added, self._quota_updated, lambda _o: None)
        for key, on_update in ((("pods", ""), self._pod_updated), (("services", ""), self._spec_updated),
                               (("persistentvolumeclaims", ""), self._spec_updated)):
            inf = self._counted[key]
            assert inf is not None
            inf.add_handler(None, on_update, self._replenish)

    # -- event handlers ---------------------------------------------------------------------------

    def _quota_added(self, quota: Obj) -> None:
        self.queue.add(_key(quota))

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        hard = (new.get("spec") or {}).get("hard")
        if old.get("spec") != new.get("spec") or (new.get("status") or {}).get("hard") != self._hard_status(hard):
            self.queue.add(_key(new))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        now = datetime.now(UTC)
        if is_terminal_pod(new, now) != is_terminal_pod(old, now) or _resources(old) != _resources(new):
            self._replenish(new)

    def _spec_updated(self, old: Obj, new: Obj) -> None:
        if old.get("spec") != new.get("spec"):
            self._replenish(new)

    def _replenish(self, obj: Obj) -> None:
        """Enqueue every quota of ``obj``'s namespace."""
        ns = str(obj["metadata"].get("namespace") or "")
        for q in self.quotas.list(ns):
            self.queue.add(_key(q))

    # -- loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        resync = asyncio.create_task(self._resync_loop())
        try:
            await super().run()
        finally:
            resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resync

    async def _resync_loop(self) -> None:
        while True:
            await self.clock.sleep(self.resync)
            for q in self.quotas.list():
                self.queue.add(_key(q))

    async def _informer(self, resource: tuple[str, str]) -> Informer | None:
        if resource not in self._counted:
            gvr = self.resolve(*resource)
            inf = None if gvr is None else self.factory.informer(gvr)
            if inf is not None:
                inf.add_handler(None, None, self._replenish)
            self._counted[resource] = inf
            self.factory.start()
        inf = self._counted[resource]
        if inf is not None:
            await inf.wait_synced()
        return inf

    @staticmethod
    def _hard_status(hard: object) -> dict[str, str]:
        return {k: format_resource(k, v) for k, v in sorted(parse_resource_list(hard).items())}

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        quota = self.quotas.get(ns, name)
        if quota is None:
            return
        hard = (quota.get("spec") or {}).get("hard") or {}
        objects: dict[tuple[str, str], list[Obj]] = {}
        for resource in sorted(tracked_resources(parse_resource_list(hard))):
            inf = await self._informer(resource)
            objects[resource] = inf.list(ns) if inf is not None else []
        used = calculate_usage(quota, objects, datetime.now(UTC))
        status = {"hard": self._hard_status(hard), "used": {k: format_resource(k, v) for k, v in sorted(used.items())}}
        if quota.get("status") == status:
            return
        new = deep_copy(quota)
        new["status"] = status
        await self.client.update(RESOURCEQUOTAS, new, ns, subresource="status")
