"""API Priority and Fairness bootstrap objects and FlowSchema status (upstream bootstrap/default.go,
ensurer semantics, the Dangling condition)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import deep_copy
from suanli.controllers.flowcontrol import FlowControlController, should_update_spec
from suanli.kinds.flowcontrol import bootstrap_flow_schemas, bootstrap_priority_levels
from suanli.runtime.clock import FakeClock
from tests.controllers.conftest import Api, eventually, running

FS = GVR("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", namespaced=False)
PL = GVR("flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", namespaced=False)
AUTO = "apf.kubernetes.io/autoupdate-spec"


def test_flow_schemas_match_a_v1_29_cluster() -> None:
    # `kubectl get flowschemas` of a kube-apiserver: NAME PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD
    expected = """exempt exempt 1 <none>
probes exempt 2 <none>
system-leader-election leader-election 100 ByUser
endpoint-controller workload-high 150 ByUser
workload-leader-election leader-election 200 ByUser
system-node-high node-high 400 ByUser
system-nodes system 500 ByUser
kube-controller-manager workload-high 800 ByNamespace
kube-scheduler workload-high 800 ByNamespace
kube-system-service-accounts workload-high 900 ByNamespace
service-accounts workload-low 9000 ByUser
global-default global-default 9900 ByUser
catch-all catch-all 10000 ByUser"""
    rows = [f"{f['metadata']['name']} {f['spec']['priorityLevelConfiguration']['name']} "
            f"{f['spec']['matchingPrecedence']} {(f['spec'].get('distinguisherMethod') or {}).get('type', '<none>')}"
            for f in bootstrap_flow_schemas()]
    assert rows == expected.splitlines()


def test_priority_levels_match_a_v1_29_cluster() -> None:
    # `kubectl get prioritylevelconfigurations`: NAME TYPE NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT
    expected = {
        "catch-all": ("Limited", 5, None, None, None), "exempt": ("Exempt", None, None, None, None),
        "global-default": ("Limited", 20, 128, 6, 50), "leader-election": ("Limited", 10, 16, 4, 50),
        "node-high": ("Limited", 40, 64, 6, 50), "system": ("Limited", 30, 64, 6, 50),
        "workload-high": ("Limited", 40, 128, 6, 50), "workload-low": ("Limited", 100, 128, 6, 50),
    }
    got = {}
    for pl in bootstrap_priority_levels():
        limited = pl["spec"].get("limited") or {}
        queuing = (limited.get("limitResponse") or {}).get("queuing") or {}
        got[pl["metadata"]["name"]] = (pl["spec"]["type"], limited.get("nominalConcurrencyShares"),
                                       queuing.get("queues"), queuing.get("handSize"), queuing.get("queueLengthLimit"))
    assert got == expected
    lendable = {p["metadata"]["name"]: (p["spec"].get("limited") or p["spec"].get("exempt"))["lendablePercent"]
                for p in bootstrap_priority_levels()}
    assert lendable == {"exempt": 0, "catch-all": 0, "system": 33, "node-high": 25, "leader-election": 0,
                        "workload-high": 50, "workload-low": 90, "global-default": 50}


@pytest.mark.parametrize(("annotation", "generation", "expected"), [
    ("true", 5, True), ("false", 1, False), (None, 1, True), (None, 2, False), ("invalid", 1, True),
    ("invalid", 3, False),
], ids=["annotation-true", "annotation-false", "missing-fresh", "missing-edited", "invalid-fresh", "invalid-edited"])
def test_should_update_spec(annotation: str | None, generation: int, expected: bool) -> None:
    meta: dict[str, Any] = {"generation": generation}
    if annotation is not None:
        meta["annotations"] = {AUTO: annotation}
    assert should_update_spec({"metadata": meta}) is expected


async def _get(api: Api, gvr: GVR, name: str) -> dict[str, Any] | None:
    """A private copy (the in-process client hands out the store's shared objects)."""
    items = (await api.client.list(gvr))["items"]
    found = next((o for o in items if o["metadata"]["name"] == name), None)
    return None if found is None else deep_copy(found)


async def test_bootstrap_objects_created_and_kept(api: Api) -> None:
    clock = FakeClock()
    async with running(FlowControlController(api.client, clock=clock)):
        await eventually(lambda: _count(api), what="all bootstrap objects")
        fs = await eventually(lambda: _dangling(api, "global-default"), what="Dangling condition")
        assert fs == {"status": "False", "reason": "Found", "message": 'This FlowSchema references the '
                      'PriorityLevelConfiguration object named "global-default" and it exists'}
        # a mandatory object is restored; a suggested one the user opted out of is left alone
        catch_all = await _get(api, PL, "catch-all")
        assert catch_all is not None
        catch_all["spec"]["limited"]["nominalConcurrencyShares"] = 99
        await api.client.update(PL, catch_all)
        workload_low = await _get(api, PL, "workload-low")
        assert workload_low is not None
        workload_low["metadata"]["annotations"][AUTO] = "false"
        workload_low["spec"]["limited"]["nominalConcurrencyShares"] = 7
        await api.client.update(PL, workload_low)
        exempt = await _get(api, PL, "exempt")
        assert exempt is not None
        exempt["spec"]["exempt"]["nominalConcurrencyShares"] = 10
        await api.client.update(PL, exempt)
        await api.client.delete(FS, "service-accounts")
        await eventually(lambda: _absent(api, "service-accounts"), what="deleted")
        clock.advance(60)
        # the pass handles priority levels before flow schemas: once the deleted schema is back, the
        # levels have been handled too
        await eventually(lambda: _get(api, FS, "service-accounts"), what="deleted suggested schema re-created")
        assert await _shares(api, "catch-all", 5)
        assert await _shares(api, "workload-low", 7)
        assert ((await _get(api, PL, "exempt")) or {})["spec"]["exempt"]["nominalConcurrencyShares"] == 10
        # a FlowSchema pointing at a missing level is Dangling
        spec = {"priorityLevelConfiguration": {"name": "nowhere"}, "matchingPrecedence": 5000}
        await api.client.create(FS, {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
                                     "metadata": {"name": "mine"}, "spec": spec})
        assert (await eventually(lambda: _dangling(api, "mine")))["reason"] == "NotFound"


async def _absent(api: Api, name: str) -> bool:
    return await _get(api, FS, name) is None


async def _count(api: Api) -> bool:
    return len((await api.client.list(FS))["items"]) == 13 and len((await api.client.list(PL))["items"]) == 8


async def _shares(api: Api, name: str, shares: int) -> bool:
    pl = await _get(api, PL, name)
    return pl is not None and pl["spec"]["limited"]["nominalConcurrencyShares"] == shares


async def _dangling(api: Api, name: str) -> dict[str, Any] | None:
    fs = await _get(api, FS, name)
    for c in ((fs or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == "Dangling":
            return {k: c[k] for k in ("status", "reason", "message")}
    return None
