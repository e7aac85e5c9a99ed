"""README's "Try the hardware pool" block, run verbatim (every kubectl line, in order) against a fresh demo
`suanli up`: NPUs come online on the Ascend nodes, the KAE nginx lands on the KAE node and runs, the NPU gang
is bound with distinct NPUs. Reading the block from README keeps the documentation and this test in step.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator

import pytest

from tests.conftest import REPO, Kubectl, Server
from tests.e2e.conftest import wait_until
from tests.e2e_hardware.conftest import ASCEND_NODES, fresh_demo_server, get_json

pytestmark = pytest.mark.e2e

ASCEND = "huawei.com/Ascend910"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from fresh_demo_server(tmp_path_factory)


def walkthrough() -> list[list[str]]:
    """The kubectl commands of README's hardware-pool block (comments stripped)."""
    text = (REPO / "README.md").read_text()
    block = text.split("Try the hardware pool:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip().startswith("kubectl ")]


def test_readme_block_is_found() -> None:
    commands = walkthrough()
    assert len(commands) >= 5 and all(c[0] == "kubectl" for c in commands)


def test_readme_hardware_walkthrough_runs_as_written(kc: Kubectl) -> None:
    for command in walkthrough():
        if command[1:3] == ["top", "nodes"]:  # metrics appear after the first scrape: checked last
            continue
        kc(*command[1:])
    wait_until(lambda: {n["metadata"]["name"]: n["status"]["allocatable"].get(ASCEND)
                        for n in get_json(kc, "nodes")["items"] if ASCEND in n["status"]["allocatable"]}
               == dict.fromkeys(ASCEND_NODES, "8"), timeout=40, what="8 NPUs on each Ascend node only")

    def nginx_running() -> str | None:
        pods = get_json(kc, "pods", "-l", "app=kae-nginx")["items"]
        return next((p["spec"]["nodeName"] for p in pods if p["status"].get("phase") == "Running"), None)

    assert wait_until(nginx_running, timeout=40, what="kae-nginx Running") == "demo-kae-0"

    def gang_bound() -> list[dict[str, object]] | None:
        pods = get_json(kc, "pods", "-l", "volcano.sh/job-name=npu-train")["items"]
        return pods if len(pods) == 5 and all(p["spec"].get("nodeName") for p in pods) else None

    used: dict[str, list[str]] = {}
    for pod in wait_until(gang_bound, timeout=40, what="the NPU gang bound"):
        meta, spec = pod["metadata"], pod["spec"]
        assert isinstance(meta, dict) and isinstance(spec, dict)
        wait_until(lambda m=meta: get_json(kc, "pod", str(m["name"]))["metadata"].get("annotations", {}).get(
            "suanli.io/allocated-devices"), timeout=20, what="devices recorded")
        devices = json.loads(get_json(kc, "pod", str(meta["name"]))["metadata"]["annotations"][
            "suanli.io/allocated-devices"])[ASCEND]
        used.setdefault(str(spec["nodeName"]), []).extend(devices)
    assert all(len(ids) == len(set(ids)) for ids in used.values()), used
    assert wait_until(lambda: "demo-ascend-0" in kc.run("top", "nodes", check=False).stdout, timeout=40,
                      what="kubectl top nodes")
