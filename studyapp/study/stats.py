"""Statistics of the study loop, pure: computed from counts the store hands over and from
today's queue as built once (so home's "due today" and the forecast's first day agree).

Series (each a list of `(date, value)` oldest first, so a plot draws them as they are):
- reviews per day over the last `days` learner days (zeros included);
- true retention per week: the share of answers to cards in the Review state graded Hard,
  Good or Easy, by the week (Monday) they fell in; weeks without such answers are left out;
- the forecast: what falls due on each of the next 30 days (today is the queue as it stands).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

FORECAST_DAYS = 30
CARD_STATES = ("new", "learning", "review", "suspended", "buried")


def forecast(today: date, due_today: int, plan_counts: Mapping[date, int],
             card_counts: Mapping[date, int], days: int = FORECAST_DAYS) -> list[tuple[date, int]]:
    """Items due on each of the next `days` days; anything overdue counts for today, and
    today itself is `due_today` (the queue with new cards and today's limits)."""
    counts = [0] * days
    for counts_by_day in (plan_counts, card_counts):
        for day, n in counts_by_day.items():
            idx = max(0, (day - today).days)
            if idx < days:
                counts[idx] += n
    counts[0] = due_today
    return [(today + timedelta(days=i), counts[i]) for i in range(days)]


def streak(today: date, answered: Callable[[date], bool]) -> int:
    """Days in a row with an answer, ending today (or yesterday, while today is not done)."""
    n = 0
    cursor = today if answered(today) else today - timedelta(days=1)
    while answered(cursor):
        n += 1
        cursor -= timedelta(days=1)
    return n


def daily(today: date, per_day: Mapping[date, int], days: int) -> list[tuple[date, int]]:
    start = today - timedelta(days=days - 1)
    return [(start + timedelta(days=i), per_day.get(start + timedelta(days=i), 0))
            for i in range(days)]


def weekly_retention(per_day: Mapping[date, tuple[int, int]]) -> list[tuple[date, float, int]]:
    """(Monday, retention, answers) for each week with answers to Review-state cards."""
    weeks: dict[date, list[int]] = {}
    for day, (n, passed) in per_day.items():
        monday = day - timedelta(days=day.weekday())
        w = weeks.setdefault(monday, [0, 0])
        w[0] += n
        w[1] += passed
    return [(m, w[1] / w[0], w[0]) for m, w in sorted(weeks.items()) if w[0]]


@dataclass(frozen=True)
class Series:
    """The plotted series (see the module docstring)."""

    reviews_per_day: tuple[tuple[date, int], ...]  # the last 90 days
    retention_per_week: tuple[tuple[date, float, int], ...]
    card_states: tuple[tuple[str, int], ...]  # CARD_STATES order
    forecast: tuple[tuple[date, int], ...]
    card_kinds: tuple[tuple[str, int], ...] = ()  # live cards by kind: quiz, concept, code

    def to_dict(self) -> dict[str, Any]:
        return {
            "reviews_per_day": [[d.isoformat(), n] for d, n in self.reviews_per_day],
            "retention_per_week": [{"week": d.isoformat(), "retention": r, "answers": n}
                                   for d, r, n in self.retention_per_week],
            "card_states": dict(self.card_states),
            "forecast": [[d.isoformat(), n] for d, n in self.forecast],
            "card_kinds": dict(self.card_kinds),
        }
