"""One owner for the device decision, end to end: with ``deviceshare`` in the scheduler configuration the
scheduler picks the NPUs (topology-aware, from the topology the nodes publish) and writes them on the pod at
bind; the node agent grants exactly those and does not rewrite them — the annotation has a single writer, the
scheduler.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Kubectl, Server, start_server
from tests.e2e.conftest import K
from tests.e2e_hardware.conftest import ASCEND_NODES, get_json, wait_phase

pytestmark = pytest.mark.e2e

ASCEND = "huawei.com/Ascend910"
DEVICES = "suanli.io/allocated-devices"
SCHEDULER_MANAGER = "volcano"  # the scheduler's field manager
CONF = """\
actions: "enqueue, allocate, backfill"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: overcommit
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
  - name: deviceshare
"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("suanli-deviceshare")
    conf = base / "volcano-scheduler.conf"
    conf.write_text(CONF)
    srv = start_server(base / "data", base / "kubeconfig", demo=True, extra=["--scheduler-config", str(conf)])
    try:
        yield srv
    finally:
        srv.stop()


def npu_pod(name: str, count: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "ascend/mindspore:2.3",
                                     "resources": {"limits": {ASCEND: str(count)}}}]}}


def writers(k: K, pod: str, key: str) -> set[str]:
    fields = k.json("pod", pod, "--show-managed-fields")["metadata"].get("managedFields") or []
    return {m["manager"] for m in fields if f"f:{key}" in json.dumps(m.get("fieldsV1", {}))}


@pytest.mark.usefixtures("npus_online")
def test_scheduler_decides_the_npus_and_the_node_grants_exactly_them(hk: K) -> None:
    hk.apply(npu_pod("first", 3), npu_pod("second", 4))
    for name in ("first", "second"):
        wait_phase(hk, name, "Running", timeout=30)
    grants: dict[str, list[int]] = {}
    for name in ("first", "second"):
        pod = hk.json("pod", name)
        ids = [int(i) for i in json.loads(pod["metadata"]["annotations"][DEVICES])[ASCEND]]
        grants[f"{pod['spec']['nodeName']}/{name}"] = ids
        # within one HCCS group of four (the topology the node published)
        assert set(ids) <= {0, 1, 2, 3} or set(ids) <= {4, 5, 6, 7}, ids
        assert writers(hk, name, DEVICES) == {SCHEDULER_MANAGER}
    per_node: dict[str, list[int]] = {}
    for key, ids in grants.items():
        per_node.setdefault(key.split("/")[0], []).extend(ids)
    assert all(len(ids) == len(set(ids)) for ids in per_node.values()), per_node


@pytest.mark.usefixtures("npus_online")
def test_node_grants_a_decided_pod_its_devices_even_where_its_own_rule_would_differ(kc: Kubectl, hk: K) -> None:
    def free_on(node: str) -> list[int]:
        held: set[int] = set()
        for p in get_json(kc, "pods", "-A", "--field-selector", f"spec.nodeName={node}")["items"]:
            if p["status"].get("phase") not in ("Succeeded", "Failed"):
                held |= {int(i) for i in json.loads((p["metadata"].get("annotations") or {}).get(DEVICES, "{}"))
                         .get(ASCEND, [])}
        return [i for i in range(8) if i not in held]

    node = max(ASCEND_NODES, key=lambda n: len(free_on(n)))
    free = free_on(node)
    decided = [free[0], free[-1]]  # spans both HCCS groups: the node's own rule would keep to one group
    assert len(free) >= 3 and decided[0] < 4 <= decided[1], free
    pod = npu_pod("decided", 2)
    pod["spec"]["nodeName"] = node
    pod["metadata"]["annotations"] = {DEVICES: json.dumps({ASCEND: [str(i) for i in decided]})}
    hk.apply(pod)
    wait_phase(hk, "decided", "Running", timeout=30)
    got = json.loads(hk.json("pod", "decided")["metadata"]["annotations"][DEVICES])[ASCEND]
    assert [int(i) for i in got] == decided
