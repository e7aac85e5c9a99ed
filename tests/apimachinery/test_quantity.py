"""Kubernetes resource.Quantity parsing and formatting."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.apimachinery.quantity import (
    QUANTITY_ERROR,
    QUANTITY_RANGE_ERROR,
    format_quantity,
    parse_quantity,
    to_int,
    to_milli,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Fraction(1)),
        ("0", Fraction(0)),
        ("100m", Fraction(1, 10)),
        ("1.5", Fraction(3, 2)),
        ("+2", Fraction(2)),
        ("-3k", Fraction(-3000)),
        ("250n", Fraction(250, 10**9)),
        ("5u", Fraction(5, 10**6)),
        ("2k", Fraction(2000)),
        ("3M", Fraction(3 * 10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("2Mi", Fraction(2 * 2**20)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("5e-3", Fraction(5, 1000)),
        ("1.5e+2", Fraction(150)),
        (".5", Fraction(1, 2)),
        (4, Fraction(4)),
        (0.25, Fraction(1, 4)),
    ],
    ids=[
        "plain integer",
        "zero",
        "milli",
        "decimal fraction",
        "explicit plus",
        "negative kilo",
        "nano",
        "micro",
        "kilo",
        "mega",
        "giga",
        "tera",
        "peta",
        "exa suffix (bare E)",
        "kibi",
        "fractional gibi",
        "mebi",
        "tebi",
        "pebi",
        "exbi",
        "lowercase exponent",
        "uppercase E with digits is exponent",
        "negative exponent",
        "signed exponent",
        "leading dot",
        "python int",
        "python float",
    ],
)
def test_parse_quantity(text: str | int | float, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1x", "1.2.3", "Gi", "1 Gi", "1e", "1Ki3", "1KiB", "--1", "."],
    ids=[
        "empty",
        "letters",
        "unknown suffix",
        "two dots",
        "suffix only",
        "space before suffix",
        "exponent without digits",
        "digits after binary suffix",
        "byte suffix",
        "double sign",
        "lone dot",
    ],
)
def test_invalid_quantity_message(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression") as info:
        parse_quantity(text)
    assert str(info.value) == QUANTITY_ERROR


@pytest.mark.parametrize(
    "value",
    ["1e1001", "1e-1001", "1e99999999999999999999", "5E999999999", "1" * 1017, "0." + "1" * 1020, 10**1000],
    ids=[
        "exponent above the bound",
        "exponent below the bound",
        "exponent too long to be an int64",
        "capital E exponent that took minutes of CPU (found by fuzzing)",
        "mantissa with too many digits",
        "fraction with too many digits",
        "integer with too many digits",
    ],
)
def test_out_of_range_quantity_is_a_value_error(value: str | int) -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity(value)
    assert str(info.value) == QUANTITY_RANGE_ERROR


@pytest.mark.parametrize(
    ("text", "rendered"),
    [("1e1000", Fraction(10**1000)), ("1e-1000", Fraction(1, 10**9)), ("9" * 1000, Fraction(int("9" * 1000))),
     ("1e400", Fraction(10**400))],
    ids=["largest exponent", "smallest exponent rounds up to 1n", "longest mantissa", "beyond float64 but in range"],
)
def test_quantities_at_the_bounds_parse_and_format(text: str, rendered: Fraction) -> None:
    assert parse_quantity(format_quantity(parse_quantity(text))) == rendered


@pytest.mark.parametrize(
    ("text", "milli", "whole"),
    [
        ("100m", 100, 1),
        ("1", 1000, 1),
        ("0.1", 100, 1),
        ("1n", 1, 1),
        ("1500m", 1500, 2),
        ("2Ki", 2048000, 2048),
        ("0", 0, 0),
        ("-1500m", -1500, -1),
    ],
    ids=[
        "milli stays",
        "one core",
        "tenth",
        "nano rounds up to one milli",
        "ceil to 2",
        "binary",
        "zero",
        "negative rounds toward +inf",
    ],
)
def test_to_milli_and_to_int_round_up(text: str, milli: int, whole: int) -> None:
    assert to_milli(text) == milli
    assert to_int(text) == whole


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        ("1.5", False, "1500m"),
        ("2000", False, "2k"),
        ("1000000000", False, "1G"),
        ("100m", False, "100m"),
        ("0", False, "0"),
        ("1Gi", True, "1Gi"),
        (1536 * 2**20, True, "1536Mi"),
        ("1000", True, "1k"),
        ("1025", True, "1025"),
        ("-2Ki", True, "-2Ki"),
        ("1.5n", False, "2n"),
        ("12e6", False, "12M"),
    ],
    ids=[
        "fraction as milli",
        "kilo",
        "giga",
        "milli unchanged",
        "zero",
        "gibi",
        "mebi multiple",
        "below 1024 binary falls back to decimal suffix",
        "not a 1024 multiple stays plain",
        "negative binary",
        "sub-nano rounds up",
        "exponent normalised to suffix",
    ],
)
def test_format_quantity(value: str | int, binary: bool, text: str) -> None:
    assert format_quantity(value, binary) == text


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([0, 3, 6, 9]), st.booleans())
def test_format_then_parse_is_identity_on_nano_grid(mantissa: int, scale: int, binary: bool) -> None:
    value = Fraction(mantissa, 10**scale)
    assert parse_quantity(format_quantity(value, binary)) == value
