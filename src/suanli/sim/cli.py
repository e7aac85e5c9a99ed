"""``suanli sim``: trace-driven simulation commands.

``suanli sim fgd --nodes NODES.csv --pods PODS.csv --policy NAME [--seeds 42-51]
[--tune 1.3] [--jobs N] --out DIR`` runs the FGD experiment and writes
``DIR/summary.json``, ``DIR/curves.csv`` and ``DIR/allocation.png``. With
``--policy all`` every policy runs, each into ``DIR/<policy>/``, plus
``DIR/comparison.{json,csv,md,png}`` and a ``DIR/summary.json`` listing all.
``suanli sim policies`` prints the policy names, one per line (each is also a node-order
plugin of the live scheduler configuration).

``suanli sim replay --nodes NODES --pods PODS [--manifests PATH …] [--engine gpushare|volcano]
[--policy NAME] [--scheduler-config FILE] [--seed 42] [--queue NAME] [--no-fragmentation]
[--no-plot] --out DIR`` replays in virtual time (:mod:`suanli.sim.replay`) and writes
:mod:`suanli.sim.replay_report`'s files. ``--nodes``/``--pods`` take node/pod lists (CSV or
YAML) or Kubernetes manifests (a file or a directory); ``--manifests`` adds manifests.

``suanli sim export-manifests --nodes NODES --pods PODS [--sample N] [--seed 42]
[--max-nodes K] [--all-at-once] [--queue NAME] [--policy NAME] [--namespace NS]
[--gpu-memory-per-card 1000] --out DIR`` writes the trace as manifests
(:mod:`suanli.sim.export`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from suanli.scheduler.core import ConfigError, SchedulerConfig, parse_config
from suanli.scheduler.core.gpushare.model import NodeSpec
from suanli.scheduler.core.gpushare.policies import policy_names
from suanli.sim.export import export_trace, policy_config_text, sample_pods
from suanli.sim.fgd import run_experiment
from suanli.sim.manifests import Workload, load_manifests, trace_objects
from suanli.sim.replay import ReplayRun, replay_gpushare, replay_volcano, speed_up
from suanli.sim.replay_report import write_replay
from suanli.sim.report import write_comparison, write_policy
from suanli.sim.traces import TimedPod, TraceError, load_nodes, load_pods, load_timed_pods

__all__ = ["build_parser", "main", "parse_seeds"]


def parse_seeds(text: str) -> list[int]:
    """``"42-51"`` -> 42..51; ``"1,5,9"`` -> [1, 5, 9]; ``"7"`` -> [7]. Raises ValueError."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part[1:]:
            lo, hi = part.split("-", 1) if not part.startswith("-") else (part, "")
            a, b = int(lo), int(hi)
            if b < a:
                raise ValueError(f"empty seed range {part!r}")
            seeds.extend(range(a, b + 1))
        else:
            seeds.append(int(part))
    if not seeds:
        raise ValueError("no seeds")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="suanli sim", description="Trace-driven scheduling simulation.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("policies", help="list placement policies")
    fgd = sub.add_parser("fgd", help="run the FGD (ATC'23) GPU-sharing experiment")
    fgd.add_argument("--nodes", required=True, type=Path, help="node list CSV")
    fgd.add_argument("--pods", required=True, type=Path, help="pod list CSV or YAML")
    fgd.add_argument("--policy", required=True, help="policy name, or 'all'")
    fgd.add_argument("--seeds", default="42-51", help="e.g. 42-51 or 42,43 (default 42-51)")
    fgd.add_argument("--tune", default=1.3, type=float, help="arrivals as a multiple of GPU capacity")
    fgd.add_argument("--jobs", default=1, type=int, help="worker processes (default 1)")
    fgd.add_argument("--out", required=True, type=Path, help="output directory")

    rp = sub.add_parser("replay", help="time-ordered replay with arrivals and departures")
    rp.add_argument("--nodes", type=Path, help="node list (CSV/YAML) or manifests with Nodes")
    rp.add_argument("--pods", type=Path, help="pod list (CSV/YAML, creation_time/deletion_time) or manifests")
    rp.add_argument("--manifests", type=Path, action="append", default=[],
                    help="Kubernetes manifests (file or directory); repeatable; implies --engine volcano")
    rp.add_argument("--engine", choices=("gpushare", "volcano"), default=None,
                    help="gpushare (fast policy core, default for lists) or volcano (the live scheduler core)")
    rp.add_argument("--policy", help="placement policy (gpushare engine; volcano engine without a config file)")
    rp.add_argument("--scheduler-config", type=Path, help="volcano-scheduler.conf for --engine volcano")
    rp.add_argument("--seed", type=int, default=42, help="seed for the random policy (default 42)")
    rp.add_argument("--arrival-speedup", type=float, default=1.0,
                    help="divide creation times of a pod list by F, keeping each pod's run time (default 1)")
    rp.add_argument("--queue", help="Volcano queue annotated on pods converted from a list (volcano engine)")
    rp.add_argument("--no-fragmentation", action="store_true", help="skip the fragmentation rate (gpushare)")
    rp.add_argument("--no-plot", action="store_true", help="do not write replay.png")
    rp.add_argument("--out", required=True, type=Path, help="output directory")

    ex = sub.add_parser("export-manifests", help="write a trace as Kubernetes manifests (+ scheduler config)")
    ex.add_argument("--nodes", required=True, type=Path, help="node list CSV/YAML")
    ex.add_argument("--pods", required=True, type=Path, help="pod list CSV/YAML")
    ex.add_argument("--sample", type=int, help="draw this many pods (without replacement, trace order kept)")
    ex.add_argument("--seed", type=int, default=42, help="seed for --sample (default 42)")
    ex.add_argument("--max-nodes", type=int, help="keep only the first K nodes")
    ex.add_argument("--all-at-once", action="store_true", help="creation time 0 and no deletion for every pod")
    ex.add_argument("--queue", help="annotate pods with this Volcano queue and write queue.yaml")
    ex.add_argument("--policy", help="also write scheduler.conf using this policy")
    ex.add_argument("--namespace", default="default", help="namespace of the pods (default 'default')")
    ex.add_argument("--gpu-memory-per-card", type=int, default=1000,
                    help="volcano.sh/gpu-memory of one GPU (default 1000, so gpu-memory = milli-GPU)")
    ex.add_argument("--out", required=True, type=Path, help="output directory")
    return parser


