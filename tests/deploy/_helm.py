"""A renderer for the subset of Helm's template language ``charts/suanli`` uses.

No ``helm`` binary is installable on this machine (see docs/architecture.md), so the chart
tests render templates with this: trim markers (``{{-`` / ``-}}``), ``if``/``end`` on a value,
``.Values.*``, ``.Release.*`` and ``.Chart.*`` lookups, ``printf "%s-%s" A B`` and
``toYaml X | nindent N`` (keys sorted, as Helm's toYaml does). Any other action raises
:class:`Unsupported`, so a template that goes beyond the subset fails the tests instead of being
rendered wrongly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
_PATH = re.compile(r"^\.(Values|Release|Chart)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)$")


class Unsupported(ValueError):
    """A template action outside the subset."""


def _lookup(expr: str, scope: dict[str, Any]) -> Any:
    m = _PATH.match(expr)
    if m is None:
        raise Unsupported(f"unsupported expression {expr!r}")
    value: Any = scope[m[1]]
    for key in m[2].strip(".").split("."):
        if not isinstance(value, dict) or key not in value:
            raise Unsupported(f"{expr!r}: no {key!r}")  # Helm prints <no value>; a chart bug here
        value = value[key]
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _evaluate(action: str, scope: dict[str, Any]) -> str:
    m = re.fullmatch(r'printf "%s-%s" (\S+) (\S+)', action)
    if m:
        return f"{_scalar(_lookup(m[1], scope))}-{_scalar(_lookup(m[2], scope))}"
    m = re.fullmatch(r"toYaml (\S+) \| nindent (\d+)", action)
    if m:
        text = yaml.safe_dump(_lookup(m[1], scope), sort_keys=True, default_flow_style=False).rstrip("\n")
        pad = " " * int(m[2])
        return "\n" + "\n".join(pad + line for line in text.splitlines())
    return _scalar(_lookup(action, scope))


def render(template: str, values: dict[str, Any], *, release: dict[str, Any], chart: dict[str, Any]) -> str:
    """Render ``template`` as Helm would with these values, release and chart fields."""
    scope = {"Values": values, "Release": release, "Chart": chart}
    # lexical pass: text pieces around actions, trimmed where the action asks
    texts: list[str] = []
    actions: list[str] = []
    trim_next = False
    pos = 0
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if trim_next:
            text = text.lstrip()
        if m[1]:
            text = text.rstrip()
        texts.append(text)
        actions.append(m[2])
        trim_next = bool(m[3])
        pos = m.end()
    tail = template[pos:].lstrip() if trim_next else template[pos:]
    # evaluation pass
    out: list[str] = []
    active = [True]
    for text, action in zip(texts, actions, strict=True):
        if all(active):
            out.append(text)
        if action.startswith("if "):
            active.append(bool(_lookup(action[3:].strip(), scope)) if all(active) else False)
        elif action == "end":
            if len(active) == 1:
                raise Unsupported("'end' without 'if'")
            active.pop()
        elif all(active):
            out.append(_evaluate(action, scope))
    if len(active) != 1:
        raise Unsupported("unclosed 'if'")
    out.append(tail)
    return "".join(out)


CHART = Path(__file__).resolve().parents[2] / "charts" / "suanli"
RELEASE = {"Name": "suanli", "Namespace": "suanli-system", "Service": "Helm"}


def chart_meta(chart: Path = CHART) -> dict[str, Any]:
    """``.Chart`` fields from ``Chart.yaml``."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    return {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]}


def render_chart(values: dict[str, Any] | None = None, *, release: dict[str, Any] | None = None,
                 chart: Path = CHART) -> list[dict[str, Any]]:
    """The objects ``helm template`` would produce for ``chart`` (default values: its values.yaml)."""
    vals = values if values is not None else yaml.safe_load((chart / "values.yaml").read_text())
    objs: list[dict[str, Any]] = []
    for path in sorted((chart / "templates").glob("*.yaml")):
        text = render(path.read_text(), vals, release=release or RELEASE, chart=chart_meta(chart))
        objs += [d for d in yaml.safe_load_all(text) if d]
    return objs
