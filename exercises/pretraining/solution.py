"""Pretraining objectives: the reference solution. See objectives.py for the task."""

from __future__ import annotations

import math

import torch


def mask_tokens(input_ids: torch.Tensor, mask_token_id: int, vocab_size: int,
                mask_prob: float = 0.15, special_mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking: (masked_input_ids, labels with -100 where nothing is predicted)."""
    if special_mask is None:
        special_mask = torch.zeros_like(input_ids, dtype=torch.bool)
    shape = input_ids.shape
    # 1. pick the targets: each ordinary token with probability mask_prob
    picked = torch.rand(shape, generator=generator) < mask_prob
    picked &= ~special_mask.bool()
    labels = input_ids.masked_fill(~picked, -100)
    # 2. 80% of the targets become [MASK]
    inputs = input_ids.clone()
    roll = torch.rand(shape, generator=generator)
    to_mask = picked & (roll < 0.8)
    inputs[to_mask] = mask_token_id
    # 3. 10% become a random token; the last 10% stay as they are (still predicted)
    to_random = picked & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(vocab_size, shape, generator=generator, dtype=input_ids.dtype)
    inputs[to_random] = random_ids[to_random]
    return inputs, labels


def perplexity(mean_loss: float) -> float:
    """exp(mean cross-entropy in nats)."""
    return math.exp(mean_loss)
