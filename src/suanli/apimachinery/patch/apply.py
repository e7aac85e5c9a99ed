"""Server-side apply and ``metadata.managedFields`` bookkeeping.

Every write records which *field manager* owns which fields (see
:mod:`~suanli.apimachinery.patch.fieldpath` for the ``fieldsV1`` encoding). One
``managedFields`` entry exists per (manager, operation, subresource)::

    {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
     "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {...}}

* :func:`server_side_apply` merges an applied configuration into the live object
  (maps recursively, ``list-type: map`` lists by key, ``set`` lists as sets, other lists
  replaced), removes fields the applier owned before but no longer sets (unless someone
  else owns them; maps and lists left empty by that removal go too), and raises 409
  when another manager owns a field the configuration would change, unless ``force``.
* :func:`record_update` is for ordinary create/update/patch: the writer takes ownership
  of the fields whose values it changed, other managers lose them, and fields that
  disappeared are dropped from every manager.

Fields never tracked: ``apiVersion``, ``kind``, ``status`` (except for the status
subresource) and ``metadata`` name/namespace/uid/resourceVersion/creationTimestamp/
managedFields/generation/selfLink/deletion*. Custom resources pass ``extra`` built by
:func:`~suanli.apimachinery.patch.patchmeta.list_meta_from_schema`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from suanli.apimachinery.errors import ApiError, Cause
from suanli.apimachinery.objects import Obj, deep_copy
from suanli.apimachinery.patch._json import json_equal, strip_nulls
from suanli.apimachinery.patch.fieldpath import (
    MISSING,
    FieldPath,
    _enc,
    field_paths,
    field_values,
    fields_tree,
    from_fields_v1,
    key_element,
    remove_path,
    render_path,
    to_fields_v1,
    value_at,
)
from suanli.apimachinery.patch.patchmeta import ListMeta, strategy_for

__all__ = ["fields_of", "managed_fields_of", "parsed_fields_cache_size", "record_update", "server_side_apply"]

_UNMERGED_META = (
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def fields_of(obj: Obj, kind: str, *, extra: ListMeta | None = None, subresource: str = "") -> dict[str, Any]:
    """The ``fieldsV1`` set of leaf fields ``obj`` sets (``status`` only when ``subresource == "status"``)."""
    return to_fields_v1(field_paths(obj, kind, extra=extra, include_status=subresource == "status"))


@dataclass
class _Entry:
    manager: str
    operation: str
    subresource: str
    api_version: str
    time: str
    fields: set[FieldPath]
    source: dict[str, Any] | None = None  # the stored entry this was read from
    source_fields: frozenset[FieldPath] = frozenset()

    @property
    def ident(self) -> tuple[str, str, str]:
        return self.manager, self.operation, self.subresource

    def render(self, tree: dict[str, Any] | None = None) -> dict[str, Any]:
        src = self.source
        if (tree is None and src is not None and self.fields == self.source_fields
                and self.time == str(src.get("time") or "") and self.api_version == str(src.get("apiVersion") or "")):
            return src  # unchanged: reuse the stored entry (entries are never mutated)
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = to_fields_v1(self.fields) if tree is None else tree
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _entries(obj: Obj | None) -> list[_Entry]:
    raw = ((obj or {}).get("metadata") or {}).get("managedFields")
    out: list[_Entry] = []
    for e in raw if isinstance(raw, list) else []:
        if not isinstance(e, dict):
            continue
        fields = _parsed_fields(e.get("fieldsV1"))
        out.append(
            _Entry(
                str(e.get("manager") or ""),
                str(e.get("operation") or "Update"),
                str(e.get("subresource") or ""),
                str(e.get("apiVersion") or ""),
                str(e.get("time") or ""),
                set(fields),
                e,
                fields,
            )
        )
    return out


# id(tree) -> (tree, its parsed paths, insertion time), oldest first. The tree is kept so its id
# cannot be reused while the entry lives. Bounded by count and by age: an entry serves the
# next writes of the object version it was parsed from, which come within seconds; after
# churn (objects replaced or deleted) old entries would otherwise pin their trees and paths.
_PARSED: OrderedDict[int, tuple[Any, frozenset[FieldPath], float]] = OrderedDict()
_PARSED_MAX = 20_000
_PARSED_MAX_AGE = 5.0  # seconds (each entry costs ~8 KB: measured in bench/bench_soak.py)
_clock: Callable[[], float] = time.monotonic  # replaced in tests


def _parsed_fields(tree: Any) -> frozenset[FieldPath]:
    """``from_fields_v1(tree)``, cached by identity: stored entries are shared and never mutated."""
    key = id(tree)
    hit = _PARSED.get(key)
    if hit is not None and hit[0] is tree:
        return hit[1]
    fields = frozenset(from_fields_v1(tree))
    if isinstance(tree, dict):
        now = _clock()
        _PARSED[key] = (tree, fields, now)
        if len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
        cutoff = now - _PARSED_MAX_AGE
        while True:  # the newest entry (just added) is never older than the cutoff
            first = next(iter(_PARSED.values()))
            if first[2] >= cutoff:
                break
            _PARSED.popitem(last=False)
    return fields


def parsed_fields_cache_size() -> int:
    """Entries in the managedFields parse cache (memory diagnostics and tests)."""
    return len(_PARSED)


def managed_fields_of(obj: Obj) -> dict[tuple[str, str], set[FieldPath]]:
    """``{(manager, operation): field paths}`` read from ``obj``'s managedFields (handy in tests)."""
    return {(e.manager, e.operation): e.fields for e in _entries(obj)}


