"""The device decision: one pure picking rule and the annotations that carry it (scheduler → node agent).

The scheduler's ``deviceshare`` plugin *decides* which devices a pod gets and writes them on the pod
at bind; the node agent *honours* that decision after checking it (:func:`check_grant`), and picks
with the very same rule only for pods that arrive without one (bound by something else). Both
import this module (it sits in the lowest layer, so the pure scheduling core may use it).

Annotations (values are JSON with sorted keys and no spaces, see :func:`format_allocation`):

* pod ``suanli.io/allocated-devices`` — ``{"<resource>": ["<id>", …]}``: device IDs are the
  decimal indices ``"0" … "count-1"`` of the node's devices of that resource, as strings (kubelet
  device IDs are strings; integers are accepted when reading);
* node ``suanli.io/device-topology`` — ``{"<resource>": [[0, 1, 2, 3], [4, 5, 6, 7]]}``: groups
  of device indices that share a fast interconnect (HCCS, NVLink), published by the node agent
  from the hardware profile; every device of the resource appears in exactly one group (devices
  without an interconnect form one group), so the groups also list the node's device IDs;
* node ``suanli.io/unhealthy-devices`` — ``3`` (that index of every resource) or
  ``<resource>=3``, comma-separated (:func:`parse_unhealthy`).

Picking rule (:func:`pick_devices`), for ``k`` devices out of the free ones:

1. if some group has at least ``k`` free devices, the one with the *fewest* free devices that
   still fits (best fit keeps large groups whole; the group listed first wins ties), its ``k``
   lowest free IDs — score ``50 + 50 x k / free_in_group``;
2. otherwise the groups with the *most* free devices first (fewest groups spanned; the group
   listed first wins ties), lowest IDs within a group — score 0.

GPU-sharing cards (Volcano gpushare) follow :func:`pick_card_by_memory` and :func:`pick_idle_cards`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from suanli.wire import ALLOCATED_DEVICES_ANNOTATION as ALLOCATED_DEVICES
from suanli.wire import DEVICE_TOPOLOGY_ANNOTATION as DEVICE_TOPOLOGY
from suanli.wire import UNHEALTHY_DEVICES_ANNOTATION as UNHEALTHY_DEVICES

__all__ = [
    "ALLOCATED_DEVICES",
    "DEVICE_TOPOLOGY",
    "UNHEALTHY_DEVICES",
    "DevicePick",
    "check_grant",
    "format_allocation",
    "format_topology",
    "parse_allocation",
    "parse_topology",
    "parse_unhealthy",
    "pick_card_by_memory",
    "pick_devices",
    "pick_idle_cards",
]


@dataclass(frozen=True)
class DevicePick:
    """``ids`` chosen (ascending) and the placement ``score`` (0 to 100) of that choice."""

    ids: tuple[int, ...]
    score: float


def pick_devices(free: Collection[int], groups: Sequence[Sequence[int]], k: int) -> DevicePick | None:
    """``k`` devices out of ``free`` by the picking rule (module docstring); ``None`` if fewer are free.

    ``groups`` lists device indices sharing an interconnect; free devices in no group form one
    extra group after the listed ones. ``k <= 0`` picks nothing (score 0). Example: groups
    ``[[0,1,2,3],[4,5,6,7]]``, free ``{0,1,2,4,5,6,7}``: ``k=2`` → ``(0, 1)`` score ≈ 83.3 (group A
    has 3 free < 4); ``k=4`` → ``(4, 5, 6, 7)`` score 100; ``k=5`` → ``(0, 4, 5, 6, 7)`` score 0.
    """
    if k <= 0:
        return DevicePick((), 0.0)
    if len(free) < k:
        return None
    grouped: set[int] = set()
    buckets: list[list[int]] = []
    for g in groups:
        buckets.append(sorted(i for i in set(g) if i in free and i not in grouped))
        grouped.update(g)
    rest = sorted(i for i in free if i not in grouped)
    if rest:
        buckets.append(rest)
    fitting = [(len(b), gi) for gi, b in enumerate(buckets) if len(b) >= k]
    if fitting:
        n, best = min(fitting)
        return DevicePick(tuple(buckets[best][:k]), 50.0 + 50.0 * k / n)
    chosen: list[int] = []
    for _, gi in sorted((-len(b), gi) for gi, b in enumerate(buckets)):
        chosen.extend(buckets[gi][: k - len(chosen)])
        if len(chosen) == k:
            break
    return DevicePick(tuple(sorted(chosen)), 0.0)


def check_grant(ids: Sequence[int], k: int, usable: Collection[int], used: Collection[int]) -> str | None:
    """Why a decided grant of ``ids`` for a request of ``k`` devices cannot be honoured, or ``None``.

    ``usable``: the node's healthy device indices; ``used``: those held by other pods. Example:
    ``check_grant([3], 1, {0,1,2}, set())`` → ``"device 3 does not exist or is unhealthy"``.
    """
    if len(ids) != k:
        return f"{len(ids)} device(s) listed for a request of {k}"
    if len(set(ids)) != len(ids):
        return "a device is listed twice"
    for i in ids:
        if i not in usable:
            return f"device {i} does not exist or is unhealthy"
        if i in used:
            return f"device {i} is already allocated to another pod"
    return None


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse_allocation(text: str | None) -> dict[str, list[int]] | None:
    """``suanli.io/allocated-devices`` as ``{resource: [indices]}``; ``{}`` if absent, ``None`` if malformed.

    Example: ``'{"huawei.com/Ascend910":["0","1"]}'`` → ``{"huawei.com/Ascend910": [0, 1]}``;
    ``'{"huawei.com/Ascend910":["x"]}'`` → ``None``.
    """
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    out: dict[str, list[int]] = {}
    for res, ids in raw.items():
        if not isinstance(ids, list):
            return None
        parsed = [_index(i) for i in ids]
        if any(i is None for i in parsed):
            return None
        out[str(res)] = [i for i in parsed if i is not None]
    return out


def format_allocation(devices: Mapping[str, Iterable[int | str]]) -> str:
    """The annotation value for ``devices``: ``{"huawei.com/Ascend910":["0","1"]}`` (sorted keys)."""
    return json.dumps({r: [str(i) for i in ids] for r, ids in devices.items()}, sort_keys=True,
                      separators=(",", ":"))


def parse_topology(text: str | None, resource: str, devices: Collection[int] | None) -> list[list[int]]:
    """Interconnect groups of ``resource`` restricted to ``devices``; devices in no group form a last group.

    With ``devices=None`` the groups are returned as listed (the node's devices are exactly those).
    A missing or malformed annotation means one group of all ``devices`` (``[]`` for ``None``).
    Example: ``parse_topology('{"r":[[0,1],[2,3]]}', "r", range(3))`` → ``[[0, 1], [2]]``.
    """
    try:
        raw = json.loads(text or "{}").get(resource) or []
    except (ValueError, AttributeError):
        raw = []
    groups: list[list[int]] = []
    seen: set[int] = set()
    for g in raw if isinstance(raw, list) else []:
        if not isinstance(g, list):
            continue
        members = [i for i in (_index(x) for x in g)
                   if i is not None and (devices is None or i in devices) and i not in seen]
        seen.update(members)
        if members:
            groups.append(members)
    rest = [] if devices is None else sorted(i for i in devices if i not in seen)
    return [*groups, rest] if rest else groups


def parse_unhealthy(text: str | None, resource: str) -> set[int]:
    """Device indices of ``resource`` listed as unhealthy: bare ``3`` (every resource) or ``<resource>=3``.

    Example: ``parse_unhealthy("1, huawei.com/Ascend910=3, nvidia.com/gpu=4", "huawei.com/Ascend910")``
    → ``{1, 3}``.
    """
    out: set[int] = set()
    for item in str(text or "").split(","):
        res, eq, dev = item.strip().rpartition("=")
        if (not eq or res == resource) and dev.isdigit():
            out.add(int(dev))
    return out


def format_topology(topology: Mapping[str, Sequence[Sequence[int]]]) -> str:
    """The node annotation value: ``{"huawei.com/Ascend910":[[0,1,2,3],[4,5,6,7]]}`` (sorted keys)."""
    return json.dumps({r: [list(g) for g in groups] for r, groups in topology.items()}, sort_keys=True,
                      separators=(",", ":"))


def pick_card_by_memory(free_mib: Sequence[float], need_mib: float, *, spread: bool = False) -> int | None:
    """One card for a ``volcano.sh/gpu-memory`` request: binpack takes the fitting card with the least
    free memory, spread the one with the most; the lowest index wins ties. ``free_mib[c] < 0`` marks an
    unusable card. Example: free ``[16000, 4000, 8000]``, 6000 MiB → card 2 (binpack), card 0 (spread)."""
    fits = [(-f if spread else f, c) for c, f in enumerate(free_mib) if f >= 0 and f >= need_mib]
    return min(fits)[1] if fits else None


def pick_idle_cards(free_mib: Sequence[float], card_mib: float, n: int) -> list[int] | None:
    """The ``n`` lowest-indexed fully idle cards for a ``volcano.sh/gpu-number`` request, or ``None``."""
    idle = [c for c, f in enumerate(free_mib) if f >= card_mib > 0]
    return idle[:n] if len(idle) >= n else None
