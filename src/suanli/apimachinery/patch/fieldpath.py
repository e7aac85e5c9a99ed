"""Field sets in the upstream ``fieldsV1`` format, used by server-side apply.

A field set is a set of *field paths*; a path is a tuple of path elements spelled as in
``fieldsV1``:

* ``"f:<name>"`` - a map field;
* ``'k:{"name":"nginx"}'`` - the item of a ``list-type: map`` list with those key values
  (compact JSON, keys sorted);
* ``'v:"example.com/cleanup"'`` - a value of a ``list-type: set`` list (compact JSON).

:func:`field_paths` lists the *leaves* an object sets: scalars, empty maps, empty lists,
atomic lists, set values, and map-list items (the item itself and its fields).
(Upstream records nothing for an empty associative list; recording it lets a later apply
that drops ``env: []`` remove it.) In ``fieldsV1`` a leaf
is ``{}`` and a path that is both a member and a parent carries ``".": {}``::

    {"f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from suanli.apimachinery.patch.patchmeta import ListMeta, ListStrategy, strategy_for

__all__ = [
    "IGNORED",
    "MISSING",
    "FieldPath",
    "field_paths",
    "field_values",
    "fields_tree",
    "from_fields_v1",
    "key_element",
    "remove_path",
    "render_path",
    "to_fields_v1",
    "value_at",
]

FieldPath = tuple[str, ...]

IGNORED: frozenset[FieldPath] = frozenset({
    ("f:apiVersion",), ("f:kind",), ("f:status",),
    *(("f:metadata", f"f:{n}") for n in (
        "name", "namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields",
        "generation", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")),
})
"""Paths never tracked by field managers (``status`` is tracked only via :func:`field_paths`'
``include_status``, for the status subresource)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Returned by :func:`value_at` when the path does not exist."""


def _enc(value: Any) -> str:
    """Compact JSON with sorted keys (the ``k:``/``v:`` spelling)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # e.g. integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_element(strategy: ListStrategy, item: dict[str, Any]) -> str:
    """The ``k:`` element naming a list-map item."""
    return "k:" + _enc(strategy.identity(item))


def field_paths(obj: Any, kind: str, *, extra: ListMeta | None = None,
                include_status: bool = False) -> set[FieldPath]:
    """The leaf field paths set by ``obj`` (``null`` map values are skipped)."""
    return set(field_values(obj, kind, extra=extra, include_status=include_status))


def field_values(obj: Any, kind: str, *, extra: ListMeta | None = None,
                 include_status: bool = False) -> dict[FieldPath, Any]:
    """Like :func:`field_paths`, mapping each path to its value (items map to the item)."""
    out: dict[FieldPath, Any] = {}
    ignored = _IGNORED_BUT_STATUS if include_status else IGNORED
    _walk(obj, (), (), kind, extra, out, ignored)
    return out


def fields_tree(obj: Any, kind: str, *, extra: ListMeta | None = None,
                include_status: bool = False) -> dict[str, Any]:
    """``to_fields_v1(field_paths(obj, ...))`` built in one walk, without intermediate paths.

    Used when one manager owns every field (object creation); equal to the two-step form.
    """
    ignored = _IGNORED_BUT_STATUS if include_status else IGNORED
    if isinstance(obj, dict):
        try:
            return _root_map(obj, kind, extra, *_IGNORED_SPLIT[include_status])
        except TypeError:  # e.g. a non-string key: let the general walk decide
            pass
    root: dict[str, Any] = {}
    _tree(obj, (), (), kind, extra, root, ignored)
    return _sort_tree(root)


# The sorted builders below produce ``_sort_tree(_tree(...))`` directly: visiting a map's
# keys in sorted order visits their ``f:`` elements in sorted order, and list children are
# sorted by element before insertion (stably, so of two items with one key the later wins,
# as in ``_tree``). ``IGNORED`` only names paths of depth 1 and 2, so only the root and its
# direct children check it.


_IGNORED_BUT_STATUS: frozenset[FieldPath] = IGNORED - {("f:status",)}


def _split_ignored(ignored: frozenset[FieldPath]) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """``ignored`` as plain field names: root names, and child names per root name.

    E.g. ``{("f:kind",), ("f:metadata", "f:uid")}`` → ``({"kind"}, {"metadata": {"uid"}})``.
    """
    top = frozenset(p[0][2:] for p in ignored if len(p) == 1)
    second: dict[str, set[str]] = {}
    for p in ignored:
        if len(p) == 2:
            second.setdefault(p[0][2:], set()).add(p[1][2:])
    return top, {k: frozenset(v) for k, v in second.items()}


# by ``include_status``: the split form of IGNORED / IGNORED without status
_IGNORED_SPLIT = {False: _split_ignored(IGNORED), True: _split_ignored(_IGNORED_BUT_STATUS)}


