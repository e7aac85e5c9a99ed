"""``TestJobEnqueuedOnOtherPluginsReject`` of Volcano's ``capacity_test.go`` and
``proportion_test.go`` (master), ported: a job refused by another plugin of the tier charges
nothing to its queue's inqueue, so the next job still fits. Upstream's test-only
``uthelper.RejecterPlugin`` is mirrored by a plugin registered for the test only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from suanli.scheduler.core import registry
from suanli.scheduler.core.framework import ABSTAIN, REJECT
from suanli.scheduler.core.plugins._base import BasePlugin
from suanli.scheduler.core.session import Session

from ._upstream import Case, check_core, conf, node, pg, pod, queue, res

REJECTER = "test-rejecter"


class _Rejecter(BasePlugin):
    """Refuses to enqueue the PodGroup named ``pga`` (``uthelper.RejecterPlugin{RejectJob: "pgA"}``)."""

    name = REJECTER

    def on_session_open(self, ssn: Session) -> None:
        ssn.add_job_enqueueable_fn(self.name, lambda job: REJECT if job.name == "pga" else ABSTAIN)


@pytest.fixture
def rejecter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    registry.plugin_names()  # built-ins first
    monkeypatch.setitem(registry._PLUGINS, REJECTER, _Rejecter)
    yield


R1 = res("1", "1G")
QUEUES = {
    "capacity": queue("q1", deserved=res("1", "4G"), capability=res("1", "4G")),
    "proportion": queue("q1", capability=res("1", "4G")),
}


@pytest.mark.parametrize("plugin", ["capacity", "proportion"])
def test_job_refused_by_a_co_tier_plugin_charges_no_inqueue(rejecter: None, plugin: str) -> None:
    check_core(Case(
        nodes=[node("n1", res("4", "4G", pods="10"))],
        pods=[pod("ns1", "poda", "", "Pending", R1, "pga"), pod("ns1", "podb", "", "Pending", R1, "pgb")],
        podgroups=[pg("pga", "ns1", "q1", 1, None, "Pending", min_resources=R1),
                   pg("pgb", "ns1", "q1", 1, None, "Pending", min_resources=R1)],
        queues=[QUEUES[plugin]],
        conf=conf("enqueue", (plugin, ["JobEnqueued"]), (REJECTER, ["JobEnqueued"])),
        binds={},
        phases={"ns1/pga": "Pending", "ns1/pgb": "Inqueue"},
    ))


@pytest.mark.parametrize("plugin", ["capacity", "proportion"])
def test_inqueue_job_with_bound_tasks_is_not_counted_twice(plugin: str) -> None:
    """``TestNoDoubleCountingForInqueueJobWithBindingTasks`` (capacity and proportion), both cycles:
    cycle 1 binds the three tasks of the Inqueue job ``pga``; in cycle 2 they are bound but ``pga``
    is still Inqueue, and ``pgb`` (1 CPU) must still fit the queue's 4 CPUs."""
    q1 = queue("q1", capability=res("4", "8Gi"))
    cfg = conf("enqueue, allocate", (plugin, ["Allocatable", "Overused", "JobEnqueued"]))
    n1 = node("n1", res("4", "8Gi", pods="10"))
    pga = pg("pga", "ns1", "q1", 3, None, "Inqueue", min_resources=res("3", "3Gi"))
    first = check_core(Case(
        nodes=[n1], pods=[pod("ns1", f"pa{i}", "", "Pending", res("1", "1Gi"), "pga") for i in (1, 2, 3)],
        podgroups=[pga], queues=[q1], conf=cfg,
        binds={f"ns1/pa{i}": "n1" for i in (1, 2, 3)},
    ))
    bound = [pod("ns1", b.name, b.node, "Pending", res("1", "1Gi"), "pga") for b in first.binds]
    check_core(Case(
        nodes=[n1], pods=[*bound, pod("ns1", "pb1", "", "Pending", res("1", "1Gi"), "pgb")],
        podgroups=[pga, pg("pgb", "ns1", "q1", 1, None, "Pending", min_resources=res("1", "1Gi"))],
        queues=[q1], conf=cfg, binds={"ns1/pb1": "n1"},
    ))
