"""kwok's CEL environment for usage expressions, on cel-python.

Variables ``pod``, ``node`` and ``container`` (the JSON objects; ``metadata.creationTimestamp``
becomes a CEL timestamp) and kwok's functions (``pkg/utils/cel/default.go``):

==========================  ===========================================================
``Now()``                   the sample time (platform clock), a timestamp
``SinceSecond(obj)``        seconds from ``obj.metadata.creationTimestamp`` to ``Now()``;
``obj.SinceSecond()``       also as a method (kwok registers both forms)
``UnixSecond(t)``           a timestamp as float seconds since the epoch (``t.UnixSecond()``)
``Rand()``                  a float in [0, 1)
``Quantity("250m")``        a Kubernetes quantity; ``+ -`` with quantities, ``* /`` by numbers,
                            comparisons, unary minus
==========================  ===========================================================

Results (:meth:`UsageExpression.value`): a Quantity gives its value, a number its value (cores
for cpu, bytes for memory, the unit of the metric otherwise), a bool 1 or 0 — kwok's
``EvaluateFloat64`` conversions.

*Departure:* kwok's ``Rand()`` is ``math/rand``; ours is seeded by (agent seed, pod uid, sample
time), so re-evaluating a sample gives the same number and every metrics path agrees.

Example (a daily curve): ``int(Now().UnixSecond()) % 86400 < 43200 ? Quantity("150m") : Quantity("100m")``
is 150m in the first half of each UTC day and 100m in the second.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from fractions import Fraction
from functools import lru_cache, total_ordering
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

from suanli.apimachinery.objects import Obj, parse_time
from suanli.apimachinery.quantity import format_quantity, parse_quantity

__all__ = ["CelQuantity", "UsageExpression", "compile_expression"]

_ENV = celpy.Environment()


@total_ordering
class CelQuantity:
    """kwok's ``kubernetes.Quantity`` CEL type (``pkg/utils/cel/quantity.go``): exact arithmetic."""

    __slots__ = ("value",)

    def __init__(self, value: Fraction) -> None:
        self.value = value

    @staticmethod
    def _num(other: object) -> Fraction:
        if isinstance(other, CelQuantity | bool):
            raise TypeError("no such overload")
        if isinstance(other, int | float):
            return Fraction(other)
        raise TypeError("no such overload")

    def __add__(self, other: object) -> CelQuantity:
        if not isinstance(other, CelQuantity):
            raise TypeError("no such overload")
        return CelQuantity(self.value + other.value)

    def __sub__(self, other: object) -> CelQuantity:
        if not isinstance(other, CelQuantity):
            raise TypeError("no such overload")
        return CelQuantity(self.value - other.value)

    def __mul__(self, other: object) -> CelQuantity:
        return CelQuantity(self.value * self._num(other))

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> CelQuantity:
        d = self._num(other)
        if d == 0:
            raise ZeroDivisionError("division by zero")
        return CelQuantity(self.value / d)

    def __neg__(self) -> CelQuantity:
        return CelQuantity(-self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CelQuantity) and self.value == other.value

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, CelQuantity):
            return NotImplemented
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Quantity({format_quantity(self.value)!r})"


def _quantity(text: Any) -> CelQuantity:
    try:
        return CelQuantity(parse_quantity(str(text)))
    except ValueError as err:
        raise ValueError(f"quantities must match the regular expression: {text!r}") from err


def _unix_second(t: Any) -> celtypes.DoubleType:
    if isinstance(t, datetime):
        return celtypes.DoubleType(t.timestamp())
    return celtypes.DoubleType(parse_time(str(t)).timestamp())


def _created(obj: Any) -> float:
    try:
        stamp = obj["metadata"]["creationTimestamp"]
    except (KeyError, TypeError):
        return 0.0
    return float(_unix_second(stamp))


class _Sample:
    """The time and random source of the evaluation under way (evaluation is synchronous)."""

    now = 0.0
    stamp = datetime.fromtimestamp(0, UTC)
    rng = random.Random(0)  # nosec B311  # kwok's Rand(): simulated usage, not security


def _since(obj: Any) -> celtypes.DoubleType:
    return celtypes.DoubleType(_Sample.now - _created(obj))


