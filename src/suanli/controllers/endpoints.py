"""Endpoints and EndpointSlice controller: the addresses behind every Service with a selector.

Per Service key (upstream ``pkg/controller/endpoint`` and ``pkg/controller/endpointslice``
semantics, one reconcile writing both so they stay in step):

* pods = pods in the namespace matching ``spec.selector`` that have ``status.podIP``, are not
  terminal (Succeeded/Failed) and not deleting;
* each service port resolves its ``targetPort`` (a number, a container port name, or the
  port itself when unset); a pod lacking a named port is left out of that port;
* **Endpoints** ``<service>``: Ready pods under ``addresses``, others under
  ``notReadyAddresses`` (all under ``addresses`` with ``publishNotReadyAddresses``), each
  with ``ip``, ``nodeName``, ``targetRef``; one subset per distinct port set; labels copied
  from the Service (plus ``service.kubernetes.io/headless`` for headless Services);
* **EndpointSlice** (``generateName: <service>-``, label ``kubernetes.io/service-name``,
  ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io``, owned by the
  Service): ``addressType: IPv4``, one endpoint per pod with conditions ready / serving /
  terminating, and the resolved ports (one slice per Service — upstream splits at 100).

Services without a selector are left alone (their Endpoints are the user's); deleting a
Service lets the garbage collector remove its slices, and the Endpoints are deleted here.
"""

from __future__ import annotations

import logging
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.controllers._pods import PODS, is_ready, owner_reference
from suanli.runtime.clock import Clock
from suanli.runtime.informer import object_key
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import ENDPOINTS, ENDPOINTSLICES, SERVICES

