"""The FGD artifact's published results, as unallocated GPUs at 130% arrival.

Source: hkust-adsl/kubernetes-scheduler-simulator,
``experiments/analysis/expected_results/analysis_allo_discrete.csv`` (commit
8f3d641): for each workload and policy, the mean over seeds 42-51 of
``(1 - alloc/100) x 6212`` where ``alloc`` is the ``130`` column (allocation %
read as :func:`suanli.sim.fgd.allocation_at` reads it), rounded to 0.1 GPU.
Cluster: the 1,213 GPU nodes of ``openb_node_list_gpu_node.csv`` (6,212 GPUs).
Keys are ``openb_pod_list_<workload>.csv`` names and our policy names.
"""

from __future__ import annotations

__all__ = ["PUBLISHED_UNALLOCATED_GPUS", "deviation"]

PUBLISHED_UNALLOCATED_GPUS: dict[str, dict[str, float]] = {
    "default": {
        "random": 778.4,
        "dotproduct": 568.5,
        "gpuclustering": 504.5,
        "gpupacking": 496.8,
        "bestfit": 430.1,
        "fgd": 286.3,
    },
    "gpushare100": {
        "random": 1277.0,
        "dotproduct": 1092.3,
        "gpuclustering": 1078.0,
        "gpupacking": 1082.9,
        "bestfit": 931.4,
        "fgd": 813.7,
    },
    "gpushare40": {
        "random": 869.6,
        "dotproduct": 648.6,
        "gpuclustering": 620.3,
        "gpupacking": 619.3,
        "bestfit": 516.3,
        "fgd": 363.5,
    },
    "multigpu50": {
        "random": 604.1,
        "dotproduct": 319.9,
        "gpuclustering": 260.2,
        "gpupacking": 237.2,
        "bestfit": 264.8,
        "fgd": 175.3,
    },
    "gpuspec33": {
        "random": 841.4,
        "dotproduct": 674.4,
        "gpuclustering": 489.7,
        "gpupacking": 421.2,
        "bestfit": 429.1,
        "fgd": 338.7,
    },
}


def deviation(ours: float, published: float) -> float:
    """Relative deviation of ``ours`` from ``published`` (``+0.05`` = 5% more unallocated GPUs)."""
    return (ours - published) / published
