"""preempt and reclaim actions; capacity and nodegroup plugins."""

from __future__ import annotations

import pytest

from ._builders import bind_map, build_node, build_pod, build_podgroup, build_priority_class, build_queue, run

PREEMPT = """
actions: "enqueue, allocate, preempt"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: proportion
  - name: nodeorder
"""

CAPACITY = """
actions: "enqueue, allocate, reclaim"
tiers:
- plugins:
  - name: priority
  - name: gang
  - name: conformance
- plugins:
  - name: drf
  - name: predicates
  - name: capacity
  - name: nodeorder
"""

PCS = [build_priority_class("low", 10), build_priority_class("high", 1000)]


def _preempt_case(
    idle_cpu: int, victim_preemptable: bool = True, victim_ns: str = "ns"
) -> tuple[dict[str, str], list[str], list[str]]:
    node = build_node("n0", {"cpu": str(2 + idle_cpu), "memory": "8Gi"})
    pods = [
        build_pod(
            victim_ns,
            f"low{i}",
            node="n0",
            phase="Running",
            req={"cpu": "1"},
            group="low",
            preemptable=victim_preemptable,
        )
        for i in range(2)
    ]
    pods.append(build_pod("ns", "hi", req={"cpu": "1"}, group="high", priority_class="high"))
    pgs = [
        build_podgroup(victim_ns, "low", "default", 1, phase="Running", priority_class="low"),
        build_podgroup("ns", "high", "default", 1, priority_class="high"),
    ]
    d = run([node], pods, pgs, pcs=PCS, conf=PREEMPT)
    return bind_map(d), [e.name for e in d.evictions], [p.name for p in d.pipelined]


def test_preempt_evicts_one_lower_priority_victim_and_pipelines() -> None:
    binds, evicted, pipelined = _preempt_case(idle_cpu=0)
    assert binds == {} and len(evicted) == 1 and pipelined == ["hi"]


def test_preempt_zero_evictions_when_idle_capacity_fits() -> None:
    binds, evicted, _ = _preempt_case(idle_cpu=1)
    assert binds == {"ns/hi": "n0"} and evicted == []


@pytest.mark.parametrize(
    ("preemptable", "ns"),
    [(False, "ns"), (True, "kube-system")],
    ids=["non-preemptable-never-evicted", "conformance-protects-kube-system"],
)
def test_preempt_respects_protection(preemptable: bool, ns: str) -> None:
    _, evicted, pipelined = _preempt_case(idle_cpu=0, victim_preemptable=preemptable, victim_ns=ns)
    assert evicted == [] and pipelined == []


def test_preempt_never_targets_equal_or_higher_priority() -> None:
    node = build_node("n0", {"cpu": "1", "memory": "8Gi"})
    pods = [
        build_pod("ns", "a", node="n0", phase="Running", req={"cpu": "1"}, group="a", preemptable=True),
        build_pod("ns", "b", req={"cpu": "1"}, group="b"),
    ]
    pgs = [
        build_podgroup("ns", "a", "default", 1, phase="Running", priority_class="high"),
        build_podgroup("ns", "b", "default", 1, priority_class="low"),
    ]
    d = run([node], pods, pgs, pcs=PCS, conf=PREEMPT)
    assert d.evictions == ()


def test_preempt_keeps_victim_gang_at_min_member() -> None:
    node = build_node("n0", {"cpu": "3", "memory": "8Gi"})
    pods = [
        build_pod("ns", f"low{i}", node="n0", phase="Running", req={"cpu": "1"}, group="low", preemptable=True)
        for i in range(3)
    ]
    pods.append(build_pod("ns", "hi", req={"cpu": "2"}, group="high"))
    pgs = [
        build_podgroup("ns", "low", "default", 2, phase="Running", priority_class="low"),
        build_podgroup("ns", "high", "default", 1, priority_class="high"),
    ]
    tier1_only = (
        PREEMPT.replace("  - name: drf\n", "")
        .replace("  - name: proportion\n", "")
        .replace("  - name: nodeorder\n", "")
    )
    d = run([node], pods, pgs, pcs=PCS, conf=tier1_only)
    assert d.evictions == () and d.pipelined == ()  # would need 2 victims, gang allows 1


# ----------------------------------------------------------------------------- capacity


def _cap_queues(deserved_a: str = "2", cap_a: str | None = None) -> list[dict[str, object]]:
    return [
        build_queue("a", capability={"cpu": cap_a} if cap_a else None, deserved={"cpu": deserved_a}),
        build_queue("b", deserved={"cpu": "2"}),
    ]


def test_capacity_borrows_idle_resources_up_to_capability() -> None:
    pods = [build_pod("ns", f"a{i}", req={"cpu": "1"}, group=f"a{i}") for i in range(4)]
    pgs = [build_podgroup("ns", f"a{i}", "a", 1) for i in range(4)]
    d = run([build_node("n0", {"cpu": "4", "memory": "8Gi"})], pods, pgs, _cap_queues(cap_a="3"), conf=CAPACITY)
    assert len(d.binds) == 3  # deserved 2, borrowed 1 more, capability 3 stops the 4th
    assert "quota" in d.unschedulable[0].message


