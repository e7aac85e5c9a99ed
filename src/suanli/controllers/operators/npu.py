"""openFuyao NPU Operator: ``NPUClusterPolicy`` (``npu.openfuyao.com/v1``, cluster-scoped).

Spec sections (each ``{managed: bool = true, imageSpec: {repository, image|name, tag|version,
imagePullPolicy}, …}``) in state order: ``driver`` (Ascend driver + firmware installer),
``ociRuntime`` (Ascend Docker Runtime), ``devicePlugin`` (Ascend device plugin), ``nodeD``,
``exporter`` (NPU exporter) run per node as DaemonSets in namespace ``npu-operator``;
``vcscheduler``, ``clusterD`` and ``resilience`` are cluster-level and reported as
``skipped`` (Suanli schedules itself). Component names/labels follow the GPU-operator
pattern ``openfuyao.com/npu.deploy.<component>`` (upstream labels unverified, see
reference devices.md §1.2).

**Discovery** (npu-feature-discovery's role; no user rule needed): a node has NPUs when one of
its ``NodeFeature`` objects lists a ``pci.device`` instance of vendor ``19e5``, class ``12xx`` and
an Ascend device id (:data:`NPU_FEATURE_DISCOVERY`: ``d100 d500 d801 d802 d803``) — NFD's default
label ``pci-1200_19e5.present`` alone is ambiguous because the Kunpeng ZIP engine (``a250``) has
the same vendor and class. Explicit labels also count (:data:`NPU_DISCOVERY_SELECTORS`, ORed):
``huawei.com/npu.present=true`` (our example NodeFeatureRule), or the PCI label *together with*
the install-doc label ``accelerator`` in ``huawei-Ascend910|310|310P``. Discovered nodes get
``openfuyao.com/npu.present=true``.
"""

from __future__ import annotations

from suanli.client.protocol import Client
from suanli.controllers.operators.controller import ClusterPolicyController
from suanli.controllers.operators.discovery import ASCEND_DEVICE_IDS, FeatureDiscovery, PciMatch
from suanli.controllers.operators.state import Component, OperatorConfig
from suanli.runtime.clock import Clock
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["NPU_DISCOVERY_SELECTORS", "NPU_FEATURE_DISCOVERY", "NPU_OPERATOR", "NPUClusterPolicyController"]

NPU_DISCOVERY_SELECTORS = (
    "huawei.com/npu.present=true",
    "feature.node.kubernetes.io/pci-1200_19e5.present=true,"
    "accelerator in (huawei-Ascend910,huawei-Ascend310,huawei-Ascend310P)",
)

NPU_FEATURE_DISCOVERY = FeatureDiscovery(pci=(PciMatch("19e5", ASCEND_DEVICE_IDS, "12"),))

NPU_OPERATOR = OperatorConfig(
    name="npu",
    group="npu.openfuyao.com",
    version="v1",
    kind="NPUClusterPolicy",
    plural="npuclusterpolicies",
    namespace="npu-operator",
    label_domain="openfuyao.com/npu",
    discovery_selectors=NPU_DISCOVERY_SELECTORS,
    feature_discovery=NPU_FEATURE_DISCOVERY,
    presence_label="openfuyao.com/npu.present",
    no_nodes_reason="NoNPUNodes",
    components=(
        Component("driver", "driver", "npu-driver-installer"),
        Component("ociRuntime", "oci-runtime", "ascend-docker-runtime"),
        Component("devicePlugin", "device-plugin", "ascend-k8sdeviceplugin"),
        Component("nodeD", "noded", "noded"),
        Component("exporter", "exporter", "npu-exporter"),
        Component("vcscheduler", "vcscheduler", "vc-scheduler", per_node=False),
        Component("clusterD", "clusterd", "clusterd", per_node=False),
        Component("resilience", "resilience-controller", "resilience-controller", per_node=False),
    ),
)


class NPUClusterPolicyController(ClusterPolicyController):
    """Reconciles ``NPUClusterPolicy`` objects (see the module docstring)."""

    def __init__(self, client: Client, *, clock: Clock | None = None,
                 discovery_selectors: tuple[str, ...] | None = None, requeue_seconds: float = 5.0,
                 factory: SharedInformerFactory | None = None) -> None:
        super().__init__(client, NPU_OPERATOR, clock=clock, discovery_selectors=discovery_selectors,
                         requeue_seconds=requeue_seconds, factory=factory)
