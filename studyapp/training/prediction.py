"""Predict, then run: the headline outcome of an exercise the learner predicts (pure).

An exercise names its headline outcome in `exercise.toml`:

    [prediction]
    metric = "accuracy"                   # the run's metric that is the outcome
    question = "What test accuracy will the classifier reach?"
    kind = "fraction"                     # fraction (0-1, or written as 97%) | integer
    tolerance = 0.1                       # further off than this is "far off"
    scale = "linear"                      # linear: |p - o|; log: |log10 p - log10 o|
    concepts = ["last-token", "freezing"] # the lesson's concept cards it tests (empty: all)

Before a run the learner gives a value (`exercise run --predict VALUE`, or the exercise
screen asks); after it, `judge` compares it with the outcome. A far-off prediction makes
the linked concept cards due soon (see `services.predictions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("fraction", "integer")
SCALES = ("linear", "log")


class PredictionError(ValueError):
    """A bad prediction value or a bad [prediction] table; the message says which."""


@dataclass(frozen=True)
class PredictionSpec:
    metric: str
    question: str
    kind: str = "fraction"
    tolerance: float = 0.1
    scale: str = "linear"
    concepts: tuple[str, ...] = ()

    @classmethod
    def from_toml(cls, raw: Any, where: str) -> PredictionSpec:
        if not isinstance(raw, dict):
            raise PredictionError(f"{where}: [prediction] must be a table")
        try:
            spec = cls(metric=str(raw["metric"]), question=str(raw["question"]),
                       kind=str(raw.get("kind", "fraction")),
                       tolerance=float(raw.get("tolerance", 0.1)),
                       scale=str(raw.get("scale", "linear")),
                       concepts=tuple(str(c) for c in raw.get("concepts", ())))
        except KeyError as exc:
            raise PredictionError(f"{where}: [prediction] needs {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise PredictionError(f"{where}: [prediction]: {exc}") from None
        if spec.kind not in KINDS:
            raise PredictionError(f"{where}: [prediction] kind {spec.kind!r}: use "
                                  f"{' or '.join(KINDS)}")
        if spec.scale not in SCALES:
            raise PredictionError(f"{where}: [prediction] scale {spec.scale!r}: use "
                                  f"{' or '.join(SCALES)}")
        if not (spec.tolerance > 0 and math.isfinite(spec.tolerance)):
            raise PredictionError(f"{where}: [prediction] tolerance must be above 0")
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "question": self.question, "kind": self.kind,
                "tolerance": self.tolerance, "scale": self.scale,
                "concepts": list(self.concepts)}

    def hint(self) -> str:
        return ("a share from 0 to 1, or a percentage like 85%" if self.kind == "fraction"
                else "a whole number")

    def parse(self, text: str) -> float:
        """The learner's value; PredictionError naming the value and what is allowed."""
        raw = str(text).strip()
        try:
            if self.kind == "fraction":
                value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
                if not (math.isfinite(value) and 0 <= value <= 1):
                    raise ValueError
                if self.scale == "log" and value <= 0:
                    raise ValueError
                return value
            number = int(raw)
            if number < 0 or number > 1_000_000:
                raise ValueError
            return float(number)
        except ValueError:
            raise PredictionError(f"prediction {raw!r} for {self.metric}: give "
                                  f"{self.hint()}") from None

    def show(self, value: float | None) -> str:
        if value is None:
            return "-"
        if self.kind == "integer":
            return str(round(value))
        return f"{value:.1%}" if value >= 0.1 else f"{value:.2%}"

    def error(self, predicted: float, outcome: float) -> float:
        """How far off the prediction was, in the spec's scale."""
        if self.scale == "log":
            return abs(math.log10(max(predicted, 1e-12)) - math.log10(max(outcome, 1e-12)))
        return abs(predicted - outcome)

    def judge(self, predicted: float, outcome: float | None) -> Verdict:
        if outcome is None or not math.isfinite(outcome):
            return Verdict(predicted, None, None, False)
        err = self.error(predicted, outcome)
        return Verdict(predicted, float(outcome), err, err > self.tolerance)


@dataclass(frozen=True)
class Verdict:
    predicted: float
    outcome: float | None        # None: the run ended without the outcome (failed, cancelled)
    error: float | None
    far: bool

    def to_dict(self) -> dict[str, Any]:
        return {"predicted": self.predicted, "outcome": self.outcome, "error": self.error,
                "far": self.far}


def prediction_spec(extra: dict[str, Any], where: str) -> PredictionSpec | None:
    """The exercise's [prediction] table (kept in `Exercise.extra`), or None."""
    raw = extra.get("prediction")
    return None if raw is None else PredictionSpec.from_toml(raw, where)
