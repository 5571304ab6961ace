"""From adapter to a model you can ship: the reference solution. See export.py for the task."""

from __future__ import annotations

import torch


def merge_lora(weight: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor,
               alpha: float, r: int, fan_in_fan_out: bool = False) -> torch.Tensor:
    """W + (alpha / r) * (B @ A), transposed for a weight stored [in, out]."""
    delta = (lora_B @ lora_A) * (alpha / r)
    return weight + (delta.T if fan_in_fan_out else delta)


def output_agreement(logits_a: torch.Tensor, logits_b: torch.Tensor) -> tuple[float, float]:
    """(max |a - b|, share of rows with the same argmax)."""
    diff = float((logits_a - logits_b).abs().max())
    same = (logits_a.argmax(dim=-1) == logits_b.argmax(dim=-1)).float().mean()
    return diff, float(same)
