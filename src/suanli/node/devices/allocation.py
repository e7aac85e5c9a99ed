"""Pure device-selection rules: topology-aware picking of device IDs and gpushare card choice.

Nothing here touches the API; the plugins in :mod:`suanli.node.devices.plugins` compute
the free/healthy sets and call these functions. Every choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["pick_cards_by_memory", "pick_idle_cards", "pick_topology"]


def pick_topology(free: Sequence[str], groups: Sequence[Sequence[str]], n: int) -> list[str] | None:
    """Choose ``n`` IDs from ``free`` preferring one interconnect group; ``None`` if too few are free.

    ``free`` is in device order; ``groups`` lists device IDs sharing a fast interconnect
    (devices in no group form one extra group, in device order). Rules, in order:

    1. if some group has at least ``n`` free devices, use the one with the *fewest* free
       devices that still fits (best fit keeps large groups whole; earlier group wins ties)
       and take its first ``n`` free devices;
    2. otherwise span groups, taking whole groups with the *most* free devices first
       (fewest groups spanned; earlier group wins ties), devices in device order.

    Example: groups ``[[0,1,2,3],[4,5,6,7]]`` with ``0,1,2,4,5,6,7`` free and ``n=2`` picks
    ``0,1`` (group A has 3 free < 4 in B); with ``n=4`` it picks ``4,5,6,7``; with ``n=5``
    it picks ``4,5,6,7`` then ``0``.
    """
    if n <= 0:
        return []
    if len(free) < n:
        return None
    order = {d: i for i, d in enumerate(free)}
    grouped: set[str] = set()
    buckets: list[list[str]] = []
    for g in groups:
        members = [d for d in g if d in order and d not in grouped]
        grouped.update(g)
        buckets.append(sorted(members, key=order.__getitem__))
    rest = [d for d in free if d not in grouped]
    if rest:
        buckets.append(rest)
    fitting = [(len(b), i) for i, b in enumerate(buckets) if len(b) >= n]
    if fitting:
        _, best = min(fitting)
        return buckets[best][:n]
    chosen: list[str] = []
    for _, i in sorted(((-len(b), i) for i, b in enumerate(buckets))):
        chosen.extend(buckets[i][: n - len(chosen)])
        if len(chosen) == n:
            break
    return sorted(chosen, key=order.__getitem__)


def pick_cards_by_memory(idle_mib: Mapping[int, int], exclusive: set[int], need_mib: int) -> int | None:
    """Binpack one card for a ``volcano.sh/gpu-memory`` request: the fullest card that fits.

    ``idle_mib`` maps healthy card index → idle MiB; cards in ``exclusive`` (held whole by a
    ``gpu-number`` pod) are skipped. Ties go to the lowest index. Example: idle
    ``{0: 16000, 1: 4000, 2: 8000}`` and a 6000 MiB request → card 2.
    """
    fits = [(idle, card) for card, idle in idle_mib.items() if card not in exclusive and idle >= need_mib]
    if not fits:
        return None
    return min(fits)[1]


def pick_idle_cards(idle_mib: Mapping[int, int], full_mib: int, exclusive: set[int], n: int) -> list[int] | None:
    """``n`` fully idle healthy cards (lowest indices) for a ``volcano.sh/gpu-number`` request."""
    idle = sorted(c for c, m in idle_mib.items() if m >= full_mib and c not in exclusive)
    return idle[:n] if len(idle) >= n else None
