"""DEPRECATED, to be deleted: the classification pieces, kept only while
training/tasks/lora.py and overfitting.py import `last_token_logits` from here. The
classification task no longer uses it (a run's code is always the exercise's:
codecheck.load_learner_code); port those tasks onto the engine, then delete this module."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def freeze_all_but_last(model: nn.Module, blocks: list[nn.Module], final_norm: nn.Module | None,
                        head: list[nn.Module], trainable_blocks: int) -> None:
    """Freeze everything, then train the last `trainable_blocks` blocks (all when < 0),
    the final norm and the head."""
    train_all = trainable_blocks < 0 or trainable_blocks >= len(blocks)
    for p in model.parameters():
        p.requires_grad = train_all
    parts = list(blocks[len(blocks) - trainable_blocks:]) if trainable_blocks > 0 else []
    parts += [m for m in [final_norm, *head] if m is not None]
    for module in parts:
        for p in module.parameters():
            p.requires_grad = True


def last_token_logits(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T, C] -> [B, C] at each row's last real (mask = 1) position, whatever the padding
    side."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (positions * attention_mask).argmax(dim=1)
    return logits[torch.arange(logits.shape[0], device=logits.device), last]


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(dim=-1) == labels).float().mean().item()