def _root_map(value: dict[str, Any], kind: str, extra: ListMeta | None, top_skip: frozenset[str],
              child_skip: dict[str, frozenset[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in sorted(value):
        v = value[k]
        if v is None or k in top_skip:
            continue
        cls = v.__class__
        if cls is str or cls is int or cls is bool or cls is float:
            out["f:" + k] = {}
        elif isinstance(v, dict):
            skip = child_skip.get(k)
            child: dict[str, Any] = {}
            for k2 in sorted(v):
                v2 = v[k2]
                if v2 is None or (skip is not None and k2 in skip):
                    continue
                c2 = v2.__class__
                if c2 is str or c2 is int or c2 is bool or c2 is float:
                    child["f:" + k2] = {}
                else:
                    child["f:" + k2] = _node(v2, (k, k2), kind, extra)
            out["f:" + k] = child
        else:
            out["f:" + k] = _node(v, (k,), kind, extra)
    return out


def _node(v: Any, names: tuple[str, ...], kind: str, extra: ListMeta | None) -> dict[str, Any]:
    """The fieldsV1 node of non-null value ``v`` found at ``names``."""
    if isinstance(v, dict):
        return _map(v, names, kind, extra) if v else {}
    if isinstance(v, list) and v:
        return _list(v, names, kind, extra)
    return {}


def _map(value: dict[str, Any], names: tuple[str, ...], kind: str, extra: ListMeta | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in sorted(value) if len(value) > 1 else value:
        v = value[k]
        cls = v.__class__
        if cls is str or cls is int or cls is bool or cls is float:
            out["f:" + k] = {}
        elif v is not None:
            out["f:" + k] = _node(v, (*names, k), kind, extra)
    return out


def _list(value: list[Any], names: tuple[str, ...], kind: str, extra: ListMeta | None) -> dict[str, Any]:
    """The fieldsV1 children of non-empty list ``value`` (``{}`` for an atomic list)."""
    s = strategy_for(kind, names, extra)
    if s is None:
        return {}
    if s.list_type == "map" and all(isinstance(i, dict) for i in value):
        pairs: list[tuple[str, dict[str, Any]]] = []
        for item in value:
            item_node = _map(item, names, kind, extra)
            pairs.append((key_element(s, item), {".": {}, **item_node} if item_node else item_node))
        pairs.sort(key=_first)
        return dict(pairs)
    if s.list_type == "set" and not any(isinstance(i, dict | list) for i in value):
        return {e: {} for e in sorted("v:" + _enc(v) for v in value)}
    return {}


def _first(pair: tuple[str, dict[str, Any]]) -> str:
    return pair[0]


def _sort_tree(node: dict[str, Any]) -> dict[str, Any]:
    # "." sorts before "f:", "k:" and "v:", so plain string order is upstream's order
    return {k: _sort_tree(node[k]) if node[k] else node[k] for k in sorted(node)} if len(node) > 1 else (
        {k: _sort_tree(v) if v else v for k, v in node.items()})


def _tree(value: Any, path: FieldPath, names: tuple[str, ...], kind: str, extra: ListMeta | None,
          node: dict[str, Any], ignored: frozenset[FieldPath]) -> None:
    """Fill ``node`` with the fieldsV1 children of ``value`` (same rules as :func:`_walk`)."""
    if isinstance(value, dict):
        shallow = len(path) < 2  # IGNORED only names paths of depth 1 and 2
        for k, v in value.items():
            if v is None:
                continue
            element = f"f:{k}"
            if shallow and (*path, element) in ignored:
                continue
            child: dict[str, Any] = {}
            node[element] = child
            _tree(v, (*path, element) if shallow else path, (*names, k), kind, extra, child, ignored)
        return
    if isinstance(value, list) and value:
        s = strategy_for(kind, names, extra)
        if s is not None and s.list_type == "map" and all(isinstance(i, dict) for i in value):
            deep = (*path, "") if len(path) < 2 else path
            for item in value:
                item_node: dict[str, Any] = {}
                for k, v in item.items():
                    if v is not None:
                        child = {}
                        item_node[f"f:{k}"] = child
                        _tree(v, deep, (*names, k), kind, extra, child, ignored)
                if item_node:
                    item_node["."] = {}
                node[key_element(s, item)] = item_node
            return
        if s is not None and s.list_type == "set" and not any(isinstance(i, dict | list) for i in value):
            for v in value:
                node["v:" + _enc(v)] = {}


def _walk(value: Any, path: FieldPath, names: tuple[str, ...], kind: str, extra: ListMeta | None,
          out: dict[FieldPath, Any], ignored: frozenset[FieldPath]) -> None:
    if isinstance(value, dict):
        if not value and path:
            out[path] = value
        for k, v in value.items():
            if v is None:
                continue
            p = (*path, f"f:{k}")
            if p in ignored:
                continue
            _walk(v, p, (*names, k), kind, extra, out, ignored)
        return
    if isinstance(value, list):
        if not value:
            out[path] = value  # an empty list is a leaf whatever its type (so dropping it removes it)
            return
        s = strategy_for(kind, names, extra)
        if s is not None and s.list_type == "map" and all(isinstance(i, dict) for i in value):
            for item in value:
                ip = (*path, key_element(s, item))
                out[ip] = item
                for k, v in item.items():
                    if v is not None:
                        _walk(v, (*ip, f"f:{k}"), (*names, k), kind, extra, out, ignored)
            return
        if s is not None and s.list_type == "set" and not any(isinstance(i, dict | list) for i in value):
            out.update(((*path, "v:" + _enc(v)), v) for v in value)
            return
    out[path] = value


def _find_item(seq: list[Any], element: str, names: tuple[str, ...], kind: str,
               extra: ListMeta | None) -> int | None:
    want = json.loads(element[2:])
    if element.startswith("v:"):
        return next((i for i, v in enumerate(seq) if _enc(v) == _enc(want)), None)
    s = strategy_for(kind, names, extra)
    for i, item in enumerate(seq):
        if not isinstance(item, dict):
            continue
        ident = s.identity(item) if s is not None and s.list_type == "map" else \
            {k: item.get(k) for k in want}
        if _enc(ident) == _enc(want):
            return i
    return None


def _step(cur: Any, element: str, names: tuple[str, ...], kind: str,
          extra: ListMeta | None) -> tuple[Any, Any, tuple[str, ...]]:
    """Follow one element: returns (container, index-or-key, names) or (None, None, names)."""
    if element.startswith("f:"):
        name = element[2:]
        if isinstance(cur, dict) and name in cur:
            return cur, name, (*names, name)
        return None, None, names
    if element.startswith(("k:", "v:")) and isinstance(cur, list):
        try:
            idx = _find_item(cur, element, names, kind, extra)
        except ValueError:
            idx = None
        if idx is not None:
            return cur, idx, names
    return None, None, names


def value_at(obj: Any, path: FieldPath, kind: str, extra: ListMeta | None = None) -> Any:
    """The value at ``path`` in ``obj``, or :data:`MISSING`."""
    cur: Any = obj
    names: tuple[str, ...] = ()
    for element in path:
        container, where, names = _step(cur, element, names, kind, extra)
        if container is None:
            return MISSING
        cur = container[where]
    return cur


def remove_path(obj: Any, path: FieldPath, kind: str, extra: ListMeta | None = None) -> None:
    """Delete the field or list item at ``path`` from ``obj`` in place (no-op if absent)."""
    cur: Any = obj
    names: tuple[str, ...] = ()
    for i, element in enumerate(path):
        container, where, names = _step(cur, element, names, kind, extra)
        if container is None:
            return
        if i == len(path) - 1:
            del container[where]
            return
        cur = container[where]


def to_fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Encode a field set as a ``fieldsV1`` tree.

    Paths are inserted in sorted order, so every level's keys come out sorted and a
    member's ``"."`` marker precedes its children, as upstream orders them. Consecutive
    sorted paths share prefixes, so only the differing suffix is walked.
    """
    root: dict[str, Any] = {}
    prev: FieldPath = ()
    prev_node: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] = [root]
    for p in sorted(set(paths)):
        n = 0
        limit = min(len(p), len(prev))
        while n < limit and p[n] == prev[n]:
            n += 1
        if prev_node is not None and n < len(prev):
            del prev_node["."]  # the previous member has no descendants: a leaf carries no marker
        del nodes[n + 1:]
        node = nodes[-1]
        for element in p[n:]:
            child = node.get(element)
            if child is None:
                child = {}
                node[element] = child
            nodes.append(child)
            node = child
        node["."] = {}
        prev, prev_node = p, node
    if prev_node is not None:
        del prev_node["."]
    return root


def from_fields_v1(tree: Any) -> set[FieldPath]:
    """Decode a ``fieldsV1`` tree (anything malformed is ignored)."""
    out: set[FieldPath] = set()
    _decode(tree, (), out)
    return out


def _decode(node: Any, prefix: FieldPath, out: set[FieldPath]) -> None:
    if not isinstance(node, dict):
        return
    if not node and prefix:
        out.add(prefix)
        return
    for key, sub in node.items():
        if key == ".":
            if prefix:
                out.add(prefix)
        elif isinstance(key, str) and key[:2] in ("f:", "k:", "v:", "i:"):
            _decode(sub, (*prefix, key), out)


def render_path(path: FieldPath) -> str:
    """Human form used in conflict messages: ``.spec.containers[name="app"].image``."""
    parts: list[str] = []
    for element in path:
        body = element[2:]
        if element.startswith("f:"):
            parts.append("." + body)
        elif element.startswith("k:"):
            try:
                keys = json.loads(body)
                parts.append("[" + ",".join(f"{k}={_enc(v)}" for k, v in keys.items()) + "]")
            except ValueError:
                parts.append(f"[{body}]")
        else:
            parts.append(f"[={body}]")
    return "".join(parts)
