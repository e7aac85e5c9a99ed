"""A node's metrics in Prometheus text format (0.0.4) under upstream exporters' names.

``GET /api/v1/nodes/<node>/proxy/metrics`` (what a kubelet-side exporter stack would serve):

* **node-exporter**: ``node_cpu_seconds_total{cpu,mode}`` (modes ``idle`` and ``user``; the busy
  core-seconds integrated by the board are spread evenly over the cores), ``node_memory_MemTotal_bytes``,
  ``node_memory_MemAvailable_bytes``, ``node_memory_MemFree_bytes``, ``node_boot_time_seconds``,
  ``node_filesystem_size_bytes`` / ``node_filesystem_avail_bytes{device,fstype,mountpoint}``
  (ephemeral-storage capacity);
* **DCGM exporter** per GPU: ``DCGM_FI_DEV_GPU_UTIL`` (%), ``DCGM_FI_DEV_FB_USED`` /
  ``DCGM_FI_DEV_FB_FREE`` (MiB) with ``gpu``, ``UUID``, ``device`` (``nvidia<i>``), ``modelName``,
  ``Hostname`` and — as with ``DCGM_EXPORTER_KUBERNETES=true`` — ``namespace``, ``pod``,
  ``container`` on allocated GPUs;
* **Ascend npu-exporter** per chip: ``npu_chip_info_utilization`` (AI core %),
  ``npu_chip_info_hbm_used_memory`` / ``npu_chip_info_hbm_total_memory`` (MB),
  ``npu_chip_info_health_status`` (1 healthy, 0 not) with ``id``, ``model_name``, ``vdie_id``,
  ``pcie_bus_info``, ``namespace``, ``pod_name``, ``container_name``; ``machine_npu_nums``; and
  ``container_npu_utilization`` / ``container_npu_used_memory`` per allocated chip;
* KAE (no upstream exporter): ``suanli_kae_engine_busy_percent{resource,id,namespace,pod,container}``.

``/metrics/resource`` follows the kubelet's resource metrics endpoint: ``node_cpu_usage_seconds_total``,
``node_memory_working_set_bytes``, ``pod_cpu_usage_seconds_total`` / ``pod_memory_working_set_bytes``
and ``container_cpu_usage_seconds_total`` / ``container_memory_working_set_bytes``
(``container``, ``namespace``, ``pod`` labels) — the same numbers ``kubectl top`` shows.

Simulated pods' own endpoints (``/api/v1/namespaces/<ns>/pods/<pod>/proxy/metrics``) expose their
application metrics (``suanli.io/sim-metric.<name>``) as gauges named ``<name>``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from suanli.apimachinery.objects import Obj, parse_time
from suanli.apimachinery.quantity import parse_quantity
from suanli.node.usage.board import PodEntry, SampleBoard
from suanli.node.usage.model import DeviceUsage

__all__ = ["NodeDevice", "render_node_metrics", "render_pod_metrics", "render_resource_metrics"]

MIB = 1 << 20
MB = 1 << 20  # npu-exporter reports MB as 2**20 bytes (its "MB" is the driver's MiB)


@dataclass(frozen=True)
class NodeDevice:
    """One device of the node (from its hardware profile): resource, class, index, model, memory."""

    resource: str
    device_class: str
    index: int
    model: str = ""
    memory_bytes: int = 0
    healthy: bool = True


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._seen: set[str] = set()

    def series(self, name: str, kind: str, help_: str, labels: Sequence[tuple[str, str]], value: float) -> None:
        if name not in self._seen:
            self._seen.add(name)
            self.lines.append(f"# HELP {name} {help_}")
            self.lines.append(f"# TYPE {name} {kind}")
        body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        self.lines.append(f"{name}{{{body}}} {_fmt(value)}" if body else f"{name} {_fmt(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _capacity(node: Obj, key: str) -> Fraction:
    try:
        return parse_quantity(str(((node.get("status") or {}).get("capacity") or {}).get(key) or 0))
    except ValueError:
        return Fraction(0)


def _gpu_uuid(node: str, index: int) -> str:
    return "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}/gpu/{index}"))


def render_node_metrics(node: Obj, board: SampleBoard, devices: Iterable[NodeDevice]) -> str:
    """The node's exporter metrics (see the module docstring)."""
    name = str(node["metadata"]["name"])
    out = _Out()
    rec = board.nodes.get(name)
    cores = max(int(_capacity(node, "cpu")), 1)
    boot = (rec.timestamp if rec else 0.0)
    created = str((node.get("metadata") or {}).get("creationTimestamp") or "")
    if created:
        boot = parse_time(created).timestamp()
    elapsed = max((rec.timestamp if rec else boot) - boot, 0.0)
    busy = rec.busy_cpu_seconds if rec else 0.0
    for i in range(cores):
        user = busy / cores
        out.series("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.",
                   [("cpu", str(i)), ("mode", "idle")], max(elapsed - user, 0.0))
        out.series("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.",
                   [("cpu", str(i)), ("mode", "user")], user)
    total = float(_capacity(node, "memory"))
    used = float(rec.usage.memory_bytes) if rec else 0.0
    out.series("node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes.", [], total)
    out.series("node_memory_MemAvailable_bytes", "gauge", "Memory information field MemAvailable_bytes.", [],
               max(total - used, 0.0))
    out.series("node_memory_MemFree_bytes", "gauge", "Memory information field MemFree_bytes.", [],
               max(total - used, 0.0))
    out.series("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", [], boot)
    disk = float(_capacity(node, "ephemeral-storage"))
    fs = [("device", "/dev/root"), ("fstype", "ext4"), ("mountpoint", "/")]
    out.series("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", fs, disk)
    out.series("node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes.",
               fs, disk)
    owners: dict[tuple[str, str], tuple[PodEntry, DeviceUsage]] = {}
    for entry in board.pods_on(name):
        for d in entry.sample.devices:
            owners[(d.resource, d.device_id)] = (entry, d)
    devs = sorted(devices, key=lambda d: (d.device_class, d.resource, d.index))
    npus = [d for d in devs if d.device_class == "npu"]
    if npus:
        out.series("machine_npu_nums", "gauge", "Amount of npu installed on the machine.", [], len(npus))
    for dev in devs:
        owner = owners.get((dev.resource, str(dev.index)))
        ns, pod, ctr, util, mem = ("", "", "", 0.0, 0.0) if owner is None else (
            owner[0].namespace, owner[0].name, owner[1].container, owner[1].utilization,
            float(owner[1].memory_bytes))
        if dev.device_class == "gpu":
            labels = [("gpu", str(dev.index)), ("UUID", _gpu_uuid(name, dev.index)), ("device", f"nvidia{dev.index}"),
                      ("modelName", dev.model), ("Hostname", name)]
            if owner:
                labels += [("container", ctr), ("namespace", ns), ("pod", pod)]
            out.series("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", labels, util)
            out.series("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", labels, mem // MIB)
            out.series("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).", labels,
                       max(dev.memory_bytes - mem, 0.0) // MIB)
        elif dev.device_class == "npu":
            labels = [("id", str(dev.index)), ("model_name", dev.model), ("vdie_id", ""), ("pcie_bus_info", ""),
                      ("namespace", ns), ("pod_name", pod), ("container_name", ctr)]
            out.series("npu_chip_info_utilization", "gauge", "the ai core utilization", labels, util)
            out.series("npu_chip_info_hbm_used_memory", "gauge", "the npu hbm used memory", labels, mem // MB)
            out.series("npu_chip_info_hbm_total_memory", "gauge", "the npu hbm total memory", labels,
                       dev.memory_bytes // MB)
            out.series("npu_chip_info_health_status", "gauge", "the npu health status", labels,
                       1 if dev.healthy else 0)
            if owner:
                out.series("container_npu_utilization", "gauge", "the npu ai core utilization in container",
                           labels, util)
                out.series("container_npu_used_memory", "gauge", "the npu used memory in container", labels,
                           mem // MB)
        elif dev.device_class == "kae":
            labels = [("resource", dev.resource), ("id", str(dev.index)), ("namespace", ns), ("pod", pod),
                      ("container", ctr)]
            out.series("suanli_kae_engine_busy_percent", "gauge", "KAE engine busy (in %).", labels, util)
    return out.text()


def render_resource_metrics(node: Obj, board: SampleBoard) -> str:
    """The kubelet's ``/metrics/resource`` for the node: CPU counters and working-set gauges."""
    name = str(node["metadata"]["name"])
    out = _Out()
    rec = board.nodes.get(name)
    if rec is not None:
        out.series("node_cpu_usage_seconds_total", "counter",
                   "Cumulative cpu time consumed by the node in core-seconds", [], rec.busy_cpu_seconds)
        out.series("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes", [],
                   rec.usage.memory_bytes)
    for e in board.pods_on(name):
        pod_labels = [("namespace", e.namespace), ("pod", e.name)]
        total = e.sample.total()
        out.series("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu consumed by the pod in core-seconds",
                   pod_labels, board.pod_cpu_seconds.get((e.namespace, e.name), 0.0))
        out.series("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes", pod_labels,
                   total.memory_bytes)
        per = board.container_cpu_seconds.get((e.namespace, e.name), {})
        for cname, u in sorted(e.sample.containers.items()):
            labels = [("container", cname), *pod_labels]
            out.series("container_cpu_usage_seconds_total", "counter",
                       "Cumulative cpu time consumed by the container in core-seconds", labels, per.get(cname, 0.0))
            out.series("container_memory_working_set_bytes", "gauge",
                       "Current working set of the container in bytes", labels, u.memory_bytes)
    return out.text()


def render_pod_metrics(entry: PodEntry) -> str:
    """A simulated pod's own ``/metrics``: one gauge per application metric."""
    out = _Out()
    for metric, value in entry.sample.metrics:
        out.series(metric, "gauge", f"Simulated application metric {metric}.", [], value)
    return out.text()
