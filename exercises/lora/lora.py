"""LoRA vs full fine-tuning: what a LoRA adapter adds, and how much of the model trains.

LoRA freezes a layer's weight W (out x in) and learns a low-rank update instead: two small
matrices A (r x in) and B (out x r), with r much smaller than in and out. The layer then
computes

    y = x @ W.T + b  +  (x @ A.T @ B.T) * (alpha / r)

B starts at zero, so at first the adapted model is exactly the base model. Only A and B
(and the new classification head) train: a tiny share of the parameters, so gradients and
optimizer states for the rest are never needed, and the saved adapter is small.

You write:
- `lora_delta`: the update LoRA adds to a layer's output (the part after the `+`, with the
  alpha / r scaling);
- `count_parameters`: how many parameters a model has, and how many of them train.

The run fine-tunes the same classifier with full fine-tuning and with LoRA (through peft),
reports trainable parameters, memory, time per step and test accuracy for each, and checks
your `lora_delta` against peft's own LoRA layer. Write the parts marked `TODO(learner)`;
`studyapp exercise check lora` runs the fast checks and says what was expected and what
was found.
"""

from __future__ import annotations

import torch
from torch import nn


def lora_delta(x: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor, alpha: float,
               r: int) -> torch.Tensor:
    """The LoRA update for inputs x [..., in]: (x @ A.T @ B.T) * (alpha / r), shape [..., out].

    lora_A: [r, in], lora_B: [out, r] (the shapes of peft's lora_A / lora_B weights).
    """
    # TODO(learner)
    raise NotImplementedError("lora_delta")


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total): the number of parameters (elements, not tensors) whose
    requires_grad is True, and of all parameters."""
    # TODO(learner)
    raise NotImplementedError("count_parameters")
