"""`kubectl port-forward` to a host pod (SPDY/3.1 tunnelled in a WebSocket), and its refusals, with the real kubectl."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Server, free_port
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import process_pod, wait_phase

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The directory the pod serves: a small page and a 1 MiB file of random bytes."""
    (tmp_path / "hello.txt").write_text(f"hello through the tunnel {os.getpid()}\n")
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))
    return tmp_path


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def web(hk: K, host_node: str, site: Path) -> tuple[K, int]:
    """A host pod serving ``site`` with ``python3 -m http.server`` on a free port; (kubectl, port)."""
    port = free_port()
    pod = process_pod("web", host_node, "python3", "-m", "http.server", str(port), "--bind", "127.0.0.1")
    pod["spec"]["containers"][0]["workingDir"] = str(site)
    hk.apply(pod)
    wait_phase(hk, "web", "Running")
    wait_until(lambda: _listening(port), timeout=30, what=f"the pod's server on port {port}")
    return hk, port


@contextmanager
def port_forward(k: K, tmp_path: Path, target: str, remote: int) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    """Run ``kubectl port-forward <target> :<remote>``; yield (process, its output file, the local port)."""
    out = tmp_path / f"pf-{remote}.out"
    env = dict(os.environ, KUBECONFIG=str(k.kubectl.kubeconfig), HOME=str(k.kubectl.kubeconfig.parent))
    with out.open("wb") as fh:
        proc = subprocess.Popen([k.kubectl.binary, "-n", k.ns, "port-forward", target, f":{remote}"],
                                stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        found = wait_until(lambda: re.search(rb"Forwarding from 127\.0\.0\.1:(\d+) ->", out.read_bytes())
                           or proc.poll() is not None, timeout=30, what="kubectl port-forward to listen")
        assert isinstance(found, re.Match), out.read_text()
        yield proc, out, int(found.group(1))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _get(local: int, name: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{local}/{name}", timeout=30) as resp:
        return bytes(resp.read())


def test_fetches_through_port_forward_sequentially_and_concurrently(web: tuple[K, int], site: Path,
                                                                    tmp_path: Path) -> None:
    k, port = web
    page, big = (site / "hello.txt").read_bytes(), (site / "big.bin").read_bytes()
    with port_forward(k, tmp_path, "pod/web", port) as (proc, out, local):
        assert _get(local, "hello.txt") == page  # two connections one after the other
        assert _get(local, "big.bin") == big
        with ThreadPoolExecutor(2) as pool:  # and two at once
            got = list(pool.map(lambda name: _get(local, name), ["big.bin", "hello.txt"]))
        assert got == [big, page]
        assert proc.poll() is None, out.read_text()
        assert out.read_text().count("Handling connection for") == 4


def test_a_port_nobody_listens_on_reports_the_kubelets_error(web: tuple[K, int], tmp_path: Path) -> None:
    k, _ = web
    closed = free_port()
    with port_forward(k, tmp_path, "pod/web", closed) as (proc, out, local):
        with socket.create_connection(("127.0.0.1", local), timeout=30) as conn:
            conn.settimeout(30)
            assert conn.recv(1) == b""  # the tunnel closes without data
        proc.wait(timeout=30)  # kubectl gives up on the connection after an error, as upstream
        text = out.read_text()
    assert proc.returncode != 0
    assert f"error forwarding port {closed} to pod web_{k.ns}" in text
    assert f"dial tcp4 127.0.0.1:{closed}: connect: connection refused" in text


def test_port_forward_to_a_simulated_pod_is_a_400_saying_it_is_simulated(hk: K) -> None:
    hk.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "simmed"},
        "spec": {"nodeName": "demo-manycore-0", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    })
    wait_phase(hk, "simmed", "Running")
    proc = hk.run("port-forward", "pod/simmed", ":8080", timeout=30)
    assert proc.returncode != 0
    assert 'pod "simmed" runs on simulated node "demo-manycore-0"' in proc.stderr
    assert "cannot portforward" in proc.stderr


def test_a_plain_spdy_upgrade_is_a_400_naming_the_websocket_subprotocol(web: tuple[K, int],
                                                                      demo_server: Server) -> None:
    k, _ = web
    req = urllib.request.Request(f"{demo_server.url}/api/v1/namespaces/{k.ns}/pods/web/portforward", method="POST",
                                 headers={"Authorization": f"Bearer {demo_server.token()}", "Connection": "Upgrade",
                                          "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "portforward.k8s.io"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=30, context=demo_server.ssl_context())
    status = json.loads(info.value.read())
    assert info.value.code == 400 and status["code"] == 400
    assert "SPDY/3.1+portforward.k8s.io" in status["message"]
