"""Instruction fine-tuning (SFT): the reference solution. See sft.py for the task."""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"
PROMPT_TEMPLATE_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt template: the same at training and at answer time."""
    if input.strip():
        return PROMPT_TEMPLATE_WITH_INPUT.format(instruction=instruction.strip(),
                                                 input=input.strip())
    return PROMPT_TEMPLATE.format(instruction=instruction.strip())


def build_example(prompt_ids: list[int], response_ids: list[int], eos_id: int,
                  max_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels): the prompt positions of the labels are IGNORE."""
    input_ids = list(prompt_ids) + list(response_ids) + [eos_id]
    labels = [IGNORE] * len(prompt_ids) + list(response_ids) + [eos_id]
    return input_ids[:max_length], labels[:max_length]


def response_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions on non-IGNORE labels."""
    shifted_logits = logits[:, :-1, :]
    shifted_labels = labels[:, 1:]
    return F.cross_entropy(shifted_logits.reshape(-1, shifted_logits.shape[-1]),
                           shifted_labels.reshape(-1), ignore_index=IGNORE)
