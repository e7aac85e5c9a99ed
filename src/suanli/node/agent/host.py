"""Facts about the real host, read without root from ``/proc``, ``os`` and ``platform``.

* :func:`host_capacity`: ``cpu`` = ``os.cpu_count()``, ``memory`` = MemTotal (``Ki``),
  ``pods`` = 110, ``ephemeral-storage`` = size of the filesystem holding ``data_path``.
* :func:`host_node_info` / :func:`host_addresses`: kernel, OS image, architecture
  (``x86_64`` → ``amd64``, ``aarch64`` → ``arm64``), the primary IPv4 address.
* :class:`ProcSampler`: CPU as a rate between two samples — of the whole host
  (``/proc/stat``: busy = total - idle - iowait) or of a process group (sum of
  ``utime + stime`` of every ``/proc/<pid>/stat`` whose ``pgrp`` matches) — and memory
  (host: MemTotal - MemAvailable; group: resident pages of ``statm`` * page size).
  Example: 50 ticks of busy CPU over 1 s at 100 ticks/s → 0.5 core → 500_000_000 nanocores.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
from pathlib import Path

from suanli.apimachinery.version import kubelet_version

__all__ = [
    "ProcSampler",
    "host_addresses",
    "host_capacity",
    "host_node_info",
    "kube_arch",
    "meminfo",
    "process_start_ticks",
]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def kube_arch(machine: str | None = None) -> str:
    m = machine or platform.machine()
    return _ARCH.get(m, m.lower())


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """``/proc/meminfo`` in bytes (``MemTotal: 16 kB`` → ``{"MemTotal": 16384}``); empty if unreadable."""
    out: dict[str, int] = {}
    try:
        with open(path) as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    except OSError:
        pass
    return out


def host_capacity(data_path: Path | None = None) -> dict[str, str]:
    mem = meminfo().get("MemTotal", 0)
    try:
        disk = shutil.disk_usage(str(data_path or Path.cwd())).total
    except OSError:
        disk = 0
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem // 1024}Ki", "pods": "110",
            "ephemeral-storage": f"{disk // 1024}Ki"}


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def host_node_info() -> dict[str, str]:
    uname = platform.uname()
    return {"architecture": kube_arch(uname.machine), "operatingSystem": uname.system.lower(),
            "kernelVersion": uname.release, "osImage": _os_image(), "kubeletVersion": kubelet_version("suanli"),
            "kubeProxyVersion": kubelet_version("suanli"), "containerRuntimeVersion": "suanli-process://1",
            "machineID": _read("/etc/machine-id"), "systemUUID": "",
            "bootID": _read("/proc/sys/kernel/random/boot_id")}


def primary_ipv4() -> str:
    """The address of the default route's interface (no packet is sent); 127.0.0.1 as a fallback."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()


def host_addresses(hostname: str) -> list[dict[str, str]]:
    return [{"type": "InternalIP", "address": primary_ipv4()}, {"type": "Hostname", "address": hostname}]


class ProcSampler:
    """CPU rates and memory of the host and of process groups, from successive samples."""

    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._host_prev: tuple[float, float] | None = None  # (total jiffies, busy jiffies)
        self._group_prev: dict[int, tuple[float, float]] = {}  # pgid -> (monotonic, cpu seconds)

    def host_usage(self) -> tuple[int, int]:
        """(nanocores since the previous call — 0 on the first, memory bytes in use)."""
        nanocores = 0
        try:
            with open(f"{self.proc}/stat") as fh:
                fields = fh.readline().split()[1:]
            vals = [float(v) for v in fields]
            total = sum(vals[:8])
            busy = total - vals[3] - (vals[4] if len(vals) > 4 else 0)
            if self._host_prev is not None and total > self._host_prev[0]:
                share = (busy - self._host_prev[1]) / (total - self._host_prev[0])
                nanocores = int(max(0.0, share) * (os.cpu_count() or 1) * 1e9)
            self._host_prev = (total, busy)
        except (OSError, ValueError, IndexError):
            pass
        mem = meminfo()
        used = mem.get("MemTotal", 0) - mem.get("MemAvailable", mem.get("MemFree", 0))
        return nanocores, max(0, used)

    def group_usage(self, pgid: int, now: float) -> tuple[int, int]:
        """(nanocores since the previous sample of ``pgid``, resident bytes) of a process group."""
        cpu_s, rss = 0.0, 0
        try:
            entries = os.listdir(self.proc)
        except OSError:
            return 0, 0
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"{self.proc}/{entry}/stat") as fh:
                    stat = fh.read()
                rest = stat[stat.rindex(")") + 2:].split()
                if int(rest[2]) != pgid:  # field 5: pgrp
                    continue
                cpu_s += (int(rest[11]) + int(rest[12])) / self.ticks  # fields 14, 15: utime, stime
                with open(f"{self.proc}/{entry}/statm") as fh:
                    rss += int(fh.read().split()[1]) * self.page
            except (OSError, ValueError, IndexError):
                continue
        prev = self._group_prev.get(pgid)
        self._group_prev[pgid] = (now, cpu_s)
        if prev is None or now <= prev[0]:
            return 0, rss
        return int(max(0.0, cpu_s - prev[1]) / (now - prev[0]) * 1e9), rss

    def forget(self, pgid: int) -> None:
        self._group_prev.pop(pgid, None)


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat`` field 22), or None if gone.

    A pid plus its start time names one process even after the pid is reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None
