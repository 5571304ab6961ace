"""Text classification pieces the memory, sweep and export tasks share (worker side).

Each of those exercises fine-tunes the same kind of classifier (the pretrained MiniLM
encoder, or the tiny GPT-2 built in code, with a 2-way head) on the exercise's labelled
texts, several times in one run: once per memory lever, once per trial, once before
merging. What they share is here, once:

- `read_splits`: the train / validation / test examples of the exercise's `[data]`;
- `Classifier`: a fresh model from the registry (`models.load_classifier`), the same start
  every time it is built with the same seed, with its encoded rows;
- `train_loader`: shuffled, padded batches in a seeded order that does not depend on the
  batch size (so 4 micro-batches of 4 are exactly one batch of 16);
- `EvalBatches` / `evaluate`: held-out loss, accuracy and the logits, in input order;
- `PhaseContext`: one run made of several engine fits, on one step axis with one Started.

Training itself is the engine's (`studyapp.training.engine`): nothing here steps an
optimizer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studyapp.training import data as data_mod
from studyapp.training.device import seed_everything
from studyapp.training.engine import Engine, pad_batch
from studyapp.training.events import Evaluation, Event, Started, Step
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext


@dataclass(frozen=True)
class Splits:
    train: list[data_mod.Example]
    val: list[data_mod.Example]
    test: list[data_mod.Example]
    num_labels: int


def read_splits(ctx: RunContext, max_train: int, max_eval: int, seed: int) -> Splits:
    """The exercise's data: train, validation and (held out) test examples."""
    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    labels = tuple(d.get("labels") or ())
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": labels}

    def load(key: str, limit: int) -> list[data_mod.Example]:
        if not d.get(key):
            return []
        return data_mod.subsample(data_mod.load_examples(Path(d[key]), **read), limit, seed)

    train, val, test = load("train", max_train), load("val", max_eval), load("test", max_eval)
    if not train or not val:
        raise ValueError(f"exercise {ctx.spec.exercise!r} needs train and val examples")
    if not test:
        raise ValueError(f"exercise {ctx.spec.exercise!r} needs held-out test examples")
    num_labels = max(len(labels), 1 + max(ex.label for ex in train + val + test), 2)
    return Splits(train, val, test, num_labels)


Row = tuple[list[int], int]


@dataclass
class Classifier:
    """A freshly loaded classifier and the rows of each split, encoded for it."""

    cm: ClassifierModel
    train: list[Row]
    val: list[Row]
    test: list[Row]

    @property
    def model(self) -> nn.Module:
        return self.cm.model

    @classmethod
    def load(cls, ctx: RunContext, splits: Splits, *, model: str, head: str, max_length: int,
             seed: int, dropout: float | None = None,
             log: Callable[[str], None] | None = None,
             rows: Classifier | None = None) -> Classifier:
        """The model `model` with a new `num_labels`-way head, seeded with `seed` (the same
        start each time). `dropout` overrides the model's dropout probabilities (0: off).
        `rows`: reuse another Classifier's encoded rows (same tokenizer), not re-encode."""
        seed_everything(seed)
        cm = load_classifier(model, head, splits.num_labels, cache_dir=ctx.cache_dir,
                             max_length=max_length, log=log or (lambda m: None))
        if dropout is not None:
            set_dropout(cm.model, dropout)
        if rows is not None:
            return cls(cm, rows.train, rows.val, rows.test)

        def encode(examples: list[data_mod.Example]) -> list[Row]:
            ids = cm.encode([ex.text for ex in examples], max_length)
            return list(zip(ids, [ex.label for ex in examples], strict=True))

        return cls(cm, encode(splits.train), encode(splits.val), encode(splits.test))

    def copy(self) -> Classifier:
        """An independent copy of the model (the same start again, without reloading it);
        its blocks and head lists point into the copied model."""
        import copy

        shared = {id(self.cm.tokenizer): self.cm.tokenizer}      # the tokenizer is shared
        return Classifier(copy.deepcopy(self.cm, shared), self.train, self.val, self.test)

    def logits(self, model: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, classes]: the sequence head's logits, or a decoder's at its last real token."""
        return logits_of(model, self.cm.head_kind, ids, mask)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy, the mean over the batch (what the engine's loss_fn returns)."""
        return F.cross_entropy(self.logits(model, batch["input_ids"], batch["attention_mask"]),
                               batch["labels"])


def logits_of(model: nn.Module, head_kind: str, ids: torch.Tensor, mask: torch.Tensor
              ) -> torch.Tensor:
    logits = model(input_ids=ids, attention_mask=mask).logits
    if head_kind == "last_token":
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        logits = logits[torch.arange(logits.shape[0], device=logits.device), last]
    return logits.float()


