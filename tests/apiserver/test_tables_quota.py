"""``kubectl get quota`` / ``kubectl get limits`` rows (upstream printers.go printResourceQuota, printLimitRange)."""

from __future__ import annotations

from datetime import UTC, datetime

from suanli.apiserver.tables import printer_for
from suanli.kinds.builtin import builtin_resource_types

NOW = datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC)
CREATED = "2026-01-01T00:00:00Z"
TYPES = {(rt.group, rt.plural): rt for rt in builtin_resource_types()}


def test_quota_row_splits_requests_and_limits_sorted_with_unsynced_used_as_zero() -> None:
    printer = printer_for(TYPES[("", "resourcequotas")])
    quota = {"metadata": {"name": "compute", "creationTimestamp": CREATED},
             "status": {"hard": {"requests.cpu": "4", "limits.memory": "8Gi", "pods": "20", "limits.cpu": "8",
                                 "requests.huawei.com/Ascend910": "2"},
                        "used": {"requests.cpu": "500m", "limits.cpu": "1", "pods": "2"}}}
    cells = dict(zip((c.name for c in printer.columns), printer.row(quota, NOW), strict=True))
    assert cells == {"Name": "compute", "Age": "10m",
                     "Request": "pods: 2/20, requests.cpu: 500m/4, requests.huawei.com/Ascend910: 0/2",
                     "Limit": "limits.cpu: 1/8, limits.memory: 0/8Gi"}


def test_limit_range_row_is_name_and_creation_time() -> None:
    printer = printer_for(TYPES[("", "limitranges")])
    assert [c.name for c in printer.columns] == ["Name", "Created At"]
    assert printer.row({"metadata": {"name": "defaults", "creationTimestamp": CREATED}}, NOW) == ["defaults", CREATED]
