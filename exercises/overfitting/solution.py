"""Overfitting and early stopping: the reference solution. See early_stopping.py."""

from __future__ import annotations

import math

from torch import nn


class EarlyStopping:
    def __init__(self, patience: int = 3, min_delta: float = 0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_step: int | None = None
        self.best_state: dict | None = None
        self.bad_evals = 0

    def step(self, val_loss: float, model: nn.Module, step: int) -> bool:
        """Record one evaluation; return True when training should stop."""
        if not math.isnan(val_loss) and val_loss < self.best_loss - self.min_delta:
            self.best_loss = float(val_loss)
            self.best_step = step
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.bad_evals = 0
            return False
        self.bad_evals += 1
        return self.bad_evals >= self.patience

    def restore_best(self, model: nn.Module) -> None:
        """Put the best weights back into `model`."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
