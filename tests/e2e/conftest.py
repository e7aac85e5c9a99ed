"""Helpers for the kubectl end-to-end suite: a namespace per test, manifest application, bounded polling.

Every test talks to the session `server` (a real `suanli up`) only through the real `kubectl` binary.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

from tests.conftest import Kubectl

T = TypeVar("T")

_counter = itertools.count()


def wait_until(
    fn: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll `fn` until it returns a truthy value (returned) or `timeout` seconds pass (AssertionError).

    Only for waiting on *another process* (controllers, GC, the watch subprocess) to change state.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")
        time.sleep(interval)


def manifest(*objs: dict[str, Any]) -> str:
    """Render objects as a multi-document stream for `kubectl ... -f -` (JSON documents: no YAML 1.1 quirks)."""
    return "\n---\n".join(json.dumps(o) for o in objs) + "\n"


def pod(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    image: str = "nginx:1.27",
    env: dict[str, str] | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """A minimal single-container Pod manifest."""
    container: dict[str, Any] = {"name": "main", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    metadata: dict[str, Any] = {"name": name, **meta}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": [container]}}


def configmap(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": data or {}}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }


class K:
    """kubectl bound to one namespace; `json(...)` parses `-o json` output."""

    def __init__(self, kubectl: Kubectl, namespace: str) -> None:
        self.kubectl = kubectl
        self.ns = namespace

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.kubectl("-n", self.ns, *args, input=input)

    def run(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return self.kubectl.run("-n", self.ns, *args, input=input, check=check, env=env, timeout=timeout)

    def json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json"))

    def apply(self, *objs: dict[str, Any], extra: tuple[str, ...] = ()) -> str:
        return self("apply", *extra, "-f", "-", input=manifest(*objs))

    def create(self, *objs: dict[str, Any]) -> str:
        return self("create", "-f", "-", input=manifest(*objs))

    def exists(self, *args: str) -> bool:
        proc = self.run("get", *args, "-o", "name", "--ignore-not-found")
        assert proc.returncode == 0, proc.stderr
        return bool(proc.stdout.strip())

    def popen(self, *args: str, stderr: IO[str] | None = None) -> subprocess.Popen[str]:
        """Start a long-running kubectl (e.g. `get -w`) in this namespace; the caller terminates it."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubectl.kubeconfig)
        env["HOME"] = str(self.kubectl.kubeconfig.parent)
        return subprocess.Popen(
            [self.kubectl.binary, "-n", self.ns, *args],
            stdout=subprocess.PIPE,
            stderr=stderr if stderr is not None else subprocess.PIPE,
            text=True,
            env=env,
        )

    def popen_watching(self, *args: str, timeout: float = 20) -> tuple[subprocess.Popen[str], Path]:
        """Start kubectl (`wait`, `get -w` …) with ``-v=6`` and return once its watch request was answered.

        kubectl logs each response at verbosity 6; seeing the ``watch=true`` response means later
        changes cannot be missed. Returns the process and the file its stderr goes to.
        """
        fd, name = tempfile.mkstemp(prefix="kubectl-", suffix=".log")
        log_path = Path(name)
        with os.fdopen(fd, "w") as log:
            proc = self.popen(*args, "-v=6", stderr=log)

        def watching() -> bool:
            if proc.poll() is not None:
                return True
            return any("watch=true" in line and "Response" in line for line in log_path.read_text().splitlines())

        wait_until(watching, timeout=timeout, interval=0.02, what=f"kubectl {' '.join(args)} to start watching")
        return proc, log_path


def unique(prefix: str) -> str:
    """A DNS-1123 name unique within this test session."""
    return f"{prefix}-{os.getpid() % 10000}-{next(_counter)}"


@pytest.fixture
def k(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[K]:
    """A fresh namespace for one test (created with apply, deleted afterwards without waiting)."""
    base = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:30].strip("-")
    name = unique(f"e2e-{base}")[:63].strip("-")
    kubectl("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield K(kubectl, name)
    kubectl.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)
