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
  reason and message) and waits until a node holding a subnet is deleted.

Pod IPs are then allocated from the node's subnet by the node agent.
"""

from __future__ import annotations

import ipaddress
import logging

from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.controllers._controller import QueueController
from suanli.runtime.clock import Clock
from suanli.runtime.events import EventRecorder
from suanli.runtime.informer_factory import SharedInformerFactory
from suanli.wire import NODES

__all__ = ["DEFAULT_CLUSTER_CIDR", "NODES", "NodeIpamController", "check_cluster_cidr", "free_subnet", "lowest_free",
           "subnet_indexes"]

log = logging.getLogger(__name__)

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"


def check_cluster_cidr(cluster_cidr: str, node_mask: int) -> ipaddress.IPv4Network:
    """The cluster CIDR as a network; ValueError naming the problem when it or the node mask is unusable."""
    try:
        cluster = ipaddress.IPv4Network(cluster_cidr, strict=True)
    except ValueError as err:
        raise ValueError(f"invalid cluster CIDR {cluster_cidr!r}: {err}") from err
    if not cluster.prefixlen <= node_mask <= 30:
        raise ValueError(f"node CIDR mask /{node_mask} does not fit the cluster CIDR {cluster_cidr}")
    return cluster


def _node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or []]
    if spec.get("podCIDR") and str(spec["podCIDR"]) not in cidrs:
        cidrs.insert(0, str(spec["podCIDR"]))
    return cidrs


def subnet_indexes(cluster: ipaddress.IPv4Network, mask: int, cidr: str) -> range:
    """Indexes of the ``/mask`` subnets of ``cluster`` that ``cidr`` overlaps (empty when outside or invalid).

    Example: cluster 10.244.0.0/16, mask 24: "10.244.2.0/23" → range(2, 4); "10.0.0.0/24" → range(0).
    """
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return range(0)
    if net.version != 4 or not net.overlaps(cluster):
        return range(0)
    base, size = int(cluster.network_address), 1 << (32 - mask)
    lo = max(int(net.network_address), base)
    hi = min(int(net.broadcast_address), int(cluster.broadcast_address))
    return range((lo - base) // size, (hi - base) // size + 1)


def lowest_free(count: int, used: set[int]) -> int | None:
    """The lowest index in ``range(count)`` not in ``used``; None when all are used."""
    if len(used) >= count and all(i in used for i in range(count)):
        return None
    return next((i for i in range(count) if i not in used), None)


def free_subnet(cluster: ipaddress.IPv4Network, mask: int, taken: set[str]) -> ipaddress.IPv4Network | None:
    """The lowest ``/mask`` subnet of ``cluster`` that overlaps no CIDR in ``taken``; None when full.

    Example: cluster 10.244.0.0/16, mask 24, taken {"10.244.0.0/24", "10.244.2.0/24"} → 10.244.1.0/24.
    """
    used = {i for c in taken for i in subnet_indexes(cluster, mask, c)}
    index = lowest_free(1 << (mask - cluster.prefixlen), used)
    return None if index is None else _subnet(cluster, mask, index)


def _subnet(cluster: ipaddress.IPv4Network, mask: int, index: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((int(cluster.network_address) + (index << (32 - mask)), mask))


class NodeIpamController(QueueController):
    """Assigns ``spec.podCIDR`` to nodes lacking one; construct with a Client and call ``run()``/``stop()``.

    The allocation table (subnet indexes per node) is kept incrementally from the node informer's
    events, so an assignment costs O(subnets), not O(nodes). Nodes that found the range full wait
    (one ``CIDRNotAvailable`` Event each, no retry loop) until a node is deleted.
    """

    name = "node-ipam-controller"

    def __init__(self, client: Client, *, cluster_cidr: str = DEFAULT_CLUSTER_CIDR, node_mask: int = 24,
                 clock: Clock | None = None, factory: SharedInformerFactory | None = None) -> None:
        cluster = check_cluster_cidr(cluster_cidr, node_mask)
        super().__init__(client, clock=clock, workers=1, factory=factory)
        self.cluster = cluster
        self.node_mask = node_mask
        self.events = EventRecorder(client, self.name, clock=self.clock)
        self.nodes = self.watch(NODES)
        self.nodes.add_handler(self._changed, lambda _o, n: self._changed(n), self._deleted)
        self._owned: dict[str, set[int]] = {}  # node name -> subnet indexes it holds (or was just given)
        self._used: dict[int, int] = {}  # subnet index -> number of nodes holding it
        self._waiting: set[str] = set()  # nodes that found the range full

    def _own(self, name: str, indexes: set[int]) -> None:
        for i in self._owned.pop(name, set()):
            self._used[i] -= 1
            if not self._used[i]:
                del self._used[i]
        if indexes:
            self._owned[name] = indexes
            for i in indexes:
                self._used[i] = self._used.get(i, 0) + 1

    def _changed(self, node: Obj) -> None:
        name = str(node["metadata"]["name"])
        cidrs = _node_cidrs(node)
        if cidrs:
            self._waiting.discard(name)
            self._own(name, {i for c in cidrs for i in subnet_indexes(self.cluster, self.node_mask, c)})
        elif name not in self._owned:
            self.queue.add(name)

    def _deleted(self, node: Obj) -> None:
        name = str(node["metadata"]["name"])
        self._waiting.discard(name)
        had = bool(self._owned.get(name))
        self._own(name, set())
        if had:
            for waiting in sorted(self._waiting):
                self.queue.add(waiting)

    async def reconcile(self, key: str) -> None:
        node = self.nodes.get("", key)
        if node is None or _node_cidrs(node) or key in self._owned:
            return
        index = lowest_free(1 << (self.node_mask - self.cluster.prefixlen), set(self._used))
        if index is None:
            if key not in self._waiting:
                # one warning per exhaustion, not per node (5,000 simulated nodes would flood the log)
                log.log(logging.DEBUG if self._waiting else logging.WARNING, "node %s: no pod CIDR left in %s%s",
                        key, self.cluster, "" if self._waiting else " (further nodes wait silently)")
                self._waiting.add(key)
                await self.events.record(node, "Warning", "CIDRNotAvailable",
                                         f"Node {key} status is now: CIDRNotAvailable")
            return
        cidr = str(_subnet(self.cluster, self.node_mask, index))
        self._own(key, {index})  # reserved until the informer shows it (or the patch fails)
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}},
                                    field_manager=self.name)
        except Exception:
            self._own(key, set())
            raise
        log.debug("node %s: pod CIDR %s", key, cidr)
