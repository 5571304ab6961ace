"""Fast checks of the learner's lora.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import torch
from torch import nn


def _inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, generator=g)        # [batch, tokens, in]
    a = torch.randn(2, 6, generator=g)           # [r, in]
    b = torch.randn(5, 2, generator=g)           # [out, r]
    return x, a, b


def check_lora_delta_shape(code):
    """lora_delta maps [..., in] to [..., out]"""
    x, a, b = _inputs()
    out = code.lora_delta(x, a, b, 4.0, 2)
    assert isinstance(out, torch.Tensor), f"expected a tensor, found {type(out).__name__}"
    assert tuple(out.shape) == (2, 3, 5), (
        f"for x {tuple(x.shape)}, A {tuple(a.shape)} (r x in), B {tuple(b.shape)} (out x r) "
        f"expected a result of shape (2, 3, 5), found {tuple(out.shape)}")


def check_lora_delta_value(code):
    """lora_delta is (x @ A.T @ B.T) * alpha / r"""
    x, a, b = _inputs()
    want = (x @ a.T @ b.T) * (4.0 / 2)
    got = code.lora_delta(x, a, b, 4.0, 2)
    err = float((got - want).abs().max())
    unscaled = float((got - x @ a.T @ b.T).abs().max())
    why = ""
    if unscaled < 1e-5:
        why = ": the update is not scaled; multiply by alpha / r"
    elif float((got - (x @ a.T @ b.T) * (2 / 4.0)).abs().max()) < 1e-5:
        why = ": the scale is r / alpha; it should be alpha / r"
    assert err < 1e-5, f"expected (x @ A.T @ B.T) * alpha / r, found values off by {err:.4g}{why}"


def check_lora_delta_starts_at_zero(code):
    """with B = 0 (how LoRA starts) the update is zero"""
    x, a, b = _inputs()
    out = code.lora_delta(x, a, torch.zeros_like(b), 16.0, 2)
    assert float(out.abs().max()) == 0.0, (
        f"expected a zero update when B is all zeros, found values up to {float(out.abs().max())}")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)      # 40
        self.body = nn.Linear(4, 4)           # 20
        self.head = nn.Linear(4, 2)           # 10
        self.register_buffer("scale", torch.ones(100))   # a buffer is not a parameter


def check_count_parameters(code):
    """count_parameters counts elements of trainable and of all parameters"""
    net = _Net()
    for p in net.embed.parameters():
        p.requires_grad = False
    out = code.count_parameters(net)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"expected a tuple (trainable, total), found {out!r}")
    trainable, total = (int(v) for v in out)
    assert total == 70, (
        f"expected 70 parameters in all (embedding 40 + linear 20 + head 10), found {total}"
        + (": count elements with p.numel(), not tensors" if total == 5 else "")
        + (": buffers are not parameters" if total == 170 else ""))
    assert trainable == 30, (
        f"expected 30 trainable (the embedding is frozen), found {trainable}"
        + (": only count parameters with requires_grad" if trainable == 70 else ""))