def _store(obj: Obj, entries: list[_Entry]) -> None:
    md = obj.setdefault("metadata", {})
    kept = [e.render() for e in entries if e.fields]
    if kept:
        md["managedFields"] = kept
    else:
        md.pop("managedFields", None)


def _lookup(
    values: dict[FieldPath, Any], obj: Any, path: FieldPath, kind: str, extra: ListMeta | None
) -> Any:
    """The value at ``path``: from the precomputed leaf ``values`` if there, else by walking ``obj``."""
    if path in values:
        return values[path]
    return MISSING if obj is None else value_at(obj, path, kind, extra)


def _differs(old: Any, new: Any, path: FieldPath) -> bool:
    if old is MISSING or new is MISSING:
        return old is not new
    if path[-1].startswith(("k:", "v:")):
        return False  # the item exists on both sides; its fields are compared separately
    return not json_equal(old, new)


def _has_descendant(path: FieldPath, owned: set[FieldPath]) -> bool:
    n = len(path)
    return any(len(q) > n and q[:n] == path for q in owned)


# -- server-side apply ------------------------------------------------------------------------


def server_side_apply(
    live: Obj | None,
    applied: Obj,
    manager: str,
    kind: str,
    *,
    force: bool,
    now: str,
    extra: ListMeta | None = None,
    subresource: str = "",
    status_subresource: bool = True,
) -> Obj:
    """Apply the configuration ``applied`` as ``manager``; returns the new object.

    ``live is None`` creates: the result is ``applied`` (nulls dropped) owned by
    ``manager``. Raises ``ApiError(409, "Conflict")`` naming each conflicting field and
    its owner unless ``force``, which moves those fields to ``manager``.

    With ``status_subresource`` (the default, true for built-ins and CRDs that declare
    it) an apply to the main resource ignores ``status`` and an apply to
    ``subresource="status"`` only applies ``status``; otherwise ``status`` is an
    ordinary field.
    """
    if not isinstance(applied, dict):
        raise ApiError.bad_request("apply configuration must be an object")
    if not manager:
        raise ApiError.bad_request("fieldManager is required for apply requests")
    config = strip_nulls(applied)
    cmeta = config.get("metadata")
    if isinstance(cmeta, dict):
        cmeta.pop("managedFields", None)
    status = subresource == "status" or not status_subresource
    if status_subresource and subresource == "status":
        config = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "metadata", "status")}
        ident_meta = config.get("metadata") or {}
        config["metadata"] = {k: v for k, v in ident_meta.items() if k in ("name", "namespace")}
    elif status_subresource:
        config.pop("status", None)
    mine = field_paths(config, kind, extra=extra, include_status=status)
    api_version = str(config.get("apiVersion") or (live or {}).get("apiVersion") or "")
    ident = (manager, "Apply", subresource)

    if live is None:
        result: Obj = deep_copy(config)
        _store(result, [_Entry(manager, "Apply", subresource, api_version, now, mine)])
        return result

    entries = _entries(live)
    merged: Obj = _merge(deep_copy(live), config, (), kind, extra)

    conflicts: list[tuple[str, FieldPath]] = []
    live_values = field_values(live, kind, extra=extra, include_status=status)
    merged_values = field_values(merged, kind, extra=extra, include_status=status)
    for e in entries:
        if e.manager == manager:
            continue
        for p in sorted(mine & e.fields):
            if _differs(
                _lookup(live_values, live, p, kind, extra), _lookup(merged_values, merged, p, kind, extra), p
            ):
                conflicts.append((e.manager, p))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for owner, p in conflicts:
        for e in entries:
            if e.manager == owner:
                e.fields.discard(p)

    previous = next((e for e in entries if e.ident == ident), None)
    others: set[FieldPath] = set()
    for e in entries:
        if e.ident != ident:
            others |= e.fields
    if previous is not None:
        keep = mine | others
        for p in sorted(previous.fields - keep, key=len):
            if not _has_descendant(p, keep):
                remove_path(merged, p, kind, extra)
                _prune_empty_parents(merged, p, keep, kind, extra)

    if previous is None:
        entries.append(_Entry(manager, "Apply", subresource, api_version, now, mine))
    else:
        previous.fields, previous.time, previous.api_version = mine, now, api_version
    _store(merged, entries)
    return merged


