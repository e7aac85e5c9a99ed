"""The loops kube-apiserver itself runs at start-up, built in one place for ``suanli up``.

They run in every mode, ``--only api`` included (they are API-server behaviour, not
kube-controller-manager's): the local APIService registrar, the legacy ServiceAccount token
tracking ConfigMap and the API Priority and Fairness bootstrap objects.
"""

from __future__ import annotations

from typing import Any

from suanli.client.protocol import Client
from suanli.controllers.apiservice import APIServiceRegistrar
from suanli.controllers.flowcontrol import FlowControlController
from suanli.controllers.legacytokentracking import LegacyTokenTrackingController
from suanli.kinds.registry import Registry
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["apiserver_loops"]


def apiserver_loops(client: Client, registry: Registry, factory: SharedInformerFactory | None = None) -> list[Any]:
    """Unstarted loops (each has ``run()`` and ``stop()``); ``factory`` = shared informers, if any."""
    return [
        APIServiceRegistrar(client, registry),
        LegacyTokenTrackingController(client, factory=factory),
        FlowControlController(client, factory=factory),
    ]
