"""``binpack``: Volcano's weighted bin-packing score.

``score = binpack.weight x 100 x Σ_r w_r x (used_r + req_r) / alloc_r / Σ_r w_r`` over the
resources ``r`` the pod requests that have a weight: ``binpack.cpu`` (1),
``binpack.memory`` (1), and each name listed in ``binpack.resources``
(comma-separated) with weight ``binpack.resources.<name>`` (1). A requested
resource with zero allocatable adds its weight to the denominator only; if any
requested resource would not fit (``used + req > alloc``) the node scores 0.

Worked example: node 4 CPU / 8 GiB with 1 CPU / 2 GiB used, pod 1 CPU / 2 GiB,
weights 1: ``100 x (2/4 + 4/8) / 2 = 50``; with ``binpack.weight: 10`` → 500.
"""

from __future__ import annotations

import numpy as np

from suanli.scheduler.core.framework import Rows, rows_of
from suanli.scheduler.core.plugins._base import BasePlugin, float_arg
from suanli.scheduler.core.resources import PODS, FloatArray
from suanli.scheduler.core.session import Session
from suanli.scheduler.core.snapshot import TaskInfo

__all__ = ["BinpackPlugin", "binpack_score", "resource_weights"]


def resource_weights(args: dict[str, object] | object, dims: tuple[str, ...]) -> dict[int, float]:
    """Dimension index → weight from binpack arguments (only dims of this snapshot)."""
    a = args if isinstance(args, dict) else dict(args)  # type: ignore[call-overload]
    idx = {d: i for i, d in enumerate(dims)}
    out = {idx["cpu"]: float_arg(a, "binpack.cpu", 1.0), idx["memory"]: float_arg(a, "binpack.memory", 1.0)}
    listed = str(a.get("binpack.resources") or "")
    for name in (n.strip() for n in listed.split(",")):
        if name and name in idx:
            out[idx[name]] = float_arg(a, f"binpack.resources.{name}", 1.0)
    return out


def binpack_score(
    alloc: FloatArray, used: FloatArray, request: FloatArray, weights: dict[int, float], weight: float
) -> FloatArray:
    """Vectorised score over rows of ``alloc``/``used`` (see module docstring)."""
    n = alloc.shape[0]
    num = np.zeros(n)
    den = 0.0
    fits = np.ones(n, dtype=np.bool_)
    for d, w in weights.items():
        if d == PODS or request[d] <= 0 or w <= 0:
            continue
        den += w
        a = alloc[:, d]
        after = used[:, d] + request[d]
        fits &= (after <= a) | (a <= 0)
        num += np.where(a > 0, w * after / np.where(a > 0, a, 1.0), 0.0)
    if den == 0:
        return np.zeros(n)
    out: FloatArray = np.where(fits, weight * 100.0 * num / den, 0.0)
    return out


class BinpackPlugin(BasePlugin):
    name = "binpack"

    def on_session_open(self, ssn: Session) -> None:
        self.weight = float_arg(self.args, "binpack.weight", 1.0)
        self.weights = resource_weights(dict(self.args), ssn.dims)

        def score(task: TaskInfo, rows: Rows) -> FloatArray:
            return binpack_score(
                rows_of(ssn.allocatable, rows), rows_of(ssn.used, rows), task.request, self.weights, self.weight
            )

        ssn.add_node_order_fn(self.name, score)
