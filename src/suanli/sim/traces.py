"""Trace readers: Alibaba ``openb`` node/pod CSVs and generic CSV/YAML pod lists.

Columns are matched by header name, so variants with fewer or reordered
columns load as long as the required ones are present:

* nodes: ``sn`` (or ``name``), ``cpu_milli``, ``memory_mib``, ``gpu`` (or
  ``num_gpu``), optional ``model``;
* pods: ``name``, ``cpu_milli``, ``memory_mib``, ``num_gpu``, ``gpu_milli``,
  optional ``gpu_spec`` (``|``-separated models). Other columns are ignored.

A YAML pod list is a sequence of mappings with the same keys (or a mapping
with a ``pods:`` sequence). Every problem raises :class:`TraceError` naming
file, line and column, e.g.
``pods.csv:17: column 'cpu_milli': expected an integer, got 'abc'`` (or, when
a character position is known, ``pods.yaml:3:14: …``).

:func:`load_timed_pods` also reads the optional ``creation_time`` and
``deletion_time`` columns (seconds, as in openb) for the time-ordered replay:
an empty or ``nan`` creation time means 0, an empty or ``nan`` deletion time
means the pod never departs; a deletion before the creation is an error.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from suanli.scheduler.core.gpushare.model import NodeSpec, PodRequest, pod_shape_problem

__all__ = ["TimedPod", "TraceError", "load_nodes", "load_pods", "load_timed_pods"]

T = TypeVar("T")

NODE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("sn", "name"),
    "cpu_milli": ("cpu_milli",),
    "memory_mib": ("memory_mib",),
    "gpu": ("gpu", "num_gpu"),
}
POD_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "cpu_milli": ("cpu_milli",),
    "memory_mib": ("memory_mib",),
    "num_gpu": ("num_gpu",),
    "gpu_milli": ("gpu_milli",),
}


class TraceError(ValueError):
    """A malformed trace; the message starts with ``file:line:`` (``file:line:column:`` when
    ``column``, 1-based, is given)."""

    def __init__(self, path: str | Path, line: int, message: str, column: int | None = None) -> None:
        where = f"{path}:{line}:{column}" if column is not None else f"{path}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class TimedPod:
    """A trace pod with its arrival (``creation``, seconds) and departure (``deletion``;
    None = never departs). ``index`` is its position in the trace (ties in time keep it)."""

    pod: PodRequest
    creation: float
    deletion: float | None
    index: int


Record = tuple[int, Mapping[str, str], Mapping[str, int]]
"""(line of the record, column -> raw text, column -> line of that value)."""


def _csv_records(path: Path, wanted: Mapping[str, tuple[str, ...]]) -> Iterator[Record]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(path, 0, f"cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise TraceError(path, 1, "empty file, expected a header line")
        header = [h.strip() for h in header]
        for aliases in wanted.values():
            if not any(a in header for a in aliases):
                raise TraceError(path, 1, f"missing column '{aliases[0]}'")
        start = 2
        for row in reader:
            line = start
            start = reader.line_num + 1
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise TraceError(path, line, f"expected {len(header)} fields, got {len(row)}")
            values = dict(zip(header, (c.strip() for c in row), strict=True))
            yield line, values, {}


def _yaml_records(path: Path, wanted: Mapping[str, tuple[str, ...]]) -> Iterator[Record]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceError(path, 0, f"cannot read: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TraceError(path, mark.line + 1 if mark else 1, f"invalid YAML: {exc}") from None
    if isinstance(root, yaml.MappingNode):
        items = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        root = items.get("pods")
    if not isinstance(root, yaml.SequenceNode):
        raise TraceError(path, 1, "expected a list of pods (or a mapping with a 'pods' list)")
    for item in root.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise TraceError(path, line, "expected a mapping for each pod")
        values: dict[str, str] = {}
        lines: dict[str, int] = {}
        for key, val in item.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            if isinstance(val, yaml.SequenceNode):
                values[key.value] = "|".join(str(v.value) for v in val.value)
            elif isinstance(val, yaml.ScalarNode):
                values[key.value] = "" if val.tag.endswith(":null") else str(val.value)
            else:
                raise TraceError(path, val.start_mark.line + 1, f"column '{key.value}': expected a scalar")
            lines[key.value] = val.start_mark.line + 1
        for aliases in wanted.values():
            if not any(a in values for a in aliases):
                raise TraceError(path, line, f"missing column '{aliases[0]}'")
        yield line, values, lines


def _records(path: Path, wanted: Mapping[str, tuple[str, ...]]) -> Iterator[Record]:
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml_records(path, wanted)
    return _csv_records(path, wanted)


class _Row:
    """Typed access to one record with errors that name file, line and column."""

    def __init__(self, path: Path, record: Record) -> None:
        self.path = path
        self.line, self.values, self.lines = record

    def fail(self, column: str, message: str) -> TraceError:
        return TraceError(self.path, self.lines.get(column, self.line), f"column '{column}': {message}")

    def text(self, *aliases: str, default: str | None = None) -> str:
        for a in aliases:
            if a in self.values:
                return self.values[a]
        if default is None:
            raise self.fail(aliases[0], "missing")
        return default

    def integer(self, *aliases: str) -> int:
        column = next((a for a in aliases if a in self.values), aliases[0])
        raw = self.text(*aliases)
        return self.convert(column, raw, _parse_int, "an integer")

    def convert(self, column: str, raw: str, fn: Callable[[str], T], what: str) -> T:
        try:
            return fn(raw)
        except ValueError:
            raise self.fail(column, f"expected {what}, got {raw!r}") from None


def _parse_int(raw: str) -> int:
    value = float(raw) if raw and "." in raw else int(raw)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(raw)
        return int(value)
    return value


def load_nodes(path: str | Path) -> list[NodeSpec]:
    """Read a node list (``sn,cpu_milli,memory_mib,gpu,model``)."""
    p = Path(path)
    nodes: list[NodeSpec] = []
    seen: set[str] = set()
    for record in _records(p, NODE_COLUMNS):
        row = _Row(p, record)
        name = row.text("sn", "name")
        if not name:
            raise row.fail("sn" if "sn" in row.values else "name", "expected a node name, got ''")
        if name in seen:
            raise row.fail("sn" if "sn" in row.values else "name", f"duplicate node name {name!r}")
        seen.add(name)
        cpu, mem, gpu = row.integer("cpu_milli"), row.integer("memory_mib"), row.integer("gpu", "num_gpu")
        for column, value in (("cpu_milli", cpu), ("memory_mib", mem), ("gpu", gpu)):
            if value < 0:
                raise row.fail(column, f"must be non-negative, got {value}")
        model = row.text("model", default="")
        if gpu > 0 and not model:
            model = "unknown"
        nodes.append(NodeSpec(name, cpu, mem, gpu, model if gpu > 0 else ""))
    if not nodes:
        raise TraceError(p, 1, "no nodes")
    return nodes


def _pod(row: _Row) -> PodRequest:
    cpu, mem = row.integer("cpu_milli"), row.integer("memory_mib")
    num, milli = row.integer("num_gpu"), row.integer("gpu_milli")
    problem = pod_shape_problem(cpu, mem, num, milli)
    if problem is not None:
        raise row.fail(*problem)
    spec = frozenset(s.strip() for s in row.text("gpu_spec", default="").split("|") if s.strip())
    return PodRequest(row.text("name"), cpu, mem, num, milli, spec)


def load_pods(path: str | Path) -> list[PodRequest]:
    """Read a pod list (openb CSV, a reduced CSV, or YAML)."""
    return [t.pod for t in load_timed_pods(path)]


def _time(row: _Row, column: str) -> float | None:
    raw = row.text(column, default="").strip()
    if raw.lower() in ("", "nan", "none", "null"):
        return None
    value = row.convert(column, raw, float, "a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise row.fail(column, f"must be a non-negative number of seconds, got {raw!r}")
    return value


def load_timed_pods(path: str | Path) -> list[TimedPod]:
    """Read a pod list with its optional ``creation_time``/``deletion_time`` columns."""
    p = Path(path)
    pods: list[TimedPod] = []
    for record in _records(p, POD_COLUMNS):
        row = _Row(p, record)
        pod = _pod(row)
        created = _time(row, "creation_time")
        deleted = _time(row, "deletion_time")
        creation = 0.0 if created is None else created
        if deleted is not None and deleted < creation:
            raise row.fail("deletion_time", f"must not be before creation_time ({creation:g}), got {deleted:g}")
        pods.append(TimedPod(pod, creation, deleted, len(pods)))
    if not pods:
        raise TraceError(p, 1, "no pods")
    return pods