def _is_manifest(path: Path) -> bool:
    """A directory, or a YAML/JSON file whose first document is an object with ``kind``."""
    if path.is_dir():
        return True
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        return False
    try:
        with path.open(encoding="utf-8") as fh:
            first = next(yaml.safe_load_all(fh), None)
    except (OSError, UnicodeDecodeError):
        return False
    except yaml.YAMLError:
        return True  # let the manifest reader report the location
    return isinstance(first, dict) and "kind" in first


def _policy_ok(name: str | None) -> bool:
    if name is not None and name not in policy_names():
        print(f"error: unknown policy {name!r}; known: {', '.join(policy_names())}", file=sys.stderr)
        return False
    return True


def _run_replay(args: argparse.Namespace) -> int:
    manifests: list[Path] = list(args.manifests)
    lists: dict[str, Path] = {}
    for opt in ("nodes", "pods"):
        path: Path | None = getattr(args, opt)
        if path is not None:
            (manifests.append(path) if _is_manifest(path) else lists.__setitem__(opt, path))
    if args.arrival_speedup <= 0:
        print("error: --arrival-speedup must be positive", file=sys.stderr)
        return 2
    engine = args.engine or ("volcano" if manifests or args.scheduler_config else "gpushare")
    if not _policy_ok(args.policy):
        return 2
    try:
        if engine == "gpushare":
            if manifests or set(lists) != {"nodes", "pods"}:
                print("error: --engine gpushare needs --nodes and --pods as node/pod lists (CSV or YAML); "
                      "use --engine volcano for manifests", file=sys.stderr)
                return 2
            if args.policy is None:
                print("error: --engine gpushare needs --policy", file=sys.stderr)
                return 2
            nodes = load_nodes(lists["nodes"])
            pods = speed_up(load_timed_pods(lists["pods"]), args.arrival_speedup)
            run = replay_gpushare(nodes, pods, args.policy, seed=args.seed, fragmentation=not args.no_fragmentation)
            extra: dict[str, Any] = {"inputs": {"nodes": str(lists["nodes"]), "pods": str(lists["pods"])}}
        else:
            config = _volcano_config(args)
            if config is None:
                return 2
            workload = _volcano_workload(lists, manifests, args.queue, args.arrival_speedup)
            if not workload.nodes:
                print("error: no Nodes in the inputs", file=sys.stderr)
                return 1
            run = replay_volcano(workload, config, seed=args.seed, policy=args.policy or "")
            extra = {"inputs": {k: str(v) for k, v in lists.items()} | {"manifests": [str(m) for m in manifests]},
                     "scheduler_config": str(args.scheduler_config) if args.scheduler_config else None,
                     "ignored_kinds": workload.ignored}
    except TraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    doc = write_replay(args.out, run, extra, plot=not args.no_plot)
    _print_replay(run, doc, args.out)
    return 0


