"""``suanli.wire`` is the one definition of each wire name: no module defines one again."""

from __future__ import annotations

import ast
from pathlib import Path

from suanli import wire

SRC = Path(wire.__file__).resolve().parent
WIRE_VALUES = {v: k for k, v in vars(wire).items() if k.isupper() and isinstance(v, str | wire.GVR)}


def _module_constants(path: Path) -> list[tuple[str, object]]:
    """Module-level ``NAME = "literal"`` and ``NAME = GVR(...)`` definitions of ``path``."""
    out: list[tuple[str, object]] = []
    for node in ast.parse(path.read_text()).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value: object = None
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            value = node.value.value
        elif isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "GVR":
            try:
                value = eval(compile(ast.Expression(node.value), str(path), "eval"), {"GVR": wire.GVR})
            except Exception:  # a GVR built from variables is not a redefinition
                continue
        if value is not None:
            out.append((node.targets[0].id, value))
    return out


def test_no_module_redefines_a_wire_name() -> None:
    again = [f"{path.relative_to(SRC)}: {name} = {value!r} (suanli.wire.{WIRE_VALUES[value]})"
             for path in sorted(SRC.rglob("*.py")) if path.name != "wire.py"
             for name, value in _module_constants(path) if value in WIRE_VALUES]
    assert again == []


def test_gvr_paths() -> None:
    assert wire.PODS.path("ns", "p", "status") == "/api/v1/namespaces/ns/pods/p/status"
    assert wire.NODES.path("ignored", "n") == "/api/v1/nodes/n"
    assert wire.PODGROUPS.path("ns") == "/apis/scheduling.volcano.sh/v1beta1/namespaces/ns/podgroups"
    assert str(wire.VCJOBS) == "jobs.batch.volcano.sh/v1alpha1"
