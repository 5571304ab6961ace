"""Predictions of runs' headline outcomes (predict, then run): table run_predictions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PredictionRow:
    run_id: str
    exercise: str
    metric: str
    predicted: float
    outcome: float | None
    error: float | None
    far: bool
    cards_due: tuple[str, ...]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "predicted": self.predicted, "outcome": self.outcome,
                "error": self.error, "far": self.far, "cards_due": list(self.cards_due)}


_COLS = "run_id, exercise, metric, predicted, outcome, error, far, cards_due, created_at"


def put_prediction(conn: sqlite3.Connection, row: PredictionRow) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO run_predictions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.run_id, row.exercise, row.metric, row.predicted, row.outcome, row.error,
         int(row.far), json.dumps(list(row.cards_due)), row.created_at.isoformat()))


def _row(r: tuple[Any, ...]) -> PredictionRow:
    return PredictionRow(r[0], r[1], r[2], float(r[3]), r[4], r[5], bool(r[6]),
                         tuple(json.loads(r[7] or "[]")), datetime.fromisoformat(r[8]))


def predictions_for(conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, PredictionRow]:
    ids = list(run_ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r[0]: _row(r) for r in conn.execute(
        f"SELECT {_COLS} FROM run_predictions WHERE run_id IN ({marks})", ids)}
