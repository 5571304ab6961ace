"""Spam or not: the reference solution. See spam.py for what each function must do."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def last_token_logits(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The class logits at each message's last real token: [B, T, C] -> [B, C]."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (positions * attention_mask).argmax(dim=1)        # works for left or right padding
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, last]


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy between class logits [B, C] and labels [B]."""
    return F.cross_entropy(logits, labels)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of rows whose highest logit is the true label."""
    return (logits.argmax(dim=-1) == labels).float().mean().item()


def freeze_all_but_last(model: nn.Module, blocks: list[nn.Module],
                        final_norm: nn.Module | None, head: list[nn.Module],
                        trainable_blocks: int) -> None:
    """Train only the last `trainable_blocks` blocks, the final norm and the head."""
    if trainable_blocks < 0 or trainable_blocks >= len(blocks):
        for p in model.parameters():
            p.requires_grad = True
        return
    for p in model.parameters():
        p.requires_grad = False
    keep = list(blocks[len(blocks) - trainable_blocks:]) if trainable_blocks else []
    keep += [m for m in (final_norm, *head) if m is not None]
    for module in keep:
        for p in module.parameters():
            p.requires_grad = True
