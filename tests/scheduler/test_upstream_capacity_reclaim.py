"""The reclaim cases of Volcano's capacity plugin unit-test table
(pkg/scheduler/plugins/capacity/capacity_test.go, ``Test_capacityPlugin_OnSessionOpenWithoutHierarchy``,
cases 2-3 and 5-10: actions ``allocate, reclaim``), run through the pure core with
upstream's inputs and expected evictions/pipelined tasks. They pin which victims a
reclaimer may take: only from queues above their deserved share on a dimension the
victim holds, only victims sharing a requested dimension with the reclaimer, never below
a queue's guarantee, and only for a queue that stays within its capability and below its
deserved share on some requested dimension. (The allocation cases of the same table
belong to the capacity allocation tests.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from suanli.apimachinery.objects import Obj
from suanli.scheduler.core import schedule

from ._builders import build_node, build_pod, build_podgroup, build_queue, snap
from ._upstream_evict import cfg

TIER = {
    "capacity": ["Allocatable", "Preemptive", "Reclaimable", "QueueOrder"],
    "predicates": ["Predicate"],
    "gang": ["JobStarving"],
}
GPU = "nvidia.com/gpu"


def node(name: str, res: dict[str, str]) -> Obj:
    return build_node(name, {"pods": "10", **res})


def pod(name: str, node_name: str, req: dict[str, str], group: str, preemptable: bool = True) -> Obj:
    phase = "Running" if node_name else "Pending"
    return build_pod("ns1", name, node=node_name, phase=phase, req=req, group=group, preemptable=preemptable)


def pg(name: str, q: str, phase: str) -> Obj:
    return build_podgroup("ns1", name, q, 1, phase=phase)


def queue(name: str, deserved: dict[str, str] | None, capability: dict[str, str] | None = None) -> Obj:
    return build_queue(name, 1, capability, deserved=deserved)


def res(cpu: str, mem: str) -> dict[str, str]:
    return {"cpu": cpu, "memory": mem}


@dataclass
class Case:
    nodes: list[Obj]
    pods: list[Obj]
    pgs: list[Obj]
    queues: list[Obj]
    evicted: list[str]
    pipelined: dict[str, str] = field(default_factory=dict)


N1 = node("n1", res("2", "4Gi"))
N2 = node("n2", res("2", "4Gi"))
N8 = node("n8", {**res("4", "8Gi"), GPU: "1"})

CASES: dict[str, Case] = {
    "reclaims-from-a-queue-above-deserved-for-a-queue-below": Case(
        [N1, N2],
        [
            pod("p5", "n1", res("2", "4Gi"), "pg5", preemptable=False),
            pod("p6", "n2", res("2", "4Gi"), "pg5"),
            pod("p7", "", res("2", "4Gi"), "pg6"),
        ],
        [pg("pg5", "q3", "Running"), pg("pg6", "q4", "Inqueue")],
        [queue("q3", res("2", "4Gi")), queue("q4", res("2", "4Gi"))],
        ["p6"],
        {"p7": "n2"},
    ),
    "a-gpu-only-reclaimer-reclaims-although-only-cpu-and-memory-are-overused": Case(
        [
            node("n3", {**res("2", "4Gi"), "nvidia.com/A100": "10"}),
            node("n4", {**res("2", "4Gi"), "nvidia.com/A100": "10"}),
        ],
        [
            pod("p8", "n3", {"nvidia.com/A100": "10"}, "pg7", preemptable=False),
            pod("p9", "n4", {"nvidia.com/A100": "10"}, "pg7"),
            pod("p10", "n3", res("2", "4Gi"), "pg8"),
            pod("p11", "n4", res("2", "4Gi"), "pg8"),
            pod("p12", "", {"nvidia.com/A100": "10"}, "pg9"),
        ],
        [pg("pg7", "q5", "Running"), pg("pg8", "q6", "Running"), pg("pg9", "q6", "Inqueue")],
        [
            queue("q5", {**res("2", "4Gi"), "nvidia.com/A100": "10"}),
            queue("q6", {**res("2", "4Gi"), "nvidia.com/A100": "10"}),
        ],
        ["p9"],
        {"p12": "n4"},
    ),
    "reclaims-when-below-deserved-on-one-requested-dimension": Case(
        [N1],
        [
            pod("p16", "n1", res("1", "3Gi"), "pg16"),
            pod("p17", "", res("1", "1Gi"), "pg17"),
            pod("p18", "n1", res("1", "1Gi"), "pg18"),
        ],
        [pg("pg16", "q10", "Running"), pg("pg17", "q10", "Inqueue"), pg("pg18", "q11", "Running")],
        [queue("q10", res("2", "2Gi"), res("4", "4Gi")), queue("q11", res("0", "0Gi"), res("2", "2Gi"))],
        ["p18"],
        {"p17": "n1"},
    ),
    "no-reclaim-when-above-deserved-on-every-requested-dimension": Case(
        [N1],
        [
            pod("p19", "n1", res("1", "1Gi"), "pg19"),
            pod("p20", "", res("1", "2Gi"), "pg20"),
            pod("p21", "n1", res("1", "1Gi"), "pg21"),
        ],
        [pg("pg19", "q12", "Running"), pg("pg20", "q12", "Inqueue"), pg("pg21", "q13", "Running")],
        [queue("q12", res("1", "2Gi"), res("4", "4Gi")), queue("q13", res("0", "0Gi"), res("2", "2Gi"))],
        [],
    ),
    "a-queue-holding-none-of-a-deserved-gpu-dimension-is-not-reclaimed-on-it": Case(
        [node("n7", {**res("4", "8Gi"), GPU: "4"})],
        [
            pod("p22", "n7", res("2", "4Gi"), "pg22"),
            pod("p23", "n7", {GPU: "1"}, "pg23"),
            pod("p24", "n7", {**res("2", "1Gi"), GPU: "1"}, "pg24"),
            pod("p25", "", {**res("2", "3Gi"), GPU: "1"}, "pg25"),
        ],
        [
            pg("pg22", "queue14", "Running"),
            pg("pg23", "queue15", "Running"),
            pg("pg24", "queue16", "Running"),
            pg("pg25", "queue16", "Inqueue"),
        ],
        [
            queue("queue14", {**res("2", "4Gi"), GPU: "2"}),
            queue("queue15", None),
            queue("queue16", {**res("2", "4Gi"), GPU: "2"}),
        ],
        [],
    ),
    "a-gpu-reclaimer-evicts-only-the-gpu-holder": Case(
        [N8],
        [
            pod("p26", "n8", res("0", "4Gi"), "pg26"),
            pod("p27", "n8", res("1", "0Gi"), "pg27"),
            pod("p28", "n8", {GPU: "1"}, "pg28"),
            pod("p29", "n8", res("2", "4Gi"), "pg29"),
            pod("p30", "", {**res("1", "0Gi"), GPU: "1"}, "pg30"),
        ],
        [
            pg("pg26", "queue17", "Running"),
            pg("pg27", "queue17", "Running"),
            pg("pg28", "queue17", "Running"),
            pg("pg29", "queue18", "Running"),
            pg("pg30", "queue18", "Inqueue"),
        ],
        [queue("queue17", res("2", "2Gi")), queue("queue18", {**res("2", "4Gi"), GPU: "1"})],
        ["p28"],
        {"p30": "n8"},
    ),
    "a-pod-within-its-gpu-only-deserved-share-is-not-reclaimed-for-cpu": Case(
        [N8],
        [pod("p31", "n8", {**res("4", "4Gi"), GPU: "1"}, "pg31"), pod("p32", "", res("1", "1Gi"), "pg32")],
        [pg("pg31", "queue19", "Running"), pg("pg32", "queue20", "Inqueue")],
        [queue("queue19", {GPU: "1"}), queue("queue20", res("2", "2Gi"))],
        [],
    ),
    "no-reclaim-beyond-the-queue-capability": Case(
        [node("n9", res("8", "100Gi")), node("n10", res("8", "100Gi"))],
        [
            pod("p33", "n9", res("7", "90Gi"), "pg33"),
            pod("p34", "", res("2", "5Gi"), "pg34"),
            pod("p35", "n10", res("2", "5Gi"), "pg35"),
        ],
        [pg("pg33", "queue21", "Running"), pg("pg34", "queue21", "Inqueue"), pg("pg35", "queue22", "Running")],
        [queue("queue21", res("8", "100Gi"), res("8", "100Gi")), queue("queue22", None, res("2", "5Gi"))],
        [],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_capacity_reclaim_table(case: Case) -> None:
    d = schedule(snap(case.nodes, case.pods, case.pgs, case.queues), cfg(["allocate", "reclaim"], TIER))
    assert sorted(e.name for e in d.evictions) == sorted(case.evicted)
    assert {p.name: p.node for p in d.pipelined} == case.pipelined
