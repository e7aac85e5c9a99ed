"""Several ``suanli agent --sim-nodes`` processes share one cluster, each owning only its nodes.

Two agents (``--agent-name alpha`` and ``beta``) against ``suanli up --only api``, each with the
shipped agent RBAC: each creates its nodes labelled ``agent.suanli.io/name=<agent>``, makes them
Ready and publishes their NodeFeatures; with beta stopped, a pod bound to a beta node is left alone
while alpha runs the pod bound to an alpha node.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from suanli.cli.standalone import AGENT_LABEL
from tests.conftest import Kubectl
from tests.e2e.conftest import manifest, wait_until
from tests.e2e_production.conftest import ComponentProcess, start_component

pytestmark = pytest.mark.e2e

NS = "agents"
AGENTS = {"alpha": 3, "beta": 2}  # agent name -> simulated nodes


@pytest.fixture(scope="module")
def agents(admin: Kubectl, component_kubeconfig: Callable[[str], Path],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ComponentProcess]]:
    logs = tmp_path_factory.mktemp("agents")
    started: dict[str, ComponentProcess] = {}
    try:
        for name, n in AGENTS.items():
            started[name] = start_component("agent", component_kubeconfig("agent"), logs, "--sim-nodes", str(n),
                                            "--agent-name", name)
        admin("create", "namespace", NS)
        # --only api runs no serviceaccount controller; pods need the namespace's default account
        admin("create", "serviceaccount", "default", "-n", NS)
        yield started
    finally:
        for comp in started.values():
            comp.stop()


def nodes(admin: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(admin("get", "nodes", "-o", "json"))["items"]
    return items


def ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def test_each_agent_creates_and_readies_its_own_labelled_nodes(agents: dict[str, ComponentProcess],
                                                              admin: Kubectl) -> None:
    def by_agent() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for n in nodes(admin):
            if ready(n):
                out.setdefault(n["metadata"]["labels"].get(AGENT_LABEL, ""), set()).add(n["metadata"]["name"])
        return out

    owned = wait_until(lambda: (lambda b: b if {a: len(b.get(a, ())) for a in AGENTS} == AGENTS else None)(by_agent()),
                       timeout=90, what="every agent's nodes Ready")
    assert set(owned) == set(AGENTS)
    for agent, names in owned.items():
        assert names == {f"{agent}-openb-cpu-32-{i}" for i in range(AGENTS[agent])}


def test_each_agents_nodes_get_their_node_feature(agents: dict[str, ComponentProcess], admin: Kubectl) -> None:
    expected = {f"{a}-openb-cpu-32-{i}" for a, n in AGENTS.items() for i in range(n)}

    def published() -> set[str] | None:
        items = json.loads(admin("get", "nodefeatures", "-n", "node-feature-discovery", "-o", "json"))["items"]
        names = {nf["metadata"]["name"] for nf in items}
        return names if expected <= names else None

    wait_until(published, timeout=90, what="a NodeFeature per simulated node")


def pinned_pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"nodeName": node, "restartPolicy": "Never",
                     "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}


def test_an_agent_leaves_the_pods_of_another_agents_nodes_alone(agents: dict[str, ComponentProcess],
                                                               admin: Kubectl) -> None:
    wait_until(lambda: sum(ready(n) for n in nodes(admin)) >= sum(AGENTS.values()), timeout=90,
               what="every node Ready")
    assert agents["beta"].stop() == 0
    # the pod on beta's node first: alpha would reach it no later than the pod on its own node
    admin("apply", "-f", "-", input=manifest(pinned_pod("on-beta", "beta-openb-cpu-32-0")))
    admin("apply", "-f", "-", input=manifest(pinned_pod("on-alpha", "alpha-openb-cpu-32-0")))

    def phase(name: str) -> str:
        return str(json.loads(admin("get", "pod", "-n", NS, name, "-o", "json")).get("status", {}).get("phase", ""))

    wait_until(lambda: phase("on-alpha") == "Running", timeout=60, what="alpha runs the pod on its node")
    beta_pod = json.loads(admin("get", "pod", "-n", NS, "on-beta", "-o", "json"))
    assert beta_pod.get("status", {}).get("phase", "Pending") == "Pending"
    assert not beta_pod.get("status", {}).get("containerStatuses")
