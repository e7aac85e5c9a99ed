"""The production shape: ``suanli up --only api`` plus components as separate processes.

:func:`start_component` runs ``suanli scheduler|controllers|agent`` as a real subprocess
against a kubeconfig; :class:`ComponentProcess` knows its health URL and, with
``--leader-elect``, its leader-election identity (both read from its start-up lines).

The kubeconfig each component uses is the ``component_kubeconfig`` fixture: for now the
admin kubeconfig ``suanli up`` writes. (Issue 11 wants a ServiceAccount-token kubeconfig
bound only to the shipped RBAC per component; override this fixture once those exist.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, Kubectl, Server, kubectl_binary, start_server


@dataclass
class ComponentProcess:
    command: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _line(self, pattern: str) -> str | None:
        m = re.search(pattern, self.log())
        return m.group(1) if m else None

    @property
    def identity(self) -> str | None:
        return self._line(r"leader election: \S+ as (\S+)")

    @property
    def health_url(self) -> str | None:
        port = self._line(r"health: http://[^:]+:(\d+)")
        return None if port is None else f"http://127.0.0.1:{port}"

    def get(self, path: str) -> tuple[int, str]:
        assert self.health_url is not None
        try:
            with urllib.request.urlopen(self.health_url + path, timeout=5) as resp:
                return int(resp.status), resp.read().decode()
        except urllib.error.HTTPError as err:
            return int(err.code), err.read().decode()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


def start_component(command: str, kubeconfig: Path, log_dir: Path, *args: str) -> ComponentProcess:
    """Start ``suanli <command> --kubeconfig K --health-port 0 ARGS``; returns once its health port is up."""
    log_dir.mkdir(parents=True, exist_ok=True)
    n = len(list(log_dir.glob(f"{command}-*.log")))
    log_path = log_dir / f"{command}-{n}.log"
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    with log_path.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "suanli.cli.main", command, "--kubeconfig", str(kubeconfig),
             "--health-port", "0", "--health-bind-address", "127.0.0.1", *args],
            stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    comp = ComponentProcess(command, proc, log_path)
    deadline = time.monotonic() + 60
    while comp.health_url is None:
        if proc.poll() is not None:
            raise RuntimeError(f"suanli {command} exited with {proc.returncode}:\n{comp.log()}")
        if time.monotonic() > deadline:
            comp.stop(signal.SIGKILL)
            raise RuntimeError(f"suanli {command} did not start:\n{comp.log()}")
        time.sleep(0.05)  # polling another process's start-up output
    return comp


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("production")
    srv = start_server(base / "data", base / "kubeconfig", extra=["--only", "api"])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def component_kubeconfig(api_server: Server) -> Callable[[str], Path]:
    """The kubeconfig component ``name`` (``scheduler``, ``controllers``, ``agent``) runs with."""
    return lambda _name: api_server.kubeconfig


@pytest.fixture(scope="module")
def admin(api_server: Server) -> Kubectl:
    return Kubectl(kubectl_binary(), api_server.kubeconfig)
