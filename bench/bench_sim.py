"""Benchmark `suanli sim`: one FGD-experiment replay, and the full 7-policy x 10-seed run.

Usage: python -m bench sim [--repeats 5] [--jobs 2] [--skip-full] [--variants SEEDS]
Prints markdown tables: time per replay, and for the full run each policy's mean
unallocated GPUs at 130% next to the artifact's published mean (deviation in %).
``--variants 42-44`` also compares ``fgd`` and ``fgdpack`` on three workloads derived
from the pod list (:func:`derive_variants`). Default trace: the shared Alibaba openb
GPU-node and pod lists.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from suanli.scheduler.core.gpushare import MILLI, PodRequest, TypicalPods, policy_names
from suanli.sim.cli import parse_seeds
from suanli.sim.fgd import replay, run_experiment, sample_workload
from suanli.sim.published import PUBLISHED_UNALLOCATED_GPUS, deviation
from suanli.sim.traces import load_nodes, load_pods

#: ``shared/`` lies beside the repository checkout; ``$SUANLI_OPENB_TRACES`` overrides it.
TRACE = (os.environ.get("SUANLI_OPENB_TRACES")
         or str(Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-v2023")) + "/"
#: GPU models of the openb cluster and their largest node (GPUs), and the model sets
#: the type-constrained variant draws from (each hosts a pod of up to that many GPUs).
MODEL_SETS: list[tuple[frozenset[str], int]] = [
    (frozenset({"G2"}), 8),
    (frozenset({"T4"}), 4),
    (frozenset({"V100M16", "V100M32"}), 8),
    (frozenset({"P100", "T4"}), 4),
    (frozenset({"G3"}), 8),
    (frozenset({"V100M32"}), 8),
]


def derive_variants(pods: Sequence[PodRequest], seed: int = 2023) -> dict[str, list[PodRequest]]:
    """Three workloads derived from ``pods`` (seeded ``random.Random``, in this order):

    * ``share-heavy``: every sharing pod plus a random quarter of the other pods;
    * ``multi-gpu-heavy``: the list plus multi-GPU pods drawn from it until they are 8% of pods;
    * ``type-constrained``: each GPU pod, with probability 0.4, requires a random model set
      (from :data:`MODEL_SETS`) with nodes large enough for it.
    """
    rng = random.Random(seed)
    share = [p for p in pods if p.is_share]
    other = [p for p in pods if not p.is_share]
    multi = [p for p in pods if p.num_gpu > 1]
    out = {"share-heavy": share + rng.sample(other, len(other) // 4)}
    heavy = list(pods)
    while sum(p.num_gpu > 1 for p in heavy) < 0.08 * len(heavy):
        heavy.append(rng.choice(multi))
    out["multi-gpu-heavy"] = heavy
    constrained = []
    for p in pods:
        if p.num_gpu > 0 and rng.random() < 0.4:
            p = replace(p, gpu_spec=rng.choice([s for s, size in MODEL_SETS if size >= p.num_gpu]))
        constrained.append(p)
    out["type-constrained"] = constrained
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default=TRACE + "openb_node_list_gpu_node.csv")
    ap.add_argument("--pods", default=TRACE + "openb_pod_list_default.csv")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--variants", default="", help="seeds for fgd vs fgdpack on derived workloads, e.g. 42-44")
    args = ap.parse_args()
    nodes, pods = load_nodes(args.nodes), load_pods(args.pods)
    typical = TypicalPods.from_pods(pods)
    cap = sum(n.gpu for n in nodes) * MILLI
    workload = sample_workload(pods, cap, 1.3, 42)
    print(
        f"Trace: {len(nodes)} nodes, {cap // MILLI} GPUs; replay of {len(workload)} pods at 130% (seed 42).\n"
    )
    print(f"| policy | median s/replay (of {args.repeats}) | min s | pods/s |")
    print("| --- | ---: | ---: | ---: |")
    for name in policy_names():
        times = [replay(nodes, workload, name, typical, 42).seconds for _ in range(args.repeats)]
        med = statistics.median(times)
        print(f"| {name} | {med:.2f} | {min(times):.2f} | {len(workload) / med:,.0f} |")
    if not args.skip_full:
        t0 = time.perf_counter()
        results = run_experiment(nodes, pods, policy_names(), list(range(42, 52)), tune=1.3, jobs=args.jobs)
        elapsed = time.perf_counter() - t0
        n = len(policy_names())
        print(f"\nFull experiment ({n} policies x 10 seeds, {args.jobs} processes): {elapsed:.1f} s\n")
        published = PUBLISHED_UNALLOCATED_GPUS["default"]
        print("| policy | published | ours (mean ± sd) | deviation |")
        print("| --- | ---: | ---: | ---: |")
        for name, runs in results.items():
            values = [r.unallocated_gpus for r in runs]
            mean, sd = statistics.fmean(values), statistics.stdev(values)
            pub = published.get(name)
            dev = "" if pub is None else f"{100 * deviation(mean, pub):+.1f}%"
            print(f"| {name} | {'' if pub is None else pub} | {mean:.1f} ± {sd:.1f} | {dev} |")

    if args.variants:
        seeds = parse_seeds(args.variants)
        print(f"\n| derived workload (seeds {args.variants}) | fgd | fgdpack (ours) | difference |")
        print("| --- | ---: | ---: | ---: |")
        for label, variant in derive_variants(pods).items():
            res = run_experiment(nodes, variant, ["fgd", "fgdpack"], seeds, tune=1.3, jobs=args.jobs)
            f, o = (statistics.fmean(r.unallocated_gpus for r in res[p]) for p in ("fgd", "fgdpack"))
            print(f"| {label} | {f:.1f} | {o:.1f} | {100 * (o - f) / f:+.1f}% |")


if __name__ == "__main__":
    main()
