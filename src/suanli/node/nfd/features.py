"""Node Feature Discovery feature model and the ``NodeFeature`` object shape.

A :class:`Features` value holds, per feature name (``<domain>.<feature>``, e.g.
``cpu.cpuid``), elements of one of three types, mirroring upstream NFD:

* flags -- a set of names (``cpu.cpuid``, ``kernel.loadedmodule``),
* attributes -- a ``name -> value`` mapping (``kernel.version``),
* instances -- a list of attribute mappings (``pci.device``, one per device).

The ``NodeFeature`` object (``nfd.k8s-sigs.io/v1alpha1``) serialises them as
upstream does::

    spec:
      features:
        flags:      {cpu.cpuid: {elements: {AVX2: {}, ...}}}
        attributes: {kernel.version: {elements: {major: "6", ...}}}
        instances:  {pci.device: {elements: [{attributes: {vendor: "10de"}}]}}
      labels: {...}

Feature values handed to the rule engine are treated as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.wire import NFD_NODE_NAME_LABEL as NODE_NAME_LABEL

__all__ = [
    "NFD_API_VERSION",
    "NODE_FEATURE_KIND",
    "NODE_NAME_LABEL",
    "Features",
    "node_feature_object",
    "parse_node_feature",
]

NFD_API_VERSION = "nfd.k8s-sigs.io/v1alpha1"
NODE_FEATURE_KIND = "NodeFeature"


@dataclass
class Features:
    """Discovered features of one node, keyed by lower-case ``domain.feature`` name."""

    flags: dict[str, set[str]] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    instances: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def copy(self) -> Features:
        """Return an independent copy (element containers are copied too)."""
        return Features(
            flags={k: set(v) for k, v in self.flags.items()},
            attributes={k: dict(v) for k, v in self.attributes.items()},
            instances={k: [dict(i) for i in v] for k, v in self.instances.items()},
        )

    def merge(self, other: Features) -> Features:
        """Merge ``other`` into ``self`` in place (flags union, attributes
        overwrite, instances replace per feature) and return ``self``."""
        for name, flags in other.flags.items():
            self.flags.setdefault(name, set()).update(flags)
        for name, attrs in other.attributes.items():
            self.attributes.setdefault(name, {}).update(attrs)
        for name, inst in other.instances.items():
            self.instances[name] = [dict(i) for i in inst]
        return self

    def names(self) -> set[str]:
        """All feature names present with any type."""
        return set(self.flags) | set(self.attributes) | set(self.instances)

    def to_spec(self) -> Obj:
        """Render as ``spec.features`` of a NodeFeature (keys sorted)."""
        return {
            "flags": {
                name: {"elements": {e: {} for e in sorted(self.flags[name])}} for name in sorted(self.flags)
            },
            "attributes": {
                name: {"elements": dict(sorted(self.attributes[name].items()))}
                for name in sorted(self.attributes)
            },
            "instances": {
                name: {"elements": [{"attributes": dict(sorted(i.items()))} for i in self.instances[name]]}
                for name in sorted(self.instances)
            },
        }

    @classmethod
    def from_spec(cls, spec_features: Any) -> Features:
        """Parse ``spec.features`` of a NodeFeature; malformed parts are ignored.

        Feature names are lower-cased, element values coerced to ``str``.
        """
        out = cls()
        if not isinstance(spec_features, dict):
            return out
        for name, body in _items(spec_features.get("flags")):
            elements = body.get("elements") if isinstance(body, dict) else None
            out.flags[name.lower()] = {str(k) for k in elements} if isinstance(elements, dict) else set()
        for name, body in _items(spec_features.get("attributes")):
            elements = body.get("elements") if isinstance(body, dict) else None
            out.attributes[name.lower()] = (
                {str(k): _str(v) for k, v in elements.items()} if isinstance(elements, dict) else {}
            )
        for name, body in _items(spec_features.get("instances")):
            elements = body.get("elements") if isinstance(body, dict) else None
            insts: list[dict[str, str]] = []
            for item in elements if isinstance(elements, list) else []:
                attrs = item.get("attributes") if isinstance(item, dict) else None
                insts.append({str(k): _str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {})
            out.instances[name.lower()] = insts
        return out


def node_feature_object(
    node_name: str,
    features: Features,
    labels: dict[str, str] | None = None,
    *,
    namespace: str = "node-feature-discovery",
    name: str | None = None,
) -> Obj:
    """Build a ``NodeFeature`` object for ``node_name`` (object name defaults
    to the node name, labelled with :data:`NODE_NAME_LABEL` as upstream)."""
    return {
        "apiVersion": NFD_API_VERSION,
        "kind": NODE_FEATURE_KIND,
        "metadata": {
            "name": name or node_name,
            "namespace": namespace,
            "labels": {NODE_NAME_LABEL: node_name},
        },
        "spec": {"features": features.to_spec(), "labels": dict(labels or {})},
    }


def parse_node_feature(obj: Obj) -> tuple[Features, dict[str, str]]:
    """Return ``(features, spec.labels)`` of a NodeFeature object."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    labels = spec.get("labels")
    return (
        Features.from_spec(spec.get("features")),
        {str(k): _str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, dict) else []


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
