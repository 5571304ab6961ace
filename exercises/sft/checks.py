"""Fast checks of the learner's sft.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PROMPT, RESPONSE, EOS = [11, 12, 13, 14], [21, 22, 23], 99


def _example(code, prompt=PROMPT, response=RESPONSE, max_length=64):
    out = code.build_example(list(prompt), list(response), EOS, max_length)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"expected build_example to return (input_ids, labels), found {type(out).__name__}")
    return list(out[0]), list(out[1])


def check_input_ids(code):
    """input_ids are prompt + response + end token"""
    ids, _ = _example(code)
    want = PROMPT + RESPONSE + [EOS]
    assert ids == want, f"expected input_ids {want}, found {ids}"


def check_prompt_masked(code):
    """labels are -100 at every prompt position and the token elsewhere"""
    ids, labels = _example(code)
    want = [-100] * len(PROMPT) + RESPONSE + [EOS]
    assert len(labels) == len(ids), (
        f"expected labels as long as input_ids ({len(ids)}), found {len(labels)}")
    assert labels[:len(PROMPT)] == [-100] * len(PROMPT), (
        f"expected -100 at the {len(PROMPT)} prompt positions, found {labels[:len(PROMPT)]}"
        + (" (the prompt is not masked: the model would learn to write prompts)"
           if labels[:len(PROMPT)] == PROMPT else ""))
    assert labels == want, (
        f"expected labels {want} for prompt {PROMPT} and response {RESPONSE} + end {EOS}, "
        f"found {labels}" + (" (the end token must be learned too, or the model never stops)"
                             if labels[-1] != EOS else ""))


def check_truncation(code):
    """examples longer than max_length are cut to max_length, labels too"""
    ids, labels = _example(code, max_length=6)
    assert len(ids) == 6 and len(labels) == 6, (
        f"with max_length=6 expected 6 input ids and 6 labels, found {len(ids)} and "
        f"{len(labels)}")
    assert ids == (PROMPT + RESPONSE)[:6] and labels == [-100] * 4 + RESPONSE[:2], (
        f"expected the first 6: input_ids {(PROMPT + RESPONSE)[:6]}, labels "
        f"{[-100] * 4 + RESPONSE[:2]}; found {ids} and {labels}")


def _batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 10, generator=g)
    labels = torch.tensor([[-100, -100, 3, 4, 5, -100],
                           [-100, 7, 8, 9, -100, -100]])
    return logits, labels


def _reference(logits, labels):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           labels[:, 1:].reshape(-1), ignore_index=-100)


def check_response_loss_value(code):
    """response_loss is the shifted cross-entropy over the non -100 labels"""
    logits, labels = _batch()
    out = code.response_loss(logits, labels)
    assert isinstance(out, torch.Tensor) and out.dim() == 0, (
        "expected a scalar tensor (so loss.backward() works), found "
        f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    want = _reference(logits, labels).item()
    got = out.item()
    unshifted = F.cross_entropy(logits.reshape(-1, 10), labels.reshape(-1),
                                ignore_index=-100).item()
    unmasked = F.cross_entropy(logits[:, :-1].reshape(-1, 10),
                               labels[:, 1:].clamp(min=0).reshape(-1)).item()
    why = ""
    if abs(got - unshifted) < 1e-5:
        why = (": that is the loss WITHOUT the shift; logits at position t predict the token "
               "at t + 1, so compare logits[:, :-1] with labels[:, 1:]")
    elif abs(got - unmasked) < 1e-5:
        why = ": the -100 positions were counted; pass ignore_index=-100"
    assert abs(got - want) < 1e-5, f"expected a loss of {want:.5f}, found {got:.5f}{why}"


def check_response_loss_ignores_prompt(code):
    """changing the logits that predict masked positions does not change the loss"""
    logits, labels = _batch()
    a = float(code.response_loss(logits, labels))
    changed = logits.clone()
    changed[0, 0] += 5.0    # predicts position 1 of row 0, which is -100
    changed[1, 4] -= 3.0    # predicts position 5 of row 1, which is -100
    b = float(code.response_loss(changed, labels))
    assert abs(a - b) < 1e-6, (
        f"expected the same loss when only logits for masked positions change, found {a:.5f} "
        f"then {b:.5f}")
    leaf = logits.clone().requires_grad_(True)
    code.response_loss(leaf, labels).backward()
    assert leaf.grad is not None and float(leaf.grad[:, 2].abs().sum()) > 0, (
        "expected gradients to reach the logits: compute the loss with torch operations")
