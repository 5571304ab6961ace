"""Today's queue: due plan prompts, due cards, new cards, with the daily limits applied.

Order: plan prompts (oldest due first), then cards already being learned (most overdue
first), then new cards (course order). Limits count what was already done today:
at most `new_per_day` cards are introduced a day and at most `reviews_per_day` card
reviews are shown. Plan prompts are few and carry no limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Limits:
    new_per_day: int = 20
    reviews_per_day: int = 200


def build_queue(
    plan: Sequence[T],
    reviews: Sequence[T],
    new: Sequence[T],
    limits: Limits,
    new_done_today: int = 0,
    reviews_done_today: int = 0,
) -> list[T]:
    """Plan items, then due reviews and new cards cut to what today's limits still allow."""
    review_room = max(0, limits.reviews_per_day - reviews_done_today)
    new_room = max(0, limits.new_per_day - new_done_today)
    return [*plan, *reviews[:review_room], *new[:new_room]]


def rooms(limits: Limits, new_done_today: int, reviews_done_today: int) -> tuple[int, int]:
    """(new cards, reviews) still allowed today."""
    return (max(0, limits.new_per_day - new_done_today),
            max(0, limits.reviews_per_day - reviews_done_today))
