"""deviceshare (whole devices with topology, GPU sharing), manycore, and the gpushare policies as plugins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import parse_config, run_session
from suanli.scheduler.core.plugins.manycore import manycore_score

from ._builders import bind_map, build_node, build_pod, build_podgroup, run, snap

DEV = """
actions: "allocate"
tiers:
- plugins:
  - name: gang
  - name: predicates
  - name: deviceshare{args}
"""
NPU = "huawei.com/Ascend910"
TOPO = json.dumps({NPU: [[0, 1, 2, 3], [4, 5, 6, 7]]})


def test_npu_pods_take_free_ids_within_one_group_and_annotate() -> None:
    nodes = [build_node("npu", {"cpu": "64", NPU: "8"}, annotations={"suanli.io/device-topology": TOPO})]
    old = build_pod(
        "ns",
        "old",
        node="npu",
        phase="Running",
        req={NPU: "2"},
        annotations={"suanli.io/allocated-devices": json.dumps({NPU: [0, 1]})},
    )
    pods = [old, build_pod("ns", "a", req={NPU: "2"}, ts=1), build_pod("ns", "b", req={NPU: "4"}, ts=2)]
    d = run(nodes, pods, conf=DEV.format(args=""))
    got = {b.name: json.loads(b.annotations["suanli.io/allocated-devices"])[NPU] for b in d.binds}
    assert got == {"a": ["2", "3"], "b": ["4", "5", "6", "7"]}


def test_npu_gang_is_all_or_nothing_and_never_overallocates_ids() -> None:
    nodes = [
        build_node(f"n{i}", {"cpu": "64", NPU: "8"}, annotations={"suanli.io/device-topology": TOPO}) for i in range(2)
    ]
    pods = [build_pod("ns", f"w{i}", req={NPU: "4"}, group="job") for i in range(5)]
    d = run(nodes, pods, [build_podgroup("ns", "job", "default", 5)], conf=DEV.format(args=""))
    assert d.binds == ()
    d = run(nodes, pods[:4], [build_podgroup("ns", "job", "default", 4)], conf=DEV.format(args=""))
    per_node: dict[str, list[int]] = {}
    for b in d.binds:
        ids = json.loads(b.annotations["suanli.io/allocated-devices"])[NPU]
        per_node.setdefault(b.node, []).extend(int(i) for i in ids)
    assert {n: sorted(ids) for n, ids in per_node.items()} == {"n0": list(range(8)), "n1": list(range(8))}


def test_kae_resource_is_a_whole_device() -> None:
    nodes = [build_node("plain", {"cpu": "8"}), build_node("kae", {"cpu": "8", "openfuyao.com/kae.hpre": "2"})]
    d = run(
        nodes, [build_pod("ns", "nginx", req={"cpu": "1", "openfuyao.com/kae.hpre": "1"})], conf=DEV.format(args="")
    )
    assert bind_map(d) == {"ns/nginx": "kae"}
    assert json.loads(d.binds[0].annotations["suanli.io/allocated-devices"]) == {"openfuyao.com/kae.hpre": ["0"]}


GPU_NODE = {"cpu": "32", "volcano.sh/gpu-number": "2", "volcano.sh/gpu-memory": "32000"}


@pytest.mark.parametrize(
    ("policy", "expected_card"),
    [("binpack", "1"), ("spread", "0")],
    ids=["binpack-picks-fullest-fitting-card", "spread-picks-emptiest-card"],
)
def test_gpu_share_card_choice(policy: str, expected_card: str) -> None:
    old = build_pod(
        "ns",
        "old",
        node="g",
        phase="Running",
        req={"volcano.sh/gpu-memory": "10000"},
        annotations={"volcano.sh/gpu-index": "1"},
    )
    pods = [old, build_pod("ns", "p", req={"volcano.sh/gpu-memory": "4000"})]
    args = f"\n    arguments:\n      deviceshare.SchedulePolicy: {policy}"
    d = run([build_node("g", GPU_NODE)], pods, conf=DEV.format(args=args))
    assert d.binds[0].annotations == {"volcano.sh/gpu-index": expected_card}


def test_gpu_share_memory_must_fit_one_card_and_gpu_number_needs_idle_cards() -> None:
    old = build_pod(
        "ns",
        "old",
        node="g",
        phase="Running",
        req={"volcano.sh/gpu-memory": "10000"},
        annotations={"volcano.sh/gpu-index": "0"},
    )
    too_big = build_pod("ns", "big", req={"volcano.sh/gpu-memory": "17000"})
    two = build_pod("ns", "two", req={"volcano.sh/gpu-number": "2"})
    one = build_pod("ns", "one", req={"volcano.sh/gpu-number": "1"})
    d = run([build_node("g", GPU_NODE)], [old, too_big, two, one], conf=DEV.format(args=""))
    assert bind_map(d) == {"ns/one": "g"}
    assert d.binds[0].annotations == {"volcano.sh/gpu-index": "1"}


def test_gpu_share_unhealthy_cards_are_skipped() -> None:
    node = build_node("g", GPU_NODE, annotations={"volcano.sh/gpu-unhealthy-ids": "0"})
    d = run([node], [build_pod("ns", "p", req={"volcano.sh/gpu-memory": "1000"})], conf=DEV.format(args=""))
    assert d.binds[0].annotations == {"volcano.sh/gpu-index": "1"}


# ----------------------------------------------------------------------------- manycore

ALLOC = np.array([[16000.0, 64 * 2.0**30, 110.0]])
USED = np.array([[6000.0, 32 * 2.0**30, 0.0]])
REQ = np.array([2000.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("kind", "io", "numa", "expected"),
    [
        ("compute-intensive", 0.5, 0, 50.0),
        ("compute-intensive", 0.5, 2, 60.0),
        ("compute-intensive", 0.5, 16, 40.0),
        ("io-intensive", 0.0, 0, 100 * (0.6 * 1.0 + 0.2 * 0.5 + 0.2 * 0.5)),
        ("memory-sensitive", 1.0, 0, 100 * (0.2 * 0.0 + 0.6 * 0.5 + 0.2 * 0.5)),
        ("something-else", 0.0, 0, 100 * (1.0 + 0.5 + 0.5) / 3),
    ],
    ids=[
        "worked-example-base-50",
        "numa-fit-adds-bonus",
        "numa-too-small-zone-no-bonus",
        "io-intensive-weights",
        "memory-sensitive-weights",
        "unknown-type-averaged",
    ],
)
def test_manycore_score(kind: str, io: float, numa: int, expected: float) -> None:
    got = manycore_score(kind, ALLOC, USED, REQ, np.array([io]), np.array([float(numa)]))
    assert got[0] == pytest.approx(expected)


def test_manycore_prefers_idle_disk_for_io_intensive_pods() -> None:
    conf = 'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: manycore\n'
    nodes = [
        build_node("busy", {"cpu": "8", "memory": "8Gi"}, annotations={"suanli.io/disk-io-usage": "0.9"}),
        build_node("calm", {"cpu": "8", "memory": "8Gi"}, annotations={"suanli.io/disk-io-usage": "0.1"}),
    ]
    pod = build_pod("ns", "p", req={"cpu": "1"}, annotations={"business.workload/type": "io-intensive"})
    assert bind_map(run(nodes, [pod], conf=conf)) == {"ns/p": "calm"}


# ----------------------------------------------------------------------------- gpushare policies


@pytest.mark.parametrize("policy", ["fgd", "fgdpack", "bestfit", "gpupacking"], ids=lambda p: f"{p}-plugin-places-pods")
def test_gpushare_policies_are_node_order_plugins(policy: str) -> None:
    conf = f'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: {policy}\n'
    nodes = [build_node(f"g{i}", {"cpu": "32", "memory": "64Gi", "nvidia.com/gpu": "4"}) for i in range(3)]
    pods = [build_pod("ns", f"p{i}", req={"cpu": "1", "nvidia.com/gpu": "1"}, ts=i) for i in range(6)]
    d = run(nodes, pods, conf=conf)
    assert len(d.binds) == 6
    if policy in ("bestfit", "gpupacking", "fgdpack"):
        assert len({b.node for b in d.binds}) <= 2  # packing-style policies consolidate


def test_gpushare_plugin_mirror_is_restored_on_discard() -> None:
    conf = parse_config(
        'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: fgd\n'
    )
    nodes = [build_node("g0", {"cpu": "32", "memory": "64Gi", "nvidia.com/gpu": "2"})]
    pods = [build_pod("ns", f"w{i}", req={"cpu": "1", "nvidia.com/gpu": "1"}, group="job") for i in range(3)]
    ssn = run_session(snap(nodes, pods, [build_podgroup("ns", "job", "default", 3)]), conf)
    plugin = next(p for p in ssn.plugins if p.name == "fgd")
    assert ssn.binds == {} and plugin.state.gpu_free[0].tolist() == [1000, 1000]  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- gpushare under the defaults

T4_NODE = {"cpu": "32", "volcano.sh/gpu-number": "4", "volcano.sh/gpu-memory": "61440"}  # 4 cards of 15360 MiB


@pytest.mark.parametrize(
    ("pods", "message"),
    [
        ([build_pod("ns", "p", req={"volcano.sh/gpu-memory": "20000"})],
         "0/1 nodes are available: 1 no enough gpu memory on single device."),
        ([*(build_pod("ns", f"old{c}", node="g", phase="Running", req={"volcano.sh/gpu-memory": "10000"},
                      annotations={"volcano.sh/gpu-index": str(c)}) for c in range(4)),
          build_pod("ns", "p", req={"volcano.sh/gpu-memory": "8000"})],
         "0/1 nodes are available: 1 no enough gpu memory on single device."),
        ([build_pod("ns", "old", node="g", phase="Running", req={"volcano.sh/gpu-memory": "1000"},
                    annotations={"volcano.sh/gpu-index": "0"}),
          build_pod("ns", "p", req={"volcano.sh/gpu-number": "4"})],
         "0/1 nodes are available: 1 no enough idle gpu devices."),
    ],
    ids=["larger-than-one-card", "fits-the-node-total-but-no-single-card", "gpu-number-needs-idle-cards"],
)
def test_default_configuration_keeps_a_shared_gpu_pod_no_card_holds_pending(pods: list[Obj], message: str) -> None:
    d = run([build_node("g", T4_NODE)], pods)  # no configuration: the default one
    assert d.binds == ()
    assert [u.message for u in d.unschedulable] == [message]


def test_default_configuration_binpacks_shared_gpu_pods_and_records_the_card() -> None:
    old = build_pod("ns", "old", node="g", phase="Running", req={"volcano.sh/gpu-memory": "10000"},
                    annotations={"volcano.sh/gpu-index": "2"})
    pods = [old, build_pod("ns", "a", req={"volcano.sh/gpu-memory": "4000"}, ts=1),
            build_pod("ns", "b", req={"volcano.sh/gpu-memory": "4000"}, ts=2)]
    d = run([build_node("g", T4_NODE)], pods)
    assert {b.name: b.annotations for b in d.binds} == {
        "a": {"volcano.sh/gpu-index": "2"},  # the fullest card that still fits
        "b": {"volcano.sh/gpu-index": "0"},  # card 2 has 1360 MiB left now
    }


def test_gpu_sharing_predicate_can_be_switched_off_as_upstream() -> None:
    conf = ('actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n'
            "    arguments:\n      predicate.GPUSharingEnable: false\n")
    d = run([build_node("g", T4_NODE)], [build_pod("ns", "p", req={"volcano.sh/gpu-memory": "20000"})], conf=conf)
    assert bind_map(d) == {"ns/p": "g"} and d.binds[0].annotations == {}
