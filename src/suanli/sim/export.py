"""``suanli sim export-manifests``: a trace (or a sample of it) as Kubernetes manifests plus a
scheduler configuration, so the same workload can run on ``suanli up`` and in ``suanli sim``.

Written files (in ``DIR``): ``nodes.yaml`` (simulated Nodes), ``pods.yaml`` (Pods),
``queue.yaml`` (with ``queue``: the Volcano Queue the pods are annotated with) and
``scheduler.conf`` (with ``policy``: :func:`policy_config_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from suanli.scheduler.core.gpushare.model import MILLI, NodeSpec
from suanli.sim.manifests import dump_documents, trace_objects
from suanli.sim.traces import TimedPod

__all__ = ["export_trace", "policy_config_text", "sample_pods"]


def policy_config_text(policy: str) -> str:
    """A ``volcano-scheduler.conf`` that places pods by gpushare policy ``policy``.

    Actions ``enqueue, allocate``; tier 1 ``priority, gang``; tier 2 ``predicates``,
    ``deviceshare`` (card choice and ``volcano.sh/gpu-index``, its own score weighted 0)
    and the policy as the only scoring plugin.
    """
    return (
        'actions: "enqueue, allocate"\n'
        "tiers:\n"
        "- plugins:\n"
        "  - name: priority\n"
        "  - name: gang\n"
        "- plugins:\n"
        "  - name: predicates\n"
        "  - name: deviceshare\n"
        "    arguments:\n"
        "      deviceshare.ScheduleWeight: 0\n"
        f"  - name: {policy}\n"
    )


def sample_pods(pods: Sequence[TimedPod], count: int | None, seed: int, *, all_at_once: bool) -> list[TimedPod]:
    """``count`` pods drawn without replacement (``numpy.random.default_rng(seed)``), kept in
    trace order; all pods when ``count`` is None. With ``all_at_once`` every pod is created at
    0 and never deleted (one batch, as for the sim-vs-live check)."""
    chosen = list(pods)
    if count is not None and count < len(chosen):
        idx = np.sort(np.random.default_rng(seed).choice(len(chosen), size=count, replace=False))
        chosen = [chosen[int(i)] for i in idx]
    if all_at_once:
        chosen = [TimedPod(tp.pod, 0.0, None, i) for i, tp in enumerate(chosen)]
    return chosen


def export_trace(out: Path, nodes: Sequence[NodeSpec], pods: Sequence[TimedPod], *, queue: str | None = None,
                 policy: str | None = None, namespace: str = "default",
                 gpu_memory_per_card: int = MILLI) -> dict[str, Path]:
    """Write the manifests (see the module docstring); return ``{kind: path}``."""
    out.mkdir(parents=True, exist_ok=True)
    wl = trace_objects(nodes, pods, namespace=namespace, queue=queue, gpu_memory_per_card=gpu_memory_per_card)
    written: dict[str, Path] = {}
    written["nodes"] = out / "nodes.yaml"
    written["nodes"].write_text(dump_documents(wl.nodes), encoding="utf-8")
    written["pods"] = out / "pods.yaml"
    written["pods"].write_text(dump_documents([p.obj for p in wl.pods]), encoding="utf-8")
    if queue:
        written["queue"] = out / "queue.yaml"
        written["queue"].write_text(dump_documents([{
            "apiVersion": "scheduling.volcano.sh/v1beta1", "kind": "Queue",
            "metadata": {"name": queue}, "spec": {"weight": 1, "reclaimable": False}}]), encoding="utf-8")
    if policy:
        written["config"] = out / "scheduler.conf"
        written["config"].write_text(policy_config_text(policy), encoding="utf-8")
    return written
