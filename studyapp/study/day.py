"""The learner's day.

A learner's day starts at `start_hour` (default 4:00, as in Anki) local time in the
learner's time zone: a review at 03:30 counts for the day before. Stored times are UTC;
conversions go through `zoneinfo`, so a daylight-saving change moves no due day: a day is
a calendar date, and its start is computed from the wall clock of that date.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_START_HOUR = 4


def resolve_timezone(name: str | None) -> tzinfo:
    """A time zone by IANA name; empty/None/"local" means the system's zone.

    The local zone is found from $TZ or /etc/localtime (so DST rules apply); when neither
    names an IANA zone, the current fixed UTC offset is used.
    """
    if name and name.lower() != "local":
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as "
                             "Europe/Sofia)") from exc
    return local_timezone()


def local_timezone() -> tzinfo:
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        link = Path("/etc/localtime").resolve()
        parts = link.parts
        if "zoneinfo" in parts:
            return ZoneInfo("/".join(parts[parts.index("zoneinfo") + 1:]))
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return datetime.now().astimezone().tzinfo or UTC


def learner_day(moment: datetime, tz: tzinfo, start_hour: int = DEFAULT_START_HOUR) -> date:
    """The learner's day that `moment` (aware) falls in."""
    if moment.tzinfo is None:
        raise ValueError("learner_day needs an aware datetime")
    local = moment.astimezone(tz).replace(tzinfo=None)  # wall clock
    return (local - timedelta(hours=start_hour)).date()


def day_start(day: date, tz: tzinfo, start_hour: int = DEFAULT_START_HOUR) -> datetime:
    """The UTC instant at which learner day `day` begins."""
    local = datetime.combine(day, time(hour=start_hour)).replace(tzinfo=tz)
    return local.astimezone(UTC)


def day_end(day: date, tz: tzinfo, start_hour: int = DEFAULT_START_HOUR) -> datetime:
    """The UTC instant at which learner day `day` ends (= the next day's start)."""
    return day_start(day + timedelta(days=1), tz, start_hour)


def utc_text(moment: datetime) -> str:
    """Fixed-width UTC ISO text; text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def parse_utc(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
