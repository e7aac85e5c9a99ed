"""`kubectl exec` and `kubectl attach` on host pods over WebSocket (v5.channel.k8s.io), and their refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from suanli.apimachinery.version import KUBE_RELEASE
from tests.conftest import Kubectl
from tests.e2e.conftest import K
from tests.e2e_hardware.conftest import process_pod, wait_phase

pytestmark = pytest.mark.e2e

SLEEPER = ("python3", "-c", "import time; time.sleep(600)")


def _sleeper(node: str) -> dict[str, Any]:
    pod = process_pod("box", node, *SLEEPER)
    pod["spec"]["containers"][0]["workingDir"] = "/tmp"
    pod["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hello from the pod"}]
    return pod


@pytest.fixture
def box(hk: K, host_node: str) -> K:
    hk.apply(_sleeper(host_node))
    wait_phase(hk, "box", "Running")
    return hk


@pytest.mark.parametrize(
    ("script", "stdout", "stderr", "code"),
    [
        ('echo "$GREETING"; pwd', "hello from the pod\n/tmp\n", "", 0),
        ("echo out; echo oops >&2; exit 3", "out\n", "oops\n", 3),
        ("exit 0", "", "", 0),
    ],
    ids=["runs-in-the-containers-env-and-working-dir", "stderr-and-exit-code-3-reach-kubectl",
         "silent-success"],
)
def test_exec_runs_a_command_in_the_host_container(box: K, script: str, stdout: str, stderr: str,
                                                   code: int) -> None:
    proc = box.run("exec", "box", "--", "sh", "-c", script, check=False)
    assert proc.returncode == code
    assert proc.stdout == stdout
    assert stderr in proc.stderr
    if code:
        assert f"command terminated with exit code {code}" in proc.stderr


def test_exec_with_stdin_pipes_input_through(box: K) -> None:
    proc = box.run("exec", "-i", "box", "--", "python3", "-c", "import sys; print(sys.stdin.read()[::-1])",
                   input="abc\n", check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "\ncba\n"


def test_exec_of_a_missing_command_fails_with_a_nonzero_code(box: K) -> None:
    proc = box.run("exec", "box", "--", "no-such-command-xyz", check=False)
    assert proc.returncode == 127
    assert "no-such-command-xyz" in proc.stderr


def test_attach_feeds_stdin_and_relays_the_containers_output(hk: K, host_node: str) -> None:
    pod = process_pod("echoer", host_node, "python3", "-c",
                      "import sys\nfor line in sys.stdin: print(line.upper(), end='', flush=True)")
    pod["spec"]["containers"][0].update({"stdin": True, "stdinOnce": True})
    hk.apply(pod)
    wait_phase(hk, "echoer", "Running")
    proc = hk.run("attach", "-i", "echoer", input="hello\nworld\n", check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("HELLO\nWORLD\n")
    wait_phase(hk, "echoer", "Succeeded")  # stdinOnce: the end of the client's stdin ends the container's


def test_exec_into_a_finished_container_is_refused(hk: K, host_node: str) -> None:
    hk.apply(process_pod("done", host_node, "python3", "-c", "pass"))
    wait_phase(hk, "done", "Succeeded")
    proc = hk.run("exec", "done", "--", "true", check=False)
    assert proc.returncode != 0
    assert "completed pod" in proc.stderr or "not running" in proc.stderr


@pytest.mark.parametrize("verb", [("exec", "simmed", "--", "true"), ("attach", "simmed")], ids=["exec", "attach"])
def test_streaming_into_a_simulated_pod_is_a_400_saying_it_is_simulated(hk: K, verb: tuple[str, ...]) -> None:
    hk.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "simmed"},
        "spec": {"nodeName": "demo-manycore-0", "containers": [{"name": "main", "image": "busybox:1.36"}]},
    })
    wait_phase(hk, "simmed", "Running")
    proc = hk.run(*verb, check=False)
    assert proc.returncode != 0
    assert 'pod "simmed" runs on simulated node "demo-manycore-0"' in proc.stderr


def test_kubectl_version_reports_the_served_release_without_a_skew_warning(kc: Kubectl) -> None:
    proc = kc.run("version", "-o", "json", check=False)
    assert proc.returncode == 0
    assert "skew" not in proc.stderr
    versions = json.loads(proc.stdout)
    client, server = versions["clientVersion"], versions["serverVersion"]
    assert server["gitVersion"].startswith(KUBE_RELEASE + "+suanli-")
    assert abs(int(server["minor"]) - int(client["minor"])) <= 1


def test_nodes_report_kubelets_of_the_served_release(kc: Kubectl) -> None:
    nodes = json.loads(kc("get", "nodes", "-o", "json"))["items"]
    assert nodes
    assert {n["status"]["nodeInfo"]["kubeletVersion"].split("-")[0] for n in nodes} == {KUBE_RELEASE}

