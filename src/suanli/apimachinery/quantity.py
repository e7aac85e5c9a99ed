"""Kubernetes ``resource.Quantity`` parsing and formatting, exactly (as :class:`Fraction`).

Grammar: ``<sign?><digits and .><suffix>`` where the suffix is one of the binary
suffixes ``Ki Mi Gi Ti Pi Ei`` (powers of 1024), the decimal suffixes ``n u m "" k M G T P E``
(powers of 1000), or an exponent ``e<int>`` / ``E<int>``.

Worked examples::

    parse_quantity("100m")  == Fraction(1, 10)       to_milli("100m") == 100
    parse_quantity("1.5Gi") == 1610612736            to_int("1.5Gi") == 1610612736
    parse_quantity("1e3")   == 1000                  to_int("0.1")   == 1   (rounds up)
    format_quantity(Fraction(3, 2), binary=False) == "1500m"
    format_quantity(1536 * 2**20, binary=True)    == "1536Mi"

Invalid input raises ``ValueError`` with upstream's message (:data:`QUANTITY_ERROR`).

Deviation: upstream keeps large quantities as big decimals and accepts any exponent; exact
fractions would make ``"1e999999999"`` cost minutes of CPU and ``"1e5000"`` unprintable, so a
mantissa longer than :data:`MAX_DIGITS` characters or an exponent beyond ±:data:`MAX_EXPONENT`
raises ``ValueError`` (:data:`QUANTITY_RANGE_ERROR`).
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

__all__ = [
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "QUANTITY_ERROR",
    "QUANTITY_RANGE_ERROR",
    "format_quantity",
    "parse_quantity",
    "to_int",
    "to_milli",
]

QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

MAX_DIGITS = 1000
MAX_EXPONENT = 1000
QUANTITY_RANGE_ERROR = (f"quantity out of the supported range: at most {MAX_DIGITS} digits "
                        f"and a decimal exponent within ±{MAX_EXPONENT}")

_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_EXP_RE = re.compile(r"^[eE][-+]?[0-9]+$")

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL.items()}


def parse_quantity(text: str | int | float | Fraction) -> Fraction:
    """Parse a quantity string (or a plain number) to an exact :class:`Fraction`."""
    if isinstance(text, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(text, Fraction):
        return text
    if isinstance(text, int):
        if abs(text) >= 10**MAX_DIGITS:
            raise ValueError(QUANTITY_RANGE_ERROR)
        return Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise ValueError(QUANTITY_ERROR)
        return Fraction(Decimal(repr(text)))
    if not isinstance(text, str):
        raise ValueError(QUANTITY_ERROR)
    if len(text) > MAX_DIGITS + 16:  # before the cache: it must not keep huge strings alive
        raise ValueError(QUANTITY_RANGE_ERROR if _RE.match(text.strip()) else QUANTITY_ERROR)
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction:
    """Parse a quantity string; cached because the same few strings recur on every write."""
    m = _RE.match(text.strip())
    if m is None:
        raise ValueError(QUANTITY_ERROR)
    number, suffix = m.groups()
    try:
        value = Fraction(Decimal(number))
    except (InvalidOperation, ValueError):
        raise ValueError(QUANTITY_ERROR) from None
    if suffix in _BINARY:
        return value * Fraction(1024 ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return value * _pow10(_DECIMAL[suffix])
    if _EXP_RE.match(suffix):
        exponent = int(suffix[1:]) if len(suffix) <= 8 else MAX_EXPONENT + 1
        if abs(exponent) > MAX_EXPONENT:
            raise ValueError(QUANTITY_RANGE_ERROR)
        return value * _pow10(exponent)
    raise ValueError(QUANTITY_ERROR)


def _pow10(exp: int) -> Fraction:
    return Fraction(10**exp) if exp >= 0 else Fraction(1, 10**-exp)


def to_milli(q: str | int | float | Fraction) -> int:
    """Quantity in thousandths, rounded up (``"0.1"`` → 100, ``"1n"`` → 1)."""
    return math.ceil(parse_quantity(q) * 1000)


def to_int(q: str | int | float | Fraction) -> int:
    """Quantity as an integer, rounded up (``"100m"`` → 1, ``"2Ki"`` → 2048)."""
    return math.ceil(parse_quantity(q))


def format_quantity(value: str | int | float | Fraction, binary: bool = False) -> str:
    """Canonical string for a quantity.

    ``binary=True`` uses the largest ``Ki``…``Ei`` suffix that divides an integral value
    (falling back to decimal for fractions); decimal form uses the largest power-of-1000
    suffix that keeps an integer mantissa, rounding up to nano units first.
    """
    v = parse_quantity(value)
    if v == 0:
        return "0"
    sign = "-" if v < 0 else ""
    v = abs(v)
    if binary and v.denominator == 1 and v >= 1024:
        n = int(v)
        exp = 0
        while exp < 6 and n % 1024 == 0:
            n //= 1024
            exp += 1
        if exp:
            suffix = next(k for k, e in _BINARY.items() if e == exp)
            return f"{sign}{n}{suffix}"
    nanos = math.ceil(v * 10**9)
    exp = -9
    while exp < 18 and nanos % 1000 == 0:
        nanos //= 1000
        exp += 3
    return f"{sign}{nanos}{_DECIMAL_BY_EXP[exp]}"
