"""A small hyperparameter search: the reference solution. See sweep.py for the task."""

from __future__ import annotations

import math
from typing import Any


def search_space(learning_rates: list[float], ranks: list[int]) -> list[dict[str, Any]]:
    """The grid: every (lr, rank), alpha = 2 x rank."""
    return [{"lr": lr, "rank": rank, "alpha": 2 * rank}
            for lr in learning_rates for rank in ranks]


def select_best(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The finished trial with the lowest finite validation loss (the first on a tie)."""
    candidates = [t for t in trials if not t["pruned"] and t["val_loss"] is not None
                  and math.isfinite(t["val_loss"])]
    if not candidates:
        raise ValueError("no trial finished with a finite validation loss")
    return min(candidates, key=lambda t: t["val_loss"])
