"""Trading memory for time: the reference solution. See memory.py for the task."""

from __future__ import annotations

import math

import torch


def scale_loss(loss: torch.Tensor, accumulation_steps: int) -> torch.Tensor:
    """Each micro-batch's mean loss, divided by the number of micro-batches."""
    return loss / accumulation_steps


def effective_batch_size(micro_batch_size: int, accumulation_steps: int,
                         num_processes: int = 1) -> int:
    """micro-batch x accumulation steps x processes."""
    return micro_batch_size * accumulation_steps * num_processes


def optimizer_steps(num_examples: int, micro_batch_size: int, accumulation_steps: int,
                    epochs: int = 1, num_processes: int = 1) -> int:
    """Updates per epoch (a last incomplete group still steps), times the epochs."""
    per_process = math.ceil(num_examples / num_processes)
    micro_batches = math.ceil(per_process / micro_batch_size)
    return math.ceil(micro_batches / accumulation_steps) * epochs
