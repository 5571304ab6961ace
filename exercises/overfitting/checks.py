"""Fast checks of the learner's early_stopping.py: a tiny model, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def _feed(code, losses, patience=2, min_delta=0.0):
    """Feed losses one per step; return (stopper, the step it said stop at or None)."""
    model = _model()
    es = code.EarlyStopping(patience=patience, min_delta=min_delta)
    for step, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(step))      # the weights tell which step they are from
        if es.step(loss, model, step):
            return es, model, step
    return es, model, None


def check_stops_after_patience(code):
    """stops once `patience` evaluations in a row have not improved"""
    losses = [1.0, 0.8, 0.6, 0.65, 0.7, 0.5, 0.9, 0.95, 0.99]
    _, _, stopped = _feed(code, losses, patience=2)
    assert stopped == 4, (
        f"with patience=2 and validation losses {losses}, expected a stop at step 4 (steps 3 "
        f"and 4 did not improve on 0.6), found " +
        ("no stop at all" if stopped is None else f"a stop at step {stopped}"))
    _, _, stopped = _feed(code, losses, patience=3)
    assert stopped == 8, (
        f"with patience=3 and validation losses {losses}, expected a stop at step 8 (the count "
        "starts again after the improvement to 0.5 at step 5), found "
        + ("no stop at all" if stopped is None else f"a stop at step {stopped}"))


def check_best_loss_and_step(code):
    """remembers the best validation loss and its step"""
    es, _, _ = _feed(code, [1.0, 0.7, 0.9, 0.8], patience=5)
    assert getattr(es, "best_loss", None) == 0.7, (
        f"expected best_loss 0.7, found {getattr(es, 'best_loss', None)}")
    assert getattr(es, "best_step", None) == 1, (
        f"expected best_step 1, found {getattr(es, 'best_step', None)}")


def check_min_delta(code):
    """an improvement smaller than min_delta does not count"""
    es, _, stopped = _feed(code, [1.0, 0.99, 0.985, 0.98], patience=3, min_delta=0.05)
    assert stopped == 3, (
        "with min_delta=0.05, losses 1.0, 0.99, 0.985, 0.98 never improve by more than 0.05 "
        "after step 0: expected a stop at step 3 with patience=3, found "
        + ("no stop" if stopped is None else f"a stop at step {stopped}"))
    assert getattr(es, "best_loss", None) == 1.0, (
        f"expected best_loss to stay 1.0 (no improvement counted), found "
        f"{getattr(es, 'best_loss', None)}")


def check_nan_is_not_better(code):
    """a NaN validation loss (a diverged run) never counts as an improvement"""
    es, _, stopped = _feed(code, [1.0, math.nan, math.nan], patience=2)
    assert stopped == 2, (
        "losses 1.0, nan, nan with patience=2: expected a stop at step 2, found "
        + ("no stop" if stopped is None else f"a stop at step {stopped}"))
    assert getattr(es, "best_loss", None) == 1.0, (
        f"expected best_loss 1.0, found {getattr(es, 'best_loss', None)}")


def check_restore_best(code):
    """restore_best puts back a COPY of the weights from the best step"""
    es, model, _ = _feed(code, [1.0, 0.5, 0.9, 0.95, 0.99], patience=10)
    with torch.no_grad():
        model.weight.fill_(42.0)              # training went on after the best step
    es.restore_best(model)
    got = float(model.weight.detach()[0, 0])
    assert got == 1.0, (
        "the best validation loss was at step 1, so restore_best should bring back the weights "
        f"of step 1 (all 1.0 in this check), found {got}" + (
            ": the checkpoint shares tensors with the model; store copies "
            "({k: v.detach().clone() for k, v in model.state_dict().items()})"
            if got in (4.0, 42.0) else ""))
