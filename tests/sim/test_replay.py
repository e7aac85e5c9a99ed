"""Time-ordered replay: departures free capacity, queueing delay, pending counts, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suanli.scheduler.core import parse_config, plugin_names
from suanli.scheduler.core.gpushare import NodeSpec, PodRequest, policy_names
from suanli.sim.cli import main
from suanli.sim.export import policy_config_text
from suanli.sim.manifests import trace_objects
from suanli.sim.replay import replay_gpushare, replay_volcano, speed_up
from suanli.sim.replay_report import time_weighted_mean
from suanli.sim.traces import TimedPod

ONE_GPU = [NodeSpec("n0", 8000, 16384, 1, "T4")]


def tp(name: str, milli: int, creation: float, deletion: float | None, i: int, cpu: int = 1000) -> TimedPod:
    return TimedPod(PodRequest(name, cpu, 1024, 1 if milli else 0, milli), creation, deletion, i)


# (pods, expected per pod: (scheduled, outcome), expected (time, pending) points)
CASES = [
    (
        [tp("a", 1000, 0, 10, 0), tp("b", 1000, 5, 20, 1)],
        {"a": (0.0, "completed"), "b": (10.0, "completed")},
        [(0.0, 0), (5.0, 1), (10.0, 0), (20.0, 0)],
    ),
    (
        [tp("a", 600, 0, None, 0), tp("b", 600, 1, 3, 1)],
        {"a": (0.0, "running"), "b": (None, "withdrawn")},
        [(0.0, 0), (1.0, 1), (3.0, 0)],
    ),
    (
        [tp("a", 500, 0, 4, 0), tp("b", 500, 0, 4, 1), tp("c", 1000, 1, 9, 2), tp("d", 300, 2, None, 3)],
        {"a": (0.0, "completed"), "b": (0.0, "completed"), "c": (4.0, "completed"), "d": (9.0, "running")},
        [(0.0, 0), (1.0, 1), (2.0, 2), (4.0, 1), (9.0, 0)],
    ),
    (
        [tp("a", 1000, 0, 0, 0), tp("b", 1000, 0, None, 1)],
        {"a": (None, "withdrawn"), "b": (0.0, "running")},
        [(0.0, 0)],
    ),
]
IDS = [
    "departure-frees-the-gpu-for-the-queued-pod",
    "pod-deleted-while-pending-is-withdrawn",
    "fifo-retry-after-departure-places-oldest-first",
    "zero-length-pod-never-runs",
]


@pytest.mark.parametrize(("pods", "expected", "pending"), CASES, ids=IDS)
def test_gpushare_replay_accounting(pods: list[TimedPod], expected: dict[str, tuple[float | None, str]],
                                    pending: list[tuple[float, int]]) -> None:
    run = replay_gpushare(ONE_GPU, pods, "bestfit")
    assert {p.name: (p.scheduled, p.outcome) for p in run.pods} == expected
    assert [(pt.time, pt.pending) for pt in run.timeline] == pending
    for p in run.pods:
        if p.scheduled is not None:
            assert p.delay == p.scheduled - p.creation


@pytest.mark.parametrize(("pods", "expected", "pending"), CASES, ids=IDS)
def test_volcano_engine_agrees_on_accounting(pods: list[TimedPod], expected: dict[str, tuple[float | None, str]],
                                             pending: list[tuple[float, int]]) -> None:
    run = replay_volcano(trace_objects(ONE_GPU, pods), parse_config(policy_config_text("bestfit")))
    assert {p.name.split("/")[1]: (p.scheduled, p.outcome) for p in run.pods} == expected
    assert [(pt.time, pt.pending) for pt in run.timeline] == pending


def test_allocation_follows_arrivals_and_departures() -> None:
    run = replay_gpushare(ONE_GPU, [tp("a", 400, 0, 10, 0), tp("b", 300, 5, 20, 1)], "fgd")
    assert [(pt.time, pt.allocated_gpu_milli, pt.running) for pt in run.timeline] == [
        (0.0, 400, 1), (5.0, 700, 2), (10.0, 300, 1), (20.0, 0, 0)]
    assert run.timeline[1].gpu_allocation_ratio == pytest.approx(0.7)


def test_same_seed_same_output_different_seed_random_differs() -> None:
    nodes = [NodeSpec(f"n{i}", 32000, 65536, 4, "V100") for i in range(6)]
    pods = [tp(f"p{i}", [250, 500, 1000][i % 3], float(i // 4), float(i // 4 + 7), i) for i in range(60)]
    a = replay_gpushare(nodes, pods, "random", seed=7)
    b = replay_gpushare(nodes, pods, "random", seed=7)
    c = replay_gpushare(nodes, pods, "random", seed=8)
    assert a.placements_digest() == b.placements_digest()
    assert [(p.time, p.pending, p.allocated_gpu_milli) for p in a.timeline] == [
        (p.time, p.pending, p.allocated_gpu_milli) for p in b.timeline]
    assert a.placements_digest() != c.placements_digest()


def test_speed_up_keeps_run_times() -> None:
    [p] = speed_up([tp("a", 0, 1000, 1600, 0)], 10)
    assert (p.creation, p.deletion) == (100.0, 700.0)


def test_time_weighted_mean_example() -> None:
    assert time_weighted_mean([0, 10, 30], [0.5, 1.0, 0.0]) == pytest.approx(0.8333333)


def test_every_policy_is_also_a_live_scheduler_plugin() -> None:
    assert set(policy_names()) <= set(plugin_names())
    for name in policy_names():
        parse_config(policy_config_text(name))


def test_replay_cli_writes_outputs_and_is_deterministic(tmp_path: Path) -> None:
    (tmp_path / "nodes.csv").write_text("sn,cpu_milli,memory_mib,gpu,model\nn0,8000,16384,1,T4\nn1,8000,16384,2,T4\n")
    (tmp_path / "pods.csv").write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n"
        "a,1000,10,1,1000,,0,100\nb,1000,10,2,1000,,10,50\nc,1000,10,1,500,,20,nan\nd,1000,10,1,500,,30,\n")
    outs = []
    for run in ("x", "y"):
        args = ["replay", "--nodes", str(tmp_path / "nodes.csv"), "--pods", str(tmp_path / "pods.csv"),
                "--policy", "fgd", "--seed", "3", "--out", str(tmp_path / run)]
        assert main(args + (["--no-plot"] if run == "y" else [])) == 0
        outs.append(json.loads((tmp_path / run / "summary.json").read_text()))
    assert (tmp_path / "x" / "replay.png").stat().st_size > 0
    assert outs[0]["placements_sha256"] == outs[1]["placements_sha256"]
    # a on n0, b takes both GPUs of n1; c (t=20) and d (t=30) wait for b to leave at 50
    assert outs[0]["queueing_delay_seconds"]["max"] == 30.0
    assert outs[0]["queueing_delay_seconds"]["mean"] == 12.5
    assert outs[0]["max_pending_pods"] == 2
    rows = (tmp_path / "x" / "pods.csv").read_text().splitlines()
    assert rows[3:] == ["c,20,50,,,30,n1,0,500,running", "d,30,50,,,20,n1,0,500,running"]
    assert len((tmp_path / "x" / "timeline.csv").read_text().splitlines()) == 1 + 6
