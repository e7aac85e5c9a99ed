"""Cron schedule timing: upstream's pkg/controller/cronjob utils_test.go tables (mostRecentScheduleTime,
nextScheduleTime, nextScheduleTimeDuration) run against our port, plus schedule parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suanli.controllers._cron import (
    Schedule,
    job_name,
    most_recent_schedule_time,
    next_schedule_time,
    requeue_after,
)

TOP = datetime(2016, 5, 19, 10, 0, 0, tzinfo=UTC)  # upstream topOfTheHour()


def at(**delta: float) -> datetime:
    return TOP + timedelta(**delta)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cj(schedule: str, created: datetime = TOP, last: datetime | None = None, deadline: int | None = None) -> Any:
    spec: dict[str, Any] = {"schedule": schedule}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    status = {"lastScheduleTime": stamp(last)} if last is not None else {}
    return {"metadata": {"name": "mycronjob", "creationTimestamp": stamp(created)}, "spec": spec, "status": status}


#: (id, cronjob, include startingDeadlineSeconds, now, earliest, most recent, missed) — TestMostRecentScheduleTime
MOST_RECENT = [
    ("now-before-next-schedule", cj("0 * * * *"), False, at(seconds=30), TOP, None, "none"),
    ("now-just-after-next-schedule", cj("0 * * * *"), False, at(minutes=61), TOP, at(minutes=60), "none"),
    ("missed-5-schedules", cj("0 * * * *", created=at(seconds=10)), False, at(minutes=301), at(seconds=10),
     at(minutes=300), "few"),
    ("complex-schedule", cj("30 6-16/4 * * 1-5", last=at(minutes=30)), False, at(hours=24, minutes=31),
     at(minutes=30), at(hours=24, minutes=30), "few"),
    ("another-complex-schedule", cj("30 10,11,12 * * 1-5", last=at(minutes=30)), False, at(hours=30, minutes=30),
     at(minutes=30), None, "few"),
    ("complex-schedule-longer-diff", cj("30 6-16/4 * * 1-5", last=at(minutes=30)), False,
     at(hours=96, minutes=31), at(minutes=30), at(hours=96, minutes=30), "few"),
    ("complex-schedule-shorter-diff", cj("30 6-16/4 * * 1-5"), False, at(hours=24, minutes=31), TOP,
     at(hours=24, minutes=30), "few"),
    ("every-schedule-many-missed", cj("@every 1h", created=at(minutes=-59), last=at(minutes=1), deadline=10), False,
     at(days=7), at(minutes=1), at(days=6, hours=23, minutes=1), "many"),
    ("earliest-is-last-schedule-time-equal-to-creation", cj("0 * * * *", last=TOP), False, at(seconds=30), TOP,
     None, "none"),
    ("earliest-is-last-schedule-time", cj("*/5 * * * *", last=at(minutes=30)), False, at(minutes=31),
     at(minutes=30), None, "none"),
    ("earliest-is-last-schedule-time-within-deadline", cj("*/5 * * * *", last=at(minutes=30), deadline=60), False,
     at(minutes=31), at(minutes=30), None, "none"),
    ("earliest-is-now-minus-deadline-outside-it", cj("*/5 * * * *", last=at(minutes=30), deadline=60), True,
     at(minutes=32), at(minutes=31), None, "none"),
]


@pytest.mark.parametrize(("obj", "include", "now", "earliest", "recent", "missed"), [c[1:] for c in MOST_RECENT],
                         ids=[c[0] for c in MOST_RECENT])
def test_most_recent_schedule_time(obj: Any, include: bool, now: datetime, earliest: datetime,
                                   recent: datetime | None, missed: str) -> None:
    schedule = Schedule.parse(obj["spec"]["schedule"])
    assert most_recent_schedule_time(obj, now, schedule, include_deadline=include) == (earliest, recent, missed)


def test_most_recent_schedule_time_rejects_a_schedule_that_never_fires() -> None:
    with pytest.raises(ValueError, match="less than 1 second"):
        most_recent_schedule_time(cj("59 23 31 2 *", created=at(seconds=10)), at(hours=1), Schedule.parse(
            "59 23 31 2 *"), include_deadline=False)


T2 = at(hours=1)
#: (id, cronjob, now, activation to start) — TestNextScheduleTime cases 1-7
NEXT = [
    ("no-start-needed-yet", cj("0 * * * ?", created=at(minutes=-10)), at(minutes=-7), None),
    ("one-start-needed", cj("0 * * * ?", created=at(minutes=-10)), at(seconds=2), TOP),
    ("last-schedule-known-none-needed", cj("0 * * * ?", created=at(minutes=-10), last=TOP), at(minutes=2), None),
    ("last-schedule-known-one-needed", cj("0 * * * ?", created=at(minutes=-10), last=TOP), T2 + timedelta(minutes=5),
     T2),
    ("two-missed-starts-newest-runs", cj("0 * * * ?", created=at(hours=-2), last=at(hours=-1)),
     T2 + timedelta(minutes=5), T2),
    ("far-behind-without-deadline", cj("0 * * * ?", created=at(hours=-2), last=at(hours=-1)), T2 + timedelta(days=10),
     T2 + timedelta(days=10)),
    ("far-behind-with-short-deadline", cj("0 * * * ?", created=at(hours=-2), last=at(hours=-1), deadline=7200),
     T2 + timedelta(days=10), T2 + timedelta(days=10)),
]


@pytest.mark.parametrize(("obj", "now", "want"), [c[1:] for c in NEXT], ids=[c[0] for c in NEXT])
def test_next_schedule_time(obj: Any, now: datetime, want: datetime | None) -> None:
    assert next_schedule_time(obj, now, Schedule.parse(obj["spec"]["schedule"]))[0] == want


def test_next_schedule_time_reports_too_many_missed_starts() -> None:
    obj = cj("* * * * *", created=at(hours=-2))
    assert next_schedule_time(obj, at(hours=1), Schedule.parse("* * * * *")) == (at(hours=1), "many")
    assert next_schedule_time(obj, at(minutes=-119), Schedule.parse("* * * * *"))[1] == "none"


#: (id, cronjob, now, seconds until the next activation) — TestNextScheduleTimeDuration (+100 ms)
DURATIONS = [
    ("complex-schedule-skipping-weekend", cj("30 6-16/4 * * 1-5", last=at(minutes=30)), at(hours=24, minutes=31),
     3 * 3600 + 59 * 60),
    ("another-complex-schedule-skipping-weekend", cj("30 10,11,12 * * 1-5", last=at(minutes=30)),
     at(hours=30, minutes=30), 66 * 3600),
    ("weekly-missed-two-runs", cj("0 12 * * 4", last=at(hours=2)), at(days=19, hours=1, minutes=30),
     48 * 3600 + 30 * 60),
    ("no-previous-run", cj("0 12 * * 5"), at(hours=6), 20 * 3600),
]


@pytest.mark.parametrize(("obj", "now", "seconds"), [c[1:] for c in DURATIONS], ids=[c[0] for c in DURATIONS])
def test_requeue_after(obj: Any, now: datetime, seconds: int) -> None:
    assert requeue_after(obj, now, Schedule.parse(obj["spec"]["schedule"])) == pytest.approx(seconds + 0.1)


PARSE = [
    ("time-zone-field", "0 9 * * *", "Asia/Shanghai", datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
    ("cron-tz-prefix", "CRON_TZ=Asia/Shanghai 0 9 * * *", None, datetime(2026, 1, 1, 1, 0, tzinfo=UTC)),
    ("tz-prefix-wins-over-field", "TZ=America/New_York 0 9 * * *", "Asia/Shanghai",
     datetime(2026, 1, 1, 14, 0, tzinfo=UTC)),
    ("utc-by-default", "0 9 * * *", None, datetime(2026, 1, 1, 9, 0, tzinfo=UTC)),
    ("hourly-descriptor", "@hourly", None, datetime(2026, 1, 1, 0, 0, tzinfo=UTC) + timedelta(hours=1)),
    ("every-descriptor", "@every 90m", None, datetime(2026, 1, 1, 1, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("spec", "zone", "first"), [c[1:] for c in PARSE], ids=[c[0] for c in PARSE])
def test_schedule_next_after_new_year(spec: str, zone: str | None, first: datetime) -> None:
    assert Schedule.parse(spec, zone).next(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)) == first


@pytest.mark.parametrize(("spec", "zone", "message"), [
    ("* * *", None, "exactly 5 fields"),
    ("@fortnightly", None, "unrecognized descriptor"),
    ("61 * * * *", None, "failed to parse"),
    ("0 9 * * *", "Mars/Olympus", "unknown time zone Mars/Olympus"),
    ("CRON_TZ=Nowhere/Else 0 9 * * *", None, "unknown time zone Nowhere/Else"),
], ids=["too-few-fields", "unknown-descriptor", "minute-out-of-range", "unknown-zone", "unknown-prefix-zone"])
def test_schedule_parse_errors(spec: str, zone: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule.parse(spec, zone)


def test_job_name_is_the_activation_in_minutes() -> None:
    assert job_name("mycronjob", TOP) == f"mycronjob-{int(TOP.timestamp()) // 60}" == "mycronjob-24394200"
