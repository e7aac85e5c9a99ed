"""Per-namespace defaults kube-controller-manager maintains: the ``default`` ServiceAccount and the
``kube-root-ca.crt`` ConfigMap.

* :class:`ServiceAccountsController` (upstream ``serviceaccounts-controller``) — every active
  namespace has a ServiceAccount ``default``; deleting it brings it back.
* :class:`RootCAPublisher` (upstream ``root-ca-cert-publisher``) — every active namespace has a
  ConfigMap ``kube-root-ca.crt`` whose ``data`` is exactly ``{"ca.crt": <the API server's CA>}``
  with upstream's ``kubernetes.io/description`` annotation; edits are reverted, deletion undone.

Namespaces being deleted are left alone (the API server refuses new objects in them).
"""

from __future__ import annotations

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS

__all__ = ["CONFIGMAPS", "NAMESPACES", "ROOT_CA_CONFIGMAP", "SERVICEACCOUNTS", "RootCAPublisher",
           "ServiceAccountsController"]

DEFAULT_SERVICE_ACCOUNT = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)


class _PerNamespace(QueueController):
    """Keys are namespace names; one named object per namespace is watched via ``watched``/``object_name``."""

    watched: GVR
    object_name: str

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.namespaces = self.watch(NAMESPACES)
        self.objects = self.watch(self.watched)
        self.namespaces.add_handler(self._ns, lambda _o, n: self._ns(n), lambda _o: None)
        self.objects.add_handler(self._obj, lambda _o, n: self._obj(n), self._obj)

    def _ns(self, ns: Obj) -> None:
        self.queue.add(str(ns["metadata"]["name"]))

    def _obj(self, obj: Obj) -> None:
        if obj["metadata"].get("name") == self.object_name:
            self.queue.add(str(obj["metadata"].get("namespace") or ""))

    def _active(self, name: str) -> bool:
        ns = self.namespaces.get("", name)
        return ns is not None and not ns["metadata"].get("deletionTimestamp") and \
            (ns.get("status") or {}).get("phase") != "Terminating"

    async def _create(self, obj: Obj, namespace: str) -> None:
        try:
            await self.client.create(self.watched, obj, namespace)
        except ApiError as err:
            if err.code not in (403, 404, 409):  # namespace terminating or gone; created meanwhile
                raise


class ServiceAccountsController(_PerNamespace):
    """Creates ServiceAccount ``default`` in every active namespace."""

    name = "serviceaccount-controller"
    watched = SERVICEACCOUNTS
    object_name = DEFAULT_SERVICE_ACCOUNT

    async def reconcile(self, key: str) -> None:
        if not self._active(key) or self.objects.get(key, DEFAULT_SERVICE_ACCOUNT) is not None:
            return
        await self._create({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": key}}, key)


class RootCAPublisher(_PerNamespace):
    """Publishes ``ca_pem`` as ConfigMap ``kube-root-ca.crt`` in every active namespace."""

    name = "root-ca-cert-publisher"
    watched = CONFIGMAPS
    object_name = ROOT_CA_CONFIGMAP

    def __init__(self, client: Client, ca_pem: bytes | str, *, clock: Clock | None = None,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, clock=clock, factory=factory)
        self.ca = ca_pem.decode() if isinstance(ca_pem, bytes) else ca_pem

    async def reconcile(self, key: str) -> None:
        if not self._active(key):
            return
        current = self.objects.get(key, ROOT_CA_CONFIGMAP)
        data = {"ca.crt": self.ca}
        if current is None:
            await self._create({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": key,
                                             "annotations": {DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION}},
                                "data": data}, key)
            return
        annotations = (current["metadata"].get("annotations") or {})
        if current.get("data") == data and not current.get("binaryData") and \
                annotations.get(DESCRIPTION_ANNOTATION) == ROOT_CA_DESCRIPTION:
            return
        cm = deep_copy(current)
        cm["data"] = data
        cm.pop("binaryData", None)
        cm["metadata"]["annotations"] = {**annotations, DESCRIPTION_ANNOTATION: ROOT_CA_DESCRIPTION}
        await self.client.update(CONFIGMAPS, cm, key)
