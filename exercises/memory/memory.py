"""Trading memory for time: gradient accumulation, and what an effective batch is.

A batch of B examples needs memory for the activations of all B at once. Gradient
accumulation splits it into k micro-batches of B/k: each one runs forward and backward on
its own, the gradients add up in `.grad`, and the optimizer steps once after the k-th.
Only one micro-batch's activations are alive at a time, so memory falls; the price is k
smaller (slower per example) passes instead of one.

For the update to equal the big batch's, the gradients must add up to the gradient of the
big batch's MEAN loss. Each micro-batch's loss is already a mean over its own B/k
examples, so summing k of them gives k times too much: each one is scaled down first.

The run trains the same model four ways (one batch of B; B/k with k-step accumulation;
gradient checkpointing; mixed precision where the device supports it) and reports peak
memory, time per optimizer step and the loss of each in one table and one plot. It uses
your scaling to check, on the real model, that k scaled micro-batch gradients add up to
the big batch's gradient, and your bookkeeping to check the number of optimizer steps.

You write the parts marked `TODO(learner)`; `studyapp exercise check memory` runs the fast
checks and says what was expected and what was found.
"""

from __future__ import annotations

import torch


def scale_loss(loss: torch.Tensor, accumulation_steps: int) -> torch.Tensor:
    """The loss of one micro-batch, scaled so that the gradients of `accumulation_steps`
    micro-batches add up to the gradient of the mean loss over all of their examples
    (every micro-batch the same size). Keep it a tensor: backward runs through it."""
    # TODO(learner)
    raise NotImplementedError("scale_loss")


def effective_batch_size(micro_batch_size: int, accumulation_steps: int,
                         num_processes: int = 1) -> int:
    """How many examples are behind one optimizer update: each of `num_processes`
    data-parallel processes runs `accumulation_steps` micro-batches of
    `micro_batch_size` before the update."""
    # TODO(learner)
    raise NotImplementedError("effective_batch_size")


def optimizer_steps(num_examples: int, micro_batch_size: int, accumulation_steps: int,
                    epochs: int = 1, num_processes: int = 1) -> int:
    """How many optimizer updates training takes.

    Each process gets ceil(num_examples / num_processes) examples per epoch, cut into
    micro-batches of `micro_batch_size` (the last one may be smaller). An update happens
    after every `accumulation_steps` micro-batches, and once more at the end of an epoch
    for a last, incomplete group.
    """
    # TODO(learner)
    raise NotImplementedError("optimizer_steps")
