"""Benchmark `suanli sim`: one FGD-experiment replay, and the full 7-policy x 10-seed run.

Usage: python -m bench sim [--repeats 5] [--jobs 2] [--skip-full]
Prints markdown tables: time per replay, and for the full run each policy's mean
unallocated GPUs at 130% next to the artifact's published mean (deviation in %).
Default trace: the shared Alibaba openb GPU-node and pod lists.
"""

from __future__ import annotations

import argparse
import statistics
import time

from suanli.scheduler.core.gpushare import MILLI, TypicalPods, policy_names
from suanli.sim.fgd import replay, run_experiment, sample_workload
from suanli.sim.published import PUBLISHED_UNALLOCATED_GPUS, deviation
from suanli.sim.traces import load_nodes, load_pods

TRACE = "/work/shared/traces/alibaba-gpu-v2023/"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default=TRACE + "openb_node_list_gpu_node.csv")
    ap.add_argument("--pods", default=TRACE + "openb_pod_list_default.csv")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true")
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


if __name__ == "__main__":
    main()