__all__ = ["ENDPOINTS", "ENDPOINTSLICES", "SERVICES", "EndpointsController", "resolve_port"]

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def resolve_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod port a service port targets: a number, a named container port, else ``port``."""
    target = service_port.get("targetPort")
    if target is None or target == "":
        target = service_port.get("port")
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in (c or {}).get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None


def _selected(svc: Obj, labels: dict[str, Any]) -> bool:
    sel = (svc.get("spec") or {}).get("selector")
    return isinstance(sel, dict) and bool(sel) and all(labels.get(k) == v for k, v in sel.items())


def _serving(pod: Obj) -> bool:
    ip = (pod.get("status") or {}).get("podIP")
    phase = (pod.get("status") or {}).get("phase")
    return bool(ip) and phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _target_ref(pod: Obj) -> Obj:
    m = pod["metadata"]
    return {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m.get("uid")}


class EndpointsController(QueueController):
    """Reconciles the Endpoints and EndpointSlice of every selector Service."""

    name = "endpoints-controller"

    def __init__(self, client: Client, *, clock: Clock | None = None, workers: int = 1,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=workers, factory=factory)
        self.services = self.watch(SERVICES)
        self.pods = self.watch(PODS)
        self.slices = self.watch(ENDPOINTSLICES)
        self.services.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), self._enqueue)
        self.pods.add_handler(self._pod_changed, self._pod_updated, self._pod_changed)

    def _enqueue(self, svc: Obj) -> None:
        self.queue.add(object_key(svc))

    def _pod_changed(self, pod: Obj) -> None:
        labels = pod["metadata"].get("labels") or {}
        for svc in self.services.list(pod["metadata"].get("namespace")):
            if _selected(svc, labels):
                self._enqueue(svc)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if old is not new:
            self._pod_changed(old)
            self._pod_changed(new)

    async def reconcile(self, key: str) -> None:
        ns, _, name = key.partition("/")
        svc = self.services.get(ns, name)
        if svc is None:
            await self._delete_endpoints(ns, name)
            return
        spec = svc.get("spec") or {}
        if not spec.get("selector"):
            return
        pods = sorted((p for p in self.pods.list(ns)
                       if _selected(svc, p["metadata"].get("labels") or {}) and _serving(p)),
                      key=lambda p: str(p["metadata"]["name"]))
        await self._write_endpoints(svc, pods)
        await self._write_slice(svc, pods)

    def _ports_of(self, svc: Obj, pod: Obj) -> list[Obj]:
        out = []
        for sp in (svc.get("spec") or {}).get("ports") or []:
            port = resolve_port(pod, sp)
            if port is None:
                continue
            entry: Obj = {"port": port, "protocol": sp.get("protocol") or "TCP"}
            if sp.get("name"):
                entry["name"] = sp["name"]
            if sp.get("appProtocol"):
                entry["appProtocol"] = sp["appProtocol"]
            out.append(entry)
        return out

    async def _write_endpoints(self, svc: Obj, pods: list[Obj]) -> None:
        spec = svc.get("spec") or {}
        publish = bool(spec.get("publishNotReadyAddresses"))
        subsets: dict[str, Obj] = {}
        for pod in pods:
            ports = self._ports_of(svc, pod)
            if spec.get("ports") and not ports:
                continue
            subset = subsets.setdefault(repr(ports), {"ports": ports} if ports else {})
            addr = {"ip": pod["status"]["podIP"], "targetRef": _target_ref(pod)}
            if (pod.get("spec") or {}).get("nodeName"):
                addr["nodeName"] = pod["spec"]["nodeName"]
            bucket = "addresses" if publish or is_ready(pod) else "notReadyAddresses"
            subset.setdefault(bucket, []).append(addr)
        m = svc["metadata"]
        labels = dict(m.get("labels") or {})
        if spec.get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": m["name"], "namespace": m["namespace"], "labels": labels},
                     "subsets": list(subsets.values())}
        try:
            current = await self.client.get(ENDPOINTS, m["name"], m["namespace"])
        except ApiError as err:
            if err.code != 404:
                raise
            await self.client.create(ENDPOINTS, body, m["namespace"])
            return
        if (current.get("subsets") or []) == body["subsets"] and (current["metadata"].get("labels") or {}) == labels:
            return
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        await self.client.update(ENDPOINTS, body, m["namespace"])

    async def _write_slice(self, svc: Obj, pods: list[Obj]) -> None:
        m = svc["metadata"]
        endpoints: list[Obj] = []
        ports: list[Obj] = []
        for pod in pods:
            pod_ports = self._ports_of(svc, pod)
            if (svc.get("spec") or {}).get("ports") and not pod_ports:
                continue
            if not ports:
                ports = pod_ports
            ready = is_ready(pod)
            ep: Obj = {"addresses": [pod["status"]["podIP"]],
                       "conditions": {"ready": ready, "serving": ready, "terminating": False},
                       "targetRef": _target_ref(pod)}
            if (pod.get("spec") or {}).get("nodeName"):
                ep["nodeName"] = pod["spec"]["nodeName"]
            endpoints.append(ep)
        mine = [s for s in self.slices.list(m["namespace"])
                if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == m["name"]
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY]
        labels = {**(m.get("labels") or {}), SERVICE_NAME_LABEL: m["name"], MANAGED_BY_LABEL: MANAGED_BY}
        if not mine:
            await self.client.create(ENDPOINTSLICES, {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": f"{m['name']}-", "namespace": m["namespace"], "labels": labels,
                             "ownerReferences": [owner_reference(svc)]},
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports}, m["namespace"])
            return
        current = mine[0]
        for extra in mine[1:]:
            await self._delete_quietly(ENDPOINTSLICES, extra)
        if (current.get("endpoints") or []) == endpoints and (current.get("ports") or []) == ports:
            return
        await self.client.update(ENDPOINTSLICES, {**current, "endpoints": endpoints, "ports": ports},
                                 m["namespace"])

    async def _delete_endpoints(self, ns: str, name: str) -> None:
        try:
            current = await self.client.get(ENDPOINTS, name, ns)
        except ApiError as err:
            if err.code == 404:
                return
            raise
        await self._delete_quietly(ENDPOINTS, current)

    async def _delete_quietly(self, gvr: GVR, obj: Obj) -> None:
        try:
            await self.client.delete(gvr, obj["metadata"]["name"], obj["metadata"]["namespace"])
        except ApiError as err:
            if err.code != 404:
                raise
