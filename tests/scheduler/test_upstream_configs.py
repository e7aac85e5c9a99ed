"""The default ``volcano-scheduler.conf`` of Volcano's installer, verbatim, parses as Volcano reads it.

Data files (sources and commits in ``data/SOURCES.json``), all from volcano-sh/volcano:

* ``volcano-scheduler.master.conf`` — ``installer/helm/chart/volcano/config/volcano-scheduler.conf``
  at master (commit ed72c7c8), the file the helm chart renders into ``volcano-scheduler-configmap``;
* ``volcano-scheduler.v1.9.0.conf`` — the same path at tag v1.9.0;
* ``volcano-scheduler-ci.master.conf`` — ``volcano-scheduler-ci.conf`` at master (the chart's CI
  variant: two plugins Suanli does not implement, action arguments).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suanli.scheduler.core import parse_config

DATA = Path(__file__).parent / "data"
HELM_DEFAULTS = ["volcano-scheduler.master.conf", "volcano-scheduler.v1.9.0.conf"]


def test_every_data_file_names_its_upstream_source() -> None:
    sources = json.loads((DATA / "SOURCES.json").read_text())
    assert set(sources) == {p.name for p in DATA.glob("*.conf")}
    assert all(s["repository"] == "https://github.com/volcano-sh/volcano" and len(s["commit"]) == 40
               for s in sources.values())


@pytest.mark.parametrize("name", HELM_DEFAULTS)
def test_helm_chart_default_parses_without_warnings(name: str) -> None:
    cfg = parse_config((DATA / name).read_text())
    assert cfg.actions == ("enqueue", "allocate", "backfill")
    assert [[p.name for p in t.plugins] for t in cfg.tiers] == [
        ["priority", "gang", "conformance"],
        ["overcommit", "drf", "predicates", "proportion", "nodeorder", "binpack"],
    ]
    gang, drf, binpack = cfg.plugin("gang"), cfg.plugin("drf"), cfg.plugin("binpack")
    assert gang is not None and not gang.enabled("Preemptable") and gang.enabled("JobReady")
    assert drf is not None and not drf.enabled("Preemptable") and drf.enabled("JobOrder")
    assert binpack is not None and binpack.arguments == {} and binpack.enabled("NodeOrder")
    assert cfg.configurations == {} and cfg.default_preemptable and cfg.warnings == ()


def test_ci_config_skips_the_plugins_suanli_lacks_and_keeps_the_rest() -> None:
    cfg = parse_config((DATA / "volcano-scheduler-ci.master.conf").read_text())
    assert cfg.actions == ("enqueue", "allocate", "backfill", "reclaim", "preempt")
    assert [[p.name for p in t.plugins] for t in cfg.tiers] == [
        ["priority", "gang", "conformance"],
        ["overcommit", "drf", "predicates", "proportion", "nodeorder", "binpack"],
    ]
    predicates = cfg.plugin("predicates")
    assert predicates is not None and predicates.arguments == {"predicate.DynamicResourceAllocationEnable": True}
    assert cfg.warnings == (
        "tiers[0].plugins[3]: plugin 'sla' is not implemented by Suanli; skipped",
        "tiers[1].plugins[6]: plugin 'network-topology-aware' is not implemented by Suanli; skipped",
    )
