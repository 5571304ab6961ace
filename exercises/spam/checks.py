"""Fast checks of the learner's spam.py: tiny tensors, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _logits() -> torch.Tensor:
    # logits[b, t] = [10*b + t, -(10*b + t)]: the position picked can be read off the value
    b, t = torch.meshgrid(torch.arange(3), torch.arange(4), indexing="ij")
    v = (10 * b + t).float()
    return torch.stack([v, -v], dim=-1)


def check_last_token_logits(code):
    """last_token_logits picks each message's last real token"""
    mask = torch.tensor([[1, 1, 0, 0],     # right padding: last real token at 1
                         [1, 1, 1, 1],     # no padding: at 3
                         [0, 0, 1, 1]])    # left padding: at 3
    out = code.last_token_logits(_logits(), mask)
    assert isinstance(out, torch.Tensor), f"expected a tensor, got {type(out).__name__}"
    assert tuple(out.shape) == (3, 2), (
        f"expected shape [B, C] = (3, 2) for logits of shape (3, 4, 2), got {tuple(out.shape)}")
    picked = [int(x) % 10 for x in out[:, 0].tolist()]
    expected = [1, 3, 3]
    for row, (got, want) in enumerate(zip(picked, expected, strict=True)):
        assert got == want, (
            f"row {row} has attention_mask {mask[row].tolist()}: its last real token is at "
            f"position {want}, but your function picked position {got}"
            + (" (padding)" if mask[row, got] == 0 else ""))


def check_classification_loss(code):
    """classification_loss is the mean cross-entropy"""
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    out = code.classification_loss(logits, labels)
    assert isinstance(out, torch.Tensor) and out.dim() == 0, (
        "expected a scalar tensor (so that loss.backward() works), got "
        f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    want = F.cross_entropy(logits, labels).item()
    assert abs(out.item() - want) < 1e-5, (
        f"for logits {logits.tolist()} and labels {labels.tolist()} the mean cross-entropy is "
        f"{want:.4f}, your function gave {out.item():.4f}")
    leaf = logits.clone().requires_grad_(True)
    code.classification_loss(leaf, labels).backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0, (
        "the loss must be differentiable: compute it with torch operations on the logits")


def check_accuracy(code):
    """accuracy is the share of rows predicted right"""
    logits = torch.tensor([[2.0, -1.0], [0.1, 0.5], [-3.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 0, 1])
    out = float(code.accuracy(logits, labels))
    assert abs(out - 0.5) < 1e-6, (
        f"predictions {logits.argmax(-1).tolist()} vs labels {labels.tolist()}: 2 of 4 right, "
        f"so 0.5 expected; your function gave {out}")


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))
        self.norm = nn.LayerNorm(4)
        self.head = nn.Linear(4, 2)


def _trainable(model: _Tiny) -> set[str]:
    return {n.split(".")[0] + ("." + n.split(".")[1] if n.startswith("blocks") else "")
            for n, p in model.named_parameters() if p.requires_grad}


def check_freeze_all_but_last(code):
    """freeze_all_but_last trains only the last blocks, the final norm and the head"""
    for k, expected in ((1, {"blocks.2", "norm", "head"}),
                        (2, {"blocks.1", "blocks.2", "norm", "head"}),
                        (0, {"norm", "head"}),
                        (-1, {"embed", "blocks.0", "blocks.1", "blocks.2", "norm", "head"})):
        model = _Tiny()
        code.freeze_all_but_last(model, list(model.blocks), model.norm, [model.head], k)
        got = _trainable(model)
        assert got == expected, (
            f"with trainable_blocks={k} these should train: {sorted(expected)}; "
            f"yours trains: {sorted(got)}")
    model = _Tiny()
    code.freeze_all_but_last(model, list(model.blocks), None, [model.head], 1)
    assert _trainable(model) == {"blocks.2", "head"}, (
        "with final_norm=None only the last block and the head should train; yours trains: "
        f"{sorted(_trainable(model))}")
