"""``deviceshare``: device-level placement for whole devices and shared GPUs.

**Whole devices** (argument ``deviceshare.devices``, comma-separated; default
``huawei.com/Ascend910, huawei.com/Ascend310, huawei.com/Ascend310P,
nvidia.com/gpu, openfuyao.com/kae.hpre``). This plugin is the one owner of the
device decision: it picks device IDs with
:func:`suanli.apimachinery.devices.pick_devices` and the bind writes them to the
pod annotation ``suanli.io/allocated-devices``; the node agent honours them
(after checking them) and picks with the same function only for pods bound
without one. A node's device IDs are the indices listed in its annotation
``suanli.io/device-topology`` (published by the node agent from the hardware
profile: JSON ``{"<resource>": [[0,1,2,3],[4,5,6,7]]}``, interconnect groups),
or ``0 … allocatable-1`` without it; IDs named in node annotation
``suanli.io/unhealthy-devices`` (``3`` or ``<resource>=3``, comma-separated) are
unusable. IDs in use come from ``suanli.io/allocated-devices`` of bound pods; a
bound pod without it is assumed to hold what the picking rule gives it.

* predicate: at least ``k`` free IDs;
* choice and score: :func:`~suanli.apimachinery.devices.pick_devices` — best-fit
  interconnect group (``50 + 50 x k / free_in_group``; e.g. 2 of a group with 4
  free → 75, 4 of 4 → 100), else the fewest groups spanned (score 0);
* the bind sets ``suanli.io/allocated-devices`` (``{"<resource>": ["2","3"]}``).

**GPU sharing** (Volcano gpushare): card state, fit, choice and score as in
:mod:`suanli.scheduler.core.plugins._gpucards`, with ``deviceshare.SchedulePolicy``
``binpack`` (default) or ``spread``; the bind sets ``volcano.sh/gpu-index`` to the
chosen cards.

Scores are multiplied by ``deviceshare.ScheduleWeight`` (default 1).
"""

from __future__ import annotations

import numpy as np

from suanli.apimachinery.devices import (
    ALLOCATED_DEVICES,
    DEVICE_TOPOLOGY,
    UNHEALTHY_DEVICES,
    format_allocation,
    parse_allocation,
    parse_topology,
    parse_unhealthy,
    pick_devices,
)
from suanli.scheduler.core.framework import Rows
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.plugins._gpucards import GPU_INDEX, GPU_MEMORY, GPU_NUMBER, GpuShareCards
from suanli.scheduler.core.resources import BoolArray, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import OCCUPYING, TaskInfo
from suanli.wire import ASCEND_310, ASCEND_310P, ASCEND_910, KAE_HPRE, NVIDIA_GPU

__all__ = [
    "ALLOCATED_DEVICES",
    "DEVICE_TOPOLOGY",
    "GPU_INDEX",
    "GPU_MEMORY",
    "GPU_NUMBER",
    "WHOLE_DEVICES",
    "DeviceSharePlugin",
]

WHOLE_DEVICES = (ASCEND_910, ASCEND_310, ASCEND_310P, NVIDIA_GPU, KAE_HPRE)


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
            self.free[d], self.groups[d] = [], []
            for i in range(ssn.N):
                ids, groups = self._devices(nodes.annotations[i], res, caps[i])
                self.free[d].append(ids)
                self.groups[d].append(groups)
        self.cards = GpuShareCards.open(ssn, spread=self.spread)
        for t in ssn.tasks:
            if t.status in OCCUPYING and t.node >= 0:
                self._take(t, t.node, from_annotations=True)
        # devices taken by other pods are freed by evicting them: preempt/reclaim may use the node
        ssn.add_predicate_fn(self.name, self.predicate, self.reasons, resolvable=True)
        ssn.add_node_order_fn(self.name, self.score)
        ssn.add_event_handler(self)

    @staticmethod
    def _devices(ann: dict[str, str], res: str, cap: int) -> tuple[set[int], list[list[int]]]:
        """Usable device IDs of ``res`` on a node and their interconnect groups (module docstring)."""
        if cap <= 0:
            return set(), []
        groups = parse_topology(ann.get(DEVICE_TOPOLOGY), res, None) or [list(range(cap))]
        usable = {i for g in groups for i in g} - parse_unhealthy(ann.get(UNHEALTHY_DEVICES), res)
        return usable, [kept for g in groups if (kept := [i for i in g if i in usable])]

    # ------------------------------------------------------------------ bookkeeping
    def _take(self, task: TaskInfo, node: int, from_annotations: bool = False) -> None:
        """Hold the task's devices on ``node``: a bound pod's recorded ones (the rest, if any, as the
        node agent would pick them), or a fresh decision that the bind writes on the pod."""
        ann = task.annotations
        recorded = (parse_allocation(ann.get(ALLOCATED_DEVICES)) or {}) if from_annotations else {}
        whole: dict[int, list[int]] = {}
        for d, res in self.whole.items():
            k = int(task.request[d])
            if k <= 0:
                continue
            free = self.free[d][node]
            ids = [i for i in dict.fromkeys(recorded.get(res, [])) if i in free][:k]
            if len(ids) < k:
                pick = pick_devices(free - set(ids), self.groups[d][node], k - len(ids))
                ids = sorted(ids + list(pick.ids if pick is not None else ()))
            free.difference_update(ids)
            whole[d] = ids
        cards = self.cards.take(task, node, from_annotations=from_annotations) if self.cards else []
        self.chosen[task.index] = (whole, cards)
        if not from_annotations:
            out: dict[str, str] = {}
            if whole:
                out[ALLOCATED_DEVICES] = format_allocation({self.whole[d]: ids for d, ids in whole.items()})
            if cards:
                out[GPU_INDEX] = ",".join(str(c) for c in cards)
            if out:
                self.ssn.task_annotations[task.index] = out

    def allocate(self, task: TaskInfo, node: int) -> None:
        self._take(task, node)

    def deallocate(self, task: TaskInfo, node: int) -> None:
        got = self.chosen.pop(task.index, None)
        if got is None:
            return
        whole, cards = got
        for d, ids in whole.items():
            self.free[d][node].update(ids)
        if self.cards is not None and cards:
            self.cards.release(task, node, cards)
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
        if self.cards is not None:
            mask &= self.cards.fits(task, rows)
        return mask

    def reasons(self, task: TaskInfo, rows: Rows) -> list[tuple[str, BoolArray]]:
        return [("node(s) didn't have enough free devices", ~self.predicate(task, rows))]

    def score(self, task: TaskInfo, rows: Rows) -> FloatArray:
        idx = self._rows(rows)
        total = np.zeros(len(idx))
        for d in self.whole:
            k = int(task.request[d])
            if k > 0:
                picks = [pick_devices(self.free[d][i], self.groups[d][i], k) for i in idx]
                total += np.array([p.score if p is not None else 0.0 for p in picks])
        if self.cards is not None:
            total += self.cards.score(task, rows)
        out: FloatArray = self.weight * total
        return out
