"""A node's /metrics under node-exporter, DCGM exporter and npu-exporter names, from one sample board."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.node.usage.board import SampleBoard
from suanli.node.usage.exposition import NodeDevice, render_node_metrics, render_pod_metrics, render_resource_metrics
from suanli.node.usage.metrics_api import milli_value
from suanli.node.usage.model import DeviceUsage, PodSample, Usage

T0 = 1_700_000_000.0
NODE: dict[str, Any] = {"metadata": {"name": "gpu-0", "creationTimestamp": "2023-11-14T22:13:20Z"},
                        "status": {"capacity": {"cpu": "2", "memory": "8Gi", "ephemeral-storage": "100Gi"}}}


def lines(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith((name + "{", name + " "))]


def board_with_gpu_pod() -> SampleBoard:
    board = SampleBoard()
    gpu = DeviceUsage("nvidia.com/gpu", "1", "gpu", 75.0, 3 << 30, "trainer")
    npu = DeviceUsage("huawei.com/Ascend910", "0", "npu", 40.0, 2 << 30, "trainer")
    for t, cpu in ((T0, 1_000_000_000), (T0 + 10, 500_000_000)):
        board.record_pod("ml", "job-0", "gpu-0", {"app": "job"},
                         PodSample(t, {"trainer": Usage(cpu, 1 << 30)}, (gpu, npu), (("rps", 2.5),)))
        board.record_node("gpu-0", Usage(cpu, 1 << 30), t)
    return board


DEVICES = [NodeDevice("nvidia.com/gpu", "gpu", i, "A100-SXM4-80GB", 80 << 30) for i in range(2)] + \
    [NodeDevice("huawei.com/Ascend910", "npu", 0, "Ascend910B", 64 << 30, healthy=False)]


def test_dcgm_series_carry_pod_labels_only_on_the_allocated_gpu() -> None:
    text = render_node_metrics(NODE, board_with_gpu_pod(), DEVICES)
    util = lines(text, "DCGM_FI_DEV_GPU_UTIL")
    assert len(util) == 2
    free, used = util
    assert free.startswith('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-') and 'device="nvidia0"' in free
    assert 'modelName="A100-SXM4-80GB",Hostname="gpu-0"} 0' in free and "pod=" not in free
    assert 'container="trainer",namespace="ml",pod="job-0"} 75' in used
    assert lines(text, "DCGM_FI_DEV_FB_USED")[1].endswith(" 3072")
    assert lines(text, "DCGM_FI_DEV_FB_FREE")[1].endswith(f" {80 * 1024 - 3072}")


def test_npu_exporter_series_and_health() -> None:
    text = render_node_metrics(NODE, board_with_gpu_pod(), DEVICES)
    assert lines(text, "machine_npu_nums") == ["machine_npu_nums 1"]
    labels = 'id="0",model_name="Ascend910B",vdie_id="",pcie_bus_info="",namespace="ml",pod_name="job-0",' \
             'container_name="trainer"'
    assert lines(text, "npu_chip_info_utilization") == [f"npu_chip_info_utilization{{{labels}}} 40"]
    assert lines(text, "npu_chip_info_hbm_used_memory") == [f"npu_chip_info_hbm_used_memory{{{labels}}} 2048"]
    assert lines(text, "npu_chip_info_hbm_total_memory") == [f"npu_chip_info_hbm_total_memory{{{labels}}} 65536"]
    assert lines(text, "npu_chip_info_health_status") == [f"npu_chip_info_health_status{{{labels}}} 0"]
    assert lines(text, "container_npu_utilization") == [f"container_npu_utilization{{{labels}}} 40"]


def test_node_exporter_cpu_counters_integrate_the_samples() -> None:
    text = render_node_metrics(NODE, board_with_gpu_pod(), [])
    # one core busy for the 10 s between the two samples over 2 CPUs: each 5 s user, 5 s idle
    assert lines(text, "node_cpu_seconds_total") == [
        'node_cpu_seconds_total{cpu="0",mode="idle"} 5', 'node_cpu_seconds_total{cpu="0",mode="user"} 5',
        'node_cpu_seconds_total{cpu="1",mode="idle"} 5', 'node_cpu_seconds_total{cpu="1",mode="user"} 5']
    assert lines(text, "node_memory_MemTotal_bytes") == [f"node_memory_MemTotal_bytes {8 << 30}"]
    assert lines(text, "node_memory_MemAvailable_bytes") == [f"node_memory_MemAvailable_bytes {7 << 30}"]
    assert "# TYPE node_cpu_seconds_total counter" in text


def test_resource_endpoint_matches_the_pod_sample() -> None:
    text = render_resource_metrics(NODE, board_with_gpu_pod())
    assert lines(text, "container_memory_working_set_bytes") == [
        f'container_memory_working_set_bytes{{container="trainer",namespace="ml",pod="job-0"}} {1 << 30}']
    assert lines(text, "pod_cpu_usage_seconds_total") == ['pod_cpu_usage_seconds_total{namespace="ml",pod="job-0"} 10']
    assert lines(text, "container_cpu_usage_seconds_total") == [
        'container_cpu_usage_seconds_total{container="trainer",namespace="ml",pod="job-0"} 10']
    assert lines(text, "node_cpu_usage_seconds_total") == ["node_cpu_usage_seconds_total 10"]


def test_pod_endpoint_exposes_application_metrics() -> None:
    entry = board_with_gpu_pod().pods[("ml", "job-0")]
    assert lines(render_pod_metrics(entry), "rps") == ["rps 2.5"]


def test_forgetting_a_pod_removes_its_series() -> None:
    board = board_with_gpu_pod()
    board.forget_pod("ml", "job-0")
    text = render_node_metrics(NODE, board, DEVICES)
    assert all("pod=" not in ln for ln in lines(text, "DCGM_FI_DEV_GPU_UTIL"))
    assert lines(render_resource_metrics(NODE, board), "pod_memory_working_set_bytes") == []


@pytest.mark.parametrize(("value", "want"), [(0.5, "500m"), (2.0, "2"), (12.5, "12500m"), (1500.0, "1500"),
                                             (0.0001, "0"), (2_000_000.0, "2M")])
def test_values_render_like_prometheus_adapter(value: float, want: str) -> None:
    assert milli_value(value) == want
