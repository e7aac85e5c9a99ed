"""The cluster-policy state machine shared by the NPU and KAE operators.

One reconcile (a single work-queue key; the policy is a singleton) does, in order:

1. **Singleton**: :func:`~suanli.controllers.operators.state.active_policy` picks the policy
   in force; every other one gets ``status.state: ignored`` and is not reconciled.
2. **Node labels**: for each node, presence is decided by the raw NFD features of its
   ``NodeFeature`` objects (:class:`~suanli.controllers.operators.discovery.FeatureDiscovery`)
   or, ORed, the discovery label selectors, and
   :func:`~suanli.controllers.operators.state.node_label_patch` sets/removes the presence
   and per-component deploy labels (explicit ``false`` wins; ``deploy.operands=false``
   strips). With no active policy, the labels it set are removed.
3. **States** in component order (all run; not-ready ones are collected):
   unmanaged (``managed: false``) → its DaemonSet is deleted, state ``disabled``;
   cluster-level → ``skipped``; no discovered node → no DaemonSet is created and the state
   counts as ``ready``; otherwise the DaemonSet ``<operator>-<component>`` in the operator
   namespace (created if missing) with ``nodeSelector: {<deploy label>: "true"}``, pod labels
   ``suanli.io/device-class`` / ``suanli.io/operator-component`` and a controller
   ownerReference to the policy, judged by
   :func:`~suanli.controllers.operators.state.daemonset_state`.
4. **Status**: ``state`` ``ready|notReady``, ``namespace``, ``components.<name>``
   ``{state, daemonSet?, message}``, ``conditions`` (``Ready``: True/``Reconciled``,
   True/``No<X>Nodes``, False/``OperandNotReady`` "states not ready: [a b]", False/
   ``ReconcileFailed``). Not ready → reconciled again after ``requeue_seconds``.

Deleting the policy deletes its DaemonSets through ownerReferences and the garbage
collector, and step 2 clears the deploy labels.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj, deep_copy, format_time
from suanli.client.protocol import Client
from suanli.controllers.operators.discovery import FeatureDiscovery, feature_node_name
from suanli.controllers.operators.state import (
    COMPONENT_LABEL,
    DEVICE_CLASS_LABEL,
    Component,
    OperatorConfig,
    active_policy,
    component_image,
    component_managed,
    daemonset_state,
    discovered,
    node_label_patch,
)
from suanli.runtime.clock import Clock
from suanli.runtime.controller import QueueController
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import DAEMONSETS, NAMESPACES, NODE_FEATURES, NODES
from suanli.wire import MANAGED_BY_LABEL as MANAGED_BY

__all__ = ["SPEC_HASH_ANNOTATION", "ClusterPolicyController"]


SPEC_HASH_ANNOTATION = "suanli.io/operator-spec-hash"
KEY = "policy"


class ClusterPolicyController(QueueController):
    """Reconciles one operator's cluster policies on the reconcile runtime (one key: the operator's
    state machine runs as a whole); ``await run()`` until ``await stop()``."""

    def __init__(self, client: Client, config: OperatorConfig, *, clock: Clock | None = None,
                 discovery_selectors: tuple[str, ...] | None = None, requeue_seconds: float = 5.0,
                 factory: SharedInformerFactory | None = None,
                 feature_discovery: FeatureDiscovery | None = None) -> None:
        """``discovery_selectors`` / ``feature_discovery`` replace the operator's defaults."""
        self.name = f"{config.name}-operator"
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.config = config
        self.requeue_seconds = requeue_seconds
        self.selectors = (config if discovery_selectors is None
                          else replace(config, discovery_selectors=discovery_selectors)).selectors()
        self.features = config.feature_discovery if feature_discovery is None else feature_discovery
        self.policy_gvr = GVR(config.group, config.version, config.plural, namespaced=False)
        self.policies = self.watch(self.policy_gvr)
        self.nodes = self.watch(NODES)
        self.daemonsets = self.watch(DAEMONSETS, config.namespace, label_selector=f"{MANAGED_BY}={self.manager}")
        self.node_features = self.watch(NODE_FEATURES)
        # Node labelling is incremental: only nodes added or relabelled since the last pass are
        # looked at, unless the policy's activeness changed (then every node is).
        self._dirty_nodes: set[str] = set()
        self._discovered: set[str] = set()  # cached nodes that have the device
        # NodeFeature "namespace/name" -> (node, its raw features show the device)
        self._feature_hits: dict[str, tuple[str, bool]] = {}
        self._feature_nodes: dict[str, int] = {}  # node -> how many of its NodeFeatures show the device
        self._labelled_for: bool | None = None  # ``active`` of the last complete pass over all nodes
        self.nodes_examined = 0  # nodes looked at by label passes so far (a cost counter)
        enqueue = self._enqueue
        self.policies.add_handler(enqueue, lambda _o, _n: self._enqueue(), enqueue)
        self.daemonsets.add_handler(enqueue, lambda _o, _n: self._enqueue(), enqueue)
        self.nodes.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        self.node_features.add_handler(self._on_feature, lambda _o, n: self._on_feature(n), self._on_feature_delete)

    @property
    def manager(self) -> str:
        return f"{self.config.name}-operator"

    def _enqueue(self, _obj: Obj | None = None) -> None:
        self.queue.add(KEY)

    def present(self, name: str, labels: dict[str, str]) -> bool:
        """The node has this operator's devices: its raw NFD features or a discovery selector say so."""
        return self._feature_nodes.get(name, 0) > 0 or discovered(labels, self.selectors)

    def _node_changed(self, node: Obj) -> None:
        name = _name(node)
        self._recheck(name, (node.get("metadata") or {}).get("labels") or {})

    def _recheck(self, name: str, labels: dict[str, str]) -> None:
        if self.present(name, labels):
            self._discovered.add(name)
        else:
            self._discovered.discard(name)
        self._dirty_nodes.add(name)
        self._enqueue()

    def _set_feature_hit(self, key: str, hit: tuple[str, bool] | None) -> None:
        old = self._feature_hits.pop(key, None)
        if old is not None and old[1]:
            self._feature_nodes[old[0]] -= 1
            if not self._feature_nodes[old[0]]:
                del self._feature_nodes[old[0]]
        if hit is not None:
            self._feature_hits[key] = hit
            if hit[1]:
                self._feature_nodes[hit[0]] = self._feature_nodes.get(hit[0], 0) + 1
        for name in {h[0] for h in (old, hit) if h is not None and h[0]}:
            node = self.nodes.get("", name)
            if node is not None:
                self._node_changed(node)

    def _on_feature(self, nf: Obj) -> None:
        hit = (feature_node_name(nf), self.features.matches(nf))
        key = _key(nf)
        if self._feature_hits.get(key) != hit:
            self._set_feature_hit(key, hit)

    def _on_feature_delete(self, nf: Obj) -> None:
        self._set_feature_hit(_key(nf), None)

    def _on_node_add(self, node: Obj) -> None:
        self._node_changed(node)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            self._node_changed(new)

    def _on_node_delete(self, node: Obj) -> None:
        name = _name(node)
        self._discovered.discard(name)
        self._dirty_nodes.discard(name)
        self._enqueue()

    def on_synced(self) -> None:
        self._enqueue()

    async def on_error(self, key: str, err: Exception) -> None:
        await self._report_failure(err)

    # -- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: str = KEY) -> float | None:
        """One pass of the state machine (``key`` is always :data:`KEY`); returns a requeue delay
        while not ready."""
        policies = self.policies.list()
        active = active_policy(policies)
        for p in policies:
            if p is not active and not (p.get("metadata") or {}).get("deletionTimestamp"):
                await self._write_status(p, {"state": "ignored", "namespace": self.config.namespace,
                                             "components": None},
                                         ("False", "Ignored", f"{self.config.kind} {_name(active)} is active"))
        present = await self._label_nodes(active is not None)
        if active is None:
            return None
        await self._ensure_namespace()
        states: dict[str, Obj] = {}
        not_ready: list[str] = []
        for comp in self.config.components:
            state = await self._reconcile_component(active, comp, present)
            states[comp.name] = state
            if state["state"] == "notReady":
                not_ready.append(comp.name)
        if not_ready:
            cond = ("False", "OperandNotReady", f"states not ready: [{' '.join(not_ready)}]")
        elif not present:
            cond = ("True", self.config.no_nodes_reason, f"no node with {self.config.name.upper()} devices")
        else:
            cond = ("True", "Reconciled", "all components are ready")
        status = {"state": "notReady" if not_ready else "ready", "namespace": self.config.namespace,
                  "components": states}
        await self._write_status(active, status, cond)
        return self.requeue_seconds if not_ready else None

    async def _label_nodes(self, active: bool) -> int:
        """Apply per-node labels; returns how many nodes have the device.

        Looks at every cached node when ``active`` differs from the last complete pass (or
        there was none), otherwise only at nodes added or relabelled since; a failed patch
        leaves the nodes not yet done for the next pass. The count is kept by the node
        handlers, so a pass costs O(nodes looked at), not O(all nodes).
        """
        if self._labelled_for != active:
            todo = [_name(n) for n in self.nodes.list()]
            self._dirty_nodes.clear()
            full = True
        else:
            todo = sorted(self._dirty_nodes)
            self._dirty_nodes.clear()
            full = False
        self.nodes_examined += len(todo)
        for i, name in enumerate(todo):
            node = self.nodes.get("", name)
            if node is None:
                continue
            labels = (node.get("metadata") or {}).get("labels") or {}
            patch = node_label_patch(self.config, labels, present=self.present(name, labels), active=active)
            if not patch:
                continue
            try:
                await self.client.patch(NODES, name, {"metadata": {"labels": patch}})
            except ApiError as err:
                if err.code != 404:
                    self._dirty_nodes.update(todo[i:])
                    raise
            except BaseException:
                self._dirty_nodes.update(todo[i:])
                raise
        if full:
            self._labelled_for = active
        return len(self._discovered)

    async def _ensure_namespace(self) -> None:
        try:
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": self.config.namespace}})
        except ApiError as err:
            if err.code != 409:
                raise

    async def _reconcile_component(self, policy: Obj, comp: Component, present: int) -> Obj:
        section = (policy.get("spec") or {}).get(comp.key)
        name = self.config.daemonset_name(comp)
        existing = self.daemonsets.get(self.config.namespace, name)
        if not component_managed(section):
            if existing is not None:
                await self._delete_ds(name)
            return {"state": "disabled", "message": "managed: false"}
        if not comp.per_node:
            return {"state": "skipped", "message": "cluster-level component: not deployed by Suanli"}
        if not present:
            return {"state": "ready", "message": f"no node with {self.config.name.upper()} devices"}
        desired = self._daemonset(policy, comp, section)
        if existing is None:
            try:
                await self.client.create(DAEMONSETS, desired, self.config.namespace)
            except ApiError as err:
                if err.code != 409:
                    raise
            return {"state": "notReady", "daemonSet": name, "message": "DaemonSet created"}
        if _annotation(existing, SPEC_HASH_ANNOTATION) != _annotation(desired, SPEC_HASH_ANNOTATION) or \
                _uid_of_owner(existing) != (policy.get("metadata") or {}).get("uid"):
            new = deep_copy(existing)
            new["metadata"]["labels"] = desired["metadata"]["labels"]
            new["metadata"]["annotations"] = {**(new["metadata"].get("annotations") or {}),
                                              **desired["metadata"]["annotations"]}
            new["metadata"]["ownerReferences"] = desired["metadata"]["ownerReferences"]
            new["spec"] = desired["spec"]
            await self.client.update(DAEMONSETS, new, self.config.namespace)
            return {"state": "notReady", "daemonSet": name, "message": "DaemonSet updated"}
        state, message = daemonset_state(existing)
        return {"state": state, "daemonSet": name, "message": message}

    async def _delete_ds(self, name: str) -> None:
        try:
            await self.client.delete(DAEMONSETS, name, self.config.namespace, propagation_policy="Background")
        except ApiError as err:
            if err.code != 404:
                raise

    def _daemonset(self, policy: Obj, comp: Component, section: Any) -> Obj:
        cfg = self.config
        name = cfg.daemonset_name(comp)
        image, pull = component_image(cfg, comp, section)
        section = section if isinstance(section, dict) else {}
        container: Obj = {"name": comp.name, "image": image, "imagePullPolicy": pull}
        if isinstance(section.get("env"), list):
            container["env"] = deep_copy(section["env"])
        if isinstance(section.get("args"), list):
            container["args"] = [str(a) for a in section["args"]]
        if isinstance(section.get("resources"), dict):
            container["resources"] = deep_copy(section["resources"])
        tolerations = [*(((policy.get("spec") or {}).get("daemonsets") or {}).get("tolerations") or []),
                       *(section.get("tolerations") or [])]
        pod_spec: Obj = {"nodeSelector": {cfg.deploy_label(comp): "true"}, "containers": [container]}
        if tolerations:
            pod_spec["tolerations"] = deep_copy(tolerations)
        pod_labels = {"app": name, DEVICE_CLASS_LABEL: cfg.device_class, COMPONENT_LABEL: comp.name}
        spec: Obj = {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec}}
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        pm = policy["metadata"]
        return {
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {
                "name": name, "namespace": cfg.namespace,
                "labels": {"app": name, MANAGED_BY: self.manager, "app.kubernetes.io/component": comp.name},
                "annotations": {SPEC_HASH_ANNOTATION: digest},
                "ownerReferences": [{"apiVersion": f"{cfg.group}/{cfg.version}", "kind": cfg.kind,
                                     "name": pm["name"], "uid": pm.get("uid"), "controller": True,
                                     "blockOwnerDeletion": True}],
            },
            "spec": spec,
        }

    # -- status ----------------------------------------------------------------------------------

    def _now(self) -> str:
        return format_time(datetime.fromtimestamp(self.clock.now(), UTC))

    async def _write_status(self, policy: Obj, status: Obj, cond: tuple[str, str, str]) -> None:
        old = policy.get("status") or {}
        old_ready = next((c for c in old.get("conditions") or [] if c.get("type") == "Ready"), None)
        value, reason, message = cond
        same = old_ready is not None and old_ready.get("status") == value
        ready = {"type": "Ready", "status": value, "reason": reason, "message": message,
                 "lastTransitionTime": old_ready.get("lastTransitionTime") if same and old_ready else self._now()}
        full = {**status, "conditions": [ready]}
        if {k: old.get(k) for k in full} == full:
            return
        try:
            await self.client.patch(self.policy_gvr, _name(policy), {"status": full}, subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise

    async def _report_failure(self, err: Exception) -> None:
        active = active_policy(self.policies.list())
        if active is None:
            return
        status = {**(active.get("status") or {}), "state": "notReady"}
        status.pop("conditions", None)
        with contextlib.suppress(Exception):
            await self._write_status(active, status, ("False", "ReconcileFailed", str(err)[:300]))


def _name(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name") or "")


def _key(obj: Obj) -> str:
    m = obj.get("metadata") or {}
    return f"{m.get('namespace') or ''}/{m.get('name') or ''}"


def _annotation(obj: Obj, key: str) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(key) or "")


def _uid_of_owner(obj: Obj) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return ""
