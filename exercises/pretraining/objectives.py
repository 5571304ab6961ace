"""Pretraining objectives: the masking of a masked language model, and perplexity.

A causal LM (GPT) learns by predicting every next token from the ones before it; its labels
are the inputs themselves (the model shifts them by one). A masked LM (BERT) instead hides
some tokens and predicts them from BOTH sides. Which tokens are hidden, and how, is the
part you write here, following BERT's recipe:

- each ordinary token is picked as a prediction target with probability `mask_prob` (15%);
- of the picked tokens, 80% are replaced by the [MASK] token, 10% by a random token id,
  and 10% are left unchanged (but still predicted: the model cannot tell which ones);
- the labels hold the ORIGINAL token where a token was picked and -100 everywhere else
  (PyTorch's cross-entropy ignores -100, so only the picked tokens count in the loss);
- positions where `special_mask` is True (padding, [CLS], [SEP]) are never picked.

`studyapp exercise check pretraining` runs the fast checks on tiny tensors and says what
was expected and what was found; `studyapp exercise hint pretraining` gives a hint.
Write the parts marked `TODO(learner)`.
"""

from __future__ import annotations

import math  # noqa: F401 - you will want it

import torch


def mask_tokens(input_ids: torch.Tensor, mask_token_id: int, vocab_size: int,
                mask_prob: float = 0.15, special_mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking of a batch of token ids [B, T].

    Returns (masked_input_ids, labels), both [B, T]. Do not change `input_ids` in place.
    Draw every random number with `generator` (torch.rand(..., generator=generator),
    torch.randint(..., generator=generator)) so that a run can be repeated exactly.
    """
    if special_mask is None:
        special_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    # TODO(learner): pick the targets (probability mask_prob, never where special_mask),
    # build the labels (original id at targets, -100 elsewhere), then replace 80% of the
    # targets with mask_token_id and 10% with a random id in range(vocab_size).
    raise NotImplementedError("mask_tokens")


def perplexity(mean_loss: float) -> float:
    """Perplexity from a mean cross-entropy loss in nats: how many equally likely choices
    the model is, on average, hesitating between."""
    # TODO(learner)
    raise NotImplementedError("perplexity")
