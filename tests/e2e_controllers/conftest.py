"""Fixtures for the controller end-to-end suite: a `suanli up` of its own (no demo pool) with two kwok
nodes, an offset clock for the CronJob controller, and the real kubectl.

* ``ctl_server`` — the server, started with the hidden ``--clock-offset-file`` (``clock_file``):
  writing a number of seconds there moves the CronJob controller's clock forward;
* ``kc`` — kubectl against it; ``k`` — that kubectl in a fresh namespace for one test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e.conftest import K, manifest, unique, wait_until

NODES = ("ctl-node-0", "ctl-node-1")


def fake_node(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"}}}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clock") / "offset"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def ctl_server(tmp_path_factory: pytest.TempPathFactory, clock_file: Path) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("suanli-ctl")
    srv = start_server(base / "data", base / "kubeconfig", extra=["--clock-offset-file", str(clock_file)])
    kc = Kubectl(kubectl_binary(), srv.kubeconfig)
    kc("apply", "-f", "-", input=manifest(*(fake_node(n) for n in NODES)))
    wait_until(lambda: all(kc.run("get", "node", n, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
                           .stdout == "True" for n in NODES), timeout=30, what="kwok nodes Ready")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kc(ctl_server: Server) -> Kubectl:
    return Kubectl(kubectl_binary(), ctl_server.kubeconfig)


@pytest.fixture
def k(kc: Kubectl, request: pytest.FixtureRequest) -> Iterator[K]:
    base = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:30].strip("-")
    name = unique(f"c-{base}")[:63].strip("-")
    kc("apply", "-f", "-", input=manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield K(kc, name)
    kc.run("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)
