"""How the kubelet API maps requests to authorisation attributes, and where the API server finds it."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apiserver.kubeletproxy import kubelet_url
from suanli.node.agent.kubelet_server import authorizer_attributes


@pytest.mark.parametrize(("method", "path", "want"), [
    ("GET", "/containerLogs/default/web/app", ("get", "proxy")),
    ("GET", "/logs/", ("get", "log")),
    ("GET", "/logs", ("get", "log")),
    ("GET", "/logsx", ("get", "proxy")),
    ("POST", "/exec/default/web/app", ("create", "proxy")),
    ("HEAD", "/containerLogs/a/b/c", ("get", "proxy")),
    ("DELETE", "/pods", ("delete", "proxy")),
    ("PUT", "/run/default/web/app", ("update", "proxy")),
    ("PATCH", "/configz", ("patch", "proxy")),
], ids=["container-logs-is-nodes-proxy-get", "node-logs-dir-is-nodes-log", "node-logs-is-nodes-log",
        "a-logs-prefix-is-not-nodes-log", "post-is-create", "head-is-get", "delete-is-delete", "put-is-update",
        "patch-is-patch"])
def test_kubelet_authorizer_attributes(method: str, path: str, want: tuple[str, str]) -> None:
    assert authorizer_attributes(method, path) == want


def _node(port: Any, *addresses: tuple[str, str]) -> dict[str, Any]:
    return {"status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                       "addresses": [{"type": t, "address": a} for t, a in addresses]}}


@pytest.mark.parametrize(("node", "want"), [
    (_node(10250, ("Hostname", "h1"), ("InternalIP", "10.0.0.5")), "https://10.0.0.5:10250"),
    (_node(4321, ("Hostname", "h1")), "https://h1:4321"),
    (_node(10250, ("InternalIP", "fd00::5")), "https://[fd00::5]:10250"),
    (_node(10250, ("InternalIP", "10.0.0.5"), ("InternalIP", "10.0.0.6")), "https://10.0.0.5:10250"),
    (_node(0, ("InternalIP", "10.0.0.5")), None),
    (_node(10250), None),
    (_node("10250", ("InternalIP", "10.0.0.5")), None),
    ({"status": {}}, None),
    (None, None),
], ids=["internal-ip-before-hostname", "hostname-without-ip", "ipv6-bracketed", "first-internal-ip",
        "port-zero-publishes-nothing", "no-address", "non-integer-port", "no-daemon-endpoints", "no-node"])
def test_kubelet_url_of_a_node(node: dict[str, Any] | None, want: str | None) -> None:
    assert kubelet_url(node) == want
