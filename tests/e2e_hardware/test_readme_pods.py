"""README's "Simulated pods and pods on this machine" block, run verbatim against a demo `suanli up`: the simulated
pod runs then succeeds, the host pod opts in by toleration, lands on the host node, answers exec and logs with
timestamps. Also: without the toleration the scheduler never places a pod on the host node."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import REPO, Kubectl
from tests.e2e.conftest import K, wait_until
from tests.e2e_hardware.conftest import HOST_TOLERATION, get_json, wait_phase

pytestmark = pytest.mark.e2e


def block() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    body = text.split("### Simulated pods and pods on this machine", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in body.splitlines() if line.strip().startswith("kubectl ")]


def test_readme_pod_block_runs_as_written(hk: K, host_node: str) -> None:
    outputs = [hk(*cmd[1:]) for cmd in block()]
    assert len(outputs) == 6
    assert hk.json("pod", "host-hello")["spec"]["nodeName"] == host_node
    assert outputs[3] == "exec on the host\n"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]{18}Z hello from the host\n", outputs[4])
    sim = hk.json("pod", "simulated-train")
    assert sim["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0


@pytest.mark.parametrize("tolerated", [False, True], ids=["untolerated-never-on-host", "tolerated-may-land-on-host"])
def test_the_scheduler_keeps_untolerated_pods_off_the_host(hk: K, kc: Kubectl, host_node: str,
                                                           tolerated: bool) -> None:
    spec: dict[str, object] = {
        "nodeSelector": {"kubernetes.io/hostname": host_node},
        "containers": [{"name": "main", "image": "x", "command": ["python3", "-c", "pass"]}],
        "restartPolicy": "Never",
    }
    if tolerated:
        spec["tolerations"] = [HOST_TOLERATION]
    hk.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pinned"}, "spec": spec})
    if tolerated:
        wait_phase(hk, "pinned", "Succeeded", timeout=30)
        return

    def unschedulable() -> str | None:
        conds = hk.json("pod", "pinned")["status"].get("conditions") or []
        msg = next((c.get("message", "") for c in conds if c.get("type") == "PodScheduled"
                    and c.get("status") == "False"), None)
        return msg or None

    message = wait_until(unschedulable, timeout=30, what="the pod to be reported unschedulable")
    assert "suanli.io/host" in message or "taint" in message.lower()
    assert not hk.json("pod", "pinned")["spec"].get("nodeName")
    assert get_json(kc, "node", host_node)["spec"]["taints"][0]["key"] == "suanli.io/host"
