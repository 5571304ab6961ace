"""Spam or not: the pieces of a classification fine-tune that you write.

The engine loads a pretrained model, replaces its output head with a 2-way head
(ham = 0, spam = 1), and calls these four functions. Write the parts marked
`YOUR CODE HERE`; `studyapp exercise check spam` (and every run) checks them on tiny
tensors first and says what was expected and what was found.

Shapes: B messages in a batch, T tokens per message (padded), C classes (here 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401 - you will want it
from torch import nn


def last_token_logits(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The class logits at each message's last REAL token: [B, T, C] -> [B, C].

    A decoder only sees the whole message at its last token, so that is where the
    prediction is read. Messages are padded to the same length: attention_mask[b, t] is 1
    for a real token and 0 for padding. Do not pick a padding position, and do not assume
    the padding is on the right.
    """
    # YOUR CODE HERE
    raise NotImplementedError("last_token_logits")


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy between class logits [B, C] and true labels [B] (a scalar)."""
    # YOUR CODE HERE
    raise NotImplementedError("classification_loss")


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows (0.0 to 1.0) whose highest logit is the true label."""
    # YOUR CODE HERE
    raise NotImplementedError("accuracy")


def freeze_all_but_last(model: nn.Module, blocks: list[nn.Module],
                        final_norm: nn.Module | None, head: list[nn.Module],
                        trainable_blocks: int) -> None:
    """Make only these parameters trainable (requires_grad = True):
    the last `trainable_blocks` of `blocks`, the `final_norm` (if any) and every module in
    `head`. Everything else in `model` is frozen. `trainable_blocks < 0` means train all.
    """
    # YOUR CODE HERE
    raise NotImplementedError("freeze_all_but_last")
