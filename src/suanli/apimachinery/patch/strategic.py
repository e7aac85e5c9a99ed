"""Strategic merge patch (``application/strategic-merge-patch+json``).

Like a JSON merge patch (maps merge, ``null`` deletes) except that lists described by
:mod:`~suanli.apimachinery.patch.patchmeta` merge instead of being replaced:

* lists with a merge key merge item by item (matching items merge recursively, new items
  are appended; existing items keep their order);
* primitive merge lists (``finalizers``) are unioned;
* every other list is replaced.

Directives (never copied into the result):

* ``"$patch": "replace"`` in a map replaces the map; as a list item
  (``{"$patch": "replace"}``) the list becomes the patch's other items.
* ``"$patch": "delete"`` in a map deletes it; in a merge-key list item deletes the item
  with that key. ``"$patch": "merge"`` is the default.
* ``"$retainKeys": [..]`` drops every key of the original map not listed.
* ``"$deleteFromPrimitiveList/<f>": [..]`` removes those values from list ``f``.
* ``"$setElementOrder/<f>": [..]`` orders list ``f`` (items by merge key or values).

Example (what ``kubectl apply`` sends after an env var is removed from a manifest)::

    {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"name": "app", "$setElementOrder/env": [{"name": "A"}],
                        "env": [{"$patch": "delete", "name": "B"}]}]}}}}
"""

from __future__ import annotations

from typing import Any

from suanli.apimachinery.errors import ApiError
from suanli.apimachinery.objects import deep_copy
from suanli.apimachinery.patch._json import json_equal
from suanli.apimachinery.patch.patchmeta import ListMeta, ListStrategy, strategy_for

__all__ = ["create_strategic_merge_patch", "strategic_merge_patch"]

PATCH = "$patch"
RETAIN = "$retainKeys"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"

Path = tuple[str, ...]


class _Deleted:
    """Marker: the map carried ``$patch: delete``."""


_DELETED = _Deleted()


def _is_directive(key: str) -> bool:
    return key in (PATCH, RETAIN) or key.startswith((DELETE_PRIMITIVE, SET_ORDER))


def strategic_merge_patch(original: Any, patch: Any, kind: str, *, extra: ListMeta | None = None) -> Any:
    """Apply a strategic merge ``patch`` to ``original`` (an object of kind key ``kind``).

    Returns a new tree; raises 400 (:meth:`ApiError.bad_request`) for a malformed patch.
    """
    if not isinstance(patch, dict):
        raise ApiError.bad_request("strategic merge patch must be a JSON object")
    ctx = _Ctx(kind, extra)
    base = deep_copy(original) if isinstance(original, dict) else {}
    result = ctx.merge_map(base, patch, ())
    return {} if isinstance(result, _Deleted) else result


class _Ctx:
    def __init__(self, kind: str, extra: ListMeta | None) -> None:
        self.kind = kind
        self.extra = extra

    def strategy(self, path: Path) -> ListStrategy | None:
        return strategy_for(self.kind, path, self.extra)

    # -- maps ---------------------------------------------------------------------------------

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any],
                  path: Path) -> dict[str, Any] | _Deleted:
        directive = patch.get(PATCH, "merge")
        if directive == "delete":
            return _DELETED
        if directive == "replace":
            return self.merge_map({}, {k: v for k, v in patch.items() if k != PATCH}, path)
        if directive != "merge":
            raise ApiError.bad_request(f'unknown patch directive "{PATCH}": {directive!r} at {_show(path)}')

        result = dict(original)  # ``original`` is already a private copy (see strategic_merge_patch)
        retain = patch.get(RETAIN)
        if retain is not None:
            if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
                raise ApiError.bad_request(f"{RETAIN} must be a list of strings at {_show(path)}")
            missing = [k for k in patch if not _is_directive(k) and patch[k] is not None and k not in retain]
            if missing:
                raise ApiError.bad_request(
                    f"{RETAIN} at {_show(path)} does not list patched key(s): {', '.join(sorted(missing))}")
            result = {k: v for k, v in result.items() if k in retain}

        for key, values in patch.items():
            if key.startswith(DELETE_PRIMITIVE):
                name = key[len(DELETE_PRIMITIVE):]
                if not isinstance(values, list):
                    raise ApiError.bad_request(f"{key} must be a list at {_show(path)}")
                current = result.get(name)
                if isinstance(current, list):
                    kept = [v for v in current if not any(json_equal(v, d) for d in values)]
                    result[name] = kept

        for key, value in patch.items():
            if _is_directive(key):
                continue
            if value is None:
                result.pop(key, None)
                continue
            sub = (*path, key)
            current = result.get(key)
            if isinstance(value, dict):
                merged = self.merge_map(current if isinstance(current, dict) else {}, value, sub)
                if isinstance(merged, _Deleted):
                    result.pop(key, None)
                else:
                    result[key] = merged
            elif isinstance(value, list):
                result[key] = self.merge_list(current if isinstance(current, list) else [], value, sub)
            else:
                result[key] = value

        for key, order in patch.items():
            if key.startswith(SET_ORDER):
                name = key[len(SET_ORDER):]
                if not isinstance(order, list):
                    raise ApiError.bad_request(f"{key} must be a list at {_show(path)}")
                current = result.get(name)
                if isinstance(current, list):
                    result[name] = self.reorder(current, original.get(name), order, (*path, name))
        return result

    # -- lists --------------------------------------------------------------------------------

    def merge_list(self, original: list[Any], patch: list[Any], path: Path) -> list[Any]:
        strategy = self.strategy(path)
        replace = any(isinstance(i, dict) and i.get(PATCH) == "replace" for i in patch)
        if strategy is None or not strategy.merges or replace:
            items = [i for i in patch if not (isinstance(i, dict) and i.get(PATCH) == "replace")]
            return [self._clean(i, path) for i in items]
        if strategy.list_type == "set":
            out = list(original)
            for item in patch:
                if isinstance(item, dict):
                    raise ApiError.bad_request(f"{_show(path)} is a list of values; got an object")
                if not any(json_equal(item, o) for o in out):
                    out.append(deep_copy(item))
            return out
        key = strategy.merge_key or ""
        out = list(original)
        for item in patch:
            if not isinstance(item, dict):
                raise ApiError.bad_request(f"{_show(path)} items must be objects merged by {key!r}")
            if key not in item:
                raise ApiError.bad_request(
                    f"{_show(path)}: item {_short(item)} does not contain declared merge key: {key}")
            idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and key in o
                        and json_equal(o[key], item[key])), None)
            if item.get(PATCH) == "delete":
                out = [o for o in out
                       if not (isinstance(o, dict) and key in o and json_equal(o[key], item[key]))]
                continue
            if idx is None:
                merged = self.merge_map({}, item, path)
                if not isinstance(merged, _Deleted):
                    out.append(merged)
            else:
                merged = self.merge_map(out[idx], item, path)
                if isinstance(merged, _Deleted):
                    del out[idx]
                else:
                    out[idx] = merged
        return out

    def _clean(self, item: Any, path: Path) -> Any:
        if isinstance(item, dict):
            merged = self.merge_map({}, item, path)
            return {} if isinstance(merged, _Deleted) else merged
        return deep_copy(item)

    def reorder(self, items: list[Any], original: Any, order: list[Any], path: Path) -> list[Any]:
        """Order ``items`` by ``$setElementOrder``; items it does not name keep their place."""
        strategy = self.strategy(path)
        key = strategy.merge_key if strategy and strategy.list_type == "map" else None

        def ident(item: Any) -> Any:
            if key is not None:
                return item.get(key) if isinstance(item, dict) else None
            return item

        def position(seq: list[Any], item: Any) -> int | None:
            target = ident(item)
            return next((i for i, o in enumerate(seq) if json_equal(ident(o), target)), None)

        before = original if isinstance(original, list) else []
        listed = [i for i in items if position(order, i) is not None]
        listed.sort(key=lambda i: position(order, i) or 0)
        others = [i for i in items if position(order, i) is None]
        out: list[Any] = []
        while listed and others:
            a, b = position(before, listed[0]), position(before, others[0])
            if a is not None and b is not None and b < a:
                out.append(others.pop(0))
            else:
                out.append(listed.pop(0))
        return out + listed + others


