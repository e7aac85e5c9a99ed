"""NFD controllers against the real in-process API stack (Registry + Store + ApiService + LocalClient).

Synchronisation is event-driven: :func:`wait_for` re-checks a predicate on every watch event of
the object, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.gvr import GVR
from suanli.apimachinery.objects import Obj
from suanli.apiserver.service import ApiService
from suanli.client.local import LocalClient
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.registry import Registry
from suanli.node.demo import simulated_node
from suanli.node.nfd import Features
from suanli.node.nfd.controller import (
    EXTENDED_RESOURCES_ANNOTATION,
    FEATURE_LABELS_ANNOTATION,
    NFD_NAMESPACE,
    TAINTS_ANNOTATION,
    NodeFeatureReporter,
    NodeFeatureRuleController,
    NodeOutputs,
    plan_node_patches,
)
from suanli.node.nfd.crds import NODE_FEATURE_RULES, NODE_FEATURES, ensure_crds, nfd_crds
from suanli.node.profiles import load_profile
from suanli.storage import Store

FNS = "feature.node.kubernetes.io"
NODES = GVR("", "v1", "nodes", namespaced=False)
NAMESPACES = GVR("", "v1", "namespaces", namespaced=False)
EVENTS = GVR("", "v1", "events")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEADLINE = 5.0


# --------------------------------------------------------------------------- harness


@pytest.fixture
async def client() -> AsyncIterator[LocalClient]:
    registry = Registry()
    registry.add_all(builtin_resource_types())
    store = Store(None)
    await store.start()
    service = ApiService(store, registry)
    c = LocalClient(service)
    await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    await ensure_crds(c, nfd_crds())
    yield c
    await service.drain_background()
    await store.stop()


def fake_host() -> Features:
    return Features(
        flags={"cpu.cpuid": {"AVX512F", "AVX2"}, "kernel.loadedmodule": {"overlay"}},
        attributes={"cpu.model": {"vendor_id": "Intel", "family": "6", "id": "143"},
                    "kernel.version": {"full": "6.8.0", "major": "6", "minor": "8", "revision": "0"}},
    )


@contextlib.asynccontextmanager
async def running(client: LocalClient, *, reporter: bool = True,
                  rules: bool = True) -> AsyncIterator[tuple[NodeFeatureReporter, NodeFeatureRuleController]]:
    rep = NodeFeatureReporter(client, discover=fake_host)
    ctl = NodeFeatureRuleController(client)
    started = [c for c, on in ((rep, reporter), (ctl, rules)) if on]
    tasks = [asyncio.create_task(c.run()) for c in started]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in started)), DEADLINE)
        yield rep, ctl
    finally:
        for c in started:
            await c.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE)


async def wait_for(client: LocalClient, gvr: GVR, name: str, pred: Callable[[Obj | None], bool],
                   namespace: str = "") -> Obj | None:
    """Return the object (None if absent) once ``pred`` holds; fail after DEADLINE seconds."""

    async def watch() -> Obj | None:
        while True:
            try:
                obj: Obj | None = await client.get(gvr, name, namespace)
            except ApiError as err:
                if err.code != 404:
                    raise
                obj = None
            if pred(obj):
                return obj
            rv = str(obj["metadata"]["resourceVersion"]) if obj else ""
            if not rv:
                rv = str((await client.list(gvr, namespace, limit=1))["metadata"]["resourceVersion"])
            async for ev in client.watch(gvr, namespace, resource_version=rv,
                                         field_selector=f"metadata.name={name}"):
                if ev["type"] == "BOOKMARK":
                    continue
                current = None if ev["type"] == "DELETED" else ev["object"]
                if pred(current):
                    return current

    return await asyncio.wait_for(watch(), DEADLINE)


def labels(node: Obj | None) -> dict[str, str]:
    return dict(((node or {}).get("metadata") or {}).get("labels") or {})


def nfr(name: str, *rules: dict[str, Any]) -> Obj:
    return {"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeatureRule", "metadata": {"name": name},
            "spec": {"rules": list(rules)}}


def example_rules() -> Obj:
    docs = list(yaml.safe_load_all((EXAMPLES / "nfd-rules-ascend-kae.yaml").read_text()))
    assert len(docs) == 1
    return dict(docs[0])


def process_node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"suanli.io/runtime": "process"}}}


# --------------------------------------------------------------------------- kinds

FULL_RULE = {
    "name": "everything",
    "labels": {"a": "1"},
    "labelsTemplate": "{{ range .pci.device }}vendor-{{ .vendor }}=true\n{{ end }}",
    "annotations": {"example.com/n": "x"},
    "vars": {"v": "1"},
    "varsTemplate": "w=2",
    "extendedResources": {"example.com/r": "1"},
    "taints": [{"key": "example.com/t", "value": "v", "effect": "NoSchedule"}],
    "matchFeatures": [{"feature": "pci.device", "matchExpressions": {"vendor": {"op": "In", "value": ["10de"]}},
                       "matchName": {"op": "InRegexp", "value": ["^v"]}}],
    "matchAny": [{"matchFeatures": [{"feature": "kernel.version",
                                     "matchExpressions": {"major": {"op": "Ge", "value": ["5"], "type": "version"}}}]}],
}


async def test_node_feature_rule_round_trips_every_upstream_field(client: LocalClient) -> None:
    created = await client.create(NODE_FEATURE_RULES, nfr("full", FULL_RULE))
    assert created["spec"] == {"rules": [FULL_RULE]}


async def test_ensure_crds_is_idempotent(client: LocalClient) -> None:
    crds = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
    before = {c["metadata"]["name"]: c["metadata"]["resourceVersion"] for c in (await client.list(crds))["items"]}
    await ensure_crds(client, nfd_crds())
    after = {c["metadata"]["name"]: c["metadata"]["resourceVersion"] for c in (await client.list(crds))["items"]}
    assert after == before
    assert sorted(before) == ["nodefeaturegroups.nfd.k8s-sigs.io", "nodefeaturerules.nfd.k8s-sigs.io",
                              "nodefeatures.nfd.k8s-sigs.io"]


# --------------------------------------------------------------------------- reporter


async def test_reporter_publishes_profile_features_owned_by_node(client: LocalClient) -> None:
    node = await client.create(NODES, simulated_node("n-ascend", "ascend-910b"))
    async with running(client, rules=False):
        nf = await wait_for(client, NODE_FEATURES, "n-ascend", lambda o: o is not None, NFD_NAMESPACE)
    assert nf is not None
    assert nf["metadata"]["labels"]["nfd.node.kubernetes.io/node-name"] == "n-ascend"
    assert [(r["kind"], r["name"], r["uid"]) for r in nf["metadata"]["ownerReferences"]] == \
        [("Node", "n-ascend", node["metadata"]["uid"])]
    published = Features.from_spec(nf["spec"]["features"])
    expected = Features.from_spec(load_profile("ascend-910b").features)
    assert published == expected
    assert len([d for d in published.instances["pci.device"] if d["device"] == "d802"]) == 8


async def test_reporter_publishes_discovered_features_for_process_node(client: LocalClient) -> None:
    await client.create(NODES, process_node("host"))
    async with running(client, rules=False):
        nf = await wait_for(client, NODE_FEATURES, "host", lambda o: o is not None, NFD_NAMESPACE)
    assert nf is not None
    assert Features.from_spec(nf["spec"]["features"]) == fake_host()


async def test_reporter_ignores_unmarked_nodes_and_deletes_features_of_deleted_nodes(client: LocalClient) -> None:
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "plain"}})
    await client.create(NODES, simulated_node("gone", "nvidia-t4"))
    async with running(client, rules=False) as (rep, _):
        await wait_for(client, NODE_FEATURES, "gone", lambda o: o is not None, NFD_NAMESPACE)
        await client.delete(NODES, "gone")
        await wait_for(client, NODE_FEATURES, "gone", lambda o: o is None, NFD_NAMESPACE)
        names = [o["metadata"]["name"] for o in (await client.list(NODE_FEATURES, NFD_NAMESPACE))["items"]]
    assert names == []
    assert rep.nodes.get("", "plain") is not None


async def test_reporter_restores_edited_features(client: LocalClient) -> None:
    await client.create(NODES, simulated_node("n-t4", "nvidia-t4"))
    async with running(client, rules=False):
        nf = await wait_for(client, NODE_FEATURES, "n-t4", lambda o: o is not None, NFD_NAMESPACE)
        assert nf is not None
        await client.patch(NODE_FEATURES, "n-t4", {"spec": {"features": {"instances": None}}}, NFD_NAMESPACE)
        nf = await wait_for(client, NODE_FEATURES, "n-t4",
                            lambda o: o is not None and "pci.device" in o["spec"]["features"].get("instances", {}),
                            NFD_NAMESPACE)
    assert nf is not None


# --------------------------------------------------------------------------- rules on profiles

PROFILE_CASES = [
    ("ascend-910b",
     {"huawei.com/npu.present": "true", f"{FNS}/accelerator": "huawei-Ascend910",
      f"{FNS}/pci-1200_19e5.present": "true", f"{FNS}/memory-numa": "true",
      f"{FNS}/system-os_release.ID": "openEuler", f"{FNS}/cpu-cpuid.ASIMD": "true"},
     ["openfuyao.com/kae.present", f"{FNS}/pci-0302_10de.present"]),
    ("kunpeng-920-kae",
     {"openfuyao.com/kae.present": "true", "openfuyao.com/kae.hpre.present": "true",
      "openfuyao.com/kae.sec.present": "true", "openfuyao.com/kae.zip.present": "true",
      f"{FNS}/pci-1200_19e5.present": "true", f"{FNS}/pci-1200_19e5.sriov.capable": "true"},
     ["huawei.com/npu.present", f"{FNS}/accelerator"]),
    ("nvidia-a100",
     {f"{FNS}/pci-0302_10de.present": "true", f"{FNS}/cpu-model.vendor_id": "AMD",
      f"{FNS}/kernel-version.major": "5"},
     ["huawei.com/npu.present", "openfuyao.com/kae.present", f"{FNS}/pci-1200_19e5.present"]),
    ("manycore-256",
     {f"{FNS}/memory-numa": "true", f"{FNS}/cpu-model.vendor_id": "HiSilicon"},
     ["huawei.com/npu.present", "openfuyao.com/kae.present", f"{FNS}/pci-1200_19e5.present"]),
]


@pytest.mark.parametrize(
    ("profile", "present", "absent"), PROFILE_CASES,
    ids=["ascend-gets-npu-labels-and-pci-1200-default-label", "kae-gets-engine-labels-not-npu-labels",
         "a100-gets-only-nvidia-pci-label", "manycore-gets-numa-label-no-accelerators"])
async def test_example_rules_label_demo_profiles(client: LocalClient, profile: str, present: dict[str, str],
                                                 absent: list[str]) -> None:
    await client.create(NODE_FEATURE_RULES, example_rules())
    await client.create(NODES, simulated_node("n0", profile))
    async with running(client):
        node = await wait_for(client, NODES, "n0", lambda o: present.items() <= labels(o).items())
    got = labels(node)
    assert [k for k in absent if k in got] == []
    assert got["type"] == "kwok"  # not ours: untouched


async def test_process_node_gets_labels_from_discovered_cpu(client: LocalClient) -> None:
    await client.create(NODES, process_node("host"))
    async with running(client):
        node = await wait_for(client, NODES, "host",
                              lambda o: labels(o).get(f"{FNS}/cpu-cpuid.AVX512F") == "true")
    assert labels(node)[f"{FNS}/kernel-version.full"] == "6.8.0"


# --------------------------------------------------------------------------- removal, resources, taints


async def test_removing_a_rule_removes_only_its_labels(client: LocalClient) -> None:
    await client.create(NODES, simulated_node("n0", "kunpeng-920-kae", labels={"team": "infra"}))
    await client.create(NODE_FEATURE_RULES, example_rules())
    await client.create(NODE_FEATURE_RULES, nfr("zz-site", {"name": "site", "labels": {"example.com/site": "a"}}))
    async with running(client):
        before = labels(await wait_for(client, NODES, "n0", lambda o: "example.com/site" in labels(o)
                                       and "openfuyao.com/kae.present" in labels(o)))
        await client.delete(NODE_FEATURE_RULES, "ascend-npu-kae")
        after = labels(await wait_for(client, NODES, "n0", lambda o: "openfuyao.com/kae.present" not in labels(o)))
    removed = {k for k in before if k not in after}
    assert removed == {"openfuyao.com/kae.present", "openfuyao.com/kae.hpre.present",
                       "openfuyao.com/kae.sec.present", "openfuyao.com/kae.zip.present"}
    assert after["team"] == "infra" and after["example.com/site"] == "a"
    assert after[f"{FNS}/pci-1200_19e5.present"] == "true"


RESOURCE_RULE = {
    "name": "widgets",
    "extendedResources": {"example.com/widgets": "3", "gadgets": "@cpu.model.family"},
    "taints": [{"key": "example.com/special", "value": "true", "effect": "NoSchedule"}],
    "annotations": {"example.com/note": "special"},
    "matchFeatures": [{"feature": "cpu.model", "matchExpressions": {"vendor_id": {"op": "In", "value": ["AMD"]}}}],
}


async def test_extended_resources_taints_and_annotations_are_applied_and_removed(client: LocalClient) -> None:
    node = simulated_node("n0", "nvidia-a100")
    node["spec"]["taints"] = [{"key": "other.io/keep", "effect": "NoExecute"}]
    node["status"]["capacity"]["other.io/thing"] = "1"
    await client.create(NODES, node)
    await client.create(NODE_FEATURE_RULES, nfr("res", RESOURCE_RULE))

    def applied(o: Obj | None) -> bool:
        return o is not None and o["status"]["capacity"].get("example.com/widgets") == "3" \
            and TAINTS_ANNOTATION in o["metadata"]["annotations"] \
            and any(t["key"] == "example.com/special" for t in o["spec"].get("taints") or [])

    async with running(client):
        on = await wait_for(client, NODES, "n0", applied)
        assert on is not None
        await client.delete(NODE_FEATURE_RULES, "res")
        off = await wait_for(client, NODES, "n0", lambda o: o is not None and "example.com/widgets"
                             not in o["status"]["capacity"] and EXTENDED_RESOURCES_ANNOTATION
                             not in o["metadata"]["annotations"] and len(o["spec"].get("taints") or []) == 1)
    assert on["status"]["allocatable"]["example.com/widgets"] == "3"
    assert on["status"]["capacity"][f"{FNS}/gadgets"] == "23"  # @cpu.model.family of the EPYC 7742
    assert on["metadata"]["annotations"]["example.com/note"] == "special"
    assert on["metadata"]["annotations"][EXTENDED_RESOURCES_ANNOTATION] == "example.com/widgets,gadgets"
    assert on["metadata"]["annotations"][TAINTS_ANNOTATION] == "example.com/special=true:NoSchedule"
    assert off is not None
    assert off["spec"]["taints"] == [{"key": "other.io/keep", "effect": "NoExecute"}]
    assert off["status"]["capacity"]["other.io/thing"] == "1"
    assert f"{FNS}/gadgets" not in off["status"]["allocatable"]
    assert "example.com/note" not in off["metadata"]["annotations"]


async def test_bad_rule_is_reported_as_warning_event_and_other_rules_still_apply(client: LocalClient) -> None:
    gt_with_two_values = {"family": {"op": "Gt", "value": ["1", "2"]}}
    bad = {"name": "broken", "labels": {"bad": "x"},
           "matchFeatures": [{"feature": "cpu.model", "matchExpressions": gt_with_two_values}]}
    rule = await client.create(NODE_FEATURE_RULES, nfr("mixed", bad, {"name": "fine", "labels": {"good": "y"}}))
    await client.create(NODES, simulated_node("n0", "nvidia-t4"))
    async with running(client):
        node = await wait_for(client, NODES, "n0", lambda o: f"{FNS}/good" in labels(o))
        events: list[Obj] = []
        async with asyncio.timeout(DEADLINE):
            while not events:
                listing = await client.list(EVENTS, "default")
                events = [e for e in listing["items"] if e["involvedObject"]["name"] == "mixed"]
                if not events:
                    async for _ in client.watch(EVENTS, "default",
                                                resource_version=listing["metadata"]["resourceVersion"]):
                        break
    assert f"{FNS}/bad" not in labels(node)
    (event,) = events
    assert (event["type"], event["reason"], event["involvedObject"]["kind"], event["involvedObject"]["uid"]) == \
        ("Warning", "RuleError", "NodeFeatureRule", rule["metadata"]["uid"])
    assert "broken" in event["message"]


async def test_rules_reach_nodes_that_have_no_node_feature(client: LocalClient) -> None:
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "bare"}})
    await client.create(NODE_FEATURE_RULES, nfr("all", {"name": "everyone", "labels": {"example.com/all": "1"}}))
    async with running(client, reporter=False):
        node = await wait_for(client, NODES, "bare", lambda o: "example.com/all" in labels(o))
    assert labels(node)["example.com/all"] == "1"
    assert node is not None and node["metadata"]["annotations"][FEATURE_LABELS_ANNOTATION] == "example.com/all"


# --------------------------------------------------------------------------- plan_node_patches (pure)


def node_obj(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
             taints: list[Obj] | None = None, capacity: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": "n", "resourceVersion": "7", "labels": labels or {},
                         "annotations": annotations or {}},
            "spec": {"taints": taints} if taints is not None else {},
            "status": {"capacity": dict(capacity or {}), "allocatable": dict(capacity or {})}}


T_MINE = {"key": "example.com/t", "value": "v", "effect": "NoSchedule"}
T_OTHER = {"key": "other.io/t", "effect": "NoExecute"}

PLAN_CASES = [
    ("nothing-to-do-when-applied",
     node_obj({f"{FNS}/a": "1"}, {FEATURE_LABELS_ANNOTATION: "a"}), NodeOutputs(labels={f"{FNS}/a": "1"}),
     None, None),
    ("adds-label-and-tracking",
     node_obj(), NodeOutputs(labels={f"{FNS}/a": "1"}),
     {"metadata": {"labels": {f"{FNS}/a": "1"}, "annotations": {FEATURE_LABELS_ANNOTATION: "a"}}}, None),
    ("removes-only-managed-labels",
     node_obj({f"{FNS}/a": "1", f"{FNS}/b": "2", "x": "y"}, {FEATURE_LABELS_ANNOTATION: "a"}), NodeOutputs(),
     {"metadata": {"labels": {f"{FNS}/a": None}, "annotations": {FEATURE_LABELS_ANNOTATION: None}}}, None),
    ("keeps-foreign-taints-and-adds-ours-with-resource-version",
     node_obj(taints=[T_OTHER]), NodeOutputs(taints=[T_MINE]),
     {"metadata": {"annotations": {TAINTS_ANNOTATION: "example.com/t=v:NoSchedule"}, "resourceVersion": "7"},
      "spec": {"taints": [T_OTHER, T_MINE]}}, None),
    ("removes-our-taint-only",
     node_obj(annotations={TAINTS_ANNOTATION: "example.com/t=v:NoSchedule"}, taints=[T_OTHER, T_MINE]),
     NodeOutputs(),
     {"metadata": {"annotations": {TAINTS_ANNOTATION: None}, "resourceVersion": "7"},
      "spec": {"taints": [T_OTHER]}}, None),
    ("replaces-taint-with-same-key-and-effect",
     node_obj(taints=[{"key": "example.com/t", "value": "old", "effect": "NoSchedule"}]),
     NodeOutputs(taints=[T_MINE]),
     {"metadata": {"annotations": {TAINTS_ANNOTATION: "example.com/t=v:NoSchedule"}, "resourceVersion": "7"},
      "spec": {"taints": [T_MINE]}}, None),
    ("sets-and-removes-extended-resources-in-status",
     node_obj(annotations={EXTENDED_RESOURCES_ANNOTATION: "old"}, capacity={f"{FNS}/old": "1", "cpu": "4"}),
     NodeOutputs(extended={"example.com/new": "2"}),
     {"metadata": {"annotations": {EXTENDED_RESOURCES_ANNOTATION: "example.com/new"}}},
     {"status": {"capacity": {"example.com/new": "2", f"{FNS}/old": None},
                 "allocatable": {"example.com/new": "2", f"{FNS}/old": None}}}),
]


@pytest.mark.parametrize(("node", "desired", "meta_patch", "status_patch"), [c[1:] for c in PLAN_CASES],
                         ids=[c[0] for c in PLAN_CASES])
def test_plan_node_patches(node: Obj, desired: NodeOutputs, meta_patch: Obj | None,
                           status_patch: Obj | None) -> None:
    assert plan_node_patches(node, desired) == (meta_patch, status_patch)
