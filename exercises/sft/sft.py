"""Instruction fine-tuning (SFT): teach a causal LM to answer in a given style.

Each training pair is an instruction (plus an optional input) and the response we want.
The pair is written with a prompt template, and the model reads

    prompt tokens ............ response tokens ...... <end of text>

A causal LM predicts every next token, but we only want it to learn to produce the
RESPONSE: the prompt is given at inference time, so the loss on it is wasted (and teaches
the model to write questions). So the labels are a copy of the input ids with every prompt
position replaced by -100, which PyTorch's cross-entropy ignores.

You write:
- `build_example`: input ids and labels for one pair, prompt positions masked with -100;
- `response_loss`: the loss of a batch, counting only labels that are not -100. The model's
  logits at position t predict the token at position t + 1, so shift before comparing.

Write the parts marked `TODO(learner)`. `studyapp exercise check sft` runs the fast checks
(tiny tensors, seconds) and says what was expected and what was found.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401 - you will want it

IGNORE = -100   # the label value cross-entropy skips

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"
PROMPT_TEMPLATE_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"


def format_prompt(instruction: str, input: str = "") -> str:
    """The prompt template (given): the same at training and at answer time."""
    if input.strip():
        return PROMPT_TEMPLATE_WITH_INPUT.format(instruction=instruction.strip(),
                                                 input=input.strip())
    return PROMPT_TEMPLATE.format(instruction=instruction.strip())


def build_example(prompt_ids: list[int], response_ids: list[int], eos_id: int,
                  max_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one training pair.

    input_ids = prompt_ids + response_ids + [eos_id], cut to at most `max_length` tokens
    (cut from the end). labels has the same length: IGNORE (-100) at every prompt
    position, the token itself at every response position and at the end token.
    """
    # TODO(learner)
    raise NotImplementedError("build_example")


def response_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the tokens whose label is not IGNORE (a scalar tensor).

    logits: [B, T, V], labels: [B, T] (IGNORE at prompt and padding positions). The
    logits at position t predict the token at t + 1: compare logits[:, :-1] with
    labels[:, 1:].
    """
    # TODO(learner)
    raise NotImplementedError("response_loss")
