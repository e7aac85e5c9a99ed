"""The component health server: kube-apiserver's healthz answers over a real loopback socket."""

from __future__ import annotations

import asyncio

import pytest

from suanli.runtime.health import HealthServer

CHECKS: dict[str, str | None] = {}


def _server(ready: bool = True) -> HealthServer:
    return HealthServer(lambda: {name: (lambda r=reason: r) for name, reason in CHECKS.items()},
                        metrics=lambda: "# TYPE x counter\nx 1\n", ready=lambda: ready, host="127.0.0.1", port=0)


@pytest.mark.parametrize(("checks", "target", "ready", "code", "body"), [
    ({}, "/healthz", True, 200, "ok"),
    ({"leaderElection": None}, "/livez", True, 200, "ok"),
    ({"leaderElection": None}, "/healthz?verbose", True, 200,
     "[+]ping ok\n[+]leaderElection ok\nhealthz check passed\n"),
    ({"leaderElection": "lease not renewed"}, "/healthz", True, 500,
     "[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n"),
    ({"leaderElection": "lease not renewed"}, "/healthz/leaderElection", True, 500,
     "internal server error: lease not renewed\n"),
    ({"leaderElection": None}, "/healthz/leaderElection", True, 200, "ok"),
    ({}, "/healthz/nosuch", True, 404, "404 page not found\n"),
    ({}, "/readyz", False, 500, "[+]ping ok\n[-]ready failed: reason withheld\nreadyz check failed\n"),
    ({}, "/readyz", True, 200, "ok"),
    ({}, "/healthz", False, 200, "ok"),
    ({}, "/nothing", True, 404, "404 page not found\n"),
], ids=["healthy", "livez-alias", "verbose-lists-checks", "failed-check-withholds-reason",
        "single-check-tells-reason", "single-check-ok", "unknown-check-404", "not-ready",
        "ready", "readiness-does-not-affect-health", "unknown-path-404"])
def test_health_answers(checks: dict[str, str | None], target: str, ready: bool, code: int, body: str) -> None:
    CHECKS.clear()
    CHECKS.update(checks)
    assert _server(ready).answer(target)[::2] == (code, body)


def test_metrics_append_process_metrics_to_the_component_registry() -> None:
    code, ctype, body = _server().answer("/metrics")
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert body.startswith("# TYPE x counter\nx 1\n")
    for name in ("process_start_time_seconds", "process_cpu_seconds_total", "process_resident_memory_bytes"):
        assert f"\n{name} " in body


async def test_served_over_http_on_a_free_port() -> None:
    CHECKS.clear()
    server = _server()
    port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert raw.endswith(b"\r\n\r\nok")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.read(), timeout=5)).startswith(b"HTTP/1.1 405 ")
        writer.close()
    finally:
        await server.stop()
