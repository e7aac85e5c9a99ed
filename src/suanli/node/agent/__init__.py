"""Node agents: one framework (:class:`NodeAgent`), two runtimes.

* :class:`SimAgent` — kwok-style simulated nodes (every Node annotated
  ``kwok.x-k8s.io/node: fake``), thousands per process;
* :class:`ProcessAgent` — the real host as a Node, pod containers as local processes.

Both publish ``metrics.k8s.io/v1beta1`` NodeMetrics/PodMetrics (buckets in
:data:`METRICS_BUCKETS`, meant to be volatile in the store).
"""

from __future__ import annotations

from suanli.node.agent.framework import AgentConfig, NodeAgent, NoDevices, extended_requests
from suanli.node.agent.metrics import METRICS_BUCKETS, NODE_METRICS, POD_METRICS, Usage
from suanli.node.agent.process import RUNTIME_ANNOTATION, ProcessAgent, default_node_name
from suanli.node.agent.sim import FAKE_NODE_ANNOTATION, SimAgent

__all__ = [
    "FAKE_NODE_ANNOTATION",
    "METRICS_BUCKETS",
    "NODE_METRICS",
    "POD_METRICS",
    "RUNTIME_ANNOTATION",
    "AgentConfig",
    "NoDevices",
    "NodeAgent",
    "ProcessAgent",
    "SimAgent",
    "Usage",
    "default_node_name",
    "extended_requests",
]
