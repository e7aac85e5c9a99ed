"""Node pod CIDRs and pod IPs stay unique across a `suanli up` restart (real kubectl, real server)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest

from tests.conftest import Kubectl, Server, kubectl_binary, start_server
from tests.e2e._helpers import restart
from tests.e2e.conftest import manifest, wait_until
from tests.e2e_controllers.conftest import fake_node

#: created in this order; after a restart the nodes are listed alphabetically, so a subnet derived from
#: discovery order would move between them
NODES = ("ip-node-b", "ip-node-a")


@pytest.fixture(scope="module")
def ip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("suanli-ips")
    srv = start_server(base / "data", base / "kubeconfig")
    try:
        yield srv
    finally:
        srv.stop()


def pod_cidrs(kc: Kubectl) -> dict[str, str]:
    nodes = json.loads(kc("get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: (n.get("spec") or {}).get("podCIDR", "") for n in nodes}


def running_ips(kc: Kubectl, count: int) -> dict[str, tuple[str, str]] | None:
    pods = json.loads(kc("get", "pods", "-n", "default", "-o", "json"))["items"]
    got = {p["metadata"]["name"]: (p["spec"].get("nodeName", ""), p["status"].get("podIP", "")) for p in pods
           if p["status"].get("phase") == "Running" and p["status"].get("podIP")}
    return got if len(got) == count else None


def pods(prefix: str, n: int) -> str:
    """``n`` pods bound to the nodes in turn (no scheduler involved)."""
    return manifest(*({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-{i}", "namespace": "default"},
                       "spec": {"nodeName": NODES[i % 2], "containers": [{"name": "main", "image": "nginx:1.27"}]}}
                      for i in range(n)))


def test_pod_ips_unique_across_a_restart(ip_server: Server) -> None:
    kc = Kubectl(kubectl_binary(), ip_server.kubeconfig)
    for node in NODES:
        kc("apply", "-f", "-", input=manifest(fake_node(node)))
        wait_until(lambda node=node: pod_cidrs(kc).get(node), what=f"pod CIDR of {node}")  # type: ignore[misc]
    cidrs = wait_until(lambda: (c := pod_cidrs(kc)) and all(c.values()) and c, what="pod CIDRs on both nodes")
    assert len(set(cidrs.values())) == 2
    assert all(ipaddress.ip_network(c).subnet_of(ipaddress.ip_network("10.244.0.0/16")) for c in cidrs.values())
    kc("apply", "-f", "-", input=pods("before", 6))
    before = wait_until(lambda: running_ips(kc, 6), timeout=30, what="6 running pods")
    for node, ip in before.values():
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidrs[node])

    ip_server.stop()
    srv = restart(ip_server)
    try:
        kc = Kubectl(kubectl_binary(), srv.kubeconfig)
        assert pod_cidrs(kc) == cidrs  # stored on the nodes, never re-derived
        kc("apply", "-f", "-", input=pods("after", 6))
        after = wait_until(lambda: running_ips(kc, 12), timeout=30, what="12 running pods")
        assert {n: after[n] for n in before} == before
        assert len({ip for _, ip in after.values()}) == 12, after
        for node, ip in after.values():
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidrs[node])
    finally:
        srv.stop()
