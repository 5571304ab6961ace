"""A suggested grade for a typed answer, from how close it is to the reference (pure).

Closeness starts from the cosine similarity between the sentence embeddings of the answer
and the reference (computed elsewhere: see `studyapp.services.suggest`). An answer that
echoes the question's own words is close to the reference for that reason alone, so when
the question is known the answer is demoted by how much more than a typical answer it
resembles the question ("question demoting", as in short-answer grading since Mohler et
al. 2011): closeness = similarity - QUESTION_WEIGHT * (question similarity -
TYPICAL_QUESTION_SIMILARITY). Without a question, closeness is the similarity. A
`Calibration` maps closeness to a rating with three thresholds: below the first is
Again (1), below the second Hard (2), below the third Good (3), from the third on Easy (4).

`DEFAULT_CALIBRATION` was set on the answers in `tests/data/suggest_answers.tsv` (graded by
us, not the evaluation set kept outside the project). `refit` adapts it to one learner:
once `MIN_GRADES` of the learner's own grades of typed answers exist, the thresholds that
best reproduce those grades (least absolute rating error, found exactly by dynamic
programming over the sorted similarities) are blended with the default, weighted by how
many grades there are (`PRIOR_GRADES` pseudo-grades stand for the default). The learner's
grade is always what counts; the suggestion is only shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

QUESTION_WEIGHT = 0.5
TYPICAL_QUESTION_SIMILARITY = 0.4
"""Both set on tests/data/suggest_answers.tsv (the median answer-question similarity)."""

MIN_GRADES = 30
"""Graded typed answers (with a reference answer) a learner needs before the refit."""

PRIOR_GRADES = 20
"""The default calibration counts as this many grades when blended with the learner's."""


@dataclass(frozen=True)
class Calibration:
    """Lowest similarity for Hard, Good and Easy; `grades`: learner grades it was fitted on."""

    thresholds: tuple[float, float, float]
    grades: int = 0

    def __post_init__(self) -> None:
        a, b, c = self.thresholds
        if not a <= b <= c:
            raise ValueError(f"thresholds must not decrease: {self.thresholds}")

    def rating(self, similarity: float) -> int:
        return 1 + sum(similarity >= t for t in self.thresholds)

    def to_dict(self) -> dict[str, Any]:
        return {"thresholds": list(self.thresholds), "grades": self.grades}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        a, b, c = (float(x) for x in data["thresholds"])
        return cls((a, b, c), int(data.get("grades", 0)))


DEFAULT_CALIBRATION = Calibration((0.55, 0.62, 0.78))


def closeness(similarity: float, question_similarity: float | None = None) -> float:
    """The answer's similarity to the reference, demoted when it echoes the question."""
    if question_similarity is None:
        return float(similarity)
    return float(similarity) - QUESTION_WEIGHT * (question_similarity
                                                   - TYPICAL_QUESTION_SIMILARITY)


@dataclass(frozen=True)
class Suggestion:
    similarity: float   # cosine similarity of the answer to the reference
    closeness: float    # what the rating is read from (see `closeness`)
    rating: int

    def to_dict(self) -> dict[str, Any]:
        return {"similarity": round(self.similarity, 4), "closeness": round(self.closeness, 4),
                "rating": self.rating}


def suggest(similarity: float, question_similarity: float | None = None,
            calibration: Calibration = DEFAULT_CALIBRATION) -> Suggestion:
    score = closeness(similarity, question_similarity)
    return Suggestion(float(similarity), score, calibration.rating(score))


def best_thresholds(pairs: Iterable[tuple[float, int]]) -> tuple[float, float, float]:
    """The thresholds whose ratings differ least (sum of |suggested - given|) from `pairs`
    of (closeness, rating 1-4). Equal similarities always get the same rating; a threshold
    lies half-way between the neighbouring similarities, or just beyond the data when no
    answer reaches (or every answer reaches) that rating."""
    groups: dict[float, list[int]] = {}
    for sim, rating in pairs:
        if rating not in (1, 2, 3, 4):
            raise ValueError(f"rating must be 1-4, not {rating}")
        groups.setdefault(float(sim), []).append(int(rating))
    if not groups:
        raise ValueError("no grades to fit")
    sims = sorted(groups)
    levels = (1, 2, 3, 4)
    inf = float("inf")
    # cost[k]: least error of the groups so far with the last one at level levels[k]
    cost = [0.0] * 4
    back: list[list[int]] = []
    for sim in sims:
        here = [sum(abs(level - r) for r in groups[sim]) for level in levels]
        new, choice = [inf] * 4, [0] * 4
        best, arg = inf, 0
        for k in range(4):
            if cost[k] < best:
                best, arg = cost[k], k
            new[k], choice[k] = best + here[k], arg
        cost = new
        back.append(choice)
    k = min(range(4), key=lambda i: cost[i])
    assigned = [0] * len(sims)
    for g in range(len(sims) - 1, -1, -1):
        assigned[g] = k
        k = back[g][k]
    out = []
    for level in (1, 2, 3):  # threshold between level index < level and >= level
        first = next((g for g, a in enumerate(assigned) if a >= level), None)
        if first is None:
            out.append(sims[-1] + 0.01)
        elif first == 0:
            out.append(sims[0] - 0.01)
        else:
            out.append((sims[first - 1] + sims[first]) / 2)
    return (out[0], out[1], out[2])


def refit(pairs: Sequence[tuple[float, int]], default: Calibration = DEFAULT_CALIBRATION,
          min_grades: int = MIN_GRADES, prior: int = PRIOR_GRADES) -> Calibration:
    """The learner's calibration: `default` until `min_grades` grades, then the best
    thresholds for them blended with `default` (weight n / (n + prior))."""
    n = len(pairs)
    if n < min_grades:
        return default
    fitted = best_thresholds(pairs)
    w = n / (n + prior)
    a, b, c = (w * f + (1 - w) * d for f, d in zip(fitted, default.thresholds))
    b, c = max(a, b), max(a, b, c)
    return Calibration((round(a, 4), round(b, 4), round(c, 4)), n)


@dataclass(frozen=True)
class GradedAnswer:
    """One of the learner's grades of a typed answer to a card with a reference answer."""

    question: str
    reference: str
    answer: str
    rating: int
