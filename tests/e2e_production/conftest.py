"""The production shape: ``suanli up --only api`` plus components as separate processes.

:func:`start_component` runs ``suanli scheduler|controllers|agent`` as a real subprocess
against a kubeconfig; :class:`ComponentProcess` knows its health URL and, with
``--leader-elect``, its leader-election identity (both read from its start-up lines).

The kubeconfig each component uses is the ``component_kubeconfig`` fixture: the shipped RBAC
(ServiceAccounts, roles and bindings of ``suanli manifests``) is applied with
``kubectl apply --server-side``, and each component gets a kubeconfig holding a bound token of
its own ServiceAccount (``kubectl create token``) — so it runs with exactly the permissions a
real-cluster install grants it, and nothing more.
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
import yaml

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
def admin(api_server: Server) -> Kubectl:
    return Kubectl(kubectl_binary(), api_server.kubeconfig)


#: the kinds of ``suanli manifests`` that grant the components their identity and permissions (the
#: workloads are left out: the components run as test subprocesses instead of Deployments)
_RBAC_KINDS = frozenset({"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                         "ConfigMap"})


@pytest.fixture(scope="module")
def component_kubeconfig(api_server: Server, admin: Kubectl) -> Callable[[str], Path]:
    """The kubeconfig component ``name`` (``scheduler``, ``controllers``, ``agent``) runs with: a bound
    token of its shipped ServiceAccount ``suanli-<name>``, authorised only by the shipped RBAC."""
    out = subprocess.run([sys.executable, "-m", "suanli.cli.main", "manifests", "--no-crds"], capture_output=True,
                         text=True, check=True, cwd=str(REPO))
    docs = [d for d in yaml.safe_load_all(out.stdout) if d and d.get("kind") in _RBAC_KINDS]
    admin("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
    namespace = next(d["metadata"]["namespace"] for d in docs if d["kind"] == "ServiceAccount")
    base = yaml.safe_load(api_server.kubeconfig.read_text())

    def kubeconfig(name: str) -> Path:
        token = admin("create", "token", f"suanli-{name}", "-n", namespace, "--duration", "24h").strip()
        config = dict(base)
        config["users"] = [{"name": u["name"], "user": {"token": token}} for u in base["users"]]
        path = api_server.kubeconfig.parent / f"kubeconfig-{name}"
        path.write_text(yaml.safe_dump(config))
        return path

    return kubeconfig