def _show(path: Path) -> str:
    return "." + ".".join(path) if path else "<root>"


def _short(item: dict[str, Any]) -> str:
    text = repr({k: v for k, v in item.items() if not isinstance(v, dict | list)})
    return text[:120]


# -- two-way diff -------------------------------------------------------------------------------


def create_strategic_merge_patch(original: Any, modified: Any, kind: str, *,
                                 extra: ListMeta | None = None) -> dict[str, Any]:
    """The strategic merge patch turning ``original`` into ``modified`` (a two-way diff).

    Maps diff recursively (removed keys → ``null``); merge-key lists send changed/new
    items, ``$patch: delete`` for removed ones and ``$setElementOrder`` when the list
    changed; primitive merge lists send new values plus ``$deleteFromPrimitiveList``;
    atomic lists are sent whole.
    """
    ctx = _Ctx(kind, extra)
    return _diff_map(ctx, original if isinstance(original, dict) else {},
                     modified if isinstance(modified, dict) else {}, ())


def _diff_map(ctx: _Ctx, old: dict[str, Any], new: dict[str, Any], path: Path) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        prev = old.get(key)
        if key in old and json_equal(prev, value):
            continue
        sub = (*path, key)
        if isinstance(prev, dict) and isinstance(value, dict):
            patch[key] = _diff_map(ctx, prev, value, sub)
        elif isinstance(prev, list) and isinstance(value, list):
            _diff_list(ctx, prev, value, sub, key, patch)
        else:
            patch[key] = deep_copy(value)
    return patch


def _diff_list(ctx: _Ctx, old: list[Any], new: list[Any], path: Path, key: str,
               patch: dict[str, Any]) -> None:
    strategy = ctx.strategy(path)
    if strategy is None or not strategy.merges:
        patch[key] = deep_copy(new)
        return
    if strategy.list_type == "set":
        added = [v for v in new if not any(json_equal(v, o) for o in old)]
        removed = [v for v in old if not any(json_equal(v, n) for n in new)]
        if added:
            patch[key] = deep_copy(added)
        if removed:
            patch[DELETE_PRIMITIVE + key] = deep_copy(removed)
        patch[SET_ORDER + key] = deep_copy(new)
        return
    mk = strategy.merge_key or ""
    if not all(isinstance(i, dict) and mk in i for i in [*old, *new]):
        patch[key] = deep_copy(new)
        return
    items: list[Any] = []
    for item in new:
        prev = next((o for o in old if json_equal(o[mk], item[mk])), None)
        if prev is None:
            items.append(deep_copy(item))
        elif not json_equal(prev, item):
            items.append({mk: item[mk], **_diff_map(ctx, prev, item, path)})
    for item in old:
        if not any(json_equal(item[mk], n[mk]) for n in new):
            items.append({PATCH: "delete", mk: item[mk]})
    if items:
        patch[key] = items
    patch[SET_ORDER + key] = [{mk: i[mk]} for i in new]