def _prune_empty_parents(
    obj: Obj, path: FieldPath, keep: set[FieldPath], kind: str, extra: ListMeta | None
) -> None:
    """Drop maps/lists left empty by a removal, unless someone owns them (e.g. ``labels: {}``)."""
    for n in range(len(path) - 1, 0, -1):
        parent = path[:n]
        value = value_at(obj, parent, kind, extra)
        if value is MISSING or value or not isinstance(value, dict | list) or parent in keep:
            return
        remove_path(obj, parent, kind, extra)


def _conflict_error(conflicts: list[tuple[str, FieldPath]]) -> ApiError:
    n = len(conflicts)
    lines = [f'conflict with "{owner}": {render_path(p)}' for owner, p in conflicts]
    message = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: " + "\n".join(lines)
    causes = [
        Cause(render_path(p), f'conflict with "{owner}"', reason="FieldManagerConflict")
        for owner, p in conflicts
    ]
    return ApiError(409, "Conflict", message, causes=causes)


def _merge(live: Any, config: Any, names: tuple[str, ...], kind: str, extra: ListMeta | None) -> Any:
    """Merge an apply configuration into a private copy of the live value."""
    if isinstance(config, dict):
        base = live if isinstance(live, dict) else {}
        for k, v in config.items():
            if not names and k == "metadata" and isinstance(v, dict):
                raw_md = base.get("metadata")
                md: dict[str, Any] = raw_md if isinstance(raw_md, dict) else {}
                v = {mk: mv for mk, mv in v.items() if mk not in _UNMERGED_META or mk not in md}
            base[k] = _merge(base.get(k), v, (*names, k), kind, extra)
        return base
    if isinstance(config, list) and isinstance(live, list):
        s = strategy_for(kind, names, extra)
        if s is not None and s.list_type == "map" and all(isinstance(i, dict) for i in [*live, *config]):
            return _interleave(
                live, config, lambda i: key_element(s, i), lambda lv, cv: _merge(lv, cv, names, kind, extra)
            )
        if s is not None and s.list_type == "set" and not any(isinstance(i, dict | list) for i in config):
            return _interleave(live, config, _value_key, lambda lv, cv: cv)
    return deep_copy(config)


