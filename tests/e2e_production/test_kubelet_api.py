"""``kubectl logs`` of a pod run by a separate ``suanli agent --host``, through its kubelet API.

``suanli up --only api`` runs no runtime of its own; ``suanli agent --host --kubelet-port 0``
(with the shipped agent RBAC) runs the host's pods and serves ``/containerLogs`` over HTTPS,
publishing the port in its Node's ``status.daemonEndpoints``. The API server proxies
``pods/log`` there with its kubelet client certificate; ``kubectl logs`` and ``kubectl logs -f``
see the container's output, and ``kubectl exec``/``port-forward`` reach the pod over the
relayed WebSocket. Callers of the kubelet API are checked as upstream: no credentials
401, a token whose user lacks ``nodes/proxy`` 403, the admin 200.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from suanli.apiserver.tls import issue_client_certificate, load_ca
from suanli.node.agent.process import HOST_TAINT
from suanli.wire import RUNTIME_ANNOTATION
from tests.conftest import Kubectl, Server, free_port
from tests.e2e.conftest import manifest, wait_until
from tests.e2e_production.conftest import ComponentProcess, start_component

pytestmark = pytest.mark.e2e

NS = "kubelet-api"
POD = "ticker"
SCRIPT = "echo hello; i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.3; done"


@pytest.fixture(scope="module")
def host_agent(admin: Kubectl, component_kubeconfig: Callable[[str], Path],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentProcess]:
    base = tmp_path_factory.mktemp("host-agent")
    agent = start_component("agent", component_kubeconfig("agent"), base / "logs", "--host", "--kubelet-port", "0",
                            "--data-dir", str(base / "data"))
    try:
        admin("create", "namespace", NS)
        admin("create", "serviceaccount", "default", "-n", NS)  # --only api runs no serviceaccount controller
        yield agent
    finally:
        admin.run("delete", "namespace", NS, "--wait=false", check=False)
        agent.stop()


def kubelet_port(agent: ComponentProcess) -> int:
    m = wait_until(lambda: re.search(r"kubelet: https://\S+:(\d+)", agent.log()), what="the kubelet API port")
    return int(m.group(1))


def host_node(admin: Kubectl) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        items = json.loads(admin("get", "nodes", "-o", "json"))["items"]
        return next((n for n in items if (n["metadata"].get("labels") or {}).get(RUNTIME_ANNOTATION) == "process"
                     and (n.get("status") or {}).get("daemonEndpoints")), None)
    return wait_until(find, timeout=60, what="the host node")


@pytest.fixture(scope="module")
def running_pod(host_agent: ComponentProcess, admin: Kubectl) -> str:
    node = host_node(admin)["metadata"]["name"]
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": NS},
           "spec": {"nodeName": node, "restartPolicy": "Never",
                    "tolerations": [{**HOST_TAINT, "operator": "Equal"}],
                    "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", SCRIPT]}]}}
    admin("apply", "-f", "-", input=manifest(obj))
    wait_until(lambda: json.loads(admin("get", "pod", POD, "-n", NS, "-o", "json")).get("status", {})
               .get("phase") == "Running", timeout=60, what="the host pod to run")
    return POD


def test_the_node_publishes_the_kubelet_port_it_serves(host_agent: ComponentProcess, admin: Kubectl) -> None:
    port = kubelet_port(host_agent)
    node = host_node(admin)
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == port
    assert {a["type"] for a in node["status"]["addresses"]} >= {"InternalIP", "Hostname"}


def test_kubectl_logs_reads_the_host_pods_output_through_the_kubelet(running_pod: str, admin: Kubectl) -> None:
    out = wait_until(lambda: (o := admin("logs", running_pod, "-n", NS)) and "tick-1" in o and o,
                     timeout=30, what="logs with two ticks")
    assert out.splitlines()[:2] == ["hello", "tick-0"]
    assert len(admin("logs", running_pod, "-n", NS, "--tail", "1").splitlines()) == 1
    stamped = admin("logs", running_pod, "-n", NS, "--timestamps", "--limit-bytes", "200")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello$", stamped.splitlines()[0])
    assert len(stamped.encode()) <= 200


def test_kubectl_logs_follow_streams_new_output(running_pod: str, admin: Kubectl) -> None:
    before = admin("logs", running_pod, "-n", NS).split()
    last = max(int(t.split("-")[1]) for t in before if t.startswith("tick-"))
    env = {**os.environ, "KUBECONFIG": str(admin.kubeconfig), "HOME": str(admin.kubeconfig.parent)}
    proc = subprocess.Popen([admin.binary, "logs", "-f", running_pod, "-n", NS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                s.startswith("tick-") and int(s[5:]) > last + 2 for s in seen):
            if sel.select(timeout=1):
                line = proc.stdout.readline().decode().strip()
                if not line:
                    break
                seen.append(line)
        assert seen[0] == "hello"
        assert any(s.startswith("tick-") and int(s[5:]) > last + 2 for s in seen), seen
        assert proc.poll() is None  # still following the running container
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("who", "status"), [("nobody", 401), ("reader", 403), ("admin", 200)],
                         ids=["no-credentials-is-401", "user-without-nodes-proxy-is-403", "admin-is-200"])
def test_the_kubelet_api_checks_its_callers(who: str, status: int, running_pod: str, host_agent: ComponentProcess,
                                            admin: Kubectl, api_server: Server) -> None:
    headers: dict[str, str] = {}
    if who == "reader":
        admin.run("create", "serviceaccount", "reader", "-n", NS, check=False)
        admin.run("create", "rolebinding", "reader-view", "--clusterrole", "view",
                  f"--serviceaccount={NS}:reader", "-n", NS, check=False)
        headers["Authorization"] = "Bearer " + admin("create", "token", "reader", "-n", NS).strip()
    elif who == "admin":
        headers["Authorization"] = f"Bearer {api_server.token()}"
    url = f"https://127.0.0.1:{kubelet_port(host_agent)}/containerLogs/{NS}/{running_pod}/main"
    with httpx.Client(verify=False, timeout=30) as c:  # nosec B501  # the kubelet's own self-signed certificate
        resp = c.get(url, headers=headers)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.text.strip() == (f"Forbidden (user=system:serviceaccount:{NS}:reader, verb=get, "
                                     "resource=nodes, subresource(s)=[proxy])")
    if status == 200:
        assert resp.text.startswith("hello\n")


@pytest.mark.parametrize(("user", "groups", "status"), [
    ("carol", [], 403), ("root-ish", ["system:masters"], 200),
], ids=["cluster-ca-cert-without-nodes-proxy-is-403", "cluster-ca-cert-in-system-masters-is-200"])
def test_the_kubelet_api_authenticates_cluster_ca_client_certificates(
        user: str, groups: list[str], status: int, running_pod: str, host_agent: ComponentProcess,
        api_server: Server, tmp_path: Path) -> None:
    cert_pem, key_pem = issue_client_certificate(load_ca(api_server.data_dir), user, groups)
    (tmp_path / "c.crt").write_bytes(cert_pem)
    (tmp_path / "c.key").write_bytes(key_pem)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # nosec B501  # the kubelet's own self-signed certificate
    ctx.load_cert_chain(str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    url = f"https://127.0.0.1:{kubelet_port(host_agent)}/containerLogs/{NS}/{running_pod}/main?tailLines=1"
    with httpx.Client(verify=ctx, timeout=30) as c:
        resp = c.get(url)
    assert resp.status_code == status, resp.text
    if status == 403:
        assert resp.text.strip() == f"Forbidden (user={user}, verb=get, resource=nodes, subresource(s)=[proxy])"
    else:
        assert len(resp.text.splitlines()) == 1


@pytest.mark.parametrize(("command", "code", "stdout"), [
    (["echo", "hi from the host"], 0, "hi from the host\n"),
    (["sh", "-c", "echo out; exit 3"], 3, "out\n"),
], ids=["exec-output-reaches-kubectl", "exec-exit-code-reaches-kubectl"])
def test_kubectl_exec_runs_in_the_host_pod_through_the_kubelet(command: list[str], code: int, stdout: str,
                                                               running_pod: str, admin: Kubectl) -> None:
    proc = admin.run("exec", running_pod, "-n", NS, "--", *command, check=False)
    assert (proc.returncode, proc.stdout) == (code, stdout), proc.stderr


def test_kubectl_exec_with_stdin_through_the_kubelet(running_pod: str, admin: Kubectl) -> None:
    proc = admin.run("exec", "-i", running_pod, "-n", NS, "--", "cat", input="piped\n", check=False)
    assert (proc.returncode, proc.stdout) == (0, "piped\n"), proc.stderr


def test_kubectl_exec_into_an_unknown_container_is_refused(running_pod: str, admin: Kubectl) -> None:
    proc = admin.run("exec", running_pod, "-n", NS, "-c", "nope", "--", "true", check=False)
    assert proc.returncode != 0
    assert "container nope is not valid for pod ticker" in proc.stderr


def test_kubectl_port_forward_reaches_the_host_pod_through_the_kubelet(host_agent: ComponentProcess, admin: Kubectl,
                                                                       tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text(f"through the kubelet {os.getpid()}\n")
    port = free_port()
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS},
           "spec": {"nodeName": host_node(admin)["metadata"]["name"], "restartPolicy": "Never",
                    "tolerations": [{**HOST_TAINT, "operator": "Equal"}],
                    "containers": [{"name": "main", "image": "python", "workingDir": str(tmp_path),
                                    "command": ["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"]}]}}
    admin("apply", "-f", "-", input=manifest(obj))

    def listening() -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout=60, what="the pod's server")
    out = tmp_path / "pf.out"
    env = {**os.environ, "KUBECONFIG": str(admin.kubeconfig), "HOME": str(admin.kubeconfig.parent)}
    with out.open("wb") as fh:
        proc = subprocess.Popen([admin.binary, "-n", NS, "port-forward", "pod/web", f":{port}"], stdout=fh,
                                stderr=subprocess.STDOUT, env=env)
    try:
        found = wait_until(lambda: re.search(rb"Forwarding from 127\.0\.0\.1:(\d+) ->", out.read_bytes())
                           or proc.poll() is not None, timeout=30, what="kubectl port-forward to listen")
        assert isinstance(found, re.Match), out.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{int(found.group(1))}/hello.txt", timeout=30) as resp:
            assert resp.read() == (tmp_path / "hello.txt").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        admin.run("delete", "pod", "web", "-n", NS, "--wait=false", check=False)
