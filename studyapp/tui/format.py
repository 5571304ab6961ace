"""Small pure helpers that turn study values into short display strings.

No Textual here: these are plain functions over dates and numbers, tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

SPARK = "▁▂▃▄▅▆▇█"

RATINGS: dict[int, str] = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


def short_date(day: date, today: date | None = None) -> str:
    """`today`, `tomorrow`, or `Tue 24 Nov` (the year only when it differs from today's)."""
    if today is not None:
        delta = (day - today).days
        if delta == 0:
            return "today"
        if delta == 1:
            return "tomorrow"
        if delta == -1:
            return "yesterday"
        if day.year != today.year:
            return f"{day:%a} {day.day} {day:%b %Y}"
    return f"{day:%a} {day.day} {day:%b}"


def overdue(day: date, today: date) -> str | None:
    """`1 day overdue`, `3 days overdue`; None when `day` is today or later."""
    late = (today - day).days
    if late <= 0:
        return None
    return f"{late} day{'s' if late != 1 else ''} overdue"


def interval_label(delta: timedelta) -> str:
    """An interval as a grade button shows it (Anki style): `1m`, `10m`, `3h`, `3d`,
    `1.5mo`, `2y`."""
    seconds = max(0.0, delta.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))}m"
    if seconds < 86400:
        return f"{round(seconds / 3600)}h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)}d"
    if days < 365:
        return f"{days / 30:.1f}".removesuffix(".0") + "mo"
    return f"{days / 365:.1f}".removesuffix(".0") + "y"


def countdown(delta: timedelta) -> str:
    """`9:58`, `1:02:03`: how long until something comes back."""
    total = max(0, int(delta.total_seconds() + 0.999))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def sparkline(counts: Sequence[int]) -> str:
    """One block character per value, scaled to the largest; zero is a dot."""
    top = max(counts, default=0)
    if top <= 0:
        return "·" * len(counts)
    out = []
    for n in counts:
        if n <= 0:
            out.append("·")
        else:
            out.append(SPARK[min(len(SPARK) - 1, round((n / top) * (len(SPARK) - 1)))])
    return "".join(out)


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def lesson_state_label(state: str, position: int, total: int, next_review: date | None,
                       today: date | None = None) -> str:
    """The state column of the lesson list."""
    if state == "broken":
        return "BROKEN"
    if state == "done":
        if next_review is not None:
            late = overdue(next_review, today) if today is not None else None
            return f"done · review {late or short_date(next_review, today)}"
        return "done"
    if state == "in_progress":
        return f"in progress · {min(position + 1, total)}/{total}" if total else "in progress"
    return "not started"
