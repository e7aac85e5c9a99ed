"""Write a replay's results: ``summary.json``, ``timeline.csv``, ``pods.csv``,
``placements.json`` and ``replay.png``.

``summary.json`` (one replay)::

    {"engine": "gpushare", "policy": "fgd", "seed": 42, "nodes": N, "pods": P,
     "cluster_gpus": G, "outcomes": {"completed": …, "running": …, "pending": …,
     "withdrawn": …, "evicted": …}, "scheduled_pods": …,
     "queueing_delay_seconds": {"count", "mean", "p50", "p90", "p99", "max", "zero_share"},
     "mean_gpu_allocation_ratio": …,   # time-weighted over the arrival window
                                       # [first creation, last creation]
     "peak_gpu_allocation_ratio": …, "mean_pending_pods": …, "max_pending_pods": …,
     "placements_sha256": …, "seconds": …, "schedule_seconds": …, "cycles": …}
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from suanli.sim.replay import ReplayRun, delay_stats

__all__ = ["replay_summary", "time_weighted_mean", "write_replay"]


def time_weighted_mean(times: list[float], values: list[float]) -> float:
    """Mean of a step function (value holds from its time to the next) over [times[0], times[-1]].

    Example: times [0, 10, 30], values [0.5, 1.0, 0.0] → (0.5·10 + 1.0·20) / 30 = 0.8333.
    With one point (or zero span) it is that point's value.
    """
    if not times:
        return 0.0
    span = times[-1] - times[0]
    if span <= 0:
        return float(values[-1])
    dt = np.diff(np.asarray(times, dtype=np.float64))
    return float(np.dot(dt, np.asarray(values[:-1], dtype=np.float64)) / span)


def replay_summary(run: ReplayRun, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.json`` document for ``run`` (see the module docstring)."""
    last_arrival = max((p.creation for p in run.pods), default=0.0)
    window = [p for p in run.timeline if p.time <= last_arrival] or run.timeline[:1]
    times = [p.time for p in window]
    outcomes = Counter(p.outcome for p in run.pods)
    doc: dict[str, Any] = {
        "engine": run.engine,
        "policy": run.policy,
        "seed": run.seed,
        "nodes": run.nodes,
        "pods": len(run.pods),
        "cluster_gpus": run.cluster_gpu_milli / 1000,
        "outcomes": {k: outcomes.get(k, 0) for k in ("completed", "running", "pending", "withdrawn", "evicted")},
        "scheduled_pods": sum(1 for p in run.pods if p.scheduled is not None),
        "queueing_delay_seconds": delay_stats(run),
        "mean_gpu_allocation_ratio": time_weighted_mean(times, [p.gpu_allocation_ratio for p in window]),
        "peak_gpu_allocation_ratio": max((p.gpu_allocation_ratio for p in run.timeline), default=0.0),
        "mean_pending_pods": time_weighted_mean(times, [float(p.pending) for p in window]),
        "max_pending_pods": max((p.pending for p in run.timeline), default=0),
        "first_event": run.timeline[0].time if run.timeline else None,
        "last_event": run.timeline[-1].time if run.timeline else None,
        "last_arrival": last_arrival,
        "placements_sha256": run.placements_digest(),
        "seconds": run.seconds,
        "schedule_seconds": run.schedule_seconds,
        "cycles": run.cycles,
    }
    doc.update(extra or {})
    return doc


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def write_replay(
    out: Path, run: ReplayRun, extra: dict[str, Any] | None = None, *, plot: bool = True
) -> dict[str, Any]:
    """Write every output file of ``run`` into ``out`` (created if needed); return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    doc = replay_summary(run, extra)
    (out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "placements.json").write_text(json.dumps(run.placements(), indent=1, sort_keys=True) + "\n",
                                         encoding="utf-8")
    with (out / "timeline.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "allocated_gpu_milli", "gpu_allocation_ratio", "cpu_allocation_ratio", "running",
                    "pending", "pending_gpu_milli", "fragmentation_rate"])
        for p in run.timeline:
            w.writerow([_fmt(p.time), p.allocated_gpu_milli, f"{p.gpu_allocation_ratio:.6f}",
                        f"{p.cpu_allocation_ratio:.6f}", p.running, p.pending, p.pending_gpu_milli,
                        "" if p.fragmentation_rate is None else f"{p.fragmentation_rate:.6f}"])
    with (out / "pods.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "creation", "scheduled", "deletion", "departed", "queueing_delay", "node", "gpus",
                    "gpu_milli", "outcome"])
        for o in run.pods:
            w.writerow([o.name, _fmt(o.creation), _fmt(o.scheduled), _fmt(o.deletion), _fmt(o.departed),
                        _fmt(o.delay), o.node, o.gpus, o.gpu_milli, o.outcome])
    if plot:
        _plot(out / "replay.png", run)
    return doc


def _plot(path: Path, run: ReplayRun) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.array([p.time for p in run.timeline]) / 3600.0
    fig, axes = plt.subplots(3, 1, figsize=(8, 9))
    ax = axes[0]
    ax.step(hours, [100 * p.gpu_allocation_ratio for p in run.timeline], where="post", label="GPU")
    ax.step(hours, [100 * p.cpu_allocation_ratio for p in run.timeline], where="post", label="CPU", alpha=0.6)
    ax.set_ylabel("allocated (%)")
    ax.set_xlabel("virtual time (h)")
    ax.legend()
    ax.set_title(f"{run.engine} / {run.policy or 'config'} (seed {run.seed})")
    ax = axes[1]
    ax.step(hours, [p.pending for p in run.timeline], where="post", color="tab:red")
    ax.set_ylabel("pending pods")
    ax.set_xlabel("virtual time (h)")
    ax = axes[2]
    delays = np.sort(np.array([p.delay for p in run.pods if p.delay is not None], dtype=np.float64))
    if delays.size:
        ax.step(delays, np.arange(1, delays.size + 1) / delays.size, where="post")
        if delays.max() > 0:
            ax.set_xscale("symlog")
    ax.set_xlabel("queueing delay (s)")
    ax.set_ylabel("CDF of placed pods")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
