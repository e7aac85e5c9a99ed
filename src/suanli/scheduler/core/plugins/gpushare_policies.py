"""The gpushare placement policies (FGD family) as node-order plugins.

Registered names: every policy of :mod:`suanli.scheduler.core.gpushare`
(``fgd``, ``fgdpack``, ``bestfit``, ``dotproduct``, ``gpupacking``,
``gpuclustering``, ``random``), so the simulator and the live scheduler share
them. The plugin mirrors the session's nodes into a gpushare ``ClusterState``
(CPU milli, memory MiB, GPUs = allocatable ``nvidia.com/gpu`` or
``volcano.sh/gpu-number``, model = node label ``nvidia.com/gpu.product``) and a
task into a ``PodRequest``: ``nvidia.com/gpu: k`` or ``volcano.sh/gpu-number: k``
→ k whole GPUs; ``volcano.sh/gpu-memory: M`` → one shared GPU of
``ceil(1000 x M / card_memory)`` milli. Typical pods (FGD) are all the
snapshot's tasks. Pods already bound occupy their GPUs in index order.

The policy's score is added to the node-order sum, multiplied by
``<name>.weight`` (default 1). The upstream policies score in 0-100 as the
artifact's plugins do (FGD: ``int(100 * sigmoid(decrease / 1000))``);
``fgdpack`` scores ``10 x`` FGD's score minus a best-fit term below 1.
GPU indices are not chosen here (``deviceshare`` does that for binds).
"""

from __future__ import annotations

import math

import numpy as np

from suanli.scheduler.core.config import PluginOption
from suanli.scheduler.core.framework import Rows
from suanli.scheduler.core.gpushare import (
    ClusterState,
    NodeSpec,
    PodRequest,
    PolicyContext,
    TypicalPods,
    make_policy,
    policy_names,
)
from suanli.scheduler.core.gpushare.model import MILLI, affinity_tag, eligible_gpus
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import CPU, MEMORY, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, TaskInfo
from suanli.wire import GPU_MEMORY, GPU_NUMBER, NVIDIA_GPU
from suanli.wire import GPU_MODEL_LABEL as MODEL_LABEL

__all__ = ["GpusharePolicyPlugin", "make_factory", "policy_names"]


class GpusharePolicyPlugin(BasePlugin):
    policy_name = ""

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        dims = ssn.snapshot.dim_index
        self.d_gpu = dims.get(NVIDIA_GPU)
        self.d_num = dims.get(GPU_NUMBER)
        self.d_mem = dims.get(GPU_MEMORY)
        alloc = ssn.allocatable
        gpus = np.zeros(ssn.N, dtype=np.int64)
        for d in (self.d_gpu, self.d_num):
            if d is not None:
                gpus = np.maximum(gpus, alloc[:, d].astype(np.int64))
        self.card_mem = (
            np.where(gpus > 0, alloc[:, self.d_mem] / np.maximum(gpus, 1), 0.0)
            if self.d_mem is not None
            else np.zeros(ssn.N)
        )
        specs = [
            NodeSpec(
                name,
                int(alloc[i, CPU]),
                int(alloc[i, MEMORY] // 2**20),
                int(gpus[i]),
                ssn.snapshot.nodes.labels[i].get(MODEL_LABEL, "gpu") if gpus[i] > 0 else "",
            )
            for i, name in enumerate(ssn.snapshot.nodes.names)
        ]
        self.state = ClusterState(specs)
        self.requests: dict[int, PodRequest] = {}
        self.placed: dict[int, tuple[int, tuple[int, ...]]] = {}
        typical = [self._request(t) for t in ssn.tasks] or [PodRequest("none", 0, 0)]
        self.policy = make_policy(self.policy_name, PolicyContext(TypicalPods.from_pods(typical)), self.state)
        for t in ssn.tasks:
            if t.status in OCCUPYING and t.node >= 0:
                self.allocate(t, t.node)
        self.weight = float_arg(self.args, f"{self.policy_name}.weight", 1.0)
        ssn.add_node_order_fn(self.name, self.score)
        ssn.add_event_handler(self)

    def _request(self, task: TaskInfo) -> PodRequest:
        got = self.requests.get(task.index)
        if got is not None:
            return got
        r = task.request
        num = 0
        milli = 0
        for d in (self.d_gpu, self.d_num):
            if d is not None and r[d] > 0:
                num, milli = int(r[d]), MILLI
        if num == 0 and self.d_mem is not None and r[self.d_mem] > 0:
            card = float(self.card_mem.max()) if self.card_mem.size else 0.0
            num, milli = 1, min(MILLI, max(1, math.ceil(MILLI * r[self.d_mem] / card))) if card > 0 else MILLI
        pod = PodRequest(task.key, int(r[CPU]), int(r[MEMORY] // 2**20), num, milli)
        self.requests[task.index] = pod
        return pod

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        pod = self._request(task)
        feasible = np.ones(self.ssn.N, dtype=np.bool_)
        full = self.policy.score(self.state, pod, feasible)
        out: FloatArray = self.weight * (full if rows is None else full[rows])
        return out

    def allocate(self, task: TaskInfo, node: int) -> None:
        pod = self._request(task)
        st = self.state
        st.cpu_free[node] -= pod.cpu_milli
        st.mem_free[node] -= pod.memory_mib
        gpus: tuple[int, ...] = ()
        if pod.num_gpu:
            elig = np.flatnonzero(eligible_gpus(st, pod)[node])
            gpus = tuple(int(g) for g in elig[: pod.num_gpu])
            for g in gpus:
                st.gpu_free[node, g] -= pod.gpu_milli
            tag = affinity_tag(pod)
            if tag >= 0:
                st.affinity[node, min(tag, st.affinity.shape[1] - 1)] += 1
        st.version[node] += 1
        self.placed[task.index] = (node, gpus)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        got = self.placed.pop(task.index, None)
        if got is None:
            return
        pod = self._request(task)
        st = self.state
        st.cpu_free[node] += pod.cpu_milli
        st.mem_free[node] += pod.memory_mib
        for g in got[1]:
            st.gpu_free[node, g] += pod.gpu_milli
        tag = affinity_tag(pod)
        if pod.num_gpu and tag >= 0:
            st.affinity[node, min(tag, st.affinity.shape[1] - 1)] -= 1
        st.version[node] += 1


def make_factory(policy: str) -> type[GpusharePolicyPlugin]:
    """A plugin class named ``policy`` wrapping that gpushare policy."""

    def init(self: GpusharePolicyPlugin, option: PluginOption) -> None:
        BasePlugin.__init__(self, option)

    return type(
        f"GpushareNodeOrder_{policy}",
        (GpusharePolicyPlugin,),
        {"name": policy, "policy_name": policy, "__init__": init},
    )