def _reclaim_case(reclaimer_cpu: str, preemptable: bool = True, gpu: bool = False) -> tuple[list[str], list[str]]:
    alloc = {"cpu": "4", "memory": "8Gi"}
    if gpu:
        alloc["nvidia.com/gpu"] = "1"
    pods = [
        build_pod("ns", f"a{i}", node="n0", phase="Running", req={"cpu": "1"}, group=f"a{i}", preemptable=preemptable)
        for i in range(3)
    ]
    if gpu:
        pods.append(
            build_pod(
                "ns",
                "agpu",
                node="n0",
                phase="Running",
                req={"cpu": "1", "nvidia.com/gpu": "1"},
                group="agpu",
                preemptable=True,
            )
        )
        req = {"cpu": "1", "nvidia.com/gpu": "1"}
        queues = [
            build_queue("a", deserved={"cpu": "1", "nvidia.com/gpu": "0"}),
            build_queue("b", deserved={"cpu": "2", "nvidia.com/gpu": "1"}),
        ]
    else:
        pods.append(
            build_pod("ns", "a3", node="n0", phase="Running", req={"cpu": "1"}, group="a3", preemptable=preemptable)
        )
        req = {"cpu": reclaimer_cpu}
        queues = _cap_queues()
    pods.append(build_pod("ns", "b0", req=req, group="b0"))
    groups = sorted({p["metadata"]["annotations"]["scheduling.k8s.io/group-name"] for p in pods})
    pgs = [
        build_podgroup(
            "ns", g, "b" if g.startswith("b") else "a", 1, phase="Inqueue" if g.startswith("b") else "Running"
        )
        for g in groups
    ]
    d = run([build_node("n0", alloc)], pods, pgs, queues, conf=CAPACITY)
    return [e.name for e in d.evictions], [p.name for p in d.pipelined]


def test_reclaim_takes_back_from_over_deserved_queue_and_pipelines() -> None:
    evicted, pipelined = _reclaim_case("1")
    assert len(evicted) == 1 and pipelined == ["b0"]


def test_reclaim_never_evicts_non_preemptable_tasks() -> None:
    assert _reclaim_case("1", preemptable=False) == ([], [])


def test_no_reclaim_when_request_exceeds_deserved() -> None:
    assert _reclaim_case("3") == ([], [])


def test_gpu_reclaimer_evicts_only_the_gpu_holder() -> None:
    evicted, pipelined = _reclaim_case("1", gpu=True)
    assert evicted == ["agpu"] and pipelined == ["b0"]


def test_gpu_reclaimer_with_free_cpu_leaves_cpu_only_pods_running() -> None:
    # CPU is idle on the node; only the GPU is lacking, so only the GPU holder may go, whatever the
    # victims' order (the CPU-only pods are newer, so they come first in eviction order).
    pods = [build_pod("ns", "a0gpu", node="n0", phase="Running", req={"cpu": "1", "nvidia.com/gpu": "1"},
                      group="a0gpu", preemptable=True)]
    pods += [build_pod("ns", f"a{i}", node="n0", phase="Running", req={"cpu": "1"}, group=f"a{i}",
                       preemptable=True) for i in range(1, 4)]
    pods.append(build_pod("ns", "b0", req={"cpu": "1", "nvidia.com/gpu": "1"}, group="b0"))
    pgs = [build_podgroup("ns", g, "a", 1, phase="Running") for g in ("a0gpu", "a1", "a2", "a3")]
    pgs.append(build_podgroup("ns", "b0", "b", 1, phase="Inqueue"))
    queues = [
        build_queue("a", deserved={"cpu": "1", "nvidia.com/gpu": "0"}),
        build_queue("b", deserved={"cpu": "2", "nvidia.com/gpu": "1"}),
    ]
    d = run([build_node("n0", {"cpu": "8", "memory": "8Gi", "nvidia.com/gpu": "1"})], pods, pgs, queues,
            conf=CAPACITY)
    assert [e.name for e in d.evictions] == ["a0gpu"]
    assert [p.name for p in d.pipelined] == ["b0"]


def test_hierarchical_capability_applies_to_children() -> None:
    conf = CAPACITY.replace("  - name: capacity", "  - name: capacity\n    enableHierarchy: true")
    queues = [
        build_queue("root", capability={"cpu": "2"}),
        build_queue("child", capability={"cpu": "4"}, parent="root"),
    ]
    pods = [build_pod("ns", f"c{i}", req={"cpu": "1"}, group=f"c{i}") for i in range(3)]
    pgs = [build_podgroup("ns", f"c{i}", "child", 1) for i in range(3)]
    d = run([build_node("n0", {"cpu": "8", "memory": "8Gi"})], pods, pgs, queues, conf=conf)
    assert len(d.binds) == 2


