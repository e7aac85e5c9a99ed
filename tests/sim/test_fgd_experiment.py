"""The FGD experiment and the ``suanli sim`` command on a small synthetic trace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from suanli.scheduler.core.gpushare import MILLI, NodeSpec, PodRequest, TypicalPods
from suanli.sim.cli import main, parse_seeds
from suanli.sim.fgd import allocation_at, node_rank, replay, run_experiment, sample_workload

NODES = [
    NodeSpec(f"n{i}", 32000, 131072, g, m) for i, (g, m) in enumerate([(8, "G2"), (2, "T4"), (4, "V100")] * 4)
]
PODS = [
    PodRequest("a", 4000, 8192, 1, 500),
    PodRequest("b", 8000, 16384, 1, 1000),
    PodRequest("c", 2000, 4096, 1, 250),
    PodRequest("d", 16000, 32768, 2, 1000),
    PodRequest("e", 2000, 2048),
    PodRequest("f", 4000, 8192, 1, 1000, frozenset({"T4"})),
]
CAP = sum(n.gpu for n in NODES) * MILLI


def _count(pods: list[PodRequest]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pods:
        out[p.name] = out.get(p.name, 0) + 1
    return out


def test_tune_up_shuffles_the_list_then_appends_draws_below_the_target() -> None:
    pods = sample_workload(PODS, CAP, 1.3, seed=42)
    # The whole list comes first, shuffled; then draws with replacement.
    assert sorted(p.name for p in pods[: len(PODS)]) == sorted(p.name for p in PODS)
    assert [p.name for p in pods[: len(PODS)]] != [p.name for p in PODS] or len(PODS) < 2
    # Upstream's stopping rule: every appended draw passed total + per-GPU milli <= target.
    target = 1.3 * CAP
    total = sum(p.total_gpu_milli for p in PODS)
    for p in pods[len(PODS) :]:
        assert total + p.gpu_milli <= target
        total += p.total_gpu_milli
    assert total == sum(p.total_gpu_milli for p in pods)
    assert total > target - 1000  # it stops only when a draw would cross the target
    assert pods == sample_workload(PODS, CAP, 1.3, seed=42)
    assert pods != sample_workload(PODS, CAP, 1.3, seed=43)


def test_tune_down_removes_random_pods_until_within_the_target() -> None:
    many = PODS * 20  # 20 copies request far more than 0.5 x capacity
    pods = sample_workload(many, CAP, 0.5, seed=1)
    assert sum(p.total_gpu_milli for p in pods) <= 0.5 * CAP
    counts = _count(pods)
    assert all(counts[name] <= 20 for name in counts)
    assert len(pods) < len(many)


def test_allocation_at_tune_reads_the_artifacts_rounding_window() -> None:
    # Capacity 1000 milli. Arrived % 129.0, 129.6, 130.0, 130.5, 130.6: rounded half to even
    # 129, 130, 130, 130, 131 -> the 130 window holds allocations 90.5%, 91.0%, 91.2%.
    arrived = np.array([1290, 1296, 1300, 1305, 1306])
    allocated = np.array([900, 905, 910, 912, 913])
    assert allocation_at(arrived, allocated, 1000, 130) == pytest.approx(0.909)
    # No sample rounds to 128: the +-1 window (127..129) holds only the first.
    assert allocation_at(arrived, allocated, 1000, 128) == pytest.approx(0.90)
    assert np.isnan(allocation_at(arrived, allocated, 1000, 100))


def test_node_rank_is_a_seeded_permutation() -> None:
    assert sorted(node_rank(50, 42)) == list(range(50))
    assert list(node_rank(50, 42)) == list(node_rank(50, 42))
    assert list(node_rank(50, 42)) != list(node_rank(50, 43))


def test_sample_rejects_trace_without_gpu_requests() -> None:
    with pytest.raises(ValueError, match="no GPU"):
        sample_workload([PodRequest("c", 1, 1)], CAP, 1.3, seed=1)


@pytest.mark.parametrize(
    "policy", ["random", "dotproduct", "gpuclustering", "gpupacking", "bestfit", "fgd", "fgdpack"]
)
def test_replay_accounting_is_consistent(policy: str) -> None:
    workload = sample_workload(PODS, CAP, 1.3, seed=7)
    r = replay(NODES, workload, policy, TypicalPods.from_pods(PODS), 7, keep_placements=True)
    placed = [p for p, x in zip(workload, r.placements, strict=True) if x is not None]
    assert r.allocated_gpu_milli == sum(p.total_gpu_milli for p in placed) <= CAP
    assert r.failed == len(workload) - len(placed)
    assert r.final_unallocated_gpus == pytest.approx((CAP - r.allocated_gpu_milli) / MILLI)
    # Read at 130%: never above the final allocation (allocation only grows).
    assert r.unallocated_gpus == pytest.approx((1 - r.allocation_at_tune) * CAP / MILLI)
    assert r.allocation_at_tune <= round(r.allocation_ratio, 4) + 1e-9
    arrived_pct = 100 * sum(p.total_gpu_milli for p in workload) / CAP
    assert arrived_pct > 130 - 100 * MILLI / CAP  # tuned to within one GPU of the target
    assert r.arrived_pct[0] == 0 and r.arrived_pct[-1] <= arrived_pct < r.arrived_pct[-1] + 1
    assert all(
        a <= b + 1e-12 for a, b in zip(r.allocation_ratio_curve, r.allocation_ratio_curve[1:], strict=False)
    )
    assert 0.0 <= r.fragmentation_rate <= 1.0


def test_same_seed_same_placements() -> None:
    typical = TypicalPods.from_pods(PODS)
    runs = [
        replay(NODES, sample_workload(PODS, CAP, 1.3, 3), "fgd", typical, 3, keep_placements=True).placements
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_run_experiment_groups_by_policy_in_seed_order() -> None:
    out = run_experiment(NODES, PODS, ["bestfit", "fgd"], [5, 6], tune=1.0)
    assert [[r.seed for r in v] for v in out.values()] == [[5, 6], [5, 6]]


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("42-51", list(range(42, 52))), ("1,5,9", [1, 5, 9]), ("7", [7]), ("1-2,9", [1, 2, 9])],
    ids=["range", "list", "single", "mixed"],
)
def test_parse_seeds(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


def _write_trace(tmp_path: Path) -> tuple[Path, Path]:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text(
        "sn,cpu_milli,memory_mib,gpu,model\n"
        + "".join(f"{n.name},{n.cpu_milli},{n.memory_mib},{n.gpu},{n.model}\n" for n in NODES)
    )
    pods = tmp_path / "pods.csv"
    pods.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
        + "".join(
            f"{p.name},{p.cpu_milli},{p.memory_mib},{p.num_gpu},{p.gpu_milli},{'|'.join(sorted(p.gpu_spec))}\n"
            for p in PODS
        )
    )
    return nodes, pods


def test_cli_fgd_writes_summary_curves_and_plot(tmp_path: Path) -> None:
    nodes, pods = _write_trace(tmp_path)
    out = tmp_path / "out"
    argv = [
        "fgd",
        "--nodes",
        str(nodes),
        "--pods",
        str(pods),
        "--policy",
        "fgd",
        "--seeds",
        "42-43",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    doc = json.loads((out / "summary.json").read_text())
    assert doc["policy"] == "fgd" and doc["cluster_gpus"] == CAP // MILLI
    assert [s["seed"] for s in doc["seeds"]] == [42, 43]
    for s in doc["seeds"]:
        assert s["final_unallocated_gpus"] == pytest.approx(
            doc["cluster_gpus"] - s["allocated_gpu_milli"] / MILLI
        )
        assert s["unallocated_gpus"] == pytest.approx((1 - s["allocation_ratio_at_tune"]) * doc["cluster_gpus"])
        assert s["allocation_ratio"] == pytest.approx(s["allocated_gpu_milli"] / CAP)
        assert set(s) >= {
            "seed",
            "allocated_gpu_milli",
            "unallocated_gpus",
            "allocation_ratio",
            "fragmentation_rate",
        }
    assert doc["mean_unallocated_gpus"] == pytest.approx(sum(s["unallocated_gpus"] for s in doc["seeds"]) / 2)
    assert (
        (out / "curves.csv")
        .read_text()
        .startswith("seed,arrived_gpu_pct,allocation_ratio,fragmentation_rate\n")
    )
    assert (out / "allocation.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_policy_all_writes_a_comparison(tmp_path: Path) -> None:
    nodes, pods = _write_trace(tmp_path)
    out = tmp_path / "all"
    assert (
        main(
            [
                "fgd",
                "--nodes",
                str(nodes),
                "--pods",
                str(pods),
                "--policy",
                "all",
                "--seeds",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads((out / "comparison.json").read_text())
    assert [r["policy"] for r in rows] == [
        "random",
        "dotproduct",
        "gpuclustering",
        "gpupacking",
        "bestfit",
        "fgd",
        "fgdpack",
    ]
    assert (out / "fgd" / "summary.json").exists() and (out / "comparison.png").exists()


def test_cli_reports_malformed_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes, _ = _write_trace(tmp_path)
    bad = tmp_path / "pods.csv"
    bad.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,abc,1,0,0\n")
    assert (
        main(
            [
                "fgd",
                "--nodes",
                str(nodes),
                "--pods",
                str(bad),
                "--policy",
                "fgd",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )
    assert f"{bad}:2: column 'cpu_milli': expected an integer, got 'abc'" in capsys.readouterr().err


def test_cli_unknown_policy_and_policy_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes, pods = _write_trace(tmp_path)
    assert (
        main(["fgd", "--nodes", str(nodes), "--pods", str(pods), "--policy", "nope", "--out", str(tmp_path)])
        == 2
    )
    assert "unknown policy 'nope'" in capsys.readouterr().err
    assert main(["policies"]) == 0
    assert capsys.readouterr().out.split() == [
        "random",
        "dotproduct",
        "gpuclustering",
        "gpupacking",
        "bestfit",
        "fgd",
        "fgdpack",
    ]
