"""Node Feature Discovery controllers: publish ``NodeFeature`` objects, apply ``NodeFeatureRule`` outputs.

:class:`NodeFeatureReporter` (nfd-worker's role) keeps one ``NodeFeature`` per node in
namespace ``node-feature-discovery`` (name = node name, label
``nfd.node.kubernetes.io/node-name``, owner reference to the Node):

* simulated nodes (annotation ``kwok.x-k8s.io/node: fake``) get the raw features of the
  hardware profile named by ``suanli.io/hardware-profile``;
* the real host (annotation ``suanli.io/runtime: process``) gets ``discover()``'s features
  (default :func:`~suanli.node.nfd.sources.discover_host`, run once and cached);
* other nodes are left alone (someone else may publish their features).

:class:`NodeFeatureRuleController` (nfd-master's role) computes for every Node, from all
``NodeFeature`` objects labelled for it (merged in ``namespace/name`` order):
NFD's default labels, the objects' ``spec.labels`` and the outputs of every
``NodeFeatureRule`` (sorted by name) -- labels, annotations, taints, extended resources --
and applies them. What it set is recorded in node annotations (comma-separated, sorted;
names in ``feature.node.kubernetes.io/`` are stored without that prefix, as upstream):

* ``nfd.node.kubernetes.io/feature-labels``, ``.../feature-annotations``,
  ``.../extended-resources``, ``.../taints`` (``key=value:effect`` or ``key:effect``).

Only those keys are ever changed or removed: a label that a rule stops producing is
deleted, other writers' labels, annotations, taints and resources are untouched.
Extended resources go to ``status.capacity`` and ``status.allocatable`` (status patch, sent
before the metadata patch so a failed write never loses track of a resource). Rules are
compiled once per change of the rule set; per node, outputs are cached by the rule-set
generation and the NodeFeature resourceVersions, and a node is patched only when its
applied state differs. Rule errors become ``Warning`` Events on the NodeFeatureRule
(reason ``RuleError``), once per rule object version and message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj, deep_copy, now_rfc3339
from suanli.client.protocol import Client
from suanli.node.devices.api import PROFILE_ANNOTATION
from suanli.node.nfd.crds import NODE_FEATURE_RULES, NODE_FEATURES
from suanli.node.nfd.defaults import default_labels
from suanli.node.nfd.features import NODE_NAME_LABEL, Features, node_feature_object, parse_node_feature
from suanli.node.nfd.rules import CompiledRuleSet, compile_rules
from suanli.node.nfd.sources import discover_host
from suanli.node.nfd.validation import DEFAULT_DENIED_NS, FEATURE_NS, check_label, prefixed
from suanli.node.profiles import HardwareProfile, load_profile
from suanli.runtime.clock import Clock
from suanli.runtime.controller import QueueController
from suanli.runtime.informer import object_key
from suanli.wire import EVENTS, KWOK_NODE_ANNOTATION, MANAGED_BY_LABEL, NAMESPACES, NODES, RUNTIME_ANNOTATION
from suanli.wire import NFD_EXTENDED_RESOURCES_ANNOTATION as EXTENDED_RESOURCES_ANNOTATION
from suanli.wire import NFD_FEATURE_ANNOTATIONS_ANNOTATION as FEATURE_ANNOTATIONS_ANNOTATION
from suanli.wire import NFD_FEATURE_LABELS_ANNOTATION as FEATURE_LABELS_ANNOTATION
from suanli.wire import NFD_TAINTS_ANNOTATION as TAINTS_ANNOTATION

__all__ = [
    "EXTENDED_RESOURCES_ANNOTATION",
    "FEATURE_ANNOTATIONS_ANNOTATION",
    "FEATURE_LABELS_ANNOTATION",
    "KWOK_NODE_ANNOTATION",
    "NFD_NAMESPACE",
    "PROFILE_ANNOTATION",
    "RUNTIME_ANNOTATION",
    "TAINTS_ANNOTATION",
    "NodeFeatureReporter",
    "NodeFeatureRuleController",
    "NodeOutputs",
    "RuleControllerStats",
    "plan_node_patches",
]

log = logging.getLogger(__name__)


NFD_NAMESPACE = "node-feature-discovery"
REPORTER_NAME = "suanli-nfd-worker"
_NODE_INDEX = "node"
_RULE_NAME_RE = re.compile(r"NodeFeatureRule '([^']*)'")


def _meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _rv(obj: Obj) -> str:
    return str(_meta(obj).get("resourceVersion") or "")


class _Worker(QueueController):
    """Node-name keys on the reconcile runtime (:class:`~suanli.runtime.controller.QueueController`);
    subclasses watch Nodes first and implement ``_sync``. ``ready`` is set once the informers
    have synced and every node is queued; ``_prepare`` runs before the informers start."""

    def __init__(self, client: Client, *, workers: int, clock: Clock | None, name: str) -> None:
        self.name = name
        super().__init__(client, clock=clock, workers=workers)
        self.ready = asyncio.Event()  # informers synced, workers running

    async def _prepare(self) -> None:
        """Hook run before the informers start."""

    async def _sync(self, key: str) -> None:
        raise NotImplementedError

    async def reconcile(self, key: str) -> float | None:
        await self._sync(key)
        return None

    def _enqueue_all(self) -> None:
        """Queue every node (the first informer watches Nodes)."""
        names = self.informers[0].keys()  # Informer.keys(): the cached object keys
        for name in names:
            self.queue.add(name)

    def on_synced(self) -> None:
        self._enqueue_all()
        self.ready.set()

    async def run(self) -> None:
        """Run until :meth:`stop`."""
        await self._prepare()
        await super().run()


# --------------------------------------------------------------------------- reporter


class NodeFeatureReporter(_Worker):
    """Maintain one ``NodeFeature`` per simulated or process node (see the module docstring).

    ``discover`` returns the real host's features (called once, in a thread);
    ``profiles`` resolves profile names (default :func:`~suanli.node.profiles.load_profile`).
    With ``node_selector`` (a label selector) it reports only for the nodes it selects and leaves
    every other NodeFeature alone (several agents share a cluster; a deleted node's NodeFeature
    goes with it through its owner reference).
    """

    def __init__(
        self,
        client: Client,
        *,
        namespace: str = NFD_NAMESPACE,
        discover: Callable[[], Features] = discover_host,
        profiles: Callable[[str], HardwareProfile] = load_profile,
        workers: int = 4,
        clock: Clock | None = None,
        node_selector: str = "",
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.node_selector = node_selector
        self._discover = discover
        self._profiles = profiles
        self._host_spec: Obj | None = None
        self._profile_specs: dict[str, Obj | None] = {}
        super().__init__(client, workers=workers, clock=clock, name="nfd-worker")
        self.nodes = self.watch(NODES, label_selector=node_selector)
        self.features = self.watch(NODE_FEATURES, namespace)
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_added)
        self.features.add_handler(self._nf_changed, lambda _o, n: self._nf_changed(n), self._nf_changed)

    def _node_added(self, node: Obj) -> None:
        self.queue.add(str(_meta(node).get("name")))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        om, nm = _meta(old), _meta(new)
        if om.get("annotations") != nm.get("annotations") or om.get("uid") != nm.get("uid"):
            self.queue.add(str(nm.get("name")))

    def _nf_changed(self, nf: Obj) -> None:
        self.queue.add(str(_meta(nf).get("name")))


    async def _prepare(self) -> None:
        # Look before creating: on a cluster the namespace comes with the install manifests and
        # the agent's role may read namespaces but not create them.
        try:
            await self.client.get(NAMESPACES, self.namespace)
            return
        except ApiError as err:
            if err.code != 404:
                raise
        try:
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": self.namespace}})
        except ApiError as err:
            if err.code != 409:
                raise

    async def _features_spec(self, node: Obj) -> Obj | None:
        """``spec.features`` for ``node``, or None if this reporter does not publish for it."""
        ann = _meta(node).get("annotations") or {}
        if ann.get(KWOK_NODE_ANNOTATION) == "fake":
            profile = ann.get(PROFILE_ANNOTATION)
            if not profile:
                return None
            if profile not in self._profile_specs:
                try:
                    p = self._profiles(str(profile))
                except KeyError as exc:
                    log.warning("node %s: %s", _meta(node).get("name"), exc)
                    self._profile_specs[profile] = None
                else:
                    self._profile_specs[profile] = Features.from_spec(p.features).to_spec()
            return self._profile_specs[profile]
        if ann.get(RUNTIME_ANNOTATION) == "process":
            if self._host_spec is None:
                features = await asyncio.to_thread(self._discover)
                self._host_spec = features.to_spec()
            return self._host_spec
        return None

    def _desired(self, node: Obj, spec_features: Obj) -> Obj:
        m = _meta(node)
        obj = node_feature_object(str(m["name"]), Features(), namespace=self.namespace)
        obj["spec"]["features"] = deep_copy(spec_features)
        obj["metadata"]["labels"][MANAGED_BY_LABEL] = REPORTER_NAME
        obj["metadata"]["ownerReferences"] = [{
            "apiVersion": "v1", "kind": "Node", "name": m["name"], "uid": m.get("uid", ""),
            "blockOwnerDeletion": False, "controller": False}]
        return obj

    async def _sync(self, name: str) -> None:
        node = self.nodes.get("", name)
        if node is None and self.node_selector:
            return  # not one of this reporter's nodes
        current = self.features.get(self.namespace, name)
        ours = current is not None and (_meta(current).get("labels") or {}).get(MANAGED_BY_LABEL) == REPORTER_NAME
        spec = await self._features_spec(node) if node is not None else None
        if spec is None:
            if ours and current is not None:
                await self._delete(name, current)
            return
        assert node is not None
        desired = self._desired(node, spec)
        if current is None:
            await self.client.create(NODE_FEATURES, desired, self.namespace)
            return
        cm = _meta(current)
        if (current.get("spec") or {}).get("features") == spec and cm.get("ownerReferences") == \
                desired["metadata"]["ownerReferences"] and (cm.get("labels") or {}) == desired["metadata"]["labels"]:
            return
        desired["metadata"]["resourceVersion"] = cm.get("resourceVersion")
        desired["spec"]["labels"] = deep_copy((current.get("spec") or {}).get("labels") or {})
        await self.client.update(NODE_FEATURES, desired, self.namespace)

    async def _delete(self, name: str, current: Obj) -> None:
        try:
            await self.client.delete(NODE_FEATURES, name, self.namespace,
                                     preconditions={"uid": str(_meta(current).get("uid") or "")})
        except ApiError as err:
            if err.code not in (404, 409):
                raise


# --------------------------------------------------------------------------- rule controller


@dataclass
class NodeOutputs:
    """What NFD wants on one node (keys fully prefixed) and the rule warnings that came with it."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    extended: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RuleControllerStats:
    """Counters for benchmarks and tests."""

    compiles: int = 0
    evaluations: int = 0
    syncs: int = 0
    node_patches: int = 0
    status_patches: int = 0
    events: int = 0


