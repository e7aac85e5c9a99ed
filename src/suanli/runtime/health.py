"""``/healthz``, ``/livez``, ``/readyz`` and ``/metrics`` for a component process.

Served over plain HTTP on its own port (upstream components serve them on their secure
port; see docs/architecture.md for this deviation). The answers follow
``k8s.io/apiserver/pkg/server/healthz``:

* ``GET /healthz`` (``/livez``, ``/readyz``): ``200 ok`` when every check passes, else
  ``500`` with one ``[+]name ok`` / ``[-]name failed: reason withheld`` line per check and
  ``healthz check failed`` (``?verbose`` lists the lines on success too);
* ``GET /healthz/<name>``: that one check (404 when unknown);
* ``/readyz`` also fails while ``ready()`` is False (the ``ready`` pseudo-check);
* ``GET /metrics``: the Prometheus text of ``metrics()`` followed by the standard process
  metrics of the Prometheus client libraries (:func:`process_metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import time
from collections.abc import Callable, Mapping

from suanli.runtime.component import HealthCheck

__all__ = ["HealthServer", "process_metrics"]

log = logging.getLogger(__name__)

_PATHS = ("/healthz", "/livez", "/readyz")


_STARTED = time.time()


def process_metrics() -> str:
    """``process_start_time_seconds``, ``process_cpu_seconds_total`` and ``process_resident_memory_bytes``."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        rss = usage.ru_maxrss * 1024
    return ("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
            "# TYPE process_start_time_seconds gauge\n"
            f"process_start_time_seconds {_STARTED:.3f}\n"
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.3f}\n"
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            f"process_resident_memory_bytes {rss}\n")


class HealthServer:
    """Start with :meth:`start` (binds at once; ``port`` 0 = any free), stop with :meth:`stop`."""

    def __init__(self, checks: Callable[[], Mapping[str, HealthCheck]], *, metrics: Callable[[], str],
                 ready: Callable[[], bool] = lambda: True, host: str = "0.0.0.0", port: int = 0) -> None:  # nosec B104  # health port default as kube components
        self.checks = checks
        self.metrics = metrics
        self.ready = ready
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the port bound."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)

    def answer(self, target: str) -> tuple[int, str, str]:
        """``(status, content type, body)`` for a request target such as ``/readyz?verbose``."""
        path, _, query = target.partition("?")
        verbose = "verbose" in query.split("&")
        if path == "/metrics":
            text = self.metrics()
            return 200, "text/plain; version=0.0.4; charset=utf-8", text + ("" if text.endswith("\n") or not text
                                                                             else "\n") + process_metrics()
        base = next((p for p in _PATHS if path == p or path.startswith(p + "/")), None)
        if base is None:
            return 404, "text/plain; charset=utf-8", "404 page not found\n"
        checks: dict[str, HealthCheck] = {"ping": lambda: None, **self.checks()}
        if base == "/readyz":
            checks["ready"] = lambda: None if self.ready() else "not ready"
        single = path[len(base) + 1:]
        if single:
            check = checks.get(single)
            if check is None:
                return 404, "text/plain; charset=utf-8", "404 page not found\n"
            reason = check()
            if reason is None:
                return 200, "text/plain; charset=utf-8", "ok"
            return 500, "text/plain; charset=utf-8", f"internal server error: {reason}\n"
        lines: list[str] = []
        failed = False
        for name, check in checks.items():
            reason = check()
            if reason is None:
                lines.append(f"[+]{name} ok")
            else:
                failed = True
                lines.append(f"[-]{name} failed: reason withheld")
                log.info("%s check %s failed: %s", base, name, reason)
        if failed:
            return 500, "text/plain; charset=utf-8", "\n".join(lines) + f"\n{base[1:]} check failed\n"
        if verbose:
            return 200, "text/plain; charset=utf-8", "\n".join(lines) + f"\n{base[1:]} check passed\n"
        return 200, "text/plain; charset=utf-8", "ok"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=10)
            while (await asyncio.wait_for(reader.readline(), timeout=10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, ctype, body = 405, "text/plain; charset=utf-8", "method not allowed\n"
            else:
                status, ctype, body = self.answer(parts[1])
            data = body.encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal Server Error")
            head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                    "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + (b"" if parts and parts[0] == "HEAD" else data))
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
