"""From adapter to a model you can ship: merge LoRA into the weights, save, reload, export.

A LoRA layer computes W x + (alpha / r) B A x. Because B A is just a matrix of W's shape,
the update can be folded into the weight once, after training:

    W_merged = W + (alpha / r) * (B @ A)

The merged layer is a plain linear layer again: no peft needed to load it, no extra
matrix products at inference, and exactly the same outputs (up to float rounding). peft
does this with `merge_and_unload()`; here you write it yourself and the run compares the
two, layer by layer.

GPT-2 keeps its projections in `Conv1D` layers whose weight is stored transposed,
[in, out] instead of [out, in]; peft calls this `fan_in_fan_out`. The update must then be
added transposed too.

The run trains an adapter, merges it with your `merge_lora` and with peft, saves the
merged model with `save_pretrained` (safetensors), loads it back with `from_pretrained`,
exports it to ONNX where the exporter is installed, and checks with your
`output_agreement` that every copy answers held-out messages like the adapter model did.

Write the parts marked `TODO(learner)`; `studyapp exercise check export` runs the fast
checks and says what was expected and what was found.
"""

from __future__ import annotations

import torch


def merge_lora(weight: torch.Tensor, lora_A: torch.Tensor, lora_B: torch.Tensor,
               alpha: float, r: int, fan_in_fan_out: bool = False) -> torch.Tensor:
    """The merged weight W + (alpha / r) * (B @ A), as a new tensor (W itself unchanged).

    weight: [out, in] ([in, out] when fan_in_fan_out); lora_A: [r, in]; lora_B: [out, r].
    """
    # TODO(learner)
    raise NotImplementedError("merge_lora")


def output_agreement(logits_a: torch.Tensor, logits_b: torch.Tensor) -> tuple[float, float]:
    """How alike two models' answers to the same inputs are, logits [N, classes] each:
    (the largest absolute difference of any logit, the share of the N rows whose
    predicted class, the argmax, is the same in both)."""
    # TODO(learner)
    raise NotImplementedError("output_agreement")
