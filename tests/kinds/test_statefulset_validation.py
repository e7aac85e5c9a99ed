"""StatefulSet ``maxUnavailable`` validation (upstream ``validateRollingUpdateStatefulSet``)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.kinds.defaults import validate_builtin

PATH = "spec.updateStrategy.rollingUpdate.maxUnavailable"


def sts(max_unavailable: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
            "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"a": "b"}},
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"partition": 0, "maxUnavailable": max_unavailable}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}}}}


@pytest.mark.parametrize(("value", "message"), [
    (1, None), (3, None), ("50%", None), ("100%", None),
    (0, "Invalid value: 0: cannot be 0"),
    ("0%", 'Invalid value: "0%": cannot be 0'),
    (-1, "Invalid value: -1: must be greater than or equal to 0"),
    ("101%", 'Invalid value: "101%": must not be greater than 100%'),
], ids=["one", "three", "half", "all", "zero", "zero-percent", "negative", "over-100-percent"])
def test_max_unavailable(value: Any, message: str | None) -> None:
    causes = [c for c in validate_builtin("apps/StatefulSet", sts(value)) if c.field == PATH]
    assert [c.message for c in causes] == ([] if message is None else [message])
