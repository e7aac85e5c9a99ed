"""Pure rules of the device operators (modelled on the NVIDIA GPU Operator's ClusterPolicy).

* :class:`OperatorConfig` / :class:`Component` describe one operator (NPU, KAE): its CR,
  namespace, discovery selectors and ordered components.
* :func:`active_policy` — singleton: the oldest ``creationTimestamp`` (name breaks ties)
  among policies not being deleted is active; the others are ``ignored``.
* :func:`node_label_patch` — per-node presence/deploy labels (see its docstring).
* :func:`daemonset_state` — DaemonSet readiness exactly as the GPU operator judges it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.objects import Obj
from suanli.apimachinery.selectors import LabelSelector, parse_label_selector
from suanli.controllers.operators.discovery import FeatureDiscovery
from suanli.wire import COMPONENT_LABEL, DEVICE_CLASS_LABEL

__all__ = [
    "COMPONENT_LABEL",
    "DEVICE_CLASS_LABEL",
    "Component",
    "OperatorConfig",
    "active_policy",
    "component_image",
    "component_managed",
    "daemonset_state",
    "discovered",
    "node_label_patch",
]

# Must equal suanli.node.devices.api (controllers may not import node: sibling layers).


@dataclass(frozen=True)
class Component:
    """One operand. ``key`` is its spec section; ``name`` its label/pod component name.

    ``per_node`` components run as a DaemonSet on every node labelled
    ``<domain>.deploy.<name>=true``; cluster-level ones (schedulers, cluster daemons) are
    accepted in the spec but not deployed (reported as ``skipped``).
    """

    key: str
    name: str
    image: str
    tag: str = "latest"
    per_node: bool = True


@dataclass(frozen=True)
class OperatorConfig:
    """Everything that distinguishes one device operator from another."""

    name: str  # npu | kae: DaemonSet name prefix and device class
    group: str
    version: str
    kind: str
    plural: str
    namespace: str
    label_domain: str  # e.g. openfuyao.com/npu → openfuyao.com/npu.deploy.<component>
    discovery_selectors: tuple[str, ...]  # label selectors, ORed: the node has this device
    components: tuple[Component, ...]
    no_nodes_reason: str
    presence_label: str | None = None  # set to "true" on discovered nodes (None: not set)
    # raw NFD features (NodeFeature objects) that also mean "the node has this device"
    feature_discovery: FeatureDiscovery = field(default_factory=FeatureDiscovery)
    repository: str = "cr.openfuyao.cn/openfuyao"

    @property
    def device_class(self) -> str:
        return self.name

    @property
    def deploy_prefix(self) -> str:
        return f"{self.label_domain}.deploy."

    @property
    def operands_label(self) -> str:
        return f"{self.deploy_prefix}operands"

    def deploy_label(self, component: Component) -> str:
        return f"{self.deploy_prefix}{component.name}"

    def daemonset_name(self, component: Component) -> str:
        return f"{self.name}-{component.name}"

    def selectors(self) -> list[LabelSelector]:
        return [parse_label_selector(s) for s in self.discovery_selectors]


def discovered(labels: Mapping[str, str], selectors: Iterable[LabelSelector]) -> bool:
    """True if any discovery selector matches the node's labels."""
    return any(s.matches(labels) for s in selectors)


def node_label_patch(config: OperatorConfig, labels: Mapping[str, str], *, present: bool,
                     active: bool) -> dict[str, str | None]:
    """Label changes for one node (a merge patch: ``None`` removes the label).

    * device present and a policy active: every per-node component's deploy label is set
      to ``"true"`` **unless it already has a non-empty value** (an explicit ``"false"``
      opts the node out of that component); the presence label (if any) is set;
    * ``<domain>.deploy.operands=false`` on the node strips every component deploy label
      (whatever its value) — nothing of this operator runs there;
    * device absent or no active policy: deploy labels equal to ``"true"`` and the presence
      label are removed; explicit ``"false"`` opt-outs stay.

    Example: labels ``{npu.present-rule: true, openfuyao.com/npu.deploy.driver: "false"}`` →
    ``{deploy.device-plugin: "true", deploy.oci-runtime: "true", …}`` (driver untouched).
    """
    patch: dict[str, str | None] = {}
    keys = [config.deploy_label(c) for c in config.components if c.per_node]
    on = present and active
    if config.presence_label:
        want = "true" if on else None
        if labels.get(config.presence_label) != want:
            patch[config.presence_label] = want
    if not on:
        patch.update({k: None for k in keys if labels.get(k) == "true"})
    elif labels.get(config.operands_label) == "false":
        patch.update({k: None for k in keys if k in labels})
    else:
        patch.update({k: "true" for k in keys if not labels.get(k)})
    return patch


def _created(obj: Obj) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return str(m.get("creationTimestamp") or ""), str(m.get("name") or "")


def active_policy(policies: Iterable[Obj]) -> Obj | None:
    """The singleton in force: oldest ``creationTimestamp``, then name; deleting ones never win."""
    live = [p for p in policies if not (p.get("metadata") or {}).get("deletionTimestamp")]
    return min(live, key=_created) if live else None


def component_managed(section: Any) -> bool:
    """``managed`` (default true; ``enabled`` accepted as an alias, as in the GPU operator)."""
    if not isinstance(section, dict):
        return True
    for key in ("managed", "enabled"):
        value = section.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value.lower() != "false"
    return True


def component_image(config: OperatorConfig, component: Component, section: Any) -> tuple[str, str]:
    """``(image, imagePullPolicy)`` from ``imageSpec`` (or the section itself).

    Accepted fields: ``repository``, ``image`` or ``name``, ``tag`` or ``version``,
    ``imagePullPolicy`` (or ``pullPolicy``). A value containing ``/`` or ``:`` in ``image``
    is used as-is when no repository is given. Example: ``{repository: cr.example/ascend,
    image: device-plugin, tag: v6.0}`` → ``cr.example/ascend/device-plugin:v6.0``.
    """
    spec: dict[str, Any] = {}
    if isinstance(section, dict):
        spec = {**section, **(section.get("imageSpec") or {})}
    repo = str(spec.get("repository") or config.repository).rstrip("/")
    name = str(spec.get("image") or spec.get("name") or component.image)
    tag = str(spec.get("tag") or spec.get("version") or component.tag)
    policy = str(spec.get("imagePullPolicy") or spec.get("pullPolicy") or "IfNotPresent")
    if ("/" in name and not spec.get("repository")) or ":" in name:
        image = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:{tag}"
    else:
        image = f"{repo}/{name}:{tag}"
    return image, policy


def daemonset_state(ds: Obj | None) -> tuple[str, str]:
    """``(ready|notReady, message)`` of a component DaemonSet (GPU operator rules).

    Not yet observed by the DaemonSet controller (``observedGeneration`` behind) → notReady;
    ``desiredNumberScheduled == 0`` → ready; ``numberUnavailable != 0`` → notReady;
    otherwise ready only when updated == available == desired.
    """
    if ds is None:
        return "notReady", "DaemonSet not created yet"
    status = ds.get("status") or {}
    gen = int((ds.get("metadata") or {}).get("generation") or 0)
    if not status or int(status.get("observedGeneration") or 0) < gen:
        return "notReady", "DaemonSet not yet observed"
    desired = int(status.get("desiredNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    if desired == 0:
        return "ready", "no nodes selected"
    if int(status.get("numberUnavailable") or 0) != 0:
        return "notReady", f"{available}/{desired} pods available"
    if desired == available == updated:
        return "ready", f"{available}/{desired} pods available"
    return "notReady", f"{updated}/{desired} pods updated, {available} available"
