"""Small pure helpers that turn study values into short display strings.

No Textual here: these are plain functions over dates and numbers, tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

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
            return f"done · review {short_date(next_review, today)}"
        return "done"
    if state == "in_progress":
        return f"in progress · {min(position + 1, total)}/{total}" if total else "in progress"
    return "not started"
