"""``deviceshare``: device-level placement for whole devices and shared GPUs.

**Whole devices** (argument ``deviceshare.devices``, comma-separated; default
``huawei.com/Ascend910, huawei.com/Ascend310, huawei.com/Ascend310P,
nvidia.com/gpu, openfuyao.com/kae.hpre``). A node advertises only a count
(allocatable); its device IDs are ``0 … count-1``. IDs in use are read from
the pod annotation ``suanli.io/allocated-devices`` of bound pods (JSON
``{"<resource>": [ids]}``); a bound pod without it takes the lowest free IDs.
Interconnect topology comes from the node annotation
``suanli.io/device-topology`` (JSON ``{"<resource>": [[0,1,2,3],[4,5,6,7]]}``;
IDs missing from every group form one extra group; no annotation = one group).

* predicate: at least ``k`` free IDs;
* choice: the group with the fewest free IDs that still holds ``k`` (best fit,
  ties to the group listed first), its ``k`` lowest free IDs; if no group holds
  ``k``, the ``k`` lowest free IDs overall;
* score: ``50 + 50 x k / free_in_group`` within one group, 0 when spanning
  groups; e.g. 2 of a group with 4 free → 75, 4 of 4 → 100;
* the bind sets ``suanli.io/allocated-devices`` to the chosen IDs.

**GPU sharing** (Volcano gpushare). Node allocatable ``volcano.sh/gpu-number``
= cards, ``volcano.sh/gpu-memory`` = total MiB; each card has ``memory /
number`` MiB; cards in node annotation ``volcano.sh/gpu-unhealthy-ids``
(``"1,3"``) are unusable. A bound pod's cards come from its annotation
``volcano.sh/gpu-index`` (``"0,2"``): a ``gpu-memory: M`` pod uses M MiB of its
card, a ``gpu-number: K`` pod uses its K cards whole.

* ``gpu-memory: M``: some card with ≥ M free MiB; ``gpu-number: K``: K idle cards;
* card choice and score by ``deviceshare.SchedulePolicy`` (``binpack``, default,
  or ``spread``): binpack takes the fitting card with the least free memory and
  scores ``100 x (used + M) / card``; spread takes the one with the most free and
  scores ``100 - 100 x (used + M) / card``; for ``gpu-number`` the lowest idle
  cards, scored by the node's used-card fraction after placement (binpack) or
  its complement (spread);
* the bind sets ``volcano.sh/gpu-index`` to the chosen cards.

Scores are multiplied by ``deviceshare.ScheduleWeight`` (default 1).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from suanli.scheduler.core.framework import Rows
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, TaskInfo

__all__ = [
    "ALLOCATED_DEVICES",
    "DEVICE_TOPOLOGY",
    "GPU_INDEX",
    "GPU_MEMORY",
    "GPU_NUMBER",
    "WHOLE_DEVICES",
    "DeviceSharePlugin",
    "choose_devices",
]

ALLOCATED_DEVICES = "suanli.io/allocated-devices"
DEVICE_TOPOLOGY = "suanli.io/device-topology"
GPU_INDEX = "volcano.sh/gpu-index"
GPU_MEMORY = "volcano.sh/gpu-memory"
GPU_NUMBER = "volcano.sh/gpu-number"
UNHEALTHY = "volcano.sh/gpu-unhealthy-ids"
WHOLE_DEVICES = (
    "huawei.com/Ascend910",
    "huawei.com/Ascend310",
    "huawei.com/Ascend310P",
    "nvidia.com/gpu",
    "openfuyao.com/kae.hpre",
)


def choose_devices(free: set[int], groups: list[list[int]], k: int) -> tuple[list[int], float]:
    """``(ids, score)`` for ``k`` devices out of ``free`` (see module docstring); ``([], 0)`` if short."""
    if k <= 0 or len(free) < k:
        return [], 0.0
    best: tuple[int, int] | None = None
    for gi, g in enumerate(groups):
        n = sum(1 for i in g if i in free)
        if n >= k and (best is None or n < best[0]):
            best = (n, gi)
    if best is None:
        return sorted(free)[:k], 0.0
    ids = sorted(i for i in groups[best[1]] if i in free)[:k]
    return ids, 50.0 + 50.0 * k / best[0]


def _ids(text: str) -> list[int]:
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if part.isdigit():
            out.append(int(part))
    return out


class DeviceSharePlugin(BasePlugin):
    name = "deviceshare"

    def on_session_open(self, ssn: Session) -> None:
        self.ssn = ssn
        nodes = ssn.snapshot.nodes
        listed = self.args.get("deviceshare.devices")
        names = [n.strip() for n in str(listed).split(",")] if listed else list(WHOLE_DEVICES)
        self.whole = {ssn.snapshot.dim_index[n]: n for n in names if n in ssn.snapshot.dim_index}
        self.weight = float_arg(self.args, "deviceshare.ScheduleWeight", 1.0)
        self.spread = str(self.args.get("deviceshare.SchedulePolicy", "binpack")).lower() == "spread"
        self.free: dict[int, list[set[int]]] = {}
        self.groups: dict[int, list[list[list[int]]]] = {}
        self.chosen: dict[int, tuple[dict[int, list[int]], list[int]]] = {}
        for d, res in self.whole.items():
            caps = ssn.allocatable[:, d].astype(np.int64).tolist()
            self.free[d] = [set(range(c)) for c in caps]
            self.groups[d] = [self._topology(nodes.annotations[i], res, caps[i]) for i in range(ssn.N)]
        dims = ssn.snapshot.dim_index
        self.gmem, self.gnum = dims.get(GPU_MEMORY), dims.get(GPU_NUMBER)
        self.share = self.gmem is not None and self.gnum is not None
        if self.share:
            assert self.gmem is not None and self.gnum is not None
            cards = ssn.allocatable[:, self.gnum].astype(np.int64)
            width = max(1, int(cards.max()) if ssn.N else 1)
            self.card_mem: FloatArray = np.where(cards > 0, ssn.allocatable[:, self.gmem] // np.maximum(cards, 1), 0.0)
            slots = np.arange(width)[None, :]
            self.card_ok: BoolArray = slots < cards[:, None]
            for i, ann in enumerate(nodes.annotations):
                for c in _ids(ann.get(UNHEALTHY, "")):
                    if c < width:
                        self.card_ok[i, c] = False
            self.card_used: FloatArray = np.zeros((ssn.N, width))
        for t in ssn.tasks:
            if t.status in OCCUPYING and t.node >= 0:
                self._take(t, t.node, from_annotations=True)
        # devices taken by other pods are freed by evicting them: preempt/reclaim may use the node
        ssn.add_predicate_fn(self.name, self.predicate, self.reasons, resolvable=True)
        ssn.add_node_order_fn(self.name, self.score)
        ssn.add_event_handler(self)

    @staticmethod
    def _topology(ann: dict[str, str], res: str, cap: int) -> list[list[int]]:
        try:
            raw = json.loads(ann.get(DEVICE_TOPOLOGY, "{}")).get(res) or []
        except (ValueError, AttributeError):
            raw = []
        groups = [[int(i) for i in g if 0 <= int(i) < cap] for g in raw if isinstance(g, list)]
        seen = {i for g in groups for i in g}
        rest = [i for i in range(cap) if i not in seen]
        return [g for g in [*groups, rest] if g]

    # ------------------------------------------------------------------ bookkeeping
    def _take(self, task: TaskInfo, node: int, from_annotations: bool = False) -> None:
        ann = task.annotations
        recorded: dict[str, Any] = {}
        if from_annotations:
            try:
                recorded = json.loads(ann.get(ALLOCATED_DEVICES, "{}"))
            except ValueError:
                recorded = {}
        whole: dict[int, list[int]] = {}
        for d, res in self.whole.items():
            k = int(task.request[d])
            if k <= 0:
                continue
            free = self.free[d][node]
            ids = [i for i in recorded.get(res, []) if i in free][:k] if from_annotations else []
            if len(ids) < k:
                extra, _ = choose_devices(free - set(ids), self.groups[d][node], k - len(ids))
                if from_annotations:
                    extra = sorted(free - set(ids))[: k - len(ids)]
                ids = ids + extra
            free.difference_update(ids)
            whole[d] = ids
        cards: list[int] = []
        if self.share:
            assert self.gmem is not None and self.gnum is not None
            mem, num = float(task.request[self.gmem]), int(task.request[self.gnum])
            if mem > 0 or num > 0:
                cards = _ids(ann.get(GPU_INDEX, "")) if from_annotations else self._pick_cards(node, mem, num)
                self._use_cards(node, cards, mem, num, 1.0)
        self.chosen[task.index] = (whole, cards)
        if not from_annotations:
            out: dict[str, str] = {}
            if whole:
                out[ALLOCATED_DEVICES] = json.dumps({self.whole[d]: ids for d, ids in whole.items()}, sort_keys=True)
            if cards:
                out[GPU_INDEX] = ",".join(str(c) for c in cards)
            if out:
                self.ssn.task_annotations[task.index] = out

    def _use_cards(self, node: int, cards: list[int], mem: float, num: int, sign: float) -> None:
        width = self.card_used.shape[1]
        for c in cards:
            if 0 <= c < width:
                self.card_used[node, c] += sign * (self.card_mem[node] if num > 0 else mem)

    def _card_free(self, rows: Rows) -> FloatArray:
        used = self.card_used if rows is None else self.card_used[rows]
        ok = self.card_ok if rows is None else self.card_ok[rows]
        cm = self.card_mem if rows is None else self.card_mem[rows]
        out: FloatArray = np.where(ok, cm[:, None] - used, -1.0)
        return out

    def _pick_cards(self, node: int, mem: float, num: int) -> list[int]:
        free = self._card_free(np.array([node]))[0]
        if num > 0:
            idle = np.flatnonzero(free == self.card_mem[node])
            return [int(c) for c in idle[:num]]
        fits = free >= mem
        if not fits.any():
            return []
        key = np.where(fits, -free if self.spread else free, np.inf)
        return [int(np.argmin(key))]

    def allocate(self, task: TaskInfo, node: int) -> None:
        self._take(task, node)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        got = self.chosen.pop(task.index, None)
        if got is None:
            return
        whole, cards = got
        for d, ids in whole.items():
            self.free[d][node].update(ids)
        if self.share and cards:
            assert self.gmem is not None and self.gnum is not None
            self._use_cards(node, cards, float(task.request[self.gmem]), int(task.request[self.gnum]), -1.0)
        self.ssn.task_annotations.pop(task.index, None)

    # ------------------------------------------------------------------ callbacks
    def _rows(self, rows: Rows) -> list[int]:
        return list(range(self.ssn.N)) if rows is None else rows.tolist()

    def predicate(self, task: TaskInfo, rows: Rows) -> BoolArray:
        idx = self._rows(rows)
        mask = np.ones(len(idx), dtype=np.bool_)
        for d in self.whole:
            k = int(task.request[d])
            if k > 0:
                mask &= np.array([len(self.free[d][i]) >= k for i in idx], dtype=np.bool_)
        if self.share:
            assert self.gmem is not None and self.gnum is not None
            mem, num = float(task.request[self.gmem]), int(task.request[self.gnum])
            if mem > 0 or num > 0:
                free = self._card_free(rows)
                cm = self.card_mem if rows is None else self.card_mem[rows]
                if num > 0:
                    mask &= (free == cm[:, None]).sum(axis=1) >= num
                else:
                    mask &= (free >= mem).any(axis=1)
        return mask

    def reasons(self, task: TaskInfo, rows: Rows) -> list[tuple[str, BoolArray]]:
        return [("node(s) didn't have enough free devices", ~self.predicate(task, rows))]

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        idx = self._rows(rows)
        total = np.zeros(len(idx))
        for d in self.whole:
            k = int(task.request[d])
            if k > 0:
                total += np.array([choose_devices(self.free[d][i], self.groups[d][i], k)[1] for i in idx])
        if self.share:
            assert self.gmem is not None and self.gnum is not None
            mem, num = float(task.request[self.gmem]), int(task.request[self.gnum])
            cm = self.card_mem if rows is None else self.card_mem[rows]
            if num > 0:
                free = self._card_free(rows)
                cards = (self.card_ok if rows is None else self.card_ok[rows]).sum(axis=1)
                busy = ((free < cm[:, None]) & (free >= 0)).sum(axis=1) + num
                frac = np.where(cards > 0, np.minimum(busy / np.maximum(cards, 1), 1.0), 0.0)
                total += 100.0 * (1.0 - frac if self.spread else frac)
            elif mem > 0:
                free = self._card_free(rows)
                fits = free >= mem
                pick = (
                    np.where(fits, free, -np.inf).max(axis=1)
                    if self.spread
                    else np.where(fits, free, np.inf).min(axis=1)
                )
                ok = np.isfinite(pick) & (cm > 0)
                frac = np.where(ok, (cm - pick + mem) / np.where(cm > 0, cm, 1.0), 0.0)
                total += np.where(ok, 100.0 * (1.0 - frac) if self.spread else 100.0 * frac, 0.0)
        out: FloatArray = self.weight * total
        return out