def _volcano_config(args: argparse.Namespace) -> SchedulerConfig | None:
    if args.scheduler_config is not None:
        try:
            text = args.scheduler_config.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"error: {args.scheduler_config}: {exc.strerror}", file=sys.stderr)
            return None
        source = str(args.scheduler_config)
    elif args.policy is not None:
        text, source = policy_config_text(args.policy), f"policy {args.policy}"
    else:
        print("error: --engine volcano needs --scheduler-config FILE or --policy NAME", file=sys.stderr)
        return None
    try:
        config = parse_config(text)
    except (ConfigError, ValueError) as exc:
        print(f"error: {source}: {exc}", file=sys.stderr)
        return None
    for warning in config.warnings:  # skipped entries, as the live scheduler logs them
        print(f"warning: {source}: {warning}", file=sys.stderr)
    return config


def _volcano_workload(lists: dict[str, Path], manifests: list[Path], queue: str | None,
                      speedup: float) -> Workload:
    workload = Workload()
    nodes: list[NodeSpec] = load_nodes(lists["nodes"]) if "nodes" in lists else []
    pods: list[TimedPod] = speed_up(load_timed_pods(lists["pods"]), speedup) if "pods" in lists else []
    if nodes or pods:
        workload.extend(trace_objects(nodes, pods, queue=queue))
    for m in manifests:
        workload.extend(load_manifests(m))
    return workload


def _print_replay(run: ReplayRun, doc: dict[str, object], out: Path) -> None:
    delay = doc["queueing_delay_seconds"]
    assert isinstance(delay, dict)
    mean = delay.get("mean")
    print(f"{run.engine}/{run.policy or 'config'}: {doc['scheduled_pods']}/{doc['pods']} pods placed, "
          f"mean GPU allocation {100 * float(str(doc['mean_gpu_allocation_ratio'])):.1f}%, "
          f"mean queueing delay {'-' if mean is None else f'{mean:.1f}s'}, max pending {doc['max_pending_pods']} "
          f"({run.seconds:.2f}s) -> {out}/summary.json")


def _run_export(args: argparse.Namespace) -> int:
    if not _policy_ok(args.policy):
        return 2
    for opt in ("sample", "max_nodes"):
        v = getattr(args, opt)
        if v is not None and v <= 0:
            print(f"error: --{opt.replace('_', '-')} must be positive", file=sys.stderr)
            return 2
    if args.gpu_memory_per_card <= 0:
        print("error: --gpu-memory-per-card must be positive", file=sys.stderr)
        return 2
    try:
        nodes = load_nodes(args.nodes)
        pods = load_timed_pods(args.pods)
    except TraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.max_nodes is not None:
        nodes = nodes[: args.max_nodes]
    chosen = sample_pods(pods, args.sample, args.seed, all_at_once=args.all_at_once)
    written = export_trace(args.out, nodes, chosen, queue=args.queue, policy=args.policy, namespace=args.namespace,
                           gpu_memory_per_card=args.gpu_memory_per_card)
    print(f"{len(nodes)} nodes, {len(chosen)} pods -> " + ", ".join(str(p) for p in written.values()))
    return 0


def _run_fgd(args: argparse.Namespace) -> int:
    known = policy_names()
    policies = known if args.policy == "all" else [args.policy]
    for p in policies:
        if p not in known:
            print(f"error: unknown policy {p!r}; known: {', '.join(known)}", file=sys.stderr)
            return 2
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        print(f"error: --seeds {args.seeds!r}: {exc}", file=sys.stderr)
        return 2
    if args.tune <= 0:
        print("error: --tune must be positive", file=sys.stderr)
        return 2
    try:
        nodes = load_nodes(args.nodes)
        pods = load_pods(args.pods)
    except TraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if sum(n.gpu for n in nodes) == 0:
        print(f"error: {args.nodes}: the cluster has no GPUs", file=sys.stderr)
        return 1
    try:
        results = run_experiment(nodes, pods, policies, seeds, tune=args.tune, jobs=max(1, args.jobs))
    except ValueError as exc:
        print(f"error: {args.pods}: {exc}", file=sys.stderr)
        return 1
    out: Path = args.out
    if len(policies) == 1:
        doc = write_policy(out, policies[0], results[policies[0]], args.tune)
        print(
            f"{policies[0]}: mean unallocated GPUs {doc['mean_unallocated_gpus']:.1f} -> {out}/summary.json"
        )
        return 0
    docs = [write_policy(out / p, p, results[p], args.tune) for p in policies]
    table = write_comparison(out, docs, results)
    (out / "summary.json").write_text(
        json.dumps({"policy": "all", "tune": args.tune, "policies": docs}, indent=2) + "\n", encoding="utf-8"
    )
    print(table, end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``suanli sim``; returns the process exit code."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    if args.command == "policies":
        for name in policy_names():
            print(name)
        return 0
    if args.command == "replay":
        return _run_replay(args)
    if args.command == "export-manifests":
        return _run_export(args)
    return _run_fgd(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
