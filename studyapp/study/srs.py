"""FSRS scheduling through the `fsrs` package (py-fsrs), as pure functions over values.

A card's schedule is a `CardState` (frozen; `to_dict`/`from_dict` like py-fsrs's `Card`):
the columns of `card_state`, and what the review log keeps as JSON, so a log replays
exactly. `review` takes the state before (None for a new card), a rating, the UTC time and
the learner's day function, and returns the state after; nothing here reads a clock, a
file or the database. `parameters` are the 21 FSRS-6 weights (None: the defaults).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from fsrs import Card, Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}
STATE_NAMES = {1: "learning", 2: "review", 3: "relearning"}
DEFAULT_WEIGHTS: tuple[float, ...] = tuple(DEFAULT_PARAMETERS)

DayOf = Callable[[datetime], date]


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if dt else None


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CardState:
    """A scheduled card's FSRS state and the learner days derived from it.

    `due` is FSRS's due time (UTC); `due_day` the learner day it falls due on (a card in
    the Review state is due a whole number of days after the day it was reviewed, so a
    daylight-saving change cannot move it); `state` is `fsrs.State` (1 learning, 2 review,
    3 relearning).
    """

    due: datetime
    due_day: date
    state: int
    step: int | None = None
    stability: float | None = None
    difficulty: float | None = None
    last_review: datetime | None = None
    reps: int = 0
    lapses: int = 0
    first_review_day: date | None = None

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, str(self.state))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the form the review log keeps)."""
        return {
            "due": _iso(self.due), "due_day": self.due_day.isoformat(), "state": self.state,
            "step": self.step, "stability": self.stability, "difficulty": self.difficulty,
            "last_review": _iso(self.last_review), "reps": self.reps, "lapses": self.lapses,
            "first_review_day": (self.first_review_day.isoformat()
                                 if self.first_review_day else None),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CardState:
        """From `to_dict` output (older log rows without `due_day` use the due's date)."""
        due = _dt(d["due"])
        assert due is not None
        due_day = d.get("due_day")
        first = d.get("first_review_day")
        return cls(
            due=due,
            due_day=date.fromisoformat(due_day) if due_day else due.date(),
            state=int(d["state"]),
            step=d.get("step"),
            stability=d.get("stability"),
            difficulty=d.get("difficulty"),
            last_review=_dt(d.get("last_review")),
            reps=int(d.get("reps") or 0),
            lapses=int(d.get("lapses") or 0),
            first_review_day=date.fromisoformat(first) if first else None,
        )


def check_weights(weights: Sequence[float]) -> tuple[float, ...]:
    """The weights as a tuple, or ValueError saying which one is out of FSRS's bounds."""
    Scheduler(parameters=tuple(float(w) for w in weights))  # validates count and bounds
    return tuple(float(w) for w in weights)


@lru_cache(maxsize=16)
def scheduler(desired_retention: float = 0.9, fuzz: bool = True,
              weights: tuple[float, ...] | None = None) -> Scheduler:
    return Scheduler(parameters=weights or DEFAULT_WEIGHTS,
                     desired_retention=desired_retention, enable_fuzzing=fuzz)


def _fsrs_id(card_id: str) -> int:
    # a stable int for fsrs.Card (which otherwise sleeps 1 ms to make a time-based id)
    return zlib.crc32(card_id.encode("utf-8"))


def to_card(card_id: str, state: CardState | None, now: datetime) -> Card:
    """An fsrs.Card for a stored state (a new card when `state` is None)."""
    if state is None:
        return Card(card_id=_fsrs_id(card_id), due=now)
    return Card(card_id=_fsrs_id(card_id), state=State(state.state), step=state.step,
                stability=state.stability, difficulty=state.difficulty, due=state.due,
                last_review=state.last_review)


def due_day(card: Card, now: datetime, today: date, day_of: DayOf) -> date:
    """The learner day a card falls due after a review at `now` (learner day `today`).

    A card in the Review state is due `n` whole days after the day it was reviewed, n being
    FSRS's interval rounded to days; a learning card (minutes) is due on the day its due
    time falls in.
    """
    if card.state == State.Review:
        days = round((card.due - now).total_seconds() / 86400)
        return today + timedelta(days=max(days, 0))
    return day_of(card.due)


def review(card_id: str, before: CardState | None, rating: int, now: datetime,
           day_of: DayOf, desired_retention: float = 0.9, fuzz: bool = True,
           weights: tuple[float, ...] | None = None) -> CardState:
    """The card's state after answering it with `rating` (1-4) at `now` (aware)."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be 1-4 (Again, Hard, Good, Easy), not {rating!r}")
    now = now.astimezone(UTC)
    today = day_of(now)
    card = to_card(card_id, before, now)
    was_review = card.state == State.Review
    after, _log = scheduler(desired_retention, fuzz, weights).review_card(
        card, Rating(rating), now)
    return CardState(
        due=after.due, due_day=due_day(after, now, today, day_of), state=int(after.state),
        step=after.step, stability=after.stability, difficulty=after.difficulty,
        last_review=after.last_review,
        reps=(before.reps if before else 0) + 1,
        lapses=(before.lapses if before else 0) + (1 if was_review and rating == 1 else 0),
        first_review_day=(before.first_review_day if before and before.first_review_day
                          else today),
    )


def next_intervals(card_id: str, before: CardState | None, now: datetime, day_of: DayOf,
                   desired_retention: float = 0.9,
                   weights: tuple[float, ...] | None = None) -> dict[int, timedelta]:
    """For each rating, how long until the card is due again if answered so now.

    Without fuzz (the label shows what FSRS computes; the grade itself may add fuzz).
    """
    out = {}
    for rating in RATINGS:
        after = review(card_id, before, rating, now, day_of, desired_retention, False, weights)
        out[rating] = after.due - now.astimezone(UTC)
    return out


def retrievability(state: CardState, now: datetime,
                   weights: tuple[float, ...] | None = None) -> float:
    return scheduler(0.9, False, weights).get_card_retrievability(
        to_card("x", state, now), now)