def set_dropout(model: nn.Module, p: float) -> None:
    """Every dropout layer of `model` (and its config, for layers built later) at `p`."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
    config = getattr(model, "config", None)
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "resid_pdrop",
                "embd_pdrop", "attn_pdrop", "classifier_dropout"):
        if config is not None and getattr(config, key, None) is not None:
            setattr(config, key, p)


def collate(pad_id: int) -> Callable[[list[Row]], dict[str, torch.Tensor]]:
    def fn(rows: list[Row]) -> dict[str, torch.Tensor]:
        ids, mask = pad_batch([r[0] for r in rows], pad_id)
        return {"input_ids": ids, "attention_mask": mask,
                "labels": torch.tensor([r[1] for r in rows], dtype=torch.long)}
    return fn


def train_loader(rows: list[Row], batch_size: int, seed: int, pad_id: int,
                 order: list[int] | None = None) -> torch.utils.data.DataLoader:
    """Batches of `batch_size` in one seeded random order of the rows; the order depends on
    the seed only, so consecutive micro-batches make up exactly the larger batches."""
    if order is None:
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    ordered = [rows[i] for i in order]
    return torch.utils.data.DataLoader(ordered, batch_size=batch_size, shuffle=False,
                                       collate_fn=collate(pad_id))


class EvalBatches:
    """A held-out split cut once into length-sorted, padded batches."""

    def __init__(self, rows: list[Row], batch_size: int, pad_id: int):
        self.n = len(rows)
        self.labels = [r[1] for r in rows]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))   # less padding
        self.batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            ids, mask = pad_batch([rows[i][0] for i in chunk], pad_id)
            y = torch.tensor([rows[i][1] for i in chunk], dtype=torch.long)
            self.batches.append((chunk, ids, mask, y))


@dataclass(frozen=True)
class Scores:
    loss: float
    accuracy: float
    logits: torch.Tensor          # [N, classes], in the split's order, on the CPU


def evaluate(engine: Engine, clf: Classifier, model: nn.Module, data: EvalBatches,
             forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
             ) -> Scores:
    """Mean loss, accuracy and logits on `data` (call it under `engine.inference`).
    `forward(ids, mask) -> logits` replaces the model's (e.g. an exported ONNX model)."""
    out: list[torch.Tensor | None] = [None] * data.n
    total = 0.0
    for chunk, ids, mask, y in data.batches:
        engine.check_cancelled()
        if forward is None:
            ids, mask, y = engine.to_device((ids, mask, y))
            logits = clf.logits(model, ids, mask)
        else:
            logits = forward(ids, mask).float()
        total += float(F.cross_entropy(logits, y.to(logits.device), reduction="sum"))
        for i, row in zip(chunk, logits.detach().cpu(), strict=True):
            out[i] = row
    logits = torch.stack([r for r in out if r is not None])
    labels = torch.tensor(data.labels)
    accuracy = float((logits.argmax(dim=-1) == labels).float().mean())
    return Scores(total / max(1, data.n), accuracy, logits)


class PhaseContext:
    """Several engine fits in one run, shown as one: the `RunContext` each phase's engine
    gets. Steps and evaluations are moved onto one step axis (phase 2 starts where phase 1
    ended), and only the first Started is sent, with the steps of every phase; later ones
    become a log line. Each phase's own curves (its steps from 1) stay in its `Fit`."""

    def __init__(self, ctx: RunContext, total_steps: int):
        self.ctx = ctx
        self.total_steps = total_steps
        self.offset = 0              # steps done by the phases before this one
        self.started = False

    def phase(self, name: str) -> RunContext:
        """The context for the next phase (`name` is logged when it starts)."""
        return dataclasses.replace(self.ctx, emit=lambda e: self._emit(e, name))

    def end_phase(self, steps: int) -> None:
        self.offset += steps

    def _emit(self, event: Event, name: str) -> None:
        if isinstance(event, Started):
            if not self.started:
                self.started = True
                event = dataclasses.replace(event, total_steps=self.total_steps)
                self.ctx.emit(event)
            self.ctx.log(f"{name}: training on {event.device}")
            return
        if isinstance(event, Step | Evaluation) and self.offset:
            event = dataclasses.replace(event, step=event.step + self.offset)
        self.ctx.emit(event)


def released() -> None:
    """Give freed memory back to the system, so the next phase's peak starts clean."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def to_builtin(value: Any) -> Any:
    """Plain numbers for the metrics (no tensors)."""
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return value


def add_lora(clf: Classifier, *, rank: int, alpha: float, dropout: float,
             target_modules: str) -> nn.Module:
    """`clf.model` wrapped by peft with LoRA adapters on `target_modules` (comma-separated
    names); the new classification head trains in full (peft's `modules_to_save`)."""
    import warnings

    from peft import LoraConfig, get_peft_model

    targets = [t.strip() for t in target_modules.split(",") if t.strip()]
    head_ids = {id(m) for m in clf.cm.head}
    head = [name.split(".")[-1] for name, mod in clf.model.named_modules()
            if id(mod) in head_ids and name]
    conv1d = any(type(mod).__name__ == "Conv1D" for name, mod in clf.model.named_modules()
                 if name.split(".")[-1] in targets)       # GPT-2 stores these transposed
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=targets, modules_to_save=head or None,
                        fan_in_fan_out=conv1d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # fan_in_fan_out notes for GPT-2's Conv1D
        try:
            return get_peft_model(clf.model, config)
        except ValueError as exc:
            names = sorted({n.split(".")[-1] for n, m in clf.model.named_modules()
                            if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"})
            raise ValueError(f"LoRA could not be added: {exc}. Layers this model has: "
                             f"{', '.join(names)} (set target_modules to some of them)"
                             ) from exc
