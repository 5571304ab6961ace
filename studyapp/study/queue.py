"""Today's queue: due plan prompts, due cards, new cards, with the daily limits applied.

Order: plan prompts (oldest due first), then cards already being learned (most overdue
first), then new cards (course order). Limits count what was already done today:
at most `new_per_day` cards are introduced a day and at most `reviews_per_day` card
reviews are shown. Plan prompts are few and carry no limit.

`build_queue` is the one place the queue is assembled; the caller fetches the rows with
the room `rooms` leaves and passes the result on (to statistics, to "when next"), so one
home refresh builds it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol


@dataclass(frozen=True)
class Limits:
    new_per_day: int = 20
    reviews_per_day: int = 200


class Row(Protocol):
    id: str
    kind: str
    lesson_id: str
    prompt: str
    answer: str | None
    card_kind: str | None
    due_day: date


@dataclass(frozen=True)
class DueItem:
    id: str
    kind: str  # plan | card
    lesson_id: str
    lesson_title: str
    prompt: str
    answer: str | None
    context: str | None
    due: date
    card_kind: str | None  # quiz | concept | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "lesson": self.lesson_id,
            "lesson_title": self.lesson_title, "prompt": self.prompt, "answer": self.answer,
            "context": self.context, "due": self.due.isoformat(), "card_kind": self.card_kind,
        }


def rooms(limits: Limits, new_done_today: int, reviews_done_today: int) -> tuple[int, int]:
    """(new cards, reviews) still allowed today."""
    return (max(0, limits.new_per_day - new_done_today),
            max(0, limits.reviews_per_day - reviews_done_today))


Context = Callable[[str, str, str], str | None]  # (lesson id, kind, prompt) -> markdown


def build_queue(plan: Sequence[Row], reviews: Sequence[Row], new: Sequence[Row],
                titles: Mapping[str, str], context: Context, new_room: int,
                review_room: int) -> list[DueItem]:
    """Plan items, then due reviews and new cards cut to what today's limits still allow.

    An item without a reference answer gets `context(lesson, kind, prompt)`: the part of
    the lesson that answers it.
    """
    return [DueItem(r.id, r.kind, r.lesson_id, titles.get(r.lesson_id, r.lesson_id), r.prompt,
                    r.answer, None if r.answer else context(r.lesson_id, r.card_kind or "plan",
                                                            r.prompt),
                    r.due_day, r.card_kind)
            for r in (*plan, *reviews[:review_room], *new[:new_room])]


def next_review_date(queue: Sequence[DueItem], today: date, first_plan: date | None,
                     first_card: date | None, has_new: bool) -> date | None:
    """Today when the queue is not empty; else the first day something falls due (None:
    nothing is scheduled). Something due today but held back by today's limits falls to
    tomorrow, and so do new cards of completed lessons."""
    if queue:
        return today
    candidates = [d for d in (first_plan, first_card) if d is not None]
    if has_new:
        candidates.append(today + timedelta(days=1))
    if not candidates:
        return None
    return max(min(candidates), today + timedelta(days=1))
