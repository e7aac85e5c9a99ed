"""Node IPAM: give every Node a pod subnet (``spec.podCIDR`` / ``spec.podCIDRs``), as kube-controller-manager's
range allocator does with ``--allocate-node-cidrs``.

Contract:

* subnets of ``node_mask`` bits (default /24) are carved from ``cluster_cidr`` (default
  ``10.244.0.0/16``, 256 nodes); a node without ``spec.podCIDR`` gets the lowest subnet no
  other node holds;
* a node's subnet is stored on the node and never changed or re-derived: after a restart the
  informer's view of existing nodes is the allocation table, so assignments do not depend on
  discovery order. A node whose ``podCIDR`` lies outside the cluster CIDR keeps it;
* allocations are serialised (one worker) and remembered until the informer shows them, so two
  nodes never get the same subnet;
* when the range is exhausted the node gets a ``CIDRNotAvailable`` Warning Event (upstream's
  reason and message) and is retried with back-off.

Pod IPs are then allocated from the node's subnet by the node agent.
"""

from __future__ import annotations

import ipaddress
import logging

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory

__all__ = ["DEFAULT_CLUSTER_CIDR", "NODES", "NodeIpamController", "free_subnet"]

log = logging.getLogger(__name__)

NODES = GVR("", "v1", "nodes", namespaced=False)
DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"


def _node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or []]
    if spec.get("podCIDR") and str(spec["podCIDR"]) not in cidrs:
        cidrs.insert(0, str(spec["podCIDR"]))
    return cidrs


def free_subnet(cluster: ipaddress.IPv4Network, mask: int, taken: set[str]) -> ipaddress.IPv4Network | None:
    """The lowest ``/mask`` subnet of ``cluster`` that overlaps no CIDR in ``taken``; None when full.

    Example: cluster 10.244.0.0/16, mask 24, taken {"10.244.0.0/24", "10.244.2.0/24"} → 10.244.1.0/24.
    """
    nets = []
    for text in taken:
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    for candidate in cluster.subnets(new_prefix=mask):
        if not any(candidate.overlaps(n) for n in nets if n.version == 4):
            return candidate
    return None


class NodeIpamController(QueueController):
    """Assigns ``spec.podCIDR`` to nodes lacking one; construct with a Client and call ``run()``/``stop()``."""

    name = "node-ipam-controller"

    def __init__(self, client: Client, *, cluster_cidr: str = DEFAULT_CLUSTER_CIDR, node_mask: int = 24,
                 clock: Clock | None = None, factory: SharedInformerFactory | None = None) -> None:
        cluster = ipaddress.IPv4Network(cluster_cidr, strict=True)
        if not cluster.prefixlen <= node_mask <= 30:
            raise ValueError(f"node CIDR mask /{node_mask} does not fit the cluster CIDR {cluster_cidr}")
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.cluster = cluster
        self.node_mask = node_mask
        self.events = EventRecorder(client, self.name, clock=self.clock)
        self.nodes = self.watch(NODES)
        self.nodes.add_handler(self._enqueue, lambda _o, n: self._enqueue(n), lambda _o: None)
        self._pending: dict[str, str] = {}  # node name -> CIDR patched but not yet seen in the informer

    def _enqueue(self, node: Obj) -> None:
        name = str(node["metadata"]["name"])
        if _node_cidrs(node):
            self._pending.pop(name, None)
        else:
            self.queue.add(name)

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get("", key)
        if node is None or _node_cidrs(node) or key in self._pending:
            return
        taken = {c for n in self.nodes.list() for c in _node_cidrs(n)} | set(self._pending.values())
        subnet = free_subnet(self.cluster, self.node_mask, taken)
        if subnet is None:
            await self.events.record(node, "Warning", "CIDRNotAvailable",
                                     f"Node {key} status is now: CIDRNotAvailable")
            raise RuntimeError(f"no pod CIDR left in {self.cluster} for node {key}")
        cidr = str(subnet)
        self._pending[key] = cidr
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                                    field_manager=self.name)
        except Exception:
            self._pending.pop(key, None)
            raise
        log.info("node %s: pod CIDR %s", key, cidr)
