"""LoRA vs full fine-tuning: the reference solution. See lora.py for the task."""

from __future__ import annotations

import torch
from torch import nn


def lora_delta(x: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor, alpha: float,
               r: int) -> torch.Tensor:
    """(x @ A.T @ B.T) * (alpha / r)."""
    return (x @ lora_A.T @ lora_B.T) * (alpha / r)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
