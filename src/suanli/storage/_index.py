"""In-memory state of one bucket: objects by namespace, sorted names, secondary indexes."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable

from suanli.apimachinery.objects import Obj
from suanli.storage._types import StoredObject

__all__ = ["BucketState", "SortedNames"]

Key = tuple[str, str]
IndexFn = Callable[[Obj], list[str]]

# Below this size an out-of-order insert uses insort (one memmove); above it the name is
# parked and merged by one timsort on the next read (timsort merges the two runs in O(n)).
_INSORT_LIMIT = 4096


class SortedNames:
    """A set of names kept sorted lazily.

    ``add`` is O(1) for in-order names and amortised O(log n) otherwise; ``names()``
    returns the sorted list (valid until the next mutation).
    """

    __slots__ = ("_items", "_parked")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._parked: list[str] = []

    def __len__(self) -> int:
        return len(self._items) + len(self._parked)

    def add(self, name: str) -> None:
        items = self._items
        if not items or name > items[-1]:
            items.append(name)
        elif len(items) < _INSORT_LIMIT:
            insort(items, name)
        else:
            self._parked.append(name)

    def remove(self, name: str) -> None:
        items = self.names()
        i = bisect_right(items, name) - 1
        if i >= 0 and items[i] == name:
            del items[i]

    def names(self) -> list[str]:
        if self._parked:
            self._items.extend(self._parked)
            self._parked.clear()
            self._items.sort()
        return self._items


class _Index:
    __slots__ = ("fn", "keys_by_value", "values_by_key")

    def __init__(self, fn: IndexFn) -> None:
        self.fn = fn
        self.keys_by_value: dict[str, set[Key]] = {}
        self.values_by_key: dict[Key, list[str]] = {}

    def put(self, key: Key, obj: Obj) -> None:
        new = self.fn(obj)
        old = self.values_by_key.get(key)
        if old == new:
            return
        if old:
            self._drop(key, old)
        if new:
            self.values_by_key[key] = new
            for v in new:
                self.keys_by_value.setdefault(v, set()).add(key)
        else:
            self.values_by_key.pop(key, None)

    def remove(self, key: Key) -> None:
        old = self.values_by_key.pop(key, None)
        if old:
            self._drop(key, old)

    def _drop(self, key: Key, values: list[str]) -> None:
        for v in values:
            keys = self.keys_by_value.get(v)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.keys_by_value[v]


class BucketState:
    """Current objects of one bucket.

    ``by_ns[namespace][name]`` holds the object; ``sorted_ns`` and ``names[namespace]``
    give the (namespace, name) order without sorting on every LIST.
    """

    __slots__ = ("by_ns", "indexes", "names", "size", "sorted_ns")

    def __init__(self) -> None:
        self.by_ns: dict[str, dict[str, StoredObject]] = {}
        self.names: dict[str, SortedNames] = {}
        self.sorted_ns: list[str] = []
        self.indexes: dict[str, _Index] = {}
        self.size = 0

    def get(self, namespace: str, name: str) -> StoredObject | None:
        objs = self.by_ns.get(namespace)
        return objs.get(name) if objs is not None else None

    def count(self, namespace: str | None) -> int:
        if namespace is None:
            return self.size
        objs = self.by_ns.get(namespace)
        return len(objs) if objs is not None else 0

    def put(self, namespace: str, name: str, so: StoredObject) -> None:
        """Insert or replace; keeps order and indexes current."""
        objs = self.by_ns.get(namespace)
        if objs is None:
            objs = self.by_ns[namespace] = {}
            self.names[namespace] = SortedNames()
            insort(self.sorted_ns, namespace)
        if name not in objs:
            self.names[namespace].add(name)
            self.size += 1
        objs[name] = so
        for idx in self.indexes.values():
            idx.put((namespace, name), so.obj)

    def remove(self, namespace: str, name: str) -> None:
        objs = self.by_ns.get(namespace)
        if objs is None or objs.pop(name, None) is None:
            return
        self.size -= 1
        if objs:
            self.names[namespace].remove(name)
        else:
            del self.by_ns[namespace]
            del self.names[namespace]
            self.sorted_ns.remove(namespace)
        for idx in self.indexes.values():
            idx.remove((namespace, name))

    def add_index(self, name: str, fn: IndexFn) -> None:
        idx = _Index(fn)
        for ns, objs in self.by_ns.items():
            for n, so in objs.items():
                idx.put((ns, n), so.obj)
        self.indexes[name] = idx

    # -- reads ----------------------------------------------------------------------------

    def slices(self, namespace: str | None, start_after: Key | None) -> list[tuple[str, list[str]]]:
        """``(namespace, sorted names)`` runs, in order, of the keys after ``start_after``."""
        if namespace is not None:
            names = self._names_after(namespace, start_after)
            return [(namespace, names)] if names else []
        ns_list = self.sorted_ns
        first = 0
        if start_after is not None:
            first = bisect_left(ns_list, start_after[0])
        out: list[tuple[str, list[str]]] = []
        for ns in ns_list[first:]:
            names = self._names_after(ns, start_after)
            if names:
                out.append((ns, names))
        return out

    def _names_after(self, namespace: str, start_after: Key | None) -> list[str]:
        sn = self.names.get(namespace)
        if sn is None:
            return []
        names = sn.names()
        if start_after is None or start_after[0] < namespace:
            return names
        if start_after[0] > namespace:
            return []
        return names[bisect_right(names, start_after[1]):]

    def index_keys(self, index: str, value: str, namespace: str | None,
                   start_after: Key | None) -> list[Key]:
        """Keys with index value ``value``, sorted, in ``namespace`` (if given), after ``start_after``."""
        idx = self.indexes.get(index)
        if idx is None:
            raise KeyError(index)
        keys = idx.keys_by_value.get(value)
        if not keys:
            return []
        if namespace is not None:
            out = sorted(k for k in keys if k[0] == namespace)
        else:
            out = sorted(keys)
        if start_after is not None:
            out = out[bisect_right(out, start_after):]
        return out
