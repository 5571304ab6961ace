"""Today's queue: due plan prompts, due cards, new cards, with the daily limits applied.

Order: plan prompts (oldest due first), then cards already being learned (most overdue
first), then new cards (course order). Limits count what was already done today:
at most `new_per_day` cards are introduced a day and at most `reviews_per_day` card
reviews are shown. Plan prompts are few and carry no limit.

`build_queue` is the one place the queue is assembled; the caller fetches the rows with
the room `rooms` leaves and passes the result on (to statistics, to "when next"), so one
home refresh builds it once. Due reviews come as (card id, due day) and the texts only
of the cards the caller's `known` items lack are fetched: a rebuild after a grade reads
the schedule, not 200 card rows again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
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


class CardText(Protocol):
    lesson_id: str
    kind: str
    front: str
    back: str | None


Texts = Callable[[list[str]], Mapping[str, CardText]]  # card ids -> their text


def build_queue(plan: Sequence[Row], reviews: Sequence[tuple[str, date]],
                new: Sequence[Row], texts: Texts, titles: Mapping[str, str],
                context: Context, new_room: int, review_room: int,
                known: MutableMapping[str, DueItem] | None = None) -> list[DueItem]:
    """Plan items, then due reviews and new cards cut to what today's limits still allow.

    `reviews` are (card id, due day), most overdue first; `texts(ids)` gives the lesson,
    kind and text of those cards that `known` lacks. An item without a reference answer
    gets `context(lesson, kind, prompt)`: the part of the lesson that answers it.

    `known` (optional): items of earlier builds by id, kept by the caller while the cards'
    texts, the lesson titles and the lessons are unchanged (it drops them otherwise). An
    item found there is used again when it still matches: the same row for a plan step or
    a new card, the same due day for a review; what is built is added to it. The queue is
    the same with or without it.
    """
    known = {} if known is None else known
    out = [_from_row(r, titles, context, known) for r in plan]
    keys = reviews[:review_room]
    missing = [cid for cid, _day in keys if cid not in known]
    found = texts(missing) if missing else {}
    for cid, day in keys:
        item = known.get(cid)
        if item is None:
            t = found.get(cid)
            if t is None:
                continue  # a schedule whose card row is gone
            item = known[cid] = DueItem(
                cid, "card", t.lesson_id, titles.get(t.lesson_id, t.lesson_id), t.front,
                t.back, None if t.back else context(t.lesson_id, t.kind, t.front), day, t.kind)
        elif item.due != day:
            item = known[cid] = replace(item, due=day)
        out.append(item)
    out.extend(_from_row(r, titles, context, known) for r in new[:new_room])
    return out


def _from_row(r: Row, titles: Mapping[str, str], context: Context,
              known: MutableMapping[str, DueItem]) -> DueItem:
    item = known.get(r.id)
    if item is not None and item.due == r.due_day and item.prompt == r.prompt and \
            item.answer == r.answer and item.lesson_id == r.lesson_id and \
            item.kind == r.kind and item.card_kind == r.card_kind:
        return item
    item = DueItem(r.id, r.kind, r.lesson_id, titles.get(r.lesson_id, r.lesson_id), r.prompt,
                   r.answer, None if r.answer else context(r.lesson_id, r.card_kind or "plan",
                                                           r.prompt),
                   r.due_day, r.card_kind)
    known[r.id] = item
    return item


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
