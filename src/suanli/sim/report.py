"""Write FGD-experiment results: ``summary.json``, per-seed curve CSVs and PNG plots."""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from suanli.sim.fgd import ReplayResult

__all__ = ["comparison_rows", "summary", "write_comparison", "write_policy"]


def summary(policy: str, results: Sequence[ReplayResult], tune: float) -> dict[str, Any]:
    """The ``summary.json`` document for one policy.

    ``unallocated_gpus`` is read at the tune target as the artifact reads it
    (``(1 - allocation_ratio_at_tune) x GPUs``); ``final_unallocated_gpus``
    and ``allocation_ratio`` are after the last pod.
    """
    unalloc = [r.unallocated_gpus for r in results]
    frag = [r.fragmentation_rate for r in results]
    return {
        "policy": policy,
        "cluster_gpus": results[0].cluster_gpu_milli // 1000 if results else 0,
        "tune": tune,
        "seeds": [
            {
                "seed": r.seed,
                "pods": r.pods,
                "failed_pods": r.failed,
                "allocated_gpu_milli": r.allocated_gpu_milli,
                "unallocated_gpus": r.unallocated_gpus,
                "allocation_ratio_at_tune": r.allocation_at_tune,
                "final_unallocated_gpus": r.final_unallocated_gpus,
                "allocation_ratio": r.allocation_ratio,
                "fragmentation_rate": r.fragmentation_rate,
                "seconds": r.seconds,
                "schedule_seconds": r.schedule_seconds,
            }
            for r in results
        ],
        "mean_unallocated_gpus": statistics.fmean(unalloc) if unalloc else 0.0,
        "stdev_unallocated_gpus": statistics.stdev(unalloc) if len(unalloc) > 1 else 0.0,
        "min_unallocated_gpus": min(unalloc, default=0.0),
        "max_unallocated_gpus": max(unalloc, default=0.0),
        "mean_fragmentation_rate": statistics.fmean(frag) if frag else 0.0,
        "mean_allocation_ratio": statistics.fmean(r.allocation_ratio for r in results) if results else 0.0,
        "mean_fragmentation_rate_at_100pct": _mean_at(results, 100.0),
        "mean_seconds": statistics.fmean(r.seconds for r in results) if results else 0.0,
    }


def _mean_at(results: Sequence[ReplayResult], pct: float) -> float | None:
    """Mean fragmentation rate at the checkpoint where arrivals reached ``pct`` % (None if absent)."""
    values = [r.fragmentation_curve[r.arrived_pct.index(pct)] for r in results if pct in r.arrived_pct]
    return statistics.fmean(values) if values else None


def _write_curves(path: Path, results: Sequence[ReplayResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["seed", "arrived_gpu_pct", "allocation_ratio", "fragmentation_rate"])
        for r in results:
            for pct, ratio, frag in zip(
                r.arrived_pct, r.allocation_ratio_curve, r.fragmentation_curve, strict=True
            ):
                w.writerow([r.seed, f"{pct:.2f}", f"{ratio:.6f}", f"{frag:.6f}"])


def _mean_curve(results: Sequence[ReplayResult]) -> tuple[list[float], list[float], list[float]]:
    n = min(len(r.arrived_pct) for r in results)
    x = results[0].arrived_pct[:n]
    y = [statistics.fmean(r.allocation_ratio_curve[i] for r in results) for i in range(n)]
    f = [statistics.fmean(r.fragmentation_curve[i] for r in results) for i in range(n)]
    return x, y, f


def _plot(path: Path, curves: Mapping[str, Sequence[ReplayResult]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, results in curves.items():
        if not results:
            continue
        x, y, f = _mean_curve(results)
        ax1.plot(x, [100 * v for v in y], label=name)
        ax2.plot(x, [100 * v for v in f], label=name)
    ax1.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=0.8)
    ax1.set_xlabel("arrived GPU request (% of capacity)")
    ax1.set_ylabel("GPU allocation ratio (%)")
    ax1.set_title(title)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.set_xlabel("arrived GPU request (% of capacity)")
    ax2.set_ylabel("fragmentation rate (% of idle GPU)")
    ax2.set_title("fragmentation rate (mean over seeds)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_policy(out: Path, policy: str, results: Sequence[ReplayResult], tune: float) -> dict[str, Any]:
    """Write ``summary.json``, ``curves.csv`` and ``allocation.png`` for one policy into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    doc = summary(policy, results, tune)
    (out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    _write_curves(out / "curves.csv", results)
    _plot(out / "allocation.png", {policy: results}, f"{policy}: allocation ratio (mean over seeds)")
    return doc


def comparison_rows(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per policy: mean/stdev/min/max unallocated GPUs, fragmentation, seconds."""
    return [
        {
            "policy": d["policy"],
            "mean_unallocated_gpus": round(d["mean_unallocated_gpus"], 1),
            "stdev_unallocated_gpus": round(d["stdev_unallocated_gpus"], 1),
            "min_unallocated_gpus": round(d["min_unallocated_gpus"], 1),
            "max_unallocated_gpus": round(d["max_unallocated_gpus"], 1),
            "mean_allocation_ratio": round(d["mean_allocation_ratio"], 4),
            "mean_fragmentation_rate": round(d["mean_fragmentation_rate"], 4),
            "mean_fragmentation_rate_at_100pct": (
                None
                if d["mean_fragmentation_rate_at_100pct"] is None
                else round(d["mean_fragmentation_rate_at_100pct"], 4)
            ),
            "mean_seconds": round(d["mean_seconds"], 2),
        }
        for d in docs
    ]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def write_comparison(
    out: Path, docs: Sequence[Mapping[str, Any]], results: Mapping[str, Sequence[ReplayResult]]
) -> str:
    """Write ``comparison.{json,csv,md,png}`` into ``out``; returns the markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    rows = comparison_rows(docs)
    (out / "comparison.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    with (out / "comparison.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    head = (
        "| policy | unallocated GPUs (mean ± sd) | min-max | allocation ratio "
        "| frag. rate at 130% | frag. rate at 100% | s/replay |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    body = "".join(
        f"| {r['policy']} | {r['mean_unallocated_gpus']:.1f} ± {r['stdev_unallocated_gpus']:.1f} "
        f"| {r['min_unallocated_gpus']:.0f}-{r['max_unallocated_gpus']:.0f} "
        f"| {100 * r['mean_allocation_ratio']:.2f}% | {100 * r['mean_fragmentation_rate']:.1f}% "
        f"| {_pct(r['mean_fragmentation_rate_at_100pct'])} "
        f"| {r['mean_seconds']:.2f} |\n"
        for r in rows
    )
    table = head + body
    (out / "comparison.md").write_text(table, encoding="utf-8")
    _plot(out / "comparison.png", results, "GPU allocation ratio (mean over seeds)")
    return table