def _strip_ns(key: str) -> str:
    return key.removeprefix(FEATURE_NS + "/")


def _names(value: Any) -> set[str]:
    """Parse a tracking annotation: ``"a,b.io/c"`` -> ``{FEATURE_NS/a, b.io/c}``."""
    if not isinstance(value, str) or not value:
        return set()
    return {prefixed(n.strip()) for n in value.split(",") if n.strip()}


def _format_names(keys: Any) -> str:
    return ",".join(sorted(_strip_ns(k) for k in keys))


def _taint_str(t: Obj) -> str:
    value = t.get("value") or ""
    return f"{t.get('key')}={value}:{t.get('effect')}" if value else f"{t.get('key')}:{t.get('effect')}"


def _node_relevant_change(old: Obj, new: Obj) -> bool:
    """Changes that may require re-applying outputs (heartbeats and conditions are ignored)."""
    om, nm = _meta(old), _meta(new)
    if om.get("labels") != nm.get("labels") or om.get("annotations") != nm.get("annotations") \
            or om.get("uid") != nm.get("uid"):
        return True
    if (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints"):
        return True
    os_, ns_ = old.get("status") or {}, new.get("status") or {}
    return bool(os_.get("capacity") != ns_.get("capacity") or os_.get("allocatable") != ns_.get("allocatable"))


def plan_node_patches(node: Obj, desired: NodeOutputs) -> tuple[Obj | None, Obj | None]:
    """Merge patches ``(metadata/spec patch, status patch)`` that bring ``node`` to ``desired``.

    Only keys in ``desired`` or recorded in the tracking annotations are touched. A patch that
    rewrites ``spec.taints`` (a list, replaced whole) carries ``metadata.resourceVersion`` so a
    concurrent change by another writer yields a conflict instead of being lost.
    """
    m = _meta(node)
    labels: dict[str, Any] = m.get("labels") or {}
    ann: dict[str, Any] = m.get("annotations") or {}
    label_patch: dict[str, Any] = {k: v for k, v in desired.labels.items() if labels.get(k) != v}
    for k in _names(ann.get(FEATURE_LABELS_ANNOTATION)) - desired.labels.keys():
        if k in labels:
            label_patch[k] = None
    ann_patch: dict[str, Any] = {k: v for k, v in desired.annotations.items() if ann.get(k) != v}
    for k in _names(ann.get(FEATURE_ANNOTATIONS_ANNOTATION)) - desired.annotations.keys():
        if k in ann:
            ann_patch[k] = None

    status = node.get("status") or {}
    cap: dict[str, Any] = status.get("capacity") or {}
    alloc: dict[str, Any] = status.get("allocatable") or {}
    cap_patch: dict[str, Any] = {}
    alloc_patch: dict[str, Any] = {}
    for k, v in desired.extended.items():
        if str(cap.get(k)) != v:
            cap_patch[k] = v
        if str(alloc.get(k)) != v:
            alloc_patch[k] = v
    for k in _names(ann.get(EXTENDED_RESOURCES_ANNOTATION)) - desired.extended.keys():
        if k in cap:
            cap_patch[k] = None
        if k in alloc:
            alloc_patch[k] = None

    current_taints: list[Obj] = list((node.get("spec") or {}).get("taints") or [])
    managed = {s for s in str(ann.get(TAINTS_ANNOTATION) or "").split(",") if s}
    want = {_taint_str(t): t for t in desired.taints}
    want_slots = {(t["key"], t["effect"]) for t in desired.taints}
    kept = [t for t in current_taints
            if not (_taint_str(t) in managed and _taint_str(t) not in want)
            and not ((t.get("key"), t.get("effect")) in want_slots and _taint_str(t) not in want)]
    have = {_taint_str(t) for t in kept}
    new_taints = kept + [t for s, t in want.items() if s not in have]

    tracking = {
        FEATURE_LABELS_ANNOTATION: _format_names(desired.labels),
        FEATURE_ANNOTATIONS_ANNOTATION: _format_names(desired.annotations),
        EXTENDED_RESOURCES_ANNOTATION: _format_names(desired.extended),
        TAINTS_ANNOTATION: ",".join(sorted(want)),
    }
    for k, v in tracking.items():
        if v and ann.get(k) != v:
            ann_patch[k] = v
        elif not v and k in ann:
            ann_patch[k] = None

    meta_patch: Obj = {}
    if label_patch:
        meta_patch.setdefault("metadata", {})["labels"] = label_patch
    if ann_patch:
        meta_patch.setdefault("metadata", {})["annotations"] = ann_patch
    if [_taint_str(t) for t in new_taints] != [_taint_str(t) for t in current_taints]:
        meta_patch["spec"] = {"taints": new_taints or None}
        meta_patch.setdefault("metadata", {})["resourceVersion"] = m.get("resourceVersion")
    status_patch: Obj | None = None
    if cap_patch or alloc_patch:
        status_patch = {"status": {k: v for k, v in (("capacity", cap_patch), ("allocatable", alloc_patch)) if v}}
    return (meta_patch or None), status_patch


class NodeFeatureRuleController(_Worker):
    """Apply NFD default labels and NodeFeatureRule outputs to Nodes (see the module docstring).

    ``auto_prefix`` / ``denied_namespaces`` are nfd-master's ``DisableAutoPrefix`` gate and
    denied label namespaces; ``event_namespace`` receives Events about (cluster-scoped) rules.
    """

    def __init__(
        self,
        client: Client,
        *,
        workers: int = 4,
        clock: Clock | None = None,
        auto_prefix: bool = True,
        denied_namespaces: tuple[str, ...] = DEFAULT_DENIED_NS,
        event_namespace: str = "default",
        component: str = "nfd-master",
    ) -> None:
        self.client = client
        self.auto_prefix = auto_prefix
        self.denied = denied_namespaces
        self.event_namespace = event_namespace
        self.component = component
        self.stats = RuleControllerStats()
        super().__init__(client, workers=workers, clock=clock, name="nfd-master")
        self.nodes = self.watch(NODES)
        self.features = self.watch(NODE_FEATURES, indexers={_NODE_INDEX: _nf_node})
        self.rules = self.watch(NODE_FEATURE_RULES)
        self._compiled: CompiledRuleSet | None = None
        self._generation = 0
        self._dirty = True
        self._parsed: dict[str, tuple[str, Features, dict[str, str], dict[str, str]]] = {}
        self._outputs: dict[str, tuple[Any, NodeOutputs]] = {}
        self._reported: set[tuple[str, str, str]] = set()
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.features.add_handler(self._nf_changed, self._nf_updated, self._nf_deleted)
        self.rules.add_handler(self._rules_changed, lambda _o, _n: self._rules_changed(_n), self._rules_changed)

    # -- event handlers ------------------------------------------------------------------------

    def _node_added(self, node: Obj) -> None:
        self.queue.add(str(_meta(node).get("name")))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if _node_relevant_change(old, new):
            self.queue.add(str(_meta(new).get("name")))

    def _node_deleted(self, node: Obj) -> None:
        self._outputs.pop(str(_meta(node).get("name")), None)

    def _nf_changed(self, nf: Obj) -> None:
        for node in _nf_node(nf):
            self.queue.add(node)

    def _nf_updated(self, old: Obj, new: Obj) -> None:
        self._nf_changed(old)
        self._nf_changed(new)

    def _nf_deleted(self, nf: Obj) -> None:
        self._parsed.pop(object_key(nf), None)
        self._nf_changed(nf)

    def _rules_changed(self, _rule: Obj) -> None:
        self._dirty = True
        if self.ready.is_set():
            self._enqueue_all()


    # -- computing outputs ---------------------------------------------------------------------

    def _ruleset(self) -> CompiledRuleSet:
        if self._dirty or self._compiled is None:
            self._dirty = False
            self._compiled = compile_rules(self.rules.list(), auto_prefix=self.auto_prefix,
                                           denied_namespaces=self.denied)
            self._generation += 1
            self.stats.compiles += 1
        return self._compiled

    def _node_features(self, objs: list[Obj]) -> tuple[Features, dict[str, str]]:
        """Merged features of ``objs`` and the labels they imply before rules: NFD defaults,
        then the objects' valid ``spec.labels``. Parsed per object version and cached."""
        parsed: list[tuple[str, Features, dict[str, str], dict[str, str]]] = []
        for obj in objs:
            key, rv = object_key(obj), _rv(obj)
            cached = self._parsed.get(key)
            if cached is None or cached[0] != rv:
                feats, raw = parse_node_feature(obj)
                valid = {prefixed(k, self.auto_prefix): v for k, v in raw.items()}
                valid = {k: v for k, v in valid.items() if check_label(k, v, self.denied) is None}
                cached = (rv, feats, valid, default_labels(feats))
                self._parsed[key] = cached
            parsed.append(cached)
        if len(parsed) == 1:  # shared with the cache: the rule engine does not modify features
            _, feats, valid, defaults = parsed[0]
            return feats, {**defaults, **valid}
        merged = Features()
        for _, feats, _, _ in parsed:
            merged.merge(feats)
        labels = default_labels(merged)
        for _, _, valid, _ in parsed:
            labels.update(valid)
        return merged, labels

    def desired_for(self, name: str) -> NodeOutputs:
        """What the node ``name`` should carry now (cached per rule generation and NodeFeature versions)."""
        rules = self._ruleset()
        objs = self.features.by_index(_NODE_INDEX, name)
        key = (self._generation, tuple((object_key(o), _rv(o)) for o in objs))
        cached = self._outputs.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        features, labels = self._node_features(objs)
        out = rules.evaluate(features)
        self.stats.evaluations += 1
        labels.update(out.labels)
        desired = NodeOutputs(labels, dict(out.annotations), list(out.taints), dict(out.extended_resources),
                           list(out.warnings))
        self._outputs[name] = (key, desired)
        return desired

    # -- applying ------------------------------------------------------------------------------

    async def _sync(self, name: str) -> None:
        node = self.nodes.get("", name)
        if node is None:
            self._outputs.pop(name, None)
            return
        self.stats.syncs += 1
        desired = self.desired_for(name)
        if desired.warnings:
            await self._report(desired.warnings)
        meta_patch, status_patch = plan_node_patches(node, desired)
        if status_patch is not None:
            await self.client.patch(NODES, name, status_patch, subresource="status")
            self.stats.status_patches += 1
        if meta_patch is not None:
            await self.client.patch(NODES, name, meta_patch)
            self.stats.node_patches += 1

    async def _report(self, warnings: list[str]) -> None:
        for message in warnings:
            match = _RULE_NAME_RE.search(message)
            if match is None:
                log.debug("nfd rules: %s", message)
                continue
            rule = self.rules.get("", match.group(1))
            if rule is None:
                continue
            m = _meta(rule)
            mark = (str(m.get("uid")), _rv(rule), message)
            if mark in self._reported:
                continue
            if len(self._reported) > 10_000:
                self._reported.clear()
            self._reported.add(mark)
            log.warning("%s", message)
            await self._event(rule, message)

    async def _event(self, rule: Obj, message: str) -> None:
        m = _meta(rule)
        now = now_rfc3339()
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{m.get('name')}.{time.time_ns():x}", "namespace": self.event_namespace},
            "involvedObject": {"apiVersion": rule.get("apiVersion", "nfd.k8s-sigs.io/v1alpha1"),
                               "kind": "NodeFeatureRule", "name": m.get("name"), "uid": m.get("uid"),
                               "resourceVersion": m.get("resourceVersion")},
            "reason": "RuleError",
            "message": message[:1024],
            "type": "Warning",
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(EVENTS, event, self.event_namespace)
            self.stats.events += 1
        except ApiError as err:  # events are best effort
            log.debug("cannot record event for NodeFeatureRule %s: %s", m.get("name"), err)


def _nf_node(nf: Obj) -> list[str]:
    node = (_meta(nf).get("labels") or {}).get(NODE_NAME_LABEL)
    return [str(node)] if node else []
