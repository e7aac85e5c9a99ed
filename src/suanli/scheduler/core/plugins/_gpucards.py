"""Per-card state of Volcano GPU sharing (gpushare) for one session, shared by ``deviceshare`` and ``predicates``.

A node's allocatable ``volcano.sh/gpu-number`` is its card count and ``volcano.sh/gpu-memory`` the
total MiB; each card has ``memory / number`` MiB. Cards in node annotation
``volcano.sh/gpu-unhealthy-ids`` (``"1,3"``) are unusable. A bound pod's cards come from its
annotation ``volcano.sh/gpu-index`` (``"0,2"``): a ``gpu-memory: M`` pod uses M MiB of its card, a
``gpu-number: K`` pod uses its K cards whole.

* fit: ``gpu-memory: M`` needs one card with ≥ M free MiB (upstream's message "no enough gpu memory
  on single device"); ``gpu-number: K`` needs K idle cards;
* choice (:meth:`GpuShareCards.take`): :func:`~suanli.apimachinery.devices.pick_card_by_memory`
  (binpack, or spread) / :func:`~suanli.apimachinery.devices.pick_idle_cards` — the functions the
  node agent uses for a pod bound without a decision;
* score (:meth:`GpuShareCards.score`, 0-100): binpack ``100 x (used + M) / card`` on the card it
  would take, spread ``100 - that``; ``gpu-number`` pods by the node's used-card fraction after
  placement (binpack) or its complement (spread).
"""

from __future__ import annotations

import numpy as np

from suanli.apimachinery.devices import pick_card_by_memory, pick_idle_cards
from suanli.scheduler.core.framework import Rows
from suanli.scheduler.core.resources import BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo
from suanli.wire import GPU_INDEX_ANNOTATION as GPU_INDEX
from suanli.wire import GPU_MEMORY, GPU_NUMBER
from suanli.wire import GPU_UNHEALTHY_ANNOTATION as UNHEALTHY

__all__ = ["GPU_INDEX", "GPU_MEMORY", "GPU_NUMBER", "R_GPU_MEMORY", "R_GPU_NUMBER", "UNHEALTHY", "GpuShareCards"]

R_GPU_MEMORY = "no enough gpu memory on single device"
R_GPU_NUMBER = "no enough idle gpu devices"


def card_ids(text: str) -> list[int]:
    """``"0, 2"`` → ``[0, 2]`` (non-numeric parts ignored)."""
    return [int(p) for p in (part.strip() for part in str(text).split(",")) if p.isdigit()]


class GpuShareCards:
    """Card usage of every node in one session; :meth:`open` returns ``None`` without gpushare resources."""

    def __init__(self, ssn: Session, gmem: int, gnum: int, *, spread: bool) -> None:
        self.ssn, self.gmem, self.gnum, self.spread = ssn, gmem, gnum, spread
        cards = ssn.allocatable[:, gnum].astype(np.int64)
        width = max(1, int(cards.max()) if ssn.N else 1)
        self.card_mem: FloatArray = np.where(cards > 0, ssn.allocatable[:, gmem] // np.maximum(cards, 1), 0.0)
        self.card_ok: BoolArray = np.arange(width)[None, :] < cards[:, None]
        for i, ann in enumerate(ssn.snapshot.nodes.annotations):
            for c in card_ids(ann.get(UNHEALTHY, "")):
                if c < width:
                    self.card_ok[i, c] = False
        self.card_used: FloatArray = np.zeros((ssn.N, width))

    @classmethod
    def open(cls, ssn: Session, *, spread: bool = False) -> GpuShareCards | None:
        dims = ssn.snapshot.dim_index
        gmem, gnum = dims.get(GPU_MEMORY), dims.get(GPU_NUMBER)
        return None if gmem is None or gnum is None else cls(ssn, gmem, gnum, spread=spread)

    def request(self, task: TaskInfo) -> tuple[float, int]:
        """``(gpu-memory MiB, gpu-number)`` the task asks for."""
        return float(task.request[self.gmem]), int(task.request[self.gnum])

    def wants(self, task: TaskInfo) -> bool:
        mem, num = self.request(task)
        return mem > 0 or num > 0

    def take(self, task: TaskInfo, node: int, *, from_annotations: bool) -> list[int]:
        """Hold the task's cards on ``node``: a bound pod's ``volcano.sh/gpu-index``, or a fresh choice."""
        mem, num = self.request(task)
        if mem <= 0 and num <= 0:
            return []
        cards = card_ids(task.annotations.get(GPU_INDEX, "")) if from_annotations else self._pick(node, mem, num)
        self._use(node, cards, mem, num, 1.0)
        return cards

    def release(self, task: TaskInfo, node: int, cards: list[int]) -> None:
        mem, num = self.request(task)
        self._use(node, cards, mem, num, -1.0)

    def _use(self, node: int, cards: list[int], mem: float, num: int, sign: float) -> None:
        width = self.card_used.shape[1]
        for c in cards:
            if 0 <= c < width:
                self.card_used[node, c] += sign * (self.card_mem[node] if num > 0 else mem)

    def _free(self, rows: Rows) -> FloatArray:
        used = self.card_used if rows is None else self.card_used[rows]
        ok = self.card_ok if rows is None else self.card_ok[rows]
        cm = self.card_mem if rows is None else self.card_mem[rows]
        out: FloatArray = np.where(ok, cm[:, None] - used, -1.0)
        return out

    def _pick(self, node: int, mem: float, num: int) -> list[int]:
        free = self._free(np.array([node]))[0].tolist()
        if num > 0:
            return pick_idle_cards(free, float(self.card_mem[node]), num) or []
        card = pick_card_by_memory(free, mem, spread=self.spread)
        return [] if card is None else [card]

    def fits(self, task: TaskInfo, rows: Rows) -> BoolArray:
        """Nodes (``rows``, or all) where the task's gpushare request fits; all true without one."""
        mem, num = self.request(task)
        n = self.ssn.N if rows is None else len(rows)
        if mem <= 0 and num <= 0:
            return np.ones(n, dtype=np.bool_)
        free = self._free(rows)
        if num > 0:
            cm = self.card_mem if rows is None else self.card_mem[rows]
            idle: BoolArray = np.asarray((free >= cm[:, None]).sum(axis=1) >= num)
            return idle
        fit: BoolArray = np.asarray((free >= mem).any(axis=1))
        return fit

    def reason(self, task: TaskInfo) -> str:
        return R_GPU_NUMBER if self.request(task)[1] > 0 else R_GPU_MEMORY

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        mem, num = self.request(task)
        cm = self.card_mem if rows is None else self.card_mem[rows]
        out: FloatArray = np.zeros(len(cm))
        if num > 0:
            free = self._free(rows)
            cards = (self.card_ok if rows is None else self.card_ok[rows]).sum(axis=1)
            busy = ((free < cm[:, None]) & (free >= 0)).sum(axis=1) + num
            frac = np.where(cards > 0, np.minimum(busy / np.maximum(cards, 1), 1.0), 0.0)
            out = 100.0 * (1.0 - frac if self.spread else frac)
        elif mem > 0:
            free = self._free(rows)
            fits = free >= mem
            pick = (np.where(fits, free, -np.inf).max(axis=1) if self.spread
                    else np.where(fits, free, np.inf).min(axis=1))
            ok = np.isfinite(pick) & (cm > 0)
            frac = np.where(ok, (cm - pick + mem) / np.where(cm > 0, cm, 1.0), 0.0)
            out = np.where(ok, 100.0 * (1.0 - frac) if self.spread else 100.0 * frac, 0.0)
        return out
