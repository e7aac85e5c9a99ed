"""Built-in PriorityClasses and the admission rules protecting them (upstream storage + validation)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.admission import AdmissionRequest
from suanli.apiserver.priorityclasses import SystemPriorityClassAdmission, system_priority_classes
from suanli.kinds.builtin import builtin_resource_types

RT = next(r for r in builtin_resource_types() if r.plural == "priorityclasses")


def request(op: Any, name: str, obj: dict[str, Any] | None = None) -> AdmissionRequest:
    return AdmissionRequest(op, RT, "", name, obj, None)


def pc(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, **extra}


def test_system_classes_have_upstream_values() -> None:
    assert {p["metadata"]["name"]: p["value"] for p in system_priority_classes()} == {
        "system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
    assert all(p["globalDefault"] is False for p in system_priority_classes())


@pytest.mark.parametrize("name", ["system-node-critical", "system-cluster-critical"])
def test_deleting_a_system_class_is_forbidden(name: str) -> None:
    with pytest.raises(ApiError) as err:
        SystemPriorityClassAdmission().validate(request("DELETE", name))
    assert err.value.code == 403
    assert "this is a system priority class and cannot be deleted" in str(err.value)


@pytest.mark.parametrize(("obj", "field"), [
    (pc("system-mine", 10), "metadata.name"),
    (pc("system-node-critical", 5), "metadata.name"),
    (pc("system-cluster-critical", 2000000000, globalDefault=True), "metadata.name"),
    (pc("huge", 1_000_000_001), "value"),
], ids=["unknown-system-name", "system-name-other-value", "system-class-as-global-default", "above-user-maximum"])
def test_invalid_classes_are_422_naming_the_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiError) as err:
        SystemPriorityClassAdmission().validate(request("CREATE", obj["metadata"]["name"], obj))
    assert err.value.code == 422
    assert [c.field for c in err.value.causes] == [field]


@pytest.mark.parametrize("obj", [pc("high", 1_000_000_000), *system_priority_classes()],
                         ids=["user-maximum", "system-node-critical", "system-cluster-critical"])
def test_valid_classes_pass(obj: dict[str, Any]) -> None:
    SystemPriorityClassAdmission().validate(request("CREATE", obj["metadata"]["name"], obj))
    SystemPriorityClassAdmission().validate(request("DELETE", "high"))
