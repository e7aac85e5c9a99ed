"""Local APIService objects: one per served group/version, as kube-apiserver's autoregistration.

kube-apiserver lists every group/version it serves itself as an ``apiregistration.k8s.io/v1``
APIService named ``<version>.<group>`` (``v1.`` for the core group) with no ``spec.service``,
``groupPriorityMinimum`` / ``versionPriority`` from its priority table, and condition
``Available=True`` (reason ``Local``). Built-in groups carry label
``kube-aggregator.kubernetes.io/automanaged: onstart``, CRD groups ``"true"`` (priority
1000/100). This controller keeps that set in step with the :class:`Registry` (CRDs come and
go) and never touches APIServices without the label (users' aggregated APIs).
"""

from __future__ import annotations

import asyncio
import logging

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.kinds.registry import Registry
from suanli.wire import APISERVICES

__all__ = ["APISERVICES", "AUTOMANAGED", "APIServiceRegistrar", "local_apiservice"]

log = logging.getLogger(__name__)

AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"

# (groupPriorityMinimum, versionPriority) for built-in group/versions (upstream priority table)
_PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v1"): (17500, 15),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("metrics.k8s.io", "v1beta1"): (100, 100),
}


def local_apiservice(group: str, version: str, *, builtin: bool) -> Obj:
    """The APIService kube-apiserver registers for a locally served ``group``/``version``."""
    group_min, version_prio = _PRIORITIES.get((group, version), (1000, 100))
    spec: Obj = {"version": version, "groupPriorityMinimum": group_min, "versionPriority": version_prio}
    if group:
        spec["group"] = group
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED: "onstart" if builtin else "true"}},
        "spec": spec,
    }


_AVAILABLE = {"type": "Available", "status": "True", "reason": "Local",
              "message": "Local APIServices are always available"}


class APIServiceRegistrar:
    """Creates and deletes the automanaged APIServices; ``run()`` until ``stop()``."""

    name = "apiservice-registrar"

    def __init__(self, client: Client, registry: Registry) -> None:
        self.client = client
        self.registry = registry
        self._changed = asyncio.Event()
        self._stopped = asyncio.Event()
        registry.on_change(self._changed.set)

    async def run(self) -> None:
        self._changed.set()
        while not self._stopped.is_set():
            await self._changed.wait()
            self._changed.clear()
            if self._stopped.is_set():
                return
            try:
                await self.sync()
            except ApiError as err:
                log.warning("%s: %s", self.name, err)
                await asyncio.sleep(1.0)
                self._changed.set()

    async def stop(self) -> None:
        self._stopped.set()
        self._changed.set()

    async def sync(self) -> None:
        """Make the automanaged APIServices match the registry's group/versions."""
        wanted: dict[str, Obj] = {}
        for rt in self.registry.all():
            svc = local_apiservice(rt.group, rt.version, builtin=rt.builtin)
            wanted.setdefault(svc["metadata"]["name"], svc)
        existing = {o["metadata"]["name"]: o for o in (await self.client.list(APISERVICES))["items"]}
        for name, body in wanted.items():
            if name in existing:
                continue
            try:
                created = await self.client.create(APISERVICES, body)
            except ApiError as err:
                if err.code != 409:
                    raise
                continue
            now = created["metadata"].get("creationTimestamp")
            await self.client.patch(APISERVICES, name, {"status": {"conditions": [
                {**_AVAILABLE, "lastTransitionTime": now}]}}, subresource="status")
        for name, obj in existing.items():
            if name not in wanted and (obj["metadata"].get("labels") or {}).get(AUTOMANAGED):
                try:
                    await self.client.delete(APISERVICES, name)
                except ApiError as err:
                    if err.code != 404:
                        raise
