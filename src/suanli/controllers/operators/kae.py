"""openFuyao KAE Operator: ``KAEClusterPolicy`` (``kae.openfuyao.com/v1``, cluster-scoped).

Components, in state order, run per node as DaemonSets in namespace ``kae-operator``:
``driver`` (KAE Driver Installer) and ``devicePlugin`` (KAE device plugin, which advertises
``openfuyao.com/kae.hpre`` …). Per-node deploy labels ``openfuyao.com/kae.deploy.driver``
and ``openfuyao.com/kae.deploy.device-plugin``; ``…=false`` opts a node out (the driver
label is documented by openFuyao, the others follow the same pattern).

**Discovery** (no user rule needed): a node has KAE engines when one of its ``NodeFeature``
objects lists a loaded ``hisi_hpre``/``hisi_sec2``/``hisi_zip`` kernel module or a KAE PCI
function (vendor ``19e5``, device ``a250 a251 a255 a256 a258 a259``; the driver the operator
installs may not be loaded yet) — :data:`KAE_FEATURE_DISCOVERY`. The label
``openfuyao.com/kae.present=true`` (our example NodeFeatureRule) also counts
(:data:`KAE_DISCOVERY_SELECTORS`). The operator does not set a presence label of its own.
"""

from __future__ import annotations

from suanli.client.protocol import Client
from suanli.controllers.operators.controller import ClusterPolicyController
from suanli.controllers.operators.discovery import KAE_DEVICE_IDS, KAE_KERNEL_MODULES, FeatureDiscovery, PciMatch
from suanli.controllers.operators.state import Component, OperatorConfig
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["KAE_DISCOVERY_SELECTORS", "KAE_FEATURE_DISCOVERY", "KAE_OPERATOR", "KAEClusterPolicyController"]

KAE_DISCOVERY_SELECTORS = ("openfuyao.com/kae.present=true",)

KAE_FEATURE_DISCOVERY = FeatureDiscovery(pci=(PciMatch("19e5", KAE_DEVICE_IDS),),
                                         kernel_modules=KAE_KERNEL_MODULES)

KAE_OPERATOR = OperatorConfig(
    name="kae",
    group="kae.openfuyao.com",
    version="v1",
    kind="KAEClusterPolicy",
    plural="kaeclusterpolicies",
    namespace="kae-operator",
    label_domain="openfuyao.com/kae",
    discovery_selectors=KAE_DISCOVERY_SELECTORS,
    feature_discovery=KAE_FEATURE_DISCOVERY,
    no_nodes_reason="NoKAENodes",
    components=(
        Component("driver", "driver", "kae-driver-installer"),
        Component("devicePlugin", "device-plugin", "kae-device-plugin"),
    ),
)


class KAEClusterPolicyController(ClusterPolicyController):
    """Reconciles ``KAEClusterPolicy`` objects (see the module docstring)."""

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 discovery_selectors: tuple[str, ...] | None = None, requeue_seconds: float = 5.0,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, KAE_OPERATOR, clock=clock, discovery_selectors=discovery_selectors,
                         requeue_seconds=requeue_seconds, factory=factory)