_FUNCTIONS: dict[str, Any] = {
    "Now": lambda: celtypes.TimestampType(_Sample.stamp),
    "Rand": lambda: celtypes.DoubleType(_Sample.rng.random()),
    "SinceSecond": _since,
    "UnixSecond": _unix_second,
    "Quantity": _quantity,
}


@lru_cache(maxsize=1024)
def _program(expression: str) -> Any:
    return _ENV.program(_ENV.compile(expression), functions=_FUNCTIONS)


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> UsageExpression:
    """Parse ``expression`` (raises ``ValueError`` naming the problem when it does not compile);
    the same text gives the same (shared) :class:`UsageExpression`."""
    try:
        _program(expression)
    except Exception as err:  # cel-python raises its parser's own error types
        raise ValueError(f"invalid CEL expression {expression!r}: {str(err).strip() or type(err).__name__}") \
            from None
    return UsageExpression(expression)


class UsageExpression:
    """One compiled expression; :meth:`value` evaluates it at a given time.

    Only the variables the expression names are converted to CEL values (a pod or node object is
    large; an expression over ``Now()`` alone needs none of them).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._uses = tuple(v for v in ("pod", "node", "container") if _names(source, v))
        #: a function of time alone (no variables, no Rand()): one evaluation per sample time
        self._time_only = not self._uses and not _names(source, "Rand")
        self._last: tuple[float, float] | None = None

    def value(self, *, now: float, pod: Obj | None = None, node: Obj | None = None,
              container: Obj | None = None, seed: int = 0) -> float:
        """The expression's value at ``now`` (epoch seconds) as a float; raises ``ValueError``
        when evaluation fails or the result is not a number, bool or Quantity."""
        if self._time_only and self._last is not None and self._last[0] == now:
            return self._last[1]
        uid = str(((pod or {}).get("metadata") or {}).get("uid") or "")
        _Sample.now, _Sample.stamp = now, datetime.fromtimestamp(now, UTC)
        _Sample.rng = random.Random(f"{seed}:{uid}:{now!r}")  # nosec B311  # seeded simulated usage
        objs = {"pod": pod, "node": node, "container": container}
        activation = {v: _cel(objs[v]) for v in self._uses}
        try:
            result = _program(self.source).evaluate(activation)
        except Exception as err:  # CELEvalError and friends
            raise ValueError(f"expression {self.source!r}: {_reason(err)}") from None
        value = _as_float(self.source, result)
        if self._time_only:
            self._last = (now, value)
        return value


def _names(source: str, var: str) -> bool:
    """Whether ``source`` may refer to the variable ``var`` (an identifier occurrence outside strings
    is not checked exactly: a false positive only costs a conversion)."""
    start = 0
    while (i := source.find(var, start)) >= 0:
        before = source[i - 1] if i else " "
        after = source[i + len(var)] if i + len(var) < len(source) else " "
        if not (before.isalnum() or before in "_.") and not (after.isalnum() or after == "_"):
            return True
        start = i + 1
    return False


def _cel(obj: Obj | None) -> Any:
    if obj is None:
        return celtypes.MapType({})
    out: Any = json_to_cel(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("creationTimestamp"), str):
        try:
            stamp = celtypes.TimestampType(parse_time(meta["creationTimestamp"]))
        except ValueError:
            return out
        out[celtypes.StringType("metadata")][celtypes.StringType("creationTimestamp")] = stamp
    return out


def _as_float(source: str, result: Any) -> float:
    if isinstance(result, Exception):
        raise ValueError(f"expression {source!r}: {_reason(result)}")
    if isinstance(result, CelQuantity):
        return float(result.value)
    if isinstance(result, celtypes.BoolType):
        return 1.0 if bool(result) else 0.0
    if isinstance(result, celtypes.DurationType):
        return float(result.total_seconds() * 1e9)  # kwok: a duration's nanoseconds
    if isinstance(result, int | float):
        value = float(result)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"expression {source!r}: result is not a finite number")
        return value
    raise ValueError(f"expression {source!r}: unsupported result type {type(result).__name__}")


def _reason(err: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(err, "args", ()))
    if len(args) >= 3 and isinstance(args[2], tuple) and args[2]:
        return str(args[2][0])
    return str(args[0]) if args else type(err).__name__
