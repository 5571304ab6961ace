"""Fast checks of the learner's memory.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import torch
from torch import nn


def _call(what: str, expected: str, fn, *args):
    """Call the learner's function; a part not written yet fails with what is expected."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"not written yet: expected {what} to be {expected}") from None


def check_scale_loss_value(code):
    """scale_loss divides a micro-batch's loss by the number of micro-batches"""
    loss = torch.tensor(6.0, requires_grad=True)
    out = _call("scale_loss(6.0, 4)", "1.5 (6.0 / 4)", code.scale_loss, loss, 4)
    assert isinstance(out, torch.Tensor), (
        f"expected a tensor (backward runs through it), found {type(out).__name__}"
        + (": do not call .item() on the loss" if isinstance(out, float) else ""))
    value = float(out.detach())
    why = ""
    if abs(value - 6.0) < 1e-6:
        why = (": the loss is not scaled, so 4 accumulated micro-batches give 4 times the "
               "big batch's gradient")
    elif abs(value - 24.0) < 1e-6:
        why = ": multiplied by the number of micro-batches; divide instead"
    assert abs(value - 1.5) < 1e-6, f"expected scale_loss(6.0, 4) = 1.5, found {value:g}{why}"
    assert out.requires_grad, (
        "expected the result to keep its gradient (requires_grad); found it detached: "
        "do not use .detach(), .item() or torch.tensor(...) on the loss")


def check_scale_loss_one_step(code):
    """with one micro-batch (no accumulation) the loss is unchanged"""
    loss = torch.tensor(2.5, requires_grad=True)
    value = float(_call("scale_loss(2.5, 1)", "2.5", code.scale_loss, loss, 1).detach())
    assert abs(value - 2.5) < 1e-6, f"expected scale_loss(2.5, 1) = 2.5, found {value:g}"


def check_accumulated_gradient_equals_big_batch(code):
    """4 scaled micro-batch gradients add up to the gradient of the big batch"""
    g = torch.Generator().manual_seed(0)
    model = nn.Linear(5, 3)
    x = torch.randn(8, 5, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    params = list(model.parameters())
    big = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), params)
    summed = [torch.zeros_like(p) for p in params]
    for xs, ys in zip(x.chunk(4), y.chunk(4), strict=True):
        loss = nn.functional.cross_entropy(model(xs), ys)        # mean over 2 examples
        scaled = _call("scale_loss(loss, 4)", "loss / 4", code.scale_loss, loss, 4)
        for acc, grad in zip(summed, torch.autograd.grad(scaled, params), strict=True):
            acc += grad
    err = max(float((a - b).abs().max()) for a, b in zip(summed, big, strict=True))
    ratio = float(summed[0].norm() / big[0].norm())
    why = f" (the summed gradient is {ratio:.2f}x the big batch's)" if err > 1e-5 else ""
    assert err < 1e-5, (
        "expected the 4 accumulated micro-batch gradients to equal the gradient of the "
        f"mean loss over all 8 examples, found them off by {err:.3g}{why}")


def check_effective_batch_size(code):
    """effective batch = micro-batch x accumulation steps x processes"""
    cases = [((16, 1, 1), 16), ((4, 4, 1), 16), ((8, 2, 2), 32), ((2, 8, 4), 64)]
    for args, want in cases:
        got = _call(f"effective_batch_size{args}", str(want), code.effective_batch_size, *args)
        assert got == want, (
            f"expected effective_batch_size(micro_batch_size={args[0]}, accumulation_steps="
            f"{args[1]}, num_processes={args[2]}) = {want}, found {got!r}")


def check_optimizer_steps(code):
    """optimizer steps: micro-batches per process, grouped by the accumulation steps"""
    cases = [
        ((600, 16, 1, 1, 1), 38, "600 examples in batches of 16: 37 full ones and one of 8"),
        ((600, 4, 4, 1, 1), 38, "150 micro-batches of 4, in groups of 4: 37 full groups "
                                "and a last group of 2 that still steps"),
        ((10, 4, 2, 1, 1), 2, "3 micro-batches (4, 4, 2): one group of 2 and a last one"),
        ((600, 4, 4, 3, 1), 114, "38 updates per epoch, 3 epochs"),
        ((600, 4, 4, 1, 2), 19, "300 examples per process: 75 micro-batches, 19 groups"),
    ]
    for args, want, why in cases:
        got = _call(f"optimizer_steps{args}", str(want), code.optimizer_steps, *args)
        hint = ""
        if got == args[0] * args[3] // (args[1] * args[2] * args[4]):
            hint = ": rounded down; a last incomplete group still makes an update"
        assert got == want, (
            f"expected optimizer_steps(num_examples={args[0]}, micro_batch_size={args[1]}, "
            f"accumulation_steps={args[2]}, epochs={args[3]}, num_processes={args[4]}) = "
            f"{want} ({why}), found {got!r}{hint}")
