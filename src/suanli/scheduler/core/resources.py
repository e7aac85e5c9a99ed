"""Resource dimensions and quantity conversion for the scheduling core.

Every resource vector is a ``float64`` numpy array over the snapshot's
dimensions (:attr:`Snapshot.dims`). Dimension 0 is ``cpu`` (milli-cores),
1 is ``memory`` (bytes), 2 is ``pods`` (count); further dimensions are the
other resources that appear on any node or pod, sorted by name (for example
``huawei.com/Ascend910``, ``nvidia.com/gpu``, ``volcano.sh/gpu-memory``), in
integer units as written (``to_int``). Integers are exact in float64 below
2**53 (about 9 PB of memory), and ``inf`` marks an unlimited quantity.

Worked example: requests ``{"cpu": "500m", "memory": "1Gi"}`` over dims
``("cpu", "memory", "pods")`` → ``[500.0, 1073741824.0, 0.0]``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from suanli.apimachinery.quantity import to_int, to_milli

__all__ = [
    "BASE_DIMS",
    "CPU",
    "MEMORY",
    "PODS",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "amount",
    "format_amount",
    "vector",
]

CPU, MEMORY, PODS = 0, 1, 2
BASE_DIMS: tuple[str, ...] = ("cpu", "memory", "pods")

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


# Upstream's scheduler counts in int64 (milli-)units; an amount beyond that range (a valid quantity such
# as "1e400", which float() cannot even hold) saturates there instead of failing the scheduling cycle.
_INT64_MAX = 2**63 - 1


@functools.lru_cache(maxsize=4096)
def _amount(name: str, value: str) -> float:
    whole = to_milli(value) if name == "cpu" else to_int(value)
    return float(max(-_INT64_MAX, min(_INT64_MAX, whole)))


def amount(name: str, value: Any) -> float:
    """One quantity in the core's unit for ``name`` (``cpu`` → milli, others → integer units)."""
    return _amount(name, str(value))


def vector(dims: Sequence[str], index: Mapping[str, int], quantities: Mapping[str, Any] | None) -> FloatArray:
    """A resource vector over ``dims`` from a ``{name: quantity}`` map; unknown names are ignored."""
    out = np.zeros(len(dims))
    for name, value in (quantities or {}).items():
        i = index.get(name)
        if i is not None:
            out[i] = amount(name, value)
    return out


def format_amount(dims: Sequence[str], values: Iterable[float]) -> dict[str, str]:
    """Render a vector back to Kubernetes quantities, omitting zeros and infinities.

    ``cpu`` is written in milli (``"500m"``), everything else as an integer.
    """
    out: dict[str, str] = {}
    for name, v in zip(dims, values, strict=True):
        if v == 0 or not np.isfinite(v):
            continue
        out[name] = f"{int(v)}m" if name == "cpu" else str(int(v))
    return out
