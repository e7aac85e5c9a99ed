"""PodGroup conditions as the live scheduler writes them: ``lastTransitionTime`` changes only
when the condition does (as upstream compares conditions without their times)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.scheduler.adapter import stamp_conditions

UNSCHED = {"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
           "message": "0/0 tasks in gang unschedulable: queue resource quota insufficient: insufficient cpu"}
OLD_TIME = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("old", "new", "kept"),
    [
        ([{**UNSCHED, "lastTransitionTime": OLD_TIME}], [UNSCHED], True),
        ([{**UNSCHED, "message": "other", "lastTransitionTime": OLD_TIME}], [UNSCHED], False),
        ([], [UNSCHED], False),
        ([{**UNSCHED, "type": "Scheduled", "lastTransitionTime": OLD_TIME}], [UNSCHED], False),
    ],
    ids=["unchanged-condition-keeps-its-time", "new-message-is-a-transition", "first-condition-is-stamped",
         "other-type-is-a-transition"],
)
def test_condition_time_changes_only_with_the_condition(old: list[dict[str, Any]], new: list[dict[str, Any]],
                                                       kept: bool) -> None:
    (got,) = stamp_conditions(old, new)
    assert {k: v for k, v in got.items() if k != "lastTransitionTime"} == UNSCHED
    assert (got["lastTransitionTime"] == OLD_TIME) is kept
    assert got["lastTransitionTime"]
