"""``suanli sim``: trace-driven simulation commands.

``suanli sim fgd --nodes NODES.csv --pods PODS.csv --policy NAME [--seeds 42-51]
[--tune 1.3] [--jobs N] --out DIR`` runs the FGD experiment and writes
``DIR/summary.json``, ``DIR/curves.csv`` and ``DIR/allocation.png``. With
``--policy all`` every policy runs, each into ``DIR/<policy>/``, plus
``DIR/comparison.{json,csv,md,png}`` and a ``DIR/summary.json`` listing all.
``suanli sim policies`` prints the policy names, one per line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from suanli.scheduler.core.gpushare.policies import policy_names
from suanli.sim.fgd import run_experiment
from suanli.sim.report import write_comparison, write_policy
from suanli.sim.traces import TraceError, load_nodes, load_pods

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
    return parser


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
    return _run_fgd(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
