"""The learner's settings, kept in the `settings` table as text."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from studyapp.store.db import write_transaction

DEFAULTS: dict[str, str] = {
    "day_start_hour": "4",        # the learner's day starts at this local hour (0-23)
    "timezone": "local",          # IANA name (Europe/Sofia) or "local"
    "desired_retention": "0.9",   # FSRS target recall probability
    "new_per_day": "20",          # new cards introduced a day
    "reviews_per_day": "200",     # card reviews shown a day
    "fuzz": "1",                  # FSRS interval fuzz (1 on, 0 off)
    "suggest_grades": "1",        # suggest a grade for typed answers (1 on, 0 off)
}

DESCRIPTIONS: dict[str, str] = {
    "day_start_hour": "hour (0-23, local time) at which the learner's day starts",
    "timezone": "IANA time zone such as Europe/Sofia, or 'local'",
    "desired_retention": "FSRS desired retention (0.7-0.99)",
    "new_per_day": "new cards a day",
    "reviews_per_day": "card reviews a day",
    "fuzz": "FSRS interval fuzz: 1 on, 0 off",
    "suggest_grades": "suggested grade for typed answers in the review: 1 on, 0 off",
}


# whole-number settings: the values a learner may give them
RANGES: dict[str, tuple[int, int]] = {
    "day_start_hour": (0, 23),
    "new_per_day": (0, 10_000),
    "reviews_per_day": (0, 100_000),
}


@dataclass(frozen=True)
class StudySettings:
    day_start_hour: int = 4
    timezone: str = "local"
    desired_retention: float = 0.9
    new_per_day: int = 20
    reviews_per_day: int = 200
    fuzz: bool = True
    suggest_grades: bool = True


def validate(key: str, value: str) -> str:
    """The value normalised, or ValueError saying what is wrong."""
    if key not in DEFAULTS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(DEFAULTS)}")
    value = str(value).strip()
    if key in RANGES:
        low, high = RANGES[key]
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{key} wants a whole number from {low} to {high}, "
                             f"got {value[:40]!r}") from None
        if not low <= n <= high:
            raise ValueError(f"{key} must be from {low} to {high}, got {value[:40]}")
        return str(n)
    if key == "desired_retention":
        try:
            f = float(value)
        except ValueError:
            raise ValueError(f"desired_retention wants a number from 0.5 to 0.99, "
                             f"got {value[:40]!r}") from None
        if not 0.5 <= f < 1:        # also refuses nan and inf
            raise ValueError(f"desired_retention must be from 0.5 to 0.99, got {value[:40]}")
        return repr(f)
    if key in ("fuzz", "suggest_grades"):
        if value.lower() in ("1", "true", "on", "yes"):
            return "1"
        if value.lower() in ("0", "false", "off", "no"):
            return "0"
        raise ValueError(f"{key} must be 1 or 0")
    if key == "timezone":
        from studyapp.study.day import resolve_timezone

        resolve_timezone(value)
        return value or "local"
    return value


def raw_settings(conn: sqlite3.Connection) -> dict[str, str]:
    out = dict(DEFAULTS)
    out.update({k: v for k, v in conn.execute("SELECT key, value FROM settings")})
    return out


def load_settings(conn: sqlite3.Connection) -> StudySettings:
    raw = raw_settings(conn)
    for key, value in raw.items():   # a bad stored value (an old version) means its default
        if key in DEFAULTS:
            try:
                raw[key] = validate(key, value)
            except (ValueError, LookupError):
                raw[key] = DEFAULTS[key]
    return StudySettings(
        day_start_hour=int(raw["day_start_hour"]),
        timezone=raw["timezone"],
        desired_retention=float(raw["desired_retention"]),
        new_per_day=int(raw["new_per_day"]),
        reviews_per_day=int(raw["reviews_per_day"]),
        fuzz=raw["fuzz"] == "1",
        suggest_grades=raw["suggest_grades"] != "0",
    )


def set_setting(conn: sqlite3.Connection, key: str, value: str) -> str:
    value = validate(key, value)
    with write_transaction(conn):
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))
    return value
