"""Overfitting and early stopping: the rule that ends training at the right time.

Fine-tuned on too little data for too many epochs, a model's training loss keeps falling
while its validation loss reaches a minimum and then turns up: from there on it memorises
the training set instead of learning the task. Early stopping watches the validation loss
after each evaluation and

- remembers the best (lowest) validation loss so far, and a COPY of the model's weights at
  that moment (the best checkpoint) and the step it happened at;
- counts the evaluations since the last improvement; an evaluation improves only if it is
  lower than the best by more than `min_delta`; a NaN loss never improves;
- says "stop" once `patience` evaluations in a row have not improved;
- at the end, puts the best weights back into the model (`restore_best`).

The run calls `step(val_loss, model, step)` after every evaluation (the first one before
any training, at step 0), stops when it returns True, then calls `restore_best(model)`.

Careful: `model.state_dict()` returns the model's live tensors, which change as training
goes on. A checkpoint must be a copy: `{k: v.detach().clone() for k, v in ...items()}`.

Write the parts marked `TODO(learner)`; `studyapp exercise check overfitting` checks them
on a tiny model and says what was expected and what was found.
"""

from __future__ import annotations

import math

from torch import nn


class EarlyStopping:
    def __init__(self, patience: int = 3, min_delta: float = 0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf          # the lowest validation loss seen so far
        self.best_step: int | None = None  # the step it was seen at
        self.best_state: dict | None = None  # a copy of the weights at that step
        self.bad_evals = 0                 # evaluations since the last improvement

    def step(self, val_loss: float, model: nn.Module, step: int) -> bool:
        """Record one evaluation; return True when training should stop."""
        # TODO(learner): improvement -> remember loss, step and a copy of the weights,
        # reset the count; otherwise count one more bad evaluation. Stop at `patience`.
        raise NotImplementedError("EarlyStopping.step")

    def restore_best(self, model: nn.Module) -> None:
        """Put the best weights back into `model` (nothing to do if none were saved)."""
        # TODO(learner)
        raise NotImplementedError("EarlyStopping.restore_best")
