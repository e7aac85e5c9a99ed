"""allocate / enqueue / backfill with gang, predicates, nodeorder, binpack, overcommit, proportion, drf."""

from __future__ import annotations

import pytest

from suanli.scheduler.core import parse_config, schedule, summarise_reasons

from ._builders import bind_map, build_node, build_pod, build_podgroup, build_queue, run, snap

ALLOC = """
actions: "enqueue, allocate, backfill"
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


def nodes(n: int, cpu: str = "2", mem: str = "4Gi", **extra: str) -> list[dict[str, object]]:
    return [build_node(f"n{i}", {"cpu": cpu, "memory": mem, **extra}) for i in range(n)]


# ----------------------------------------------------------------------------- gang


@pytest.mark.parametrize(
    ("n_nodes", "min_member", "min_task", "expected_binds"),
    [
        (2, 3, None, 3),
        (1, 3, None, 0),
        (1, 2, None, 2),
        (2, 3, {"master": 2}, 0),
    ],
    ids=[
        "gang-fits-all-bind",
        "gang-does-not-fit-nothing-binds",
        "min-member-met-binds-what-fits",
        "task-min-member-unmet-nothing-binds",
    ],
)
def test_gang_all_or_nothing(
    n_nodes: int, min_member: int, min_task: dict[str, int] | None, expected_binds: int
) -> None:
    pods = [build_pod("ns", f"w{i}", req={"cpu": "1"}, group="pg", role="worker") for i in range(3)]
    if min_task:
        pods = [
            build_pod("ns", "m0", req={"cpu": "1"}, group="pg", role="master"),
            build_pod("ns", "m1", req={"cpu": "3"}, group="pg", role="master"),
            *pods,
        ]
    d = run(nodes(n_nodes), pods, [build_podgroup("ns", "pg", "default", min_member, min_task)], conf=ALLOC)
    assert len(d.binds) == expected_binds
    status = d.podgroup_status["ns/pg"]
    if expected_binds == 0:
        assert status["phase"] == "Inqueue"
        assert status["conditions"][0]["type"] == "Unschedulable"


@pytest.mark.parametrize(
    ("min_member", "expected_binds"), [(1, 4), (5, 0)],
    ids=["task-minimums-skipped-when-min-member-is-below-their-sum", "task-minimums-apply-otherwise"],
)
def test_task_minimums_only_when_min_member_covers_them(min_member: int, expected_binds: int) -> None:
    """Upstream ``CheckTaskValid``: with minMember < Σ minTaskMember the per-task minimums are skipped
    (one master exists where two are asked for; a dependsOn job creates its later tasks only later)."""
    pods = [build_pod("ns", "m0", req={"cpu": "1"}, group="pg", role="master"),
            *(build_pod("ns", f"w{i}", req={"cpu": "1"}, group="pg", role="worker") for i in range(3))]
    pg = build_podgroup("ns", "pg", "default", min_member, {"master": 2, "worker": 3})
    d = run(nodes(2), pods, [pg], conf=ALLOC)
    assert len(d.binds) == expected_binds


def test_job_that_cannot_fit_does_not_block_smaller_job_in_another_queue() -> None:
    pods = [build_pod("ns", f"big{i}", req={"cpu": "2"}, group="big", ts=0) for i in range(3)]
    pods.append(build_pod("ns", "small", req={"cpu": "1"}, group="small", ts=5))
    pgs = [build_podgroup("ns", "big", "q1", 3, ts=0), build_podgroup("ns", "small", "q2", 1, ts=5)]
    d = run(nodes(2), pods, pgs, [build_queue("q1"), build_queue("q2")], conf=ALLOC)
    assert bind_map(d) == {"ns/small": "n0"}


def test_not_enough_pods_keeps_gang_invalid() -> None:
    pods = [build_pod("ns", "w0", req={"cpu": "1"}, group="pg")]
    d = run(nodes(2), pods, [build_podgroup("ns", "pg", "default", 2)], conf=ALLOC)
    assert d.binds == ()
    assert "Not enough valid tasks" in d.unschedulable[0].message


def test_pending_podgroup_is_enqueued_then_allocated_in_one_cycle() -> None:
    pods = [build_pod("ns", f"w{i}", req={"cpu": "1"}, group="pg") for i in range(2)]
    d = run(nodes(1), pods, [build_podgroup("ns", "pg", "default", 2, phase="Pending", min_resources={"cpu": "2"})])
    assert len(d.binds) == 2 and d.podgroup_status["ns/pg"]["phase"] == "Running"


# ----------------------------------------------------------------------------- overcommit


@pytest.mark.parametrize(
    ("factor", "min_cpu", "enqueued"),
    [(None, "2400m", True), (None, "2500m", False), ("1.5", "3", True), ("0.5", "2500m", False)],
    ids=[
        "default-factor-1.2-admits-up-to-120%",
        "default-factor-rejects-beyond",
        "custom-factor",
        "factor-below-1-falls-back-to-1.2",
    ],
)
def test_overcommit_enqueue(factor: str | None, min_cpu: str, enqueued: bool) -> None:
    args = f"\n    arguments:\n      overcommit-factor: {factor}" if factor else ""
    conf = f'actions: "enqueue"\ntiers:\n- plugins:\n  - name: gang\n  - name: overcommit{args}\n'
    pg = build_podgroup("ns", "pg", "default", 1, phase="Pending", min_resources={"cpu": min_cpu})
    d = run(nodes(1), [build_pod("ns", "p", req={"cpu": "1"}, group="pg")], [pg], conf=conf)
    assert (d.podgroup_status["ns/pg"]["phase"] == "Inqueue") is enqueued
    if not enqueued:
        assert "resource in cluster is overused" in d.unschedulable[0].message


def test_job_without_min_resources_is_enqueued_even_when_cluster_is_full() -> None:
    conf = 'actions: "enqueue"\ntiers:\n- plugins:\n  - name: overcommit\n'
    used = build_pod("ns", "hog", node="n0", phase="Running", req={"cpu": "2"})
    pg = build_podgroup("ns", "pg", "default", 1, phase="Pending")
    d = run(nodes(1), [used, build_pod("ns", "p", req={"cpu": "1"}, group="pg")], [pg], conf=conf)
    assert d.podgroup_status["ns/pg"]["phase"] == "Inqueue"


# ----------------------------------------------------------------------------- predicates


def _one(pod_kwargs: dict[str, object], node_list: list[dict[str, object]]) -> tuple[dict[str, str], str]:
    d = run(node_list, [build_pod("ns", "p", **pod_kwargs)], conf=ALLOC)  # type: ignore[arg-type]
    return bind_map(d), (d.unschedulable[0].message if d.unschedulable else "")


AFF = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}}


def _req_aff(*exprs: dict[str, object], fields: list[dict[str, object]] | None = None) -> dict[str, object]:
    term: dict[str, object] = {"matchExpressions": list(exprs)}
    if fields:
        term["matchFields"] = fields
    return {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    }


LABELLED = [
    build_node("a", {"cpu": "2"}, {"zone": "x", "gen": "3"}),
    build_node("b", {"cpu": "2"}, {"zone": "y", "gen": "5"}),
    build_node("c", {"cpu": "2"}, {}),
]


@pytest.mark.parametrize(
    ("spec", "expected_node"),
    [
        ({"nodeSelector": {"zone": "y"}}, "b"),
        (_req_aff({"key": "zone", "operator": "In", "values": ["x"]}), "a"),
        (_req_aff({"key": "zone", "operator": "NotIn", "values": ["x", "y"]}), "c"),
        (_req_aff({"key": "zone", "operator": "DoesNotExist"}), "c"),
        (_req_aff({"key": "gen", "operator": "Exists"}, {"key": "gen", "operator": "Gt", "values": ["4"]}), "b"),
        (_req_aff({"key": "gen", "operator": "Lt", "values": ["4"]}), "a"),
        (_req_aff(fields=[{"key": "metadata.name", "operator": "In", "values": ["c"]}]), "c"),
    ],
    ids=[
        "node-selector",
        "affinity-in",
        "affinity-notin-matches-unlabelled",
        "affinity-doesnotexist",
        "affinity-exists-and-gt",
        "affinity-lt",
        "affinity-matchfields-name",
    ],
)
def test_node_selection(spec: dict[str, object], expected_node: str) -> None:
    binds, _ = _one({"req": {"cpu": "1"}, "spec": spec}, LABELLED)
    assert binds == {"ns/p": expected_node}


def test_affinity_failure_message_counts_nodes() -> None:
    binds, msg = _one({"req": {"cpu": "1"}, "spec": {"nodeSelector": {"zone": "nowhere"}}}, LABELLED)
    assert binds == {} and msg == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."


TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("tolerations", "effect", "binds"),
    [
        ([], "NoSchedule", False),
        ([], "PreferNoSchedule", True),
        ([], "NoExecute", False),
        ([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], "NoSchedule", True),
        ([{"key": "dedicated", "operator": "Exists"}], "NoExecute", True),
        ([{"operator": "Exists"}], "NoSchedule", True),
        ([{"key": "dedicated", "operator": "Equal", "value": "cpu"}], "NoSchedule", False),
    ],
    ids=[
        "untolerated-noschedule-blocks",
        "prefer-noschedule-ignored",
        "untolerated-noexecute-blocks",
        "equal-toleration",
        "exists-toleration",
        "wildcard-toleration",
        "wrong-value-blocks",
    ],
)
def test_taints_and_tolerations(tolerations: list[dict[str, str]], effect: str, binds: bool) -> None:
    node = build_node("t", {"cpu": "2"}, taints=[{**TAINT, "effect": effect}])
    got, msg = _one({"req": {"cpu": "1"}, "spec": {"tolerations": tolerations}}, [node])
    assert bool(got) is binds
    if not binds:
        assert msg == "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."


def test_unschedulable_node_and_pod_count_and_extended_resources() -> None:
    node_list = [
        build_node("cordoned", {"cpu": "8", "huawei.com/Ascend910": "8"}, unschedulable=True),
        build_node("full", {"cpu": "8", "huawei.com/Ascend910": "8", "pods": "1"}),
        build_node("small", {"cpu": "8", "huawei.com/Ascend910": "2"}),
        build_node("plain", {"cpu": "8"}),
    ]
    pods = [
        build_pod("ns", "occupant", node="full", phase="Running", req={"cpu": "1"}),
        build_pod("ns", "p", req={"cpu": "1", "huawei.com/Ascend910": "4"}),
    ]
    d = run(node_list, pods, conf=ALLOC)
    assert d.binds == ()
    assert d.unschedulable[0].message == (
        "0/4 nodes are available: 1 Too many pods, 1 node(s) were unschedulable, 2 Insufficient huawei.com/Ascend910."
    )


def test_host_ports_conflict_with_existing_and_same_cycle_pods() -> None:
    ports = {
        "containers": [
            {
                "name": "c",
                "image": "x",
                "ports": [{"containerPort": 80, "hostPort": 8080}],
                "resources": {"requests": {"cpu": "100m"}},
            }
        ]
    }
    existing = build_pod("ns", "old", node="n0", phase="Running", spec=ports)
    pods = [existing] + [build_pod("ns", f"p{i}", spec=ports) for i in range(2)]
    d = run(nodes(2), pods, conf=ALLOC)
    assert bind_map(d) == {"ns/p0": "n1"}
    assert (
        d.unschedulable[0].message
        == "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."
    )


def test_summary_sorts_like_upstream() -> None:
    assert summarise_reasons(
        5, 0, {"Insufficient huawei.com/Ascend910": 3, "node(s) didn't match queue node group affinity": 2}
    ) == (
        "0/5 nodes are available: 2 node(s) didn't match queue node group affinity, "
        "3 Insufficient huawei.com/Ascend910."
    )


# ----------------------------------------------------------------------------- scoring


def test_least_requested_spreads_and_binpack_packs() -> None:
    node_list = nodes(2, cpu="4", mem="8Gi")
    pods = [
        build_pod("ns", "old", node="n1", phase="Running", req={"cpu": "2", "memory": "4Gi"}),
        build_pod("ns", "p", req={"cpu": "1", "memory": "1Gi"}),
    ]
    assert bind_map(run(node_list, pods, conf=ALLOC)) == {"ns/p": "n0"}
    pack = 'actions: "allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: predicates\n  - name: binpack\n'
    assert bind_map(run(node_list, pods, conf=pack)) == {"ns/p": "n1"}


def test_preferred_node_affinity_wins_over_spread() -> None:
    pref = {
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["y"]}]},
                    }
                ]
            }
        }
    }
    binds, _ = _one({"req": {"cpu": "1"}, "spec": pref}, LABELLED)
    assert binds == {"ns/p": "b"}


def test_ties_break_to_lowest_node_index_and_results_are_deterministic() -> None:
    pods = [build_pod("ns", f"p{i}", req={"cpu": "1"}) for i in range(4)]
    a = run(nodes(4), pods, conf=ALLOC)
    b = run(nodes(4), pods, conf=ALLOC)
    assert a == b
    assert bind_map(a)["ns/p0"] == "n0"


# ----------------------------------------------------------------------------- proportion / drf / backfill


def test_proportion_deserved_by_weight_limits_allocation() -> None:
    queues = [build_queue("a", 1), build_queue("b", 3)]
    pods = [build_pod("ns", f"a{i}", req={"cpu": "1"}, group=f"ga{i}") for i in range(4)]
    pods += [build_pod("ns", f"b{i}", req={"cpu": "1"}, group=f"gb{i}") for i in range(4)]
    pgs = [build_podgroup("ns", f"ga{i}", "a", 1) for i in range(4)] + [
        build_podgroup("ns", f"gb{i}", "b", 1) for i in range(4)
    ]
    d = run(nodes(2, cpu="2"), pods, pgs, queues, conf=ALLOC)
    by_queue = {"a": 0, "b": 0}
    for b in d.binds:
        by_queue[b.name[0]] += 1
    assert by_queue == {"a": 1, "b": 3}
    assert d.queue_status["a"]["deserved"]["cpu"] == "1000m" and d.queue_status["b"]["deserved"]["cpu"] == "3000m"


def test_proportion_capability_blocks_enqueue() -> None:
    conf = 'actions: "enqueue, allocate"\ntiers:\n- plugins:\n  - name: gang\n  - name: proportion\n'
    pg = build_podgroup("ns", "pg", "q", 1, phase="Pending", min_resources={"cpu": "3"})
    d = run(
        nodes(4),
        [build_pod("ns", "p", req={"cpu": "3"}, group="pg")],
        [pg],
        [build_queue("q", 1, {"cpu": "2"})],
        conf=conf,
    )
    assert d.binds == () and d.podgroup_status["ns/pg"]["phase"] == "Pending"


def test_closed_queue_never_enqueues() -> None:
    pg = build_podgroup("ns", "pg", "q", 1, phase="Pending", min_resources={"cpu": "1"})
    d = run(nodes(1), [build_pod("ns", "p", req={"cpu": "1"}, group="pg")], [pg], [build_queue("q", state="Closed")])
    assert d.binds == () and "queue q is Closed" in d.unschedulable[0].message


def test_drf_orders_jobs_by_dominant_share() -> None:
    # job "rich" already holds 2 CPU; "poor" holds nothing -> poor's pending task goes first
    pods = [
        build_pod("ns", "r0", node="n0", phase="Running", req={"cpu": "2"}, group="rich"),
        build_pod("ns", "r1", req={"cpu": "1"}, group="rich", ts=0),
        build_pod("ns", "p1", req={"cpu": "1"}, group="poor", ts=9),
    ]
    pgs = [
        build_podgroup("ns", "rich", "default", 1, phase="Running", ts=0),
        build_podgroup("ns", "poor", "default", 1, ts=9),
    ]
    d = run([*nodes(1, cpu="2"), build_node("n1", {"cpu": "1", "memory": "4Gi"})], pods, pgs, conf=ALLOC)
    assert bind_map(d) == {"ns/p1": "n1"}


def test_backfill_places_best_effort_pods() -> None:
    d = run(nodes(1), [build_pod("ns", "be", req={})], conf=ALLOC)
    assert bind_map(d) == {"ns/be": "n0"}


def test_snapshot_is_not_mutated_by_schedule() -> None:
    s = snap(nodes(1), [build_pod("ns", "p", req={"cpu": "1"})])
    before = s.nodes.used.copy()
    schedule(s, parse_config(ALLOC))
    assert (s.nodes.used == before).all() and s.tasks[0].status.value == "Pending"
