"""Garbage collector: ``ownerReferences`` with Background, Foreground and Orphan propagation.

Level-triggered over every deletable resource the API server serves (found by API
discovery through :class:`AllInformers`, like upstream's GC), on the reconcile runtime
(:class:`~suanli.runtime.controller.QueueController`, keys are object UIDs):

* a dependent all of whose owners are gone is deleted (Background); dangling owner
  references next to a live owner are removed;
* an owner being deleted with the ``orphan`` finalizer has its references removed from
  every dependent, then the finalizer is dropped;
* an owner being deleted with ``foregroundDeletion`` has its dependents deleted (in the
  foreground too); once none remain, the finalizer is dropped and the owner goes.

Owner liveness is checked by UID against the API, never by name alone; an owner's kind is
resolved through discovery (a kind the server does not serve counts as gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.discovery import APIResource
from suanli.client.protocol import Client
from suanli.controllers._informers import AllInformers
from suanli.runtime.controller import QueueController
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["GarbageCollector"]

log = logging.getLogger(__name__)


class _UnknownOwnerKind(Exception):
    """An owner reference names a kind discovery does not (yet) list."""


class GarbageCollector(QueueController):
    """Construct with a client (and optionally a shared informer factory); ``await run()``.

    ``retry_delay``: seconds before a foreground owner with dependents left is looked at
    again; ``discovery_resync``: seconds between discovery reads (upstream: 30).
    """

    name = "garbage-collector"

    def __init__(self, client: Client, *, retry_delay: float = 0.5, discovery_resync: float = 30.0,
                 factory: SharedInformerFactory | None = None, workers: int = 1) -> None:
        super().__init__(client, factory=factory, workers=workers)
        self.retry_delay = retry_delay
        self.all = AllInformers(client, self._on_change, factory=self.factory, resync=discovery_resync)
        self._objects: dict[str, tuple[APIResource, Obj]] = {}  # uid -> (resource, obj)
        self._dependents: dict[str, set[str]] = defaultdict(set)  # owner uid -> dependent uids
        self._discovery: asyncio.Task[None] | None = None

    # -- change tracking -------------------------------------------------------------------------

    def _on_change(self, rt: APIResource, old: Obj | None, new: Obj | None) -> None:
        if new is None:
            assert old is not None
            old_meta = old["metadata"]
            uid = str(old_meta.get("uid"))
            for ref in old_meta.get("ownerReferences") or []:
                self._dependents[str(ref.get("uid"))].discard(uid)
            self._objects.pop(uid, None)
            for dep in list(self._dependents.get(uid, ())):
                self._enqueue(dep)
            return
        meta = new["metadata"]
        refs = meta.get("ownerReferences") or []
        # An update that keeps the very same ownerReferences list (writes copy only what they change)
        # under the same uid leaves the dependents map as it is: no discard-and-re-add.
        same_refs = False
        if old is not None:
            old_meta = old["metadata"]
            old_refs = old_meta.get("ownerReferences")
            if old_refs is meta.get("ownerReferences") and old_meta.get("uid") == meta.get("uid"):
                same_refs = True
            elif old_refs:
                old_uid = str(old_meta.get("uid"))
                for ref in old_refs:
                    self._dependents[str(ref.get("uid"))].discard(old_uid)
        uid = str(meta.get("uid"))
        self._objects[uid] = (rt, new)
        if refs and not same_refs:
            for ref in refs:
                self._dependents[str(ref.get("uid"))].add(uid)
        deleting = meta.get("deletionTimestamp")
        if refs or (deleting and {"orphan", "foregroundDeletion"} & set(meta.get("finalizers") or [])):
            self._enqueue(uid)
        if deleting:
            for ref in refs:
                self._enqueue(str(ref.get("uid")))

    def _enqueue(self, uid: str) -> None:
        self.queue.add(uid)

    # -- reconcile -----------------------------------------------------------------------------

    async def run(self) -> None:
        self._discovery = asyncio.create_task(self.all.run())
        try:
            await super().run()
        finally:
            self._discovery.cancel()
            with contextlib.suppress(BaseException):
                await self._discovery

    async def wait_synced(self) -> None:
        await self.all.discovered.wait()
        await self.factory.wait_synced([inf for _, inf, _ in self.all.informers.values()])

    async def stop(self) -> None:
        if self._discovery is not None:
            self._discovery.cancel()
        await self.all.stop()
        await super().stop()

    async def reconcile(self, key: str) -> float | None:
        try:
            return self.retry_delay if await self._reconcile(key) else None
        except ApiError as err:
            if err.code == 404:
                return None
            raise
        except _UnknownOwnerKind as err:
            log.debug("gc: %s: owner kind %s not served (yet)", key, err)
            return self.retry_delay

    async def _reconcile(self, uid: str) -> bool:
        entry = self._objects.get(uid)
        if entry is None:
            return False
        rt, obj = entry
        meta = obj["metadata"]
        fins = list(meta.get("finalizers") or [])
        requeue = False
        if meta.get("deletionTimestamp") and "orphan" in fins:
            await self._orphan_dependents(uid)
            await self._drop_finalizer(rt, obj, "orphan")
            return False
        if meta.get("deletionTimestamp") and "foregroundDeletion" in fins:
            deps = [d for d in self._dependents.get(uid, ()) if d in self._objects]
            for dep in deps:
                drt, dobj = self._objects[dep]
                if not dobj["metadata"].get("deletionTimestamp"):
                    await self._delete(drt, dobj, "Foreground")
            if deps:
                return True
            await self._drop_finalizer(rt, obj, "foregroundDeletion")
            return False
        refs = meta.get("ownerReferences") or []
        if refs:
            live: list[Obj] = []
            dangling: list[Obj] = []
            for ref in refs:
                (live if await self._owner_alive(rt, obj, ref) else dangling).append(ref)
            if not live:
                await self._delete(rt, obj, "Background")
            elif dangling:
                keep = [r for r in refs if r not in dangling]
                await self.client.patch(rt.gvr, meta["name"], {"metadata": {"ownerReferences": keep}},
                                        str(meta.get("namespace") or ""), patch_type="merge")
        return requeue

    async def _owner_alive(self, rt: APIResource, obj: Obj, ref: Obj) -> bool:
        uid = str(ref.get("uid"))
        if uid in self._objects:
            return True
        owner_rt = self.all.mapper.resource_for(str(ref.get("apiVersion")), str(ref.get("kind")))
        if owner_rt is None:  # not (yet) in discovery: re-discover and look again, never guess "gone"
            self.all.refresh()
            raise _UnknownOwnerKind(f"{ref.get('apiVersion')}/{ref.get('kind')}")
        ns = str(obj["metadata"].get("namespace") or "") if owner_rt.namespaced else ""
        if owner_rt.namespaced and not rt.namespaced:
            return False  # a cluster-scoped dependent cannot have a namespaced owner
        try:
            owner = await self.client.get(owner_rt.gvr, str(ref.get("name")), ns)
        except ApiError as err:
            if err.code == 404:
                return False
            raise
        return str(owner["metadata"].get("uid")) == uid

    async def _orphan_dependents(self, owner_uid: str) -> None:
        for dep in list(self._dependents.get(owner_uid, ())):
            entry = self._objects.get(dep)
            if entry is None:
                continue
            drt, dobj = entry
            refs = [r for r in dobj["metadata"].get("ownerReferences") or [] if str(r.get("uid")) != owner_uid]
            m = dobj["metadata"]
            try:
                await self.client.patch(drt.gvr, m["name"], {"metadata": {"ownerReferences": refs or None}},
                                        str(m.get("namespace") or ""), patch_type="merge")
            except ApiError as err:
                if err.code != 404:
                    raise

    async def _drop_finalizer(self, rt: APIResource, obj: Obj, finalizer: str) -> None:
        m = obj["metadata"]
        fins = [f for f in m.get("finalizers") or [] if f != finalizer]
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": m["resourceVersion"]},
                 {"op": "replace", "path": "/metadata/finalizers", "value": fins}]
        try:
            await self.client.patch(rt.gvr, m["name"], patch, str(m.get("namespace") or ""),
                                    patch_type="json")
        except ApiError as err:
            if err.code == 422:  # stale: a newer version will be reconciled
                self._enqueue(str(m.get("uid")))
            elif err.code != 404:
                raise

    async def _delete(self, rt: APIResource, obj: Obj, policy: str) -> None:
        m = obj["metadata"]
        try:
            await self.client.delete(rt.gvr, m["name"], str(m.get("namespace") or ""),
                                     propagation_policy=policy, preconditions={"uid": str(m.get("uid"))})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
