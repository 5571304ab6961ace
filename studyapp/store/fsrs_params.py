"""The FSRS parameters fitted to the learner's review log (`studyapp optimize --apply`).

Each applied fit is a row of `fsrs_parameters`; the newest is the one in use, and no row
means py-fsrs's default parameters.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AppliedFit:
    applied_at: str
    parameters: tuple[float, ...]
    reviews: int
    log_loss_default: float | None
    log_loss_fitted: float | None
    rmse_default: float | None
    rmse_fitted: float | None


def current_fit(conn: sqlite3.Connection) -> AppliedFit | None:
    row = conn.execute(
        "SELECT applied_at, parameters, reviews, log_loss_default, log_loss_fitted, "
        "rmse_default, rmse_fitted FROM fsrs_parameters ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return AppliedFit(row[0], tuple(float(w) for w in json.loads(row[1])), *row[2:])


def apply_fit(conn: sqlite3.Connection, stamp: str, parameters: Sequence[float], reviews: int,
              log_loss: tuple[float, float], rmse: tuple[float, float]) -> None:
    """Record a fit as the parameters in use (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO fsrs_parameters (applied_at, parameters, reviews, log_loss_default, "
        "log_loss_fitted, rmse_default, rmse_fitted) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (stamp, json.dumps([float(w) for w in parameters]), reviews, *log_loss, *rmse))
