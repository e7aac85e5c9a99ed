"""Fixtures for the hardware-pool end-to-end suite: `suanli up` *with* its demo pool, driven by the real kubectl.

* ``demo_server`` — one demo platform for the session (simulated demo nodes plus the host as a process
  node). Modules whose tests change cluster-wide state (NodeFeatureRules, cluster policies, node labels)
  override it with a module-scoped fresh server (``fresh_demo_server``).
* ``kc`` — kubectl bound to whichever ``demo_server`` the module uses; ``hk`` — that kubectl in a fresh
  namespace for one test; ``host_node`` — the name of the process node (annotation
  ``suanli.io/runtime: process``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import K, manifest, unique, wait_until

EXAMPLES = REPO / "examples"
RUNTIME_ANNOTATION = "suanli.io/runtime"

#: (node name, hardware profile) of the demo pool as documented for `suanli up`.
DEMO_NODES: dict[str, str] = {
    "demo-ascend-0": "ascend-910b",
    "demo-ascend-1": "ascend-910b",
    "demo-kae-0": "kunpeng-920-kae",
    "demo-a100-0": "nvidia-a100",
    "demo-gpushare-0": "gpushare-t4",
    "demo-manycore-0": "manycore-256",
}
ASCEND_NODES = ("demo-ascend-0", "demo-ascend-1")
ASCEND_RESOURCE = "huawei.com/Ascend910"


def fresh_demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start a demo `suanli up` in a new temp dir, yield it, stop it (generator for fixtures)."""
    base = tmp_path_factory.mktemp("suanli-demo")
    srv = start_server(base / "data", base / "kubeconfig", demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo platform shared by modules that only create namespaced, self-cleaning objects."""
    yield from fresh_demo_server(tmp_path_factory)


@pytest.fixture
def kc(demo_server: Server) -> Kubectl:
    """The real kubectl against this module's ``demo_server`` (function scope so overrides apply)."""
    return Kubectl(kubectl_binary(), demo_server.kubeconfig)


def get_json(kc: Kubectl, *args: str) -> Any:
    """``kubectl get <args> -o json`` parsed."""
    return json.loads(kc("get", *args, "-o", "json"))


def node_json(kc: Kubectl, name: str) -> dict[str, Any]:
    return dict(get_json(kc, "node", name))


def jsonpath(kc: Kubectl, *args: str, path: str) -> str:
    """``kubectl get <args> -o jsonpath=<path>`` output."""
    return kc("get", *args, "-o", f"jsonpath={path}")


def apply_file(kc: Kubectl, path: Path, *extra: str) -> str:
    return kc("apply", *extra, "-f", str(path))


@pytest.fixture
def hk(kc: Kubectl, request: pytest.FixtureRequest) -> Iterator[K]:
    """kubectl in a fresh namespace for one test; the namespace is deleted afterwards without waiting."""
    base = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:30].strip("-")
    name = unique(f"hw-{base}")[:63].strip("-")
    kc("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield K(kc, name)
    kc.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def host_node(kc: Kubectl) -> str:
    """Name of the Ready host node run by the process runtime (waits for it to register)."""

    def find() -> str | None:
        for node in get_json(kc, "nodes")["items"]:
            meta = node["metadata"]
            if (meta.get("annotations") or {}).get(RUNTIME_ANNOTATION) == "process" and node_ready(node):
                return str(meta["name"])
        return None

    return wait_until(find, timeout=20, what="the host process node to be Ready")


def node_ready(node: dict[str, Any]) -> bool:
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


#: The opt-in a pod needs to run as a process on the host node (which carries ``suanli.io/host=true:NoSchedule``).
HOST_TOLERATION: dict[str, str] = {"key": "suanli.io/host", "operator": "Exists", "effect": "NoSchedule"}


def process_pod(name: str, node: str, *command: str, restart: str = "Never", **meta: Any) -> dict[str, Any]:
    """A single-container Pod bound to ``node`` running ``command`` (image is ignored by the process runtime)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {
            "nodeName": node,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 5,
            "tolerations": [HOST_TOLERATION],
            "containers": [{"name": "main", "image": "python:3.11-slim", "command": list(command)}],
        },
    }


def pod_phase(k: K, name: str) -> str:
    return k("get", "pod", name, "-o", "jsonpath={.status.phase}")


def wait_phase(k: K, name: str, phase: str, *, timeout: float = 20) -> str:
    """Wait until pod ``name`` reports ``phase``; AssertionError naming the last phase seen on timeout."""
    seen: list[str] = []

    def reached() -> str | None:
        seen.append(pod_phase(k, name))
        return phase if seen[-1] == phase else None

    try:
        return wait_until(reached, timeout=timeout, what=f"pod {name} to reach {phase}")
    except AssertionError as err:
        raise AssertionError(f"{err}; last phase {seen[-1]!r}") from None


@pytest.fixture
def npus_online(kc: Kubectl) -> None:
    guide = EXAMPLES / "openfuyao-guide"
    kc("apply", "-f", str(guide / "custom-npu-rule.yaml"), "-f", str(guide / "npu-cluster-policy.yaml"))

    def online() -> bool:
        return {n["metadata"]["name"] for n in get_json(kc, "nodes")["items"]
                if (n["status"].get("allocatable") or {}).get(ASCEND_RESOURCE) == "8"} == set(ASCEND_NODES)

    wait_until(online, timeout=40, what="8 NPUs on each Ascend node")
