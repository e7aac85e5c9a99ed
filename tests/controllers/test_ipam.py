"""Node IPAM: the subnet choice (pure) and the controller assigning stable, distinct podCIDRs."""

from __future__ import annotations

import ipaddress

import pytest

from suanli.apimachinery.objects import Obj
from suanli.controllers.ipam import NODES, NodeIpamController, free_subnet, subnet_indexes
from suanli.runtime.events import EVENTS
from tests.controllers.conftest import Api, eventually, running

CLUSTER = ipaddress.IPv4Network("10.244.0.0/16")


@pytest.mark.parametrize(("taken", "mask", "want"), [
    (set(), 24, "10.244.0.0/24"),
    ({"10.244.0.0/24", "10.244.2.0/24"}, 24, "10.244.1.0/24"),
    ({"10.244.0.0/23"}, 24, "10.244.2.0/24"),
    ({"10.0.0.0/24", "not-a-cidr"}, 24, "10.244.0.0/24"),
    ({"10.244.0.0/25"}, 24, "10.244.1.0/24"),
    ({f"10.244.{i}.0/24" for i in range(256)}, 24, None),
    ({"10.244.0.0/26"}, 26, "10.244.0.64/26"),
], ids=["empty-takes-the-first", "fills-the-lowest-gap", "skips-a-wider-taken-range", "ignores-foreign-and-bad",
        "partial-overlap-is-taken", "exhausted", "other-mask"])
def test_free_subnet(taken: set[str], mask: int, want: str | None) -> None:
    got = free_subnet(CLUSTER, mask, taken)
    assert (None if got is None else str(got)) == want


def node(name: str, cidr: str | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    if cidr:
        obj["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return obj


async def cidrs(api: Api) -> dict[str, str]:
    return {n["metadata"]["name"]: (n.get("spec") or {}).get("podCIDR") for n in (await api.client.list(NODES))[
        "items"]}


async def test_nodes_get_distinct_subnets_and_keep_them_across_a_restart(api: Api) -> None:
    await api.client.create(NODES, node("kept", "10.244.0.0/24"))
    async with running(NodeIpamController(api.client)):
        for name in ("b", "a", "c"):
            await api.client.create(NODES, node(name))
        got = await eventually(lambda: _all_set(api, 4), what="4 nodes with pod CIDRs")
    assert got["kept"] == "10.244.0.0/24"
    assert sorted(got[n] for n in ("a", "b", "c")) == ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    for n in (await api.client.list(NODES))["items"]:
        assert n["spec"]["podCIDRs"] == [n["spec"]["podCIDR"]]
    await api.client.delete(NODES, "kept")
    # a new controller (a restart) in another discovery order: old assignments stay, the freed one is reused
    async with running(NodeIpamController(api.client)):
        await api.client.create(NODES, node("d"))
        after = await eventually(lambda: _all_set(api, 4), what="the new node's CIDR")
    assert {n: after[n] for n in ("a", "b", "c")} == {n: got[n] for n in ("a", "b", "c")}
    assert after["d"] == "10.244.0.0/24"


async def _all_set(api: Api, n: int) -> dict[str, str] | None:
    got = await cidrs(api)
    return got if len(got) == n and all(got.values()) else None


async def test_rejects_a_node_mask_that_does_not_fit(api: Api) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        NodeIpamController(api.client, cluster_cidr="10.0.0.0/24", node_mask=16)


async def test_exhausted_range_waits_with_an_event_until_a_node_goes(api: Api) -> None:
    async with running(NodeIpamController(api.client, cluster_cidr="10.9.0.0/23", node_mask=24)):
        for name in ("n1", "n2", "n3"):
            await api.client.create(NODES, node(name))
        await eventually(lambda: _event(api, "n3", "CIDRNotAvailable"), what="CIDRNotAvailable for n3")
        got = await cidrs(api)
        assert sorted([got["n1"], got["n2"]]) == ["10.9.0.0/24", "10.9.1.0/24"] and not got["n3"]
        freed = got["n1"]
        await api.client.delete(NODES, "n1")
        after = await eventually(lambda: _all_set(api, 2), what="n3 gets the freed subnet")
        assert after["n3"] == freed


async def _event(api: Api, name: str, reason: str) -> bool:
    events = (await api.client.list(EVENTS, "default"))["items"]
    return any(e["reason"] == reason and e["involvedObject"]["name"] == name for e in events)


@pytest.mark.parametrize(("cidr", "want"), [
    ("10.244.2.0/23", range(2, 4)), ("10.244.5.7/32", range(5, 6)), ("10.0.0.0/8", range(256)),
    ("10.0.0.0/24", range(0)), ("fd00::/64", range(0)), ("bogus", range(0)),
], ids=["wider", "single-address", "covers-all", "outside", "ipv6", "invalid"])
def test_subnet_indexes(cidr: str, want: range) -> None:
    assert subnet_indexes(CLUSTER, 24, cidr) == want
