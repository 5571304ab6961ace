"""A small hyperparameter search: LoRA's learning rate and rank, chosen on validation loss.

Every trial fine-tunes the same pretrained classifier with LoRA from the same start, with
one (learning rate, rank) pair, and is recorded as a run of its own. A trial whose
validation loss at its first evaluation is hopeless (not finite, diverging, or far behind
the best trial so far) is pruned: it stops there, and the time
goes to the next one.

The validation set decides; the test set is touched once, at the very end, for the chosen
configuration and for the untuned default, so the comparison between them is honest.
Choosing on the test set would make its score just another number you tuned.

You write:
- `search_space`: the grid, every learning rate with every rank, with alpha = 2 x rank
  (so the scale alpha / r stays the same while the rank changes);
- `select_best`: the trial to keep, from what the validation set says.

Write the parts marked `TODO(learner)`; `studyapp exercise check sweep` runs the fast
checks and says what was expected and what was found.
"""

from __future__ import annotations

from typing import Any


def search_space(learning_rates: list[float], ranks: list[int]) -> list[dict[str, Any]]:
    """Every combination of a learning rate and a rank, as
    `{"lr": lr, "rank": rank, "alpha": 2 * rank}`: learning rates in the outer loop, ranks
    in the inner one (so the trials run in a predictable order)."""
    # TODO(learner)
    raise NotImplementedError("search_space")


def select_best(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial to keep: the one with the lowest final validation loss.

    Each trial is a dict with at least `"settings"` (its lr, rank, alpha), `"val_loss"`
    (the validation loss it ended with: a float, NaN when it diverged, or None when it
    never got one) and `"pruned"` (True when it was stopped early). Pruned trials and
    trials without a finite validation loss are never chosen; on a tie the earlier trial
    wins. Raise ValueError when no trial can be chosen.
    """
    # TODO(learner)
    raise NotImplementedError("select_best")
