"""FSRS parameters fitted to the learner's own review log, and how well parameters predict it.

Pure but for `fit`, which imports py-fsrs's optimizer (torch and pandas) when called, so
nothing else pays for it. A card's history is its answers in time order; a reset (rating
0 in the log) starts a new history, as the card is new again.

`evaluate` replays every history with the given parameters and, at each answer given on a
later day than the card's previous one (the answers the optimizer learns from), compares
the predicted recall probability R with what happened (recalled: Hard, Good or Easy):
- log loss: mean of -[y log R + (1 - y) log(1 - R)];
- RMSE: root of the mean of (R - y)^2.
Lower is better for both.

The optimizer needs `MIN_REVIEWS` such answers (its mini-batch): with fewer it returns
the default parameters unchanged.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsrs import Card, Rating, Scheduler

from studyapp.study.srs import DEFAULT_WEIGHTS

MIN_REVIEWS = 512  # fsrs.optimizer's mini_batch_size: below it, the defaults come back

History = list[tuple[datetime, int]]  # (UTC time, rating 1-4), oldest first


def histories(log: Iterable[tuple[str, str, int, Any]]) -> dict[str, History]:
    """Card histories from log rows `(card id, UTC ISO time, rating, ...)` in log order."""
    out: dict[str, History] = {}
    generation: dict[str, int] = {}
    for card_id, time, rating, *_rest in log:
        if rating == 0:  # a reset: what follows is a new card
            generation[card_id] = generation.get(card_id, 0) + 1
            continue
        if rating not in (1, 2, 3, 4):
            continue
        key = f"{card_id}#{generation.get(card_id, 0)}"
        moment = datetime.fromisoformat(time)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        out.setdefault(key, []).append((moment, rating))
    for h in out.values():
        h.sort(key=lambda t: t[0])
    return out


@dataclass(frozen=True)
class Evaluation:
    reviews: int  # answers that were predicted (a later day than the card's previous)
    log_loss: float | None
    rmse: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"reviews": self.reviews, "log_loss": self.log_loss, "rmse": self.rmse}


def evaluate(cards: dict[str, History], weights: Sequence[float] | None = None) -> Evaluation:
    """How well `weights` (None: the defaults) predict the histories; see the docstring."""
    scheduler = Scheduler(parameters=tuple(weights or DEFAULT_WEIGHTS), enable_fuzzing=False)
    n, loss, sq = 0, 0.0, 0.0
    for history in cards.values():
        card = Card(card_id=1, due=history[0][0])
        for moment, rating in history:
            if card.last_review is not None and (moment - card.last_review).days > 0:
                r = min(max(float(scheduler.get_card_retrievability(card, moment)), 1e-6),
                        1 - 1e-6)
                y = 1.0 if rating > 1 else 0.0
                loss -= y * math.log(r) + (1 - y) * math.log(1 - r)
                sq += (r - y) ** 2
                n += 1
            card, _ = scheduler.review_card(card, Rating(rating), moment)
    if not n:
        return Evaluation(0, None, None)
    return Evaluation(n, loss / n, math.sqrt(sq / n))


def fit(cards: dict[str, History]) -> tuple[float, ...]:
    """Parameters fitted by py-fsrs's optimizer (imports torch; seconds to minutes)."""
    from fsrs import ReviewLog
    from fsrs.optimizer import Optimizer

    logs = [ReviewLog(card_id=zlib.crc32(key.encode("utf-8")), rating=Rating(rating),
                      review_datetime=moment, review_duration=None)
            for key, history in cards.items() for moment, rating in history]
    return tuple(float(w) for w in Optimizer(logs).compute_optimal_parameters())
