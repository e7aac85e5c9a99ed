"""Device discovery from what NFD itself publishes (the role openFuyao gives npu-feature-discovery).

A device operator must find its nodes without any user-written ``NodeFeatureRule``: nfd-worker
publishes each node's raw features in ``NodeFeature`` objects (``nfd.k8s-sigs.io/v1alpha1``,
label ``nfd.node.kubernetes.io/node-name``), and nfd-master's default labels only say
``pci-1200_19e5.present`` -- which an Ascend NPU and the Kunpeng ZIP engine both produce
(vendor ``19e5``, class ``1200``). The raw ``pci.device`` instances carry the ``device`` id that
tells them apart (Ascend ``d100 d500 d801 d802 d803``; ZIP ``a250``), and the raw
``kernel.loadedmodule`` flags show the KAE drivers (``hisi_hpre``, ``hisi_sec2``, ``hisi_zip``).

:class:`FeatureDiscovery` is a pure predicate over the ``spec.features`` of one ``NodeFeature``
object: the node has the operator's devices when any PCI instance matches a :class:`PciMatch`
or any listed kernel module is loaded. The controllers OR it (over every NodeFeature object of
the node) with their label selectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.wire import NFD_NODE_NAME_LABEL as NODE_NAME_LABEL

__all__ = [
    "ASCEND_DEVICE_IDS",
    "KAE_DEVICE_IDS",
    "KAE_KERNEL_MODULES",
    "NODE_NAME_LABEL",
    "FeatureDiscovery",
    "PciMatch",
    "feature_node_name",
]


#: Ascend PCI device ids (vendor 19e5, class 1200): 310, 310P, 910, 910B (A2), 910_93 (A3).
ASCEND_DEVICE_IDS = frozenset({"d100", "d500", "d801", "d802", "d803"})
#: Kunpeng KAE physical and virtual functions: ZIP a250/a251, SEC a255/a256, HPRE a258/a259.
KAE_DEVICE_IDS = frozenset({"a250", "a251", "a255", "a256", "a258", "a259"})
#: KAE kernel modules (HPRE, SEC, ZIP engines).
KAE_KERNEL_MODULES = frozenset({"hisi_hpre", "hisi_sec2", "hisi_zip"})


@dataclass(frozen=True)
class PciMatch:
    """A PCI function of ``vendor`` whose ``device`` id is one of ``devices`` and whose class starts
    with ``class_prefix`` (empty: any class). Values are NFD's: lower-case hex without ``0x``."""

    vendor: str
    devices: frozenset[str]
    class_prefix: str = ""

    def matches(self, attrs: Mapping[str, Any]) -> bool:
        return (str(attrs.get("vendor", "")).lower() == self.vendor
                and str(attrs.get("device", "")).lower() in self.devices
                and str(attrs.get("class", "")).lower().startswith(self.class_prefix))


@dataclass(frozen=True)
class FeatureDiscovery:
    """Which raw NFD features mean "this node has the operator's devices".

    Example: ``FeatureDiscovery(pci=(PciMatch("19e5", ASCEND_DEVICE_IDS, "12"),))`` is true for a
    NodeFeature listing a ``pci.device`` instance ``{vendor: 19e5, class: 1200, device: d802}`` and
    false for one listing only the ZIP engine ``{vendor: 19e5, class: 1200, device: a250}``.
    """

    pci: tuple[PciMatch, ...] = ()
    kernel_modules: frozenset[str] = field(default_factory=frozenset)

    def matches(self, node_feature: Mapping[str, Any]) -> bool:
        """True if ``node_feature`` (a NodeFeature object) shows a matching device or module.

        Malformed sections are treated as absent (never an exception).
        """
        features = _dict(_dict(node_feature.get("spec")).get("features"))
        if self.kernel_modules:
            modules = _dict(_dict(_dict(features.get("flags")).get("kernel.loadedmodule")).get("elements"))
            if any(m in modules for m in self.kernel_modules):
                return True
        if self.pci:
            elements = _dict(_dict(features.get("instances")).get("pci.device")).get("elements")
            for inst in elements if isinstance(elements, list) else []:
                attrs = _dict(_dict(inst).get("attributes"))
                if any(p.matches(attrs) for p in self.pci):
                    return True
        return False


def feature_node_name(node_feature: Mapping[str, Any]) -> str:
    """The node a NodeFeature object describes (its ``nfd.node.kubernetes.io/node-name`` label)."""
    return str(_dict(_dict(node_feature.get("metadata")).get("labels")).get(NODE_NAME_LABEL) or "")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
