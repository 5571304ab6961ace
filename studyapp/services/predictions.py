"""Predict, then run: ask for the headline outcome before a run, compare after it.

    spec = prediction_for(exercise)              # None: this exercise asks for none
    value = spec.parse("85%")                    # PredictionError with one clear line
    ... the run ...
    row = settle(study, exercise, run_id, value, result.metrics)

`settle` keeps prediction and outcome with the run (table run_predictions) and, when the
prediction was far off, makes the exercise's linked concept cards of its lesson due
tomorrow (`[prediction] concepts`, or all the lesson's concept cards): the learner's
picture of what the run would do was wrong, so the ideas behind it come back soon.
"""

from __future__ import annotations

from typing import Any

from studyapp.services.study import StudyService
from studyapp.store.predictions import PredictionRow
from studyapp.training.catalog import Exercise
from studyapp.training.prediction import PredictionSpec, prediction_spec


def prediction_for(exercise: Exercise) -> PredictionSpec | None:
    """The exercise's [prediction] (PredictionError when it is malformed), or None."""
    return prediction_spec(getattr(exercise, "extra", None) or {}, f"exercise {exercise.id!r}")


def settle(study: StudyService, exercise: Exercise, run_id: str, predicted: float,
           metrics: dict[str, Any] | None) -> PredictionRow:
    """Record the prediction against the run's outcome (None when the run gave none)."""
    spec = prediction_for(exercise)
    if spec is None:
        raise ValueError(f"exercise {exercise.id!r} asks for no prediction")
    raw = (metrics or {}).get(spec.metric)
    outcome = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    verdict = spec.judge(predicted, outcome)
    moved: list[str] = []
    if verdict.far:
        moved = study.bring_forward(exercise.lesson, ("concept",), spec.concepts)
    row = PredictionRow(run_id, exercise.id, spec.metric, predicted, verdict.outcome,
                        verdict.error, verdict.far, tuple(moved), study.now())
    study.save_prediction(row)
    return row


def describe(spec: PredictionSpec, row: PredictionRow) -> str:
    """One line: what was predicted, what came out, and what follows."""
    text = f"you predicted {spec.show(row.predicted)}"
    if row.outcome is None:
        return text + "; the run ended without an outcome"
    text += f", the run gave {spec.show(row.outcome)}"
    if not row.far:
        return text + " (close)"
    n = len(row.cards_due)
    cards = (f"{n} concept card{'s' if n != 1 else ''} of the lesson due tomorrow" if n
             else "review the lesson's key concepts")
    return text + f" (far off: {cards})"