def _value_key(value: Any) -> str:
    return "v:" + _enc(value)


def _interleave(
    live: list[Any], config: list[Any], key: Callable[[Any], str], merge: Callable[[Any, Any], Any]
) -> list[Any]:
    """Merge two associative lists: applied items in applied order, live-only items keep their place.

    ``live [a, x, b]`` + ``applied [b, a, n]`` gives ``[b, a, x, n]``.
    """
    lkeys = [key(i) for i in live]
    ckeys = [key(i) for i in config]
    in_config = set(ckeys)
    by_key = dict(zip(lkeys, live, strict=True))
    out: list[Any] = []
    done: set[str] = set()
    li = ci = 0
    while li < len(live) or ci < len(config):
        if li < len(live):
            lk = lkeys[li]
            if ci < len(config) and lk == ckeys[ci] and lk not in done:
                out.append(merge(live[li], config[ci]))
                done.add(lk)
                li, ci = li + 1, ci + 1
                continue
            if lk not in in_config:
                out.append(live[li])
                li += 1
                continue
            if lk in done:
                li += 1
                continue
        if ci < len(config):
            ck = ckeys[ci]
            if ck not in done:
                out.append(merge(by_key[ck], config[ci]) if ck in by_key else deep_copy(config[ci]))
                done.add(ck)
            ci += 1
    return out


# -- non-apply writes -------------------------------------------------------------------------


def record_update(
    old: Obj | None,
    new: Obj,
    manager: str,
    kind: str,
    now: str,
    *,
    extra: ListMeta | None = None,
    operation: str = "Update",
    subresource: str = "",
    status_subresource: bool = True,
    in_place: bool = False,
) -> Obj:
    """Return ``new`` with managedFields updated for a create/update/patch by ``manager``.

    With ``in_place=True`` the caller hands ``new`` over and it is updated and returned
    instead of a copy (the API server owns the objects it writes).

    The writer's entry gains every field whose value it set or changed; other managers
    lose those fields; fields absent from ``new`` leave every set; empty entries go.
    Sending ``managedFields: [{}]`` clears all ownership; sending a list different from
    the stored one replaces it verbatim (as upstream allows). ``status`` is tracked only
    for ``subresource="status"`` unless ``status_subresource`` is false.
    """
    result: Obj = new if in_place else deep_copy(new)
    md = result.setdefault("metadata", {})
    sent = md.get("managedFields")
    if sent == [{}]:
        md.pop("managedFields", None)
        return result
    stored = ((old or {}).get("metadata") or {}).get("managedFields")
    if isinstance(sent, list) and sent and not json_equal(sent, stored):
        return result
    status = subresource == "status" or not status_subresource
    if old is None:
        # creation: the writer owns every field, so build its fieldsV1 tree in one walk
        tree = fields_tree(new, kind, extra=extra, include_status=status)
        if tree:
            md["managedFields"] = [_Entry(manager, operation, subresource, str(new.get("apiVersion") or ""),
                                          now, set()).render(tree)]
        else:
            md.pop("managedFields", None)
        return result
    before = field_values(old, kind, extra=extra, include_status=status)
    after = field_values(new, kind, extra=extra, include_status=status)
    changed = {p for p, v in after.items() if p not in before or _differs(before[p], v, p)}
    removed = set(before) - set(after)
    entries = _entries(old)
    ident = (manager, operation, subresource)
    for e in entries:
        e.fields -= removed
        if e.ident != ident:
            e.fields -= changed
    mine = next((e for e in entries if e.ident == ident), None)
    if mine is None:
        if changed:
            entries.append(
                _Entry(manager, operation, subresource, str(new.get("apiVersion") or ""), now, set(changed))
            )
    elif changed:
        mine.fields |= changed
        mine.time = now
        mine.api_version = str(new.get("apiVersion") or mine.api_version)
    _store(result, entries)
    return result
