"""``meta.k8s.io/v1 Table`` rendering for ``kubectl get`` (server-side printing).

:func:`table_for` turns a list of objects into a Table with the resource's printer
(:func:`printer_for`): a printer registered with :func:`register_printer` (an extension point,
keyed by ``(group, plural)``, for resources nothing else prints), else the kind's own printer
(``rt.strategy.printer``; the built-in kinds' printers live in :mod:`suanli.kinds.printers`),
else one built from ``ResourceType.printer_columns`` (CRD ``additionalPrinterColumns``,
evaluated with JSONPath) after NAME, else NAME + AGE — as upstream, an explicit column list
gets no automatic AGE (CRDs declare their own ``Age`` column).

Row objects (``includeObject``): ``"Metadata"`` (default) → a ``PartialObjectMetadata``,
``"Object"`` → the object itself, ``"None"`` → no ``object`` key. Row objects share
structure with the input (read-only).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from suanli.apimachinery import jsonpath
from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import Obj
from suanli.kinds.printers import (
    AGE,
    DEFAULT,
    NAME,
    Column,
    Printer,
    RowFn,
    hpa_targets,
    human_duration,
    job_status,
    object_name,
    pod_status_reason,
    translate_timestamp,
)
from suanli.kinds.registry import PrinterColumn, ResourceType

# Column, Printer, RowFn, AGE, NAME and the cell helpers are re-exported for the callers and tests
# that know them from here; their home is suanli.kinds.printers.
__all__ = [
    "AGE",
    "NAME",
    "Column",
    "Printer",
    "RowFn",
    "hpa_targets",
    "human_duration",
    "job_status",
    "pod_status_reason",
    "printer_for",
    "register_printer",
    "table_for",
    "translate_timestamp",
]

_REGISTERED: dict[tuple[str, str], Printer] = {}


def register_printer(group: str, plural: str, columns: Sequence[Column], row_fn: RowFn) -> None:
    """Register (or replace) the printer for ``(group, plural)``; ``row_fn`` returns all cells.

    It takes precedence over the kind's own printer; built-in kinds do not use it (their
    strategies carry their printers)."""
    _REGISTERED[(group, plural)] = Printer(tuple(columns), row_fn)


def printer_for(rt: ResourceType) -> Printer:
    """The registered printer, else the kind's own, else one from ``rt.printer_columns``, else NAME + AGE."""
    found = _REGISTERED.get((rt.group, rt.plural)) or rt.strategy.printer
    if found is not None:
        return found
    if rt.printer_columns:
        return _custom_printer(rt.printer_columns)
    return DEFAULT


# -- CRD printers --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _compiled(path: str) -> jsonpath.JsonPath | None:
    try:
        return jsonpath.compile(path)
    except ValueError:
        return None


def _json_cell(col: PrinterColumn, value: Any, now: datetime) -> Any:
    """A CRD column cell from the first JSONPath match, typed as upstream does."""
    kind = col.type
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) else None
    if kind == "number":
        if isinstance(value, bool):
            return None
        return value if isinstance(value, int | float) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return translate_timestamp(value, now) if isinstance(value, str) else None
    # string (and anything else): text rendering as the JSONPath printer does
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "" if value is None else str(value)


def _custom_printer(cols: tuple[PrinterColumn, ...]) -> Printer:
    columns = (NAME, *(Column(c.name, c.type, c.format, c.description, c.priority) for c in cols))
    compiled = [_compiled(c.json_path) for c in cols]

    def row(obj: Obj, now: datetime) -> list[Any]:
        cells: list[Any] = [object_name(obj)]
        for col, path in zip(cols, compiled, strict=True):
            found = path.find(obj) if path is not None else []
            cells.append(_json_cell(col, found[0], now) if found else None)
        return cells

    return Printer(columns, row)


# -- table ---------------------------------------------------------------------------------------

_INCLUDE = ("Metadata", "Object", "None")


def table_for(
    rt: ResourceType,
    objects: Sequence[Obj],
    *,
    include_object: str = "Metadata",
    list_meta: dict[str, Any] | None = None,
    now: datetime | None = None,
    no_headers: bool = False,
) -> dict[str, Any]:
    """Render ``objects`` as a ``meta.k8s.io/v1`` Table.

    ``list_meta`` supplies ``resourceVersion`` / ``continue`` / ``remainingItemCount``.
    ``no_headers`` omits ``columnDefinitions`` (watch events after the first).
    Raises ``ApiError.bad_request`` for an unknown ``include_object``.
    """
    if include_object not in _INCLUDE:
        raise ApiError.bad_request(f"includeObject: Unsupported value: {include_object!r}: supported values: "
                                   '"Metadata", "None", "Object"')
    when = now or datetime.now(UTC)
    printer = printer_for(rt)
    rows: list[dict[str, Any]] = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.row(obj, when)}
        if include_object == "Metadata":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata") or {}}
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    md: dict[str, Any] = {}
    for key in ("resourceVersion", "continue", "remainingItemCount"):
        if list_meta and list_meta.get(key) not in (None, ""):
            md[key] = list_meta[key]
    table: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    table["columnDefinitions"] = [] if no_headers else [c.as_dict() for c in printer.columns]
    table["rows"] = rows
    return table
