"""Every resource type carries its kind's strategy (``rt.strategy``): the one home per kind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from suanli.apimachinery.errors import Cause
from suanli.apimachinery.objects import Obj
from suanli.apiserver.tables import table_for
from suanli.kinds import strategy as strategies
from suanli.kinds.builtin import builtin_resource_types
from suanli.kinds.crd import resource_types_from_crd
from suanli.kinds.field import FieldErrors
from suanli.kinds.printers import NAME, Column, Printer
from suanli.kinds.registry import ResourceType
from suanli.kinds.strategy_base import DEFAULT_STRATEGY, STATUS_SUBRESOURCE_STRATEGY

BUILTINS = builtin_resource_types()


def test_builtin_types_carry_their_kinds_strategy() -> None:
    for rt in BUILTINS:
        assert rt.strategy is strategies.strategy_for(rt.group, rt.kind), rt.qualified
        assert rt.strategy is strategies.resource_strategy(rt.group, rt.plural), rt.qualified


def test_every_strategy_entry_names_a_served_resource() -> None:
    served = {(rt.group, rt.kind, rt.plural) for rt in BUILTINS}
    assert set(strategies._STRATEGIES) <= served


@pytest.mark.parametrize(("group", "plural", "resets"), [
    pytest.param("", "pods", True, id="pod-status-reset-on-create"),
    pytest.param("apps", "deployments", True, id="deployment-status-reset-on-create"),
    pytest.param("", "nodes", False, id="node-keeps-status-on-create"),
    pytest.param("", "configmaps", False, id="configmap-untouched"),
])
def test_prepare_for_create_resets_status_of_kinds_with_status(group: str, plural: str, resets: bool) -> None:
    rt = next(r for r in BUILTINS if (r.group, r.plural) == (group, plural))
    obj: Obj = {"metadata": {"name": "x"}, "status": {"phase": "Running"}}
    rt.strategy.prepare_for_create(obj)
    assert ("status" in obj) is not resets


def _crd(subresources: dict[str, Any]) -> Obj:
    return {"metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": subresources,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


@pytest.mark.parametrize(("subresources", "expected"), [
    pytest.param({"status": {}}, STATUS_SUBRESOURCE_STRATEGY, id="custom-resource-with-status-subresource"),
    pytest.param({}, DEFAULT_STRATEGY, id="custom-resource-without-status-subresource"),
])
def test_custom_resource_strategy_follows_status_subresource(subresources: dict[str, Any], expected: object) -> None:
    (rt,) = resource_types_from_crd(_crd(subresources))
    assert rt.strategy is expected


class _GizmoStrategy:
    """A strategy that is not a KindStrategy: the protocol is the extension point."""

    printer = Printer((NAME, Column("Size", "integer")), lambda o, now: [o["metadata"]["name"], o["spec"]["size"]])
    own_name_rules = False

    def prepare_for_create(self, obj: Obj) -> None: ...
    def default(self, obj: Obj, create: bool = True) -> None: ...
    def validate(self, obj: Obj) -> list[Cause]:
        return []
    def prepare_for_update(self, old: Obj, new: Obj) -> None: ...
    def validate_update(self, old: Obj, new: Obj) -> FieldErrors:
        return FieldErrors()


def test_a_strategys_printer_renders_the_table() -> None:
    rt = ResourceType(group="example.com", version="v1", kind="Gizmo", plural="gizmos", singular="gizmo",
                      namespaced=True, strategy=_GizmoStrategy())
    table = table_for(rt, [{"metadata": {"name": "g"}, "spec": {"size": 3}}], now=datetime.now(UTC))
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size"]
    assert table["rows"][0]["cells"] == ["g", 3]
