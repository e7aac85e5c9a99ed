"""``suanli up`` overload flags: kube-apiserver's names and defaults, durations and counts validated."""

from __future__ import annotations

import pytest

from suanli.apiserver.limits import LimitsConfig
from suanli.cli.limits_flags import limits_config
from suanli.cli.main import _parser


def parse(*flags: str) -> LimitsConfig:
    return limits_config(_parser().parse_args(["up", *flags]))


def test_defaults_are_kube_apiservers() -> None:
    assert parse() == LimitsConfig(max_requests_inflight=400, max_mutating_requests_inflight=200,
                                   request_timeout=60.0, max_long_running_requests_per_user=200,
                                   max_queued_requests_per_user=50)


@pytest.mark.parametrize(("flags", "field", "value"), [
    (("--max-requests-inflight", "10"), "max_requests_inflight", 10),
    (("--max-mutating-requests-inflight", "0"), "max_mutating_requests_inflight", 0),
    (("--request-timeout", "1m30s"), "request_timeout", 90.0),
    (("--request-timeout", "500ms"), "request_timeout", 0.5),
    (("--max-long-running-requests-per-user", "3"), "max_long_running_requests_per_user", 3),
    (("--max-queued-requests-per-user", "7"), "max_queued_requests_per_user", 7),
], ids=lambda v: v if isinstance(v, str) else None)
def test_flags_set_their_field(flags: tuple[str, str], field: str, value: float) -> None:
    assert getattr(parse(*flags), field) == value


@pytest.mark.parametrize("flags", [("--max-requests-inflight", "-1"), ("--max-mutating-requests-inflight", "x"),
                                   ("--request-timeout", "soon"), ("--request-timeout", "-5s")],
                         ids=["negative count", "not a number", "not a duration", "negative duration"])
def test_bad_values_are_usage_errors(flags: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(*flags)
    assert exit_.value.code == 2
    assert flags[0] in capsys.readouterr().err