# ----------------------------------------------------------------------------- nodegroup

NG = 'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: nodegroup{args}\n'


def _ng_nodes() -> list[dict[str, object]]:
    return [
        build_node("g1", {"cpu": "4"}, {"volcano.sh/nodegroup-name": "group1"}),
        build_node("g2", {"cpu": "4"}, {"volcano.sh/nodegroup-name": "group2"}),
        build_node("g3", {"cpu": "4"}, {"volcano.sh/nodegroup-name": "group3"}),
        build_node("bare", {"cpu": "4"}),
    ]


@pytest.mark.parametrize(
    ("affinity", "strict", "expected"),
    [
        ({"nodeGroupAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": ["group2"]}}, True, "g2"),
        (
            {
                "nodeGroupAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": ["group1", "group2"],
                    "preferredDuringSchedulingIgnoredDuringExecution": ["group2"],
                }
            },
            True,
            "g2",
        ),
        ({"nodeGroupAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": ["group3"]}}, True, "g3"),
        (
            {
                "nodeGroupAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": ["group1", "group2", "group3"]
                }
            },
            True,
            None,
        ),
        (
            {
                "nodeGroupAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": ["group1", "group2", "group3"]
                }
            },
            False,
            None,
        ),
        ({"nodeGroupAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": ["group1"]}}, True, "g1"),
    ],
    ids=[
        "required-group-only",
        "required-plus-preferred-scores-150",
        "preferred-group",
        "strict-mode-rejects-unlabelled",
        "non-strict-still-rejects-unlabelled-for-a-queue-with-rules",
        "preferred-anti-affinity-still-passes",
    ],
)
def test_nodegroup_placement(affinity: dict[str, object], strict: bool, expected: str | None) -> None:
    args = "" if strict else "\n    arguments:\n      strict: false"
    pods = [build_pod("ns", "p", req={"cpu": "1"}, group="pg")]
    d = run(
        _ng_nodes(),
        pods,
        [build_podgroup("ns", "pg", "q", 1)],
        [build_queue("q", affinity=affinity)],
        conf=NG.format(args=args),
    )
    assert bind_map(d) == ({"ns/p": expected} if expected else {})
    if expected is None:
        assert (
            d.unschedulable[0].message
            == "0/4 nodes are available: 1 node group label not found, 3 node does not satisfy the node group affinity."
        )


@pytest.mark.parametrize(
    ("affinity", "scores"),
    [
        ({"nodeGroupAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": ["group1"]}}, [0.0, 100.0, 0.0, 0.0]),
        (
            {
                "nodeGroupAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": ["group1"],
                    "preferredDuringSchedulingIgnoredDuringExecution": ["group1", "group2"],
                }
            },
            [0.0, 150.0, 50.0, 0.0],
        ),
        (
            {"nodeGroupAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": ["group3"]}},
            [0.0, 0.0, 0.0, -1.0],
        ),
    ],
    ids=["required-group-scores-100", "preferred-adds-50", "preferred-anti-scores-minus-1"],
)
def test_nodegroup_scores(affinity: dict[str, object], scores: list[float]) -> None:
    from suanli.scheduler.core import parse_config, run_session

    from ._builders import snap

    s = snap(
        _ng_nodes(),
        [build_pod("ns", "p", req={"cpu": "1"}, group="pg")],
        [build_podgroup("ns", "pg", "q", 1)],
        [build_queue("q", affinity=affinity)],
    )
    ssn = run_session(s, parse_config(NG.format(args="")))
    plugin = next(p for p in ssn.plugins if p.name == "nodegroup")
    assert plugin.score(s.tasks[0], None).tolist() == scores  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- victim order


def test_reclaim_takes_the_lowest_priority_job_of_an_overused_queue_first() -> None:
    """Victims of one queue go in reverse job order: with ``priority``, the low job's pod is evicted
    although the high job's pod is newer (reverse task order alone would pick it)."""
    pods = [
        build_pod("ns", "a-low", node="n0", phase="Running", req={"cpu": "1"}, group="low", preemptable=True, ts=1),
        build_pod("ns", "a-high", node="n0", phase="Running", req={"cpu": "1"}, group="high", preemptable=True,
                  ts=2),
        build_pod("ns", "b0", req={"cpu": "1"}, group="b0", ts=3),
    ]
    pgs = [
        build_podgroup("ns", "low", "a", 0, phase="Running", priority_class="low"),
        build_podgroup("ns", "high", "a", 0, phase="Running", priority_class="high"),
        build_podgroup("ns", "b0", "b", 1),
    ]
    queues = [build_queue("a", deserved={"cpu": "0"}), build_queue("b", deserved={"cpu": "2"})]
    d = run([build_node("n0", {"cpu": "2", "memory": "8Gi"})], pods, pgs, queues, pcs=PCS, conf=CAPACITY)
    assert [e.name for e in d.evictions] == ["a-low"] and [p.name for p in d.pipelined] == ["b0"]
