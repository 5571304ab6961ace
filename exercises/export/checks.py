"""Fast checks of the learner's export.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import torch


def _call(what: str, expected: str, fn, *args, **kwargs):
    """Call the learner's function; a part not written yet fails with what is expected."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"not written yet: expected {what} to be {expected}") from None


def _inputs():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 6, generator=g)          # [out, in]
    a = torch.randn(2, 6, generator=g)          # [r, in]
    b = torch.randn(5, 2, generator=g)          # [out, r]
    return w, a, b


def _merge(code, *args, **kwargs):
    try:
        return _call("merge_lora(W, A, B, alpha, r)", "W + (alpha / r) * (B @ A)",
                     code.merge_lora, *args, **kwargs)
    except RuntimeError as exc:
        raise AssertionError(
            f"expected W + (alpha / r) * (B @ A) for W [out, in] = (5, 6), found a shape "
            f"error ({exc}): B @ A is already [out, in]; transpose the update only when "
            "fan_in_fan_out is True") from None


def check_merge_value(code):
    """merge_lora is W + (alpha / r) * (B @ A)"""
    w, a, b = _inputs()
    got = _merge(code, w.clone(), a, b, 4.0, 2)
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == (5, 6), (
        f"expected a tensor of W's shape (5, 6), found "
        f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    want = w + (b @ a) * 2.0
    err = float((got - want).abs().max())
    why = ""
    if float((got - (w + b @ a)).abs().max()) < 1e-5:
        why = ": the update is not scaled; multiply B @ A by alpha / r"
    elif float((got - (w + (b @ a) * 0.5)).abs().max()) < 1e-5:
        why = ": the scale is r / alpha; it should be alpha / r"
    elif float((got - (b @ a) * 2.0).abs().max()) < 1e-5:
        why = ": that is the update alone; add it to W"
    assert err < 1e-5, f"expected W + (alpha / r) * (B @ A), found values off by {err:.4g}{why}"


def check_merge_leaves_the_weight_alone(code):
    """merge_lora returns a new tensor and does not change W"""
    w, a, b = _inputs()
    before = w.clone()
    _merge(code, w, a, b, 4.0, 2)
    assert torch.equal(w, before), (
        "expected W unchanged after merge_lora, found it modified in place (`+=`): the "
        "base weight would then hold the update twice if it is merged again")


def check_merge_zero_update(code):
    """with B = 0 (an untrained adapter) the merged weight is W"""
    w, a, b = _inputs()
    got = _merge(code, w.clone(), a, torch.zeros_like(b), 16.0, 2)
    err = float((got - w).abs().max())
    assert err == 0.0, f"expected exactly W when B is all zeros, found values off by {err:.4g}"


def check_merge_fan_in_fan_out(code):
    """a weight stored [in, out] (GPT-2's Conv1D) gets the update transposed"""
    w, a, b = _inputs()
    wt = w.T.contiguous()                       # [in, out]
    try:
        got = _call("merge_lora(W.T, A, B, alpha, r, fan_in_fan_out=True)",
                    "W.T + (alpha / r) * (B @ A).T", code.merge_lora, wt.clone(), a, b, 4.0,
                    2, fan_in_fan_out=True)
    except RuntimeError as exc:
        raise AssertionError(
            f"expected W + ((alpha / r) * (B @ A)).T for a weight stored [in, out] = (6, 5), "
            f"found a shape error ({exc}): with fan_in_fan_out the update must be "
            "transposed") from None
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == (6, 5), (
        f"expected a tensor of the stored weight's shape (6, 5) [in, out], found "
        f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    err = float((got - (wt + ((b @ a) * 2.0).T)).abs().max())
    assert err < 1e-5, (
        f"expected W + ((alpha / r) * (B @ A)).T for a weight stored [in, out], found values "
        f"off by {err:.4g}")


def check_output_agreement(code):
    """output_agreement gives the largest logit difference and the share of equal answers"""
    a = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.5], [0.2, 0.1]])
    b = torch.tensor([[2.0, 1.5], [0.1, 3.0], [0.4, 0.5], [0.2, 0.1]])
    got = _call("output_agreement(a, b)", "(0.6, 0.75)", code.output_agreement, a, b)
    assert isinstance(got, tuple) and len(got) == 2, (
        f"expected a tuple (max abs difference, share of equal predictions), found {got!r}")
    diff, share = float(got[0]), float(got[1])
    assert abs(diff - 0.6) < 1e-6, (
        f"expected the largest absolute logit difference 0.6 (row 3: 1.0 vs 0.4), found "
        f"{diff:g}" + (": take the absolute value before the max" if abs(diff - 0.1) < 1e-6
                       else ""))
    assert abs(share - 0.75) < 1e-6, (
        f"expected 0.75 (3 of 4 rows predict the same class), found {share:g}"
        + (": compare the argmax of each row, not the logits" if share == 0.25 else ""))
    same = _call("output_agreement(a, a)", "(0.0, 1.0)", code.output_agreement, a, a)
    assert float(same[0]) == 0.0 and float(same[1]) == 1.0, (
        f"expected (0.0, 1.0) for two identical outputs, found {same!r}")
