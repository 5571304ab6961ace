"""Fast checks of the learner's objectives.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import math

import torch

MASK, VOCAB = 258, 259


def _batch(rows: int = 400, cols: int = 100, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 257, (rows, cols), generator=g)


def _call(code, ids, prob=0.15, special=None, seed=1):
    out = code.mask_tokens(ids, MASK, VOCAB, prob, special, torch.Generator().manual_seed(seed))
    assert isinstance(out, tuple) and len(out) == 2, (
        f"expected a tuple (masked_input_ids, labels), found {type(out).__name__}")
    inputs, labels = out
    for name, t in (("masked_input_ids", inputs), ("labels", labels)):
        assert isinstance(t, torch.Tensor) and tuple(t.shape) == tuple(ids.shape), (
            f"expected {name} as a tensor of shape {tuple(ids.shape)}, found "
            f"{type(t).__name__} {tuple(getattr(t, 'shape', ()))}")
    return inputs, labels


def check_labels(code):
    """labels keep the original id at the targets and -100 everywhere else"""
    ids = _batch()
    before = ids.clone()
    inputs, labels = _call(code, ids)
    assert torch.equal(ids, before), (
        "expected input_ids to be left unchanged (clone it first), found it modified in place")
    picked = labels != -100
    assert picked.any(), "expected some labels to be kept (not -100), found all -100"
    assert torch.equal(labels[picked], ids[picked]), (
        "expected labels[t] == input_ids[t] (the ORIGINAL token) at each target, found "
        f"{int((labels[picked] != ids[picked]).sum())} targets with another value")
    changed = inputs != ids
    assert not (changed & ~picked).any(), (
        "expected only targets (labels != -100) to be changed in the inputs, found "
        f"{int((changed & ~picked).sum())} changed positions whose label is -100")


def check_mask_rate(code):
    """about mask_prob of the tokens become targets"""
    ids = _batch()
    for prob in (0.15, 0.5):
        _, labels = _call(code, ids, prob)
        rate = (labels != -100).float().mean().item()
        assert abs(rate - prob) < 0.02, (
            f"with mask_prob={prob} expected about {prob:.0%} of the tokens picked as "
            f"targets, found {rate:.1%}")


def check_80_10_10(code):
    """of the targets, 80% become [MASK], 10% a random token, 10% stay unchanged"""
    ids = _batch()
    inputs, labels = _call(code, ids)
    picked = labels != -100
    n = int(picked.sum())
    masked = (inputs[picked] == MASK).float().sum().item() / n
    same = (inputs[picked] == ids[picked]).float().sum().item() / n
    other = 1.0 - masked - same
    assert abs(masked - 0.8) < 0.03, (
        f"expected about 80% of the targets replaced by [MASK] (id {MASK}), found {masked:.1%}")
    assert abs(other - 0.1) < 0.03, (
        f"expected about 10% of the targets replaced by a random token, found {other:.1%}")
    assert abs(same - 0.1) < 0.03, (
        f"expected about 10% of the targets left unchanged (still with their label), "
        f"found {same:.1%}")
    random_ids = inputs[picked & (inputs != MASK) & (inputs != ids)]
    if len(random_ids):
        assert int(random_ids.min()) >= 0 and int(random_ids.max()) < VOCAB, (
            f"expected random tokens in range(vocab_size={VOCAB}), found ids from "
            f"{int(random_ids.min())} to {int(random_ids.max())}")


def check_special_tokens(code):
    """positions in special_mask (padding, [CLS], [SEP]) are never targets"""
    ids = _batch(50, 40)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True          # [CLS]
    special[:, 30:] = True        # padding
    inputs, labels = _call(code, ids, 0.5, special)
    bad = int(((labels != -100) & special).sum())
    assert bad == 0, f"expected no targets at special positions, found {bad}"
    touched = int(((inputs != ids) & special).sum())
    assert touched == 0, f"expected special positions left unchanged, found {touched} changed"


def check_generator(code):
    """the same generator seed gives the same masking"""
    ids = _batch(20, 30)
    a = _call(code, ids, seed=7)
    b = _call(code, ids, seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), (
        "expected the same result for the same generator seed, found two different maskings:"
        " draw every random number with generator=generator")


def check_perplexity(code):
    """perplexity is exp(mean loss)"""
    for loss in (0.0, 1.0, math.log(259)):
        got = float(code.perplexity(loss))
        want = math.exp(loss)
        assert abs(got - want) < 1e-6 * max(1.0, want), (
            f"for a mean loss of {loss:.4f} nats expected perplexity {want:.4f}, found {got:.4f}")
