"""PodLogOptions validation (upstream ValidatePodLogOptions) and the CRI log format reader/writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from suanli.apimachinery.errors import ApiError
from suanli.apiserver.logs import FileLogBackend, LogOptions, LogWriter, format_time, parse_log_options

NOW = datetime(2026, 12, 7, 17, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"tailLines": "-1"}, "tailLines", "must be greater than or equal to 0"),
        ({"limitBytes": "0"}, "limitBytes", "must be greater than 0"),
        ({"sinceSeconds": "0"}, "sinceSeconds", "must be greater than 0"),
        ({"sinceSeconds": "5", "sinceTime": "2026-12-07T16:00:00Z"}, "",
         "at most one of `sinceTime` or `sinceSeconds` may be specified"),
        ({"sinceTime": "yesterday"}, "sinceTime", "must be an RFC3339 time"),
    ],
    ids=["negative-tail", "zero-limit-bytes", "zero-since-seconds", "both-since-forms", "unparsable-since-time"],
)
def test_invalid_log_options_are_422_naming_the_field(query: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_log_options(query, "p", NOW)
    assert info.value.code == 422
    causes = info.value.status()["details"]["causes"]
    assert causes[0]["field"] == field and message in causes[0]["message"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, LogOptions()),
        ({"sinceSeconds": "60", "timestamps": "true"}, LogOptions(timestamps=True, since=NOW - timedelta(seconds=60))),
        ({"sinceTime": "2026-12-07T16:30:00Z", "tailLines": "3", "limitBytes": "9"},
         LogOptions(since=datetime(2026, 12, 7, 16, 30, tzinfo=UTC), tail_lines=3, limit_bytes=9)),
    ],
    ids=["defaults", "since-seconds-counts-back-from-now", "since-time-tail-and-limit"],
)
def test_valid_log_options(query: dict[str, str], expected: LogOptions) -> None:
    assert parse_log_options(query, "p", NOW) == expected


def test_writer_stamps_full_and_partial_lines_and_reader_joins_them(tmp_path: Path) -> None:
    backend = FileLogBackend(tmp_path)
    path = backend.path_for("ns", "p", "c")
    path.parent.mkdir(parents=True)
    times = iter([0.0, 1.0, 2.0, 3.0, 4.0])
    with path.open("wb") as out:
        w = LogWriter(out, lambda: NOW.timestamp() + next(times))
        w.write("stdout", b"a\nhal")
        w.write("stderr", b"err\n")
        w.write("stdout", b"f\n")
        w.write("stdout", b"tail")
        w.close("stdout")
    assert backend.read("ns", "p", "c") == b"a\nerr\nhalf\ntail"
    stamped = backend.read("ns", "p", "c", options=LogOptions(timestamps=True)).decode()
    assert stamped.splitlines()[0] == f"{format_time(NOW)} a"
    assert stamped.splitlines()[2] == f"{format_time(NOW + timedelta(seconds=2))} half"
    later = backend.read("ns", "p", "c", options=LogOptions(since=NOW + timedelta(seconds=1)))
    assert later == b"err\nhalf\ntail"


def test_format_time_is_rfc3339nano_utc() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678901000Z"
