"""Cron schedules for the CronJob controller: parsing (via croniter) and the upstream timing rules.

:class:`Schedule` accepts what kube-controller-manager's parser (robfig/cron ``ParseStandard``)
accepts: five fields, the descriptors ``@yearly @annually @monthly @weekly @daily @midnight
@hourly``, ``@every <Go duration>``, and a ``TZ=<zone>`` / ``CRON_TZ=<zone>`` prefix.
``Schedule.next(t)`` is the first activation strictly after ``t`` (whole seconds; ``@every d``
is ``t + d`` with ``t``'s sub-second part dropped, ``d`` rounded down to seconds, at least 1 s).

The functions below are pure ports of ``pkg/controller/cronjob/utils.go`` (v1.28) over
timezone-aware datetimes:

* :func:`most_recent_schedule_time` — the last unmet activation not after ``now``, starting
  from ``status.lastScheduleTime`` (else the creation time) or, if later, ``now -
  startingDeadlineSeconds``; and whether none, a few, or more than 100 activations were missed;
* :func:`next_schedule_time` — the activation to run now, if any;
* :func:`requeue_after` — seconds until the next activation (+100 ms, as upstream's
  ``nextScheduleDelta``);
* :func:`job_name` — ``<cronjob>-<scheduled time in minutes since the epoch>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from suanli.apimachinery.duration import parse_duration

__all__ = [
    "Missed",
    "Schedule",
    "job_name",
    "load_zone",
    "most_recent_schedule_time",
    "next_schedule_time",
    "requeue_after",
]

Missed = Literal["none", "few", "many"]

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
NEXT_SCHEDULE_DELTA = 0.1
TOO_MANY_MISSED = 100


def load_zone(name: str) -> tzinfo:
    """The IANA zone ``name`` (``""`` and ``"Local"``: UTC, the server's zone); ValueError if unknown."""
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name}") from err


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: a cron expression or a constant delay, evaluated in ``zone``."""

    expression: str
    zone: tzinfo
    every: float = 0.0

    @classmethod
    def parse(cls, spec: str, time_zone: str | None = None) -> Schedule:
        """Parse ``spec``; ``time_zone`` (``spec.timeZone``) applies unless the spec has its own prefix.

        Raises ValueError naming the problem (as robfig/cron's messages do).
        """
        text = spec.strip()
        zone = load_zone(time_zone or "")
        if text.startswith(("TZ=", "CRON_TZ=")):
            prefix, _, text = text.partition(" ")
            zone = load_zone(prefix.split("=", 1)[1])
            text = text.strip()
        if not text:
            raise ValueError("empty spec string")
        if text.startswith("@every"):
            seconds = int(parse_duration(text[len("@every"):].strip()))
            return cls(text, zone, every=float(max(seconds, 1)))
        if text.startswith("@"):
            if text not in _DESCRIPTORS:
                raise ValueError(f"unrecognized descriptor: {text}")
            expression = _DESCRIPTORS[text]
        else:
            if len(text.split()) != 5:
                raise ValueError(f"expected exactly 5 fields, found {len(text.split())}: {text}")
            expression = text
        if not croniter.is_valid(expression):
            raise ValueError(f"failed to parse schedule: {text}")
        return cls(expression, zone)

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after ``after``; None if the expression never fires (Feb 31)."""
        if self.every:
            return after.replace(microsecond=0) + timedelta(seconds=self.every)
        try:
            nxt: datetime = croniter(self.expression, after.astimezone(self.zone)).get_next(datetime)
        except CroniterBadDateError:
            return None
        return nxt


def _creation(cj: dict[str, object]) -> datetime:
    meta = cj.get("metadata") or {}
    assert isinstance(meta, dict)
    return _parse(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, UTC)


def _parse(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def most_recent_schedule_time(cj: dict[str, object], now: datetime, schedule: Schedule, *,
                              include_deadline: bool) -> tuple[datetime, datetime | None, Missed]:
    """``(earliest, most recent unmet activation or None, missed)``.

    Raises ValueError when two consecutive activations are less than a second apart (a
    schedule that never fires, such as ``59 23 31 2 *``). Example: created 10:00, schedule
    ``* * * * *``, now 10:05:30 → earliest 10:00, most recent 10:05, missed ``few``.
    """
    status = cj.get("status") or {}
    spec = cj.get("spec") or {}
    assert isinstance(status, dict) and isinstance(spec, dict)
    earliest = _parse(status.get("lastScheduleTime")) or _creation(cj)
    deadline = spec.get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, "none"
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, "none"
    if t1 is None or t2 is None or round((t2 - t1).total_seconds()) < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    between = round((t2 - t1).total_seconds())
    elapsed = int((now - t1).total_seconds())
    missed_count = elapsed // between + 1
    most_recent: datetime | None = None
    t: datetime | None = schedule.next(t1 + timedelta(seconds=(missed_count - 2) * between))
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    missed: Missed = "many" if missed_count > TOO_MANY_MISSED else "few" if missed_count > 1 else "none"
    return earliest, most_recent, missed


def next_schedule_time(cj: dict[str, object], now: datetime, schedule: Schedule) -> tuple[datetime | None, Missed]:
    """The activation to start now (or None) and how many were missed (``many`` → a warning Event)."""
    _, most_recent, missed = most_recent_schedule_time(cj, now, schedule, include_deadline=True)
    if most_recent is None or most_recent > now:
        return None, missed
    return most_recent, missed


def requeue_after(cj: dict[str, object], now: datetime, schedule: Schedule) -> float:
    """Seconds from ``now`` until the activation after the most recent one, plus 100 ms."""
    try:
        earliest, most_recent, missed = most_recent_schedule_time(cj, now, schedule, include_deadline=False)
        base = most_recent or (earliest if missed == "none" else now)
    except ValueError:
        base = now
    nxt = schedule.next(base)
    if nxt is None:
        return 3600.0
    return (nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cronjob: str, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch>`` of the scheduled time (deterministic per activation)."""
    return f"{cronjob}-{int(scheduled.timestamp()) // 60}"
