"""``Queue.spec.priority`` orders best-effort placement too (backfill visits queues in queue order,
as Volcano's ``pickUpPendingTasks``); not an upstream row."""

from __future__ import annotations

import pytest

from ._upstream import Case, check_core, conf, node, pg, pod, queue


@pytest.mark.parametrize("plugin", ["proportion", "capacity"])
def test_backfill_serves_the_higher_priority_queue_first(plugin: str) -> None:
    # one pod slot left; the job of the high-priority queue is younger and its queue sorts later by name
    check_core(Case(
        nodes=[node("n1", {"cpu": "4", "memory": "4Gi", "pods": "1"})],
        pods=[pod("ns1", "a", "", "Pending", {}, "pga"), pod("ns1", "z", "", "Pending", {}, "pgz")],
        podgroups=[pg("pga", "ns1", "qa", 1, None, "Inqueue"), pg("pgz", "ns1", "qz", 1, None, "Inqueue")],
        queues=[queue("qa", priority=1), queue("qz", priority=10)],
        conf=conf("backfill", (plugin, ["QueueOrder"]), ("predicates", ["Predicate"])),
        binds={"ns1/z": "n1"},
    ))
