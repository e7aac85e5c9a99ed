"""The latest usage samples of one agent's pods and nodes: the single source every metrics path reads.

An agent records each metrics tick here at the same moment it stages its NodeMetrics/PodMetrics
(:class:`suanli.node.agent.metrics.MetricsWriter`), so ``kubectl top``, the custom metrics API and
the node's ``/metrics`` report the same sample. Node CPU is also integrated into a busy-seconds
counter (``node_cpu_seconds_total``): ``busy += cores x (t - t_prev)`` between two node samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suanli.node.usage.model import PodSample, Usage

__all__ = ["NodeRecordSample", "PodEntry", "SampleBoard"]


@dataclass(frozen=True)
class PodEntry:
    """A pod's last sample with where it runs and its labels."""

    namespace: str
    name: str
    node: str
    labels: dict[str, str]
    sample: PodSample


@dataclass
class NodeRecordSample:
    """A node's last usage, when it was taken, and its integrated CPU busy seconds."""

    usage: Usage
    timestamp: float
    busy_cpu_seconds: float = 0.0
    pods: set[tuple[str, str]] = field(default_factory=set)


class SampleBoard:
    """Latest samples by pod and by node (in-memory; an agent's view, lost on restart)."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], PodEntry] = {}
        self.nodes: dict[str, NodeRecordSample] = {}
        #: integrated pod CPU core-seconds (``pod_cpu_usage_seconds_total``)
        self.pod_cpu_seconds: dict[tuple[str, str], float] = {}
        #: integrated container CPU core-seconds per pod (``container_cpu_usage_seconds_total``)
        self.container_cpu_seconds: dict[tuple[str, str], dict[str, float]] = {}

    def record_pod(self, namespace: str, name: str, node: str, labels: dict[str, str], sample: PodSample) -> None:
        key = (namespace, name)
        old = self.pods.get(key)
        if old is not None and old.node != node and old.node in self.nodes:
            self.nodes[old.node].pods.discard(key)
        if old is not None and sample.timestamp > old.sample.timestamp:
            dt = sample.timestamp - old.sample.timestamp
            self.pod_cpu_seconds[key] = self.pod_cpu_seconds.get(key, 0.0) + old.sample.total().nanocores / 1e9 * dt
            per = self.container_cpu_seconds.setdefault(key, {})
            for cname, u in old.sample.containers.items():
                per[cname] = per.get(cname, 0.0) + u.nanocores / 1e9 * dt
        self.pods[key] = PodEntry(namespace, name, node, labels, sample)
        if node:
            self.nodes.setdefault(node, NodeRecordSample(Usage(), sample.timestamp)).pods.add(key)

    def forget_pod(self, namespace: str, name: str) -> None:
        self.pod_cpu_seconds.pop((namespace, name), None)
        self.container_cpu_seconds.pop((namespace, name), None)
        entry = self.pods.pop((namespace, name), None)
        if entry is not None and entry.node in self.nodes:
            self.nodes[entry.node].pods.discard((namespace, name))

    def record_node(self, name: str, usage: Usage, timestamp: float) -> None:
        rec = self.nodes.get(name)
        if rec is None:
            self.nodes[name] = NodeRecordSample(usage, timestamp)
            return
        if timestamp > rec.timestamp:
            rec.busy_cpu_seconds += rec.usage.nanocores / 1e9 * (timestamp - rec.timestamp)
        rec.usage, rec.timestamp = usage, max(timestamp, rec.timestamp)

    def forget_node(self, name: str) -> None:
        self.nodes.pop(name, None)

    def pods_on(self, node: str) -> list[PodEntry]:
        """The node's pods with a sample, sorted by namespace and name."""
        rec = self.nodes.get(node)
        if rec is None:
            return []
        return [self.pods[k] for k in sorted(rec.pods) if k in self.pods]
