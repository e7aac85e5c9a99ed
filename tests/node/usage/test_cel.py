"""kwok's CEL environment for usage expressions (functions of kwok ``pkg/utils/cel/default.go``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.node.usage.cel import compile_expression

NOW = datetime(2022, 1, 1, tzinfo=UTC).timestamp()
NODE = {"metadata": {"name": "n", "creationTimestamp": "2021-12-31T00:00:00Z"}}
POD = {"metadata": {"name": "p", "uid": "u-1", "creationTimestamp": "2021-12-31T12:00:00Z",
                    "annotations": {"kwok.x-k8s.io/usage-cpu": "300m"}},
       "spec": {"containers": [{"name": "main"}]}}

# kwok's TestNodeEvaluation (pkg/kwok/metrics/cel/evaluate_test.go): a node created 24 h before Now(),
# "( Now().UnixSecond() - node.metadata.creationTimestamp.UnixSecond() ) * <2 containers> / 10.0" = 17280.
CASES = [
    ("( Now().UnixSecond() - node.metadata.creationTimestamp.UnixSecond() ) * 2.0 / 10.0", 17280.0),
    ("node.SinceSecond()", 86400.0),
    ("SinceSecond(node)", 86400.0),
    ("pod.SinceSecond()", 43200.0),
    ("UnixSecond(Now())", NOW),
    ('Quantity("250m")', 0.25),
    ('Quantity("1Gi") / 2', float(1 << 29)),
    ('Quantity("100m") * 3', 0.3),
    ('Quantity("100m") * 1.5', 0.15),
    ('Quantity("100m") + Quantity("50m")', 0.15),
    ('Quantity("100m") - Quantity("150m")', -0.05),
    ('-Quantity("2")', -2.0),
    ('Quantity("1") < Quantity("2")', 1.0),
    ('Quantity("2Ki") == Quantity("2048")', 1.0),
    ('"kwok.x-k8s.io/usage-cpu" in pod.metadata.annotations ? Quantity(pod.metadata.annotations'
     '["kwok.x-k8s.io/usage-cpu"]) : Quantity("1m")', 0.3),
    ('"kwok.x-k8s.io/usage-memory" in pod.metadata.annotations ? Quantity("1Gi") : Quantity("1Mi")', float(1 << 20)),
    ("int(Now().UnixSecond()) % 86400 < 43200", 1.0),  # CEL has no % on doubles: a daily curve uses int()
    ("true", 1.0),
    ("3", 3.0),
]


@pytest.mark.parametrize(("expr", "want"), CASES, ids=[c[0][:60] for c in CASES])
def test_expression_value_matches_kwok(expr: str, want: float) -> None:
    got = compile_expression(expr).value(now=NOW, pod=POD, node=NODE)
    assert got == pytest.approx(want)


def test_rand_is_in_unit_interval_and_repeatable_for_one_sample() -> None:
    expr = compile_expression("Rand()")
    first = expr.value(now=NOW, pod=POD, seed=7)
    assert 0.0 <= first < 1.0
    assert expr.value(now=NOW, pod=POD, seed=7) == first  # same sample → same number on every path
    assert expr.value(now=NOW + 15, pod=POD, seed=7) != first


@pytest.mark.parametrize(("expr", "needle"), [
    pytest.param("1 +", "invalid CEL expression", id="syntax-error-names-the-expression"),
    pytest.param('Quantity("abc")', "quantities must match", id="bad-quantity"),
    pytest.param('"text"', "unsupported result type", id="string-result"),
    pytest.param('Quantity("1") / 0', "division by zero", id="division-by-zero"),
    pytest.param("pod.metadata.missing", "missing", id="missing-field"),
])
def test_bad_expressions_raise_value_error(expr: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        compile_expression(expr).value(now=NOW, pod=POD, node=NODE)


# kwok pkg/utils/cel/quantity_test.go: its Quantity arithmetic and comparisons, as CEL expressions.
QUANTITY_CASES = [
    ('Quantity("10") + Quantity("5") == Quantity("15")', "add"),
    ('Quantity("10") - Quantity("5") == Quantity("5")', "subtract"),
    ('-Quantity("10") == Quantity("-10")', "negate"),
    ('Quantity("10") / 2 == Quantity("5")', "divide-by-int"),
    ('Quantity("10") / 2.5 == Quantity("4")', "divide-by-double"),
    ('Quantity("10") * 2 == Quantity("20")', "multiply-by-int"),
    ('Quantity("10") * 2.5 == Quantity("25")', "multiply-by-double"),
    ('Quantity("10") > Quantity("5")', "compare-greater"),
    ('Quantity("10") >= Quantity("10") && Quantity("10") <= Quantity("10")', "compare-equal"),
    ('Quantity("10") < Quantity("20")', "compare-less"),
    ('Quantity("10") == Quantity("10")', "equal"),
    ('!(Quantity("10") == Quantity("5"))', "not-equal"),
]


@pytest.mark.parametrize("expr", [c[0] for c in QUANTITY_CASES], ids=[c[1] for c in QUANTITY_CASES])
def test_quantity_semantics_match_kwok(expr: str) -> None:
    assert compile_expression(expr).value(now=NOW) == 1.0


def test_invalid_quantity_string_is_an_error_like_kwok() -> None:
    with pytest.raises(ValueError, match="quantities must match"):
        compile_expression('Quantity("invalid")').value(now=NOW)
