"""The controllers behind the issue-10 built-in kinds, built in one place for ``suanli up``.

:func:`kind_controllers` returns, unstarted: the PersistentVolume binder/provisioner, the
PVC/PV protection controllers, the
disruption (PodDisruptionBudget status) controller, the ReplicationController controller and
and the Endpoints/EndpointSlice controller, all on the shared informer ``factory`` (kube-apiserver's own
loops are in :mod:`suanli.controllers.apiserver_loops`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from suanli.client.protocol import Client
from suanli.controllers.disruption import DisruptionController
from suanli.controllers.endpoints import EndpointsController
from suanli.controllers.persistentvolume import PersistentVolumeController
from suanli.controllers.protection import PVCProtectionController, PVProtectionController
from suanli.controllers.replicationcontroller import ReplicationControllerController
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["kind_controllers"]


def kind_controllers(client: Client, factory: SharedInformerFactory, *,
                     host_node: str | None, volume_root: Path | None) -> list[Any]:
    """Controllers for PVs/PVCs, PDBs, RCs and Endpoints (each has ``run()``
    and ``stop()``). ``host_node`` (the process-runtime node, if any) gets real local-path
    directories under ``volume_root``."""
    return [
        PersistentVolumeController(client, factory=factory, host_node=host_node, volume_root=volume_root),
        PVCProtectionController(client, factory=factory),
        PVProtectionController(client, factory=factory),
        DisruptionController(client, factory=factory),
        ReplicationControllerController(client, factory=factory),
        EndpointsController(client, factory=factory),
    ]
