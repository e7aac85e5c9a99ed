"""``metrics.k8s.io/v1beta1`` objects (NodeMetrics, PodMetrics) and a writer that keeps them fresh.

Shapes follow metrics-server: ``usage.cpu`` in nanocores (``"250000000n"`` = 250m),
``usage.memory`` in KiB (``"524288Ki"`` = 512Mi), ``timestamp`` of the sample and
``window`` over which CPU was averaged; ``metadata.labels`` copy the node's / pod's
labels so ``kubectl top … -l`` selects. The buckets are volatile (not persisted).
"""

from __future__ import annotations

import asyncio
import contextlib

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.client.protocol import Client
from suanli.node.agent.status import rfc3339
from suanli.node.usage.board import SampleBoard
from suanli.node.usage.model import PodSample, Usage
from suanli.runtime.clock import Clock
from suanli.wire import NODE_METRICS, POD_METRICS

__all__ = [
    "METRICS_BUCKETS",
    "NODE_METRICS",
    "POD_METRICS",
    "MetricsWriter",
    "Usage",
    "node_metrics",
    "pod_metrics",
]

#: Store buckets of the two kinds; mark them volatile in the Store.
METRICS_BUCKETS = frozenset({"metrics.k8s.io/nodes", "metrics.k8s.io/pods"})
API_VERSION = "metrics.k8s.io/v1beta1"


def node_metrics(name: str, usage: Usage, timestamp: float, window: str = "30s",
                 labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": meta, "timestamp": rfc3339(timestamp),
            "window": window, "usage": usage.quantities()}


def pod_metrics(namespace: str, name: str, containers: dict[str, Usage], timestamp: float, window: str = "30s",
                labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": meta, "timestamp": rfc3339(timestamp),
            "window": window,
            "containers": [{"name": c, "usage": u.quantities()} for c, u in containers.items()]}


_Sig = tuple[object, ...]


class MetricsWriter:
    """Collects samples and writes only what changed, or what is older than ``refresh`` seconds.

    :meth:`node` / :meth:`pod` stage a sample, :meth:`forget_node` / :meth:`forget_pod`
    stage a delete, :meth:`flush` performs the writes (``concurrency`` at a time).
    """

    def __init__(self, client: Client, clock: Clock, *, refresh: float = 60.0, window: str = "30s",
                 concurrency: int = 64, sample_clock: Clock | None = None) -> None:
        self.client = client
        self.clock = clock
        #: the platform clock samples are taken on (virtual time); timestamps come from it
        self.sample_clock: Clock = sample_clock or clock
        #: every staged sample, readable by the node's /metrics and the custom metrics API
        self.board = SampleBoard()
        self.refresh = refresh
        self.window = window
        self.concurrency = concurrency
        self._written: dict[tuple[str, str, str], tuple[_Sig, float]] = {}
        self._staged: dict[tuple[str, str, str], tuple[_Sig, Obj]] = {}
        self._deletes: set[tuple[str, str, str]] = set()
        self._inflight: set[tuple[str, str, str]] = set()  # keys whose write is awaiting the API
        self.writes = 0

    def node(self, name: str, usage: Usage, labels: dict[str, str]) -> None:
        key = ("node", "", name)
        now = self.sample_clock.now()
        self.board.record_node(name, usage, now)
        sig: _Sig = (usage, tuple(sorted(labels.items())))
        if self._fresh(key, sig):
            return
        self._staged[key] = (sig, node_metrics(name, usage, now, self.window, labels))
        self._deletes.discard(key)

    def pod(self, namespace: str, name: str, containers: dict[str, Usage], labels: dict[str, str], *,
            node: str = "", sample: PodSample | None = None) -> None:
        """Stage a pod's sample; ``sample`` (devices, application metrics, its time) when the runtime
        has one, else one is made of ``containers`` at the sample clock's time. A change of any
        device or application figure rewrites the PodMetrics too (its timestamp dates the sample)."""
        if sample is None or sample.containers != containers:
            sample = PodSample(self.sample_clock.now(), dict(containers))
        self.board.record_pod(namespace, name, node, dict(labels), sample)
        key = ("pod", namespace, name)
        sig: _Sig = (tuple(sorted(containers.items(), key=lambda kv: kv[0])), tuple(sorted(labels.items())),
                     sample.devices, sample.metrics)
        if self._fresh(key, sig):
            return
        self._staged[key] = (sig, pod_metrics(namespace, name, containers, sample.timestamp, self.window, labels))
        self._deletes.discard(key)

    def forget_node(self, name: str) -> None:
        self.board.forget_node(name)
        self._forget(("node", "", name))

    def forget_pod(self, namespace: str, name: str) -> None:
        self.board.forget_pod(namespace, name)
        self._forget(("pod", namespace, name))

    def _forget(self, key: tuple[str, str, str]) -> None:
        """Drop ``key`` and delete its object on the next flush (also when its write is in flight:
        the write may create the object after the pod is gone, which would otherwise be left)."""
        self._staged.pop(key, None)
        if self._written.pop(key, None) is not None or key in self._inflight:
            self._deletes.add(key)

    def _fresh(self, key: tuple[str, str, str], sig: _Sig) -> bool:
        prev = self._written.get(key)
        return prev is not None and prev[0] == sig and self.clock.monotonic() - prev[1] < self.refresh

    async def flush(self) -> None:
        staged, self._staged = self._staged, {}
        deletes, self._deletes = self._deletes, set()
        work: list[tuple[tuple[str, str, str], tuple[_Sig, Obj] | None]] = [*staged.items()]
        work += [(k, None) for k in deletes]
        for i in range(0, len(work), self.concurrency):  # coroutines made per chunk: none leak on cancel
            await asyncio.gather(*(self._write(k, v[0], v[1]) if v is not None else self._delete(k)
                                   for k, v in work[i:i + self.concurrency]))

    async def _write(self, key: tuple[str, str, str], sig: _Sig, obj: Obj) -> None:
        gvr = NODE_METRICS if key[0] == "node" else POD_METRICS
        self._inflight.add(key)
        try:
            try:
                await self.client.update(gvr, obj, key[1])
            except ApiError as exc:
                if exc.code != 404:
                    raise
                await self.client.create(gvr, obj, key[1])
        except ApiError:
            return  # namespace terminating, races with deletes: the next sample retries
        finally:
            self._inflight.discard(key)
        if key in self._deletes:  # forgotten while writing: the pending delete removes it
            return
        self._written[key] = (sig, self.clock.monotonic())
        self.writes += 1

    async def _delete(self, key: tuple[str, str, str]) -> None:
        gvr = NODE_METRICS if key[0] == "node" else POD_METRICS
        with contextlib.suppress(ApiError):
            await self.client.delete(gvr, key[2], key[1])
