"""Helpers shared by the benchmarks: machine facts, statistics, a `suanli up` subprocess, a lean HTTP client.

The HTTP client is a minimal HTTP/1.1 keep-alive connection over asyncio streams (optionally
TLS): requests are pre-encoded bytes and responses are framed by ``content-length`` or
chunked encoding. It spends far less client CPU per request than httpx or aiohttp, which
matters on a 2-core machine where the load generator competes with the server for CPU.
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = [
    "REPO",
    "Conn",
    "Server",
    "fmt_spread",
    "free_port",
    "machine_info",
    "percentile",
    "pod_body",
    "request_bytes",
    "start_server",
]

REPO = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ machine and statistics


def machine_info() -> dict[str, str]:
    """CPU model, logical cores, RAM, Python and OS, read from /proc and the interpreter."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kib = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    return {"cpu": cpu, "cores": str(os.cpu_count()), "ram": f"{ram_kib / 1024 / 1024:.1f} GiB",
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}"}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (``p`` in 0..100).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    >>> percentile([1.0, 2.0, 3.0, 4.0], 99)
    4.0
    """
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def fmt_spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    """``median (min-max, n=R)`` for a list of per-run results."""
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}-{fmt.format(max(values))}, n={len(values)})"


# ------------------------------------------------------------------ server subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running ``suanli up`` subprocess."""

    url: str
    port: int
    tls: bool
    data_dir: Path
    proc: subprocess.Popen[bytes]

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    @property
    def ca_file(self) -> str:
        return str(self.data_dir / "tls" / "ca.crt")

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_file) if self.tls else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(data_dir: Path, *, tls: bool = True, anonymous: bool = False, timeout: float = 120,
                 command: list[str] | None = None) -> Server:
    """Start ``suanli up`` (or ``command`` + ``--port/--data-dir``) and wait until /readyz says ok."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    extra = ([] if tls else ["--insecure-http"]) + (["--anonymous"] if anonymous else [])
    cmd = command or [sys.executable, "-m", "suanli.cli.main", "up", "--no-demo", "--log-level", "warning",
                      "--kubeconfig", str(data_dir / "kubeconfig")]
    log = (data_dir.parent / f"server-{port}.log").open("ab")
    proc = subprocess.Popen([*cmd, "--port", str(port), "--data-dir", str(data_dir), *extra],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO))
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    srv = Server(url, port, tls, data_dir, proc)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
        try:
            ctx = srv.ssl_context() if tls and Path(srv.ca_file).exists() else None
            if not tls or ctx is not None:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2, context=ctx) as resp:
                    if resp.read() == b"ok":
                        return srv
        except OSError:
            pass
        if time.monotonic() > deadline:
            srv.stop(signal.SIGKILL)
            raise RuntimeError(f"server not ready after {timeout}s; see {log.name}")
        time.sleep(0.05)  # polling another process's readiness endpoint


# ------------------------------------------------------------------ payloads and the lean client

_POD_TEMPLATE: dict[str, object] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "@NAME@",
        "namespace": "@NS@",
        "labels": {"app": "trainer", "volcano.sh/job-name": "job-1", "tier": "gpu"},
        "annotations": {"scheduling.k8s.io/group-name": "job-1-pg"},
    },
    "spec": {
        # a scheduler nothing serves: these figures isolate the API server from the embedded
        # scheduler and controllers (end-to-end scheduling is measured in bench_scheduler.py)
        "schedulerName": "bench-unscheduled",
        "containers": [{
            "name": "worker",
            "image": "registry.example.com/ml/trainer:1.2.3",
            "command": ["python", "-m", "trainer", "--epochs", "10"],
            "resources": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                          "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}},
            "env": [{"name": f"VAR_{i}", "value": "x" * 24} for i in range(10)],
        }],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
}
_POD_BYTES = orjson.dumps(_POD_TEMPLATE)


def pod_body(name: str, namespace: str) -> bytes:
    """A ~1 KiB pod manifest (JSON bytes) named ``namespace/name``."""
    return _POD_BYTES.replace(b"@NAME@", name.encode()).replace(b"@NS@", namespace.encode())


def request_bytes(method: str, path: str, token: str | None, body: bytes = b"",
                  headers: dict[str, str] | None = None) -> bytes:
    """One pre-encoded HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: suanli-bench/1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Conn:
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, ctx: ssl.SSLContext | None) -> Conn:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1" if ctx else None, limit=1 << 20)
        return cls(reader, writer)

    async def send_head(self, raw: bytes) -> tuple[int, bytes]:
        """Write a request and read the response head: (status, lower-cased head bytes)."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        return int(head[9:12]), head.lower()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Write ``raw`` and return (status, body) of the response."""
        status, head = await self.send_head(raw)
        i = head.find(b"content-length:")
        if i >= 0:
            n = int(head[i + 15:head.index(b"\r\n", i)])
            return status, await self.reader.readexactly(n)
        chunks = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(data[:-2])

    async def next_chunk(self) -> bytes:
        """Next chunk of a chunked response body (b"" at its end)."""
        size = int((await self.reader.readuntil(b"\r\n"))[:-2], 16)
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    def close(self) -> None:
        self.writer.close()
