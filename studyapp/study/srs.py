"""FSRS scheduling through the `fsrs` package (py-fsrs), as pure functions over dicts.

A card's state is kept as a plain dict (the columns of `card_state`); `review` takes the
state before (None for a new card), a rating and the UTC time, and returns the state after.
The state dicts are what the review log stores as JSON, so a log replays exactly.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from fsrs import Card, Rating, Scheduler, State

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


@lru_cache(maxsize=16)
def scheduler(desired_retention: float = 0.9, fuzz: bool = True) -> Scheduler:
    return Scheduler(desired_retention=desired_retention, enable_fuzzing=fuzz)


def _fsrs_id(card_id: str) -> int:
    # a stable int for fsrs.Card (which otherwise sleeps 1 ms to make a time-based id)
    return zlib.crc32(card_id.encode("utf-8"))


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if dt else None


def to_card(card_id: str, state: dict[str, Any] | None, now: datetime) -> Card:
    """An fsrs.Card for a stored state (a new card when `state` is None)."""
    if state is None:
        return Card(card_id=_fsrs_id(card_id), due=now)
    return Card(
        card_id=_fsrs_id(card_id),
        state=State(int(state["state"])),
        step=state.get("step"),
        stability=state.get("stability"),
        difficulty=state.get("difficulty"),
        due=datetime.fromisoformat(state["due"]),
        last_review=datetime.fromisoformat(state["last_review"]) if state.get("last_review")
        else None,
    )


def from_card(card: Card, reps: int, lapses: int) -> dict[str, Any]:
    return {
        "due": _iso(card.due),
        "state": int(card.state),
        "step": card.step,
        "stability": card.stability,
        "difficulty": card.difficulty,
        "last_review": _iso(card.last_review),
        "reps": reps,
        "lapses": lapses,
    }


def review(
    card_id: str,
    state: dict[str, Any] | None,
    rating: int,
    now: datetime,
    desired_retention: float = 0.9,
    fuzz: bool = True,
) -> dict[str, Any]:
    """The card's state after answering it with `rating` (1-4) at `now` (aware)."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be 1-4 (Again, Hard, Good, Easy), not {rating!r}")
    now = now.astimezone(UTC)
    card = to_card(card_id, state, now)
    was_review = card.state == State.Review
    after, _log = scheduler(desired_retention, fuzz).review_card(card, Rating(rating), now)
    reps = (state or {}).get("reps", 0) + 1
    lapses = (state or {}).get("lapses", 0) + (1 if was_review and rating == 1 else 0)
    return from_card(after, reps, lapses)


def retrievability(state: dict[str, Any], now: datetime, desired_retention: float = 0.9) -> float:
    card = to_card("x", state, now)
    return scheduler(desired_retention, False).get_card_retrievability(card, now)


def due_day(after: dict[str, Any], now: datetime, today: date, day_of: Any) -> date:
    """The learner day a card falls due after a review at `now` (learner day `today`).

    A card in the Review state is due `n` whole days after the day it was reviewed, n being
    FSRS's interval rounded to days, so a daylight-saving change between the two days
    cannot move it to a neighbouring day. A learning card (minutes) is due on the day its
    due time falls in (`day_of(datetime) -> date`).
    """
    due = datetime.fromisoformat(after["due"])
    if int(after["state"]) == int(State.Review):
        days = round((due - now).total_seconds() / 86400)
        return today + timedelta(days=max(days, 0))
    return day_of(due)
