"""The classification task: fine-tune a model to put texts into classes (spam or ham).

Runs inside the worker and trains through the engine (training/engine.py). The parts the
lesson is about come from the run's code (the learner's file or the reference solution),
a module with these functions:

    freeze_all_but_last(model, blocks, final_norm, head, trainable_blocks) -> None
    last_token_logits(logits[B, T, C], attention_mask[B, T]) -> logits[B, C]
    classification_loss(logits[B, C], labels[B]) -> scalar loss
    accuracy(logits[B, C], labels[B]) -> float

Settings: `ClassificationSettings` (training/tasks/settings.py) is their single source;
exercises/spam/exercise.toml overrides some of them per variant.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.training import data as data_mod
from studyapp.training.engine import (
    Engine,
    Evaluated,
    LengthGroupedSampler,
    TrainConfig,
    pad_batch,
)
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.settings import ClassificationSettings


def run(ctx: RunContext) -> dict[str, Any]:
    """Train and evaluate; returns the final metrics and check results."""
    s = ClassificationSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(
        lr=s.lr, epochs=s.epochs, warmup_ratio=s.warmup_ratio, weight_decay=s.weight_decay,
        grad_accum=s.grad_accum, eval_every=s.eval_every, checkpoint=s.checkpoint,
        precision=s.precision, seed=s.seed, threads=s.threads))
    code = engine.learner_code()

    # --- data ---------------------------------------------------------------------------
    if not ctx.spec.data:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    d = ctx.spec.data
    labels = tuple(d.get("labels") or ())
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": labels}

    def load(key: str, limit: int) -> list[data_mod.Example]:
        if not d.get(key):
            return []
        return data_mod.subsample(data_mod.load_examples(Path(d[key]), **read), limit, s.seed)

    train = load("train", s.max_train_examples)
    val = load("val", s.max_eval_examples)
    test = load("test", s.max_eval_examples)
    num_labels = max(len(labels), 1 + max(ex.label for ex in train + val + test), 2)
    positive = num_labels - 1

    # --- model --------------------------------------------------------------------------
    cm = load_classifier(s.model, s.head, num_labels, cache_dir=ctx.cache_dir,
                         max_length=s.max_length, log=engine.log)
    code.freeze_all_but_last(cm.model, cm.blocks, cm.final_norm, cm.head, s.trainable_blocks)
    n_trainable = sum(p.numel() for p in cm.model.parameters() if p.requires_grad)
    n_total = sum(p.numel() for p in cm.model.parameters())
    if not n_trainable:
        raise ValueError("no parameter is left trainable: check freeze_all_but_last")
    engine.log(f"{cm.name}: {n_trainable:,} of {n_total:,} parameters train "
               f"({100 * n_trainable / n_total:.1f}%) on {engine.describe()}, "
               f"{engine.precision}", model=cm.name, trainable_params=n_trainable,
               total_params=n_total, precision=engine.precision)

    def encode(examples: list[data_mod.Example]) -> list[list[int]]:
        return cm.encode([ex.text for ex in examples], s.max_length) if examples else []

    train_rows = list(zip(encode(train), [ex.label for ex in train], strict=True))
    val_set = _EvalSet(encode(val), [ex.label for ex in val], 2 * s.batch_size,
                       cm.pad_token_id)
    test_set = _EvalSet(encode(test), [ex.label for ex in test], 2 * s.batch_size,
                        cm.pad_token_id)

    def collate(rows: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        ids, mask = pad_batch([r[0] for r in rows], cm.pad_token_id)
        return {"input_ids": ids, "attention_mask": mask,
                "labels": torch.tensor([r[1] for r in rows], dtype=torch.long)}

    if s.group_by_length:
        sampler: Any = LengthGroupedSampler([len(r[0]) for r in train_rows], s.batch_size,
                                            seed=s.seed)
        loader = torch.utils.data.DataLoader(train_rows, batch_size=s.batch_size,
                                             sampler=sampler, collate_fn=collate)
    else:
        loader = torch.utils.data.DataLoader(
            train_rows, batch_size=s.batch_size, shuffle=True, collate_fn=collate,
            generator=torch.Generator().manual_seed(s.seed))

    def logits_of(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor
                  ) -> torch.Tensor:
        logits = model(input_ids=ids, attention_mask=mask).logits
        if cm.head_kind == "last_token":
            logits = code.last_token_logits(logits, mask)
        return logits.float()

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return code.classification_loss(
            logits_of(model, batch["input_ids"], batch["attention_mask"]), batch["labels"])

    def evaluate_on(model: torch.nn.Module, data: _EvalSet) -> tuple[float, list[int],
                                                                        float]:
        return data.evaluate(engine, code, lambda ids, mask: logits_of(model, ids, mask))

    def evaluate(model: torch.nn.Module) -> Evaluated:
        loss, _, acc = evaluate_on(model, val_set)
        return Evaluated(loss, {"val_accuracy": acc})

    # --- before, during, after training -------------------------------------------------
    measured: dict[str, Any] = {"model": cm.name, "trainable_params": n_trainable,
                                "total_params": n_total}
    if test and engine.is_main:
        with engine.inference(cm.model):
            _, preds0, _ = evaluate_on(cm.model.to(engine.device), test_set)
        before = classification_metrics(preds0, test_set.labels, positive)
        measured.update(accuracy_before=before["accuracy"], f1_before=before["f1"])
    fit = engine.fit(cm.model, loader, loss_fn, evaluate=evaluate, model_name=str(s.model),
                     train_examples=len(train))
    first = fit.evaluations[0][1] if fit.evaluations else None
    last = fit.last_eval
    measured.update(engine.summary())
    measured.update(
        model=cm.name, epochs=s.epochs, train_examples=len(train), val_examples=len(val),
        test_examples=len(test), trainable_share=n_trainable / n_total,
        val_loss_first=first.loss if first else None,
        val_accuracy_before=first.metrics.get("val_accuracy") if first else None,
        val_loss=last.loss if last else None,
        val_accuracy=last.metrics.get("val_accuracy") if last else None)
    if test and engine.is_main:
        with engine.inference(fit.model):
            test_loss, preds, _ = evaluate_on(fit.model, test_set)
        after = classification_metrics(preds, test_set.labels, positive)
        measured.update(accuracy=after["accuracy"], f1=after["f1"],
                        precision=after["precision"], recall=after["recall"],
                        test_loss=test_loss,
                        confusion={k: after[k] for k in ("tp", "fp", "fn", "tn")})
    return engine.finish(measured, fit)


class _EvalSet:
    """A validation or test set, cut once into length-sorted, padded batches."""

    def __init__(self, ids: list[list[int]], labels: list[int], batch_size: int,
                 pad_id: int):
        self.labels = labels
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))   # less padding
        self.batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            input_ids, mask = pad_batch([ids[i] for i in chunk], pad_id)
            y = torch.tensor([labels[i] for i in chunk], dtype=torch.long)
            self.batches.append((chunk, input_ids, mask, y))

    def evaluate(self, engine: Engine, code: ModuleType, logits_of: Any
                 ) -> tuple[float, list[int], float]:
        """Mean loss, predictions (in input order) and the code's accuracy."""
        if not self.labels:
            return float("nan"), [], float("nan")
        preds = [0] * len(self.labels)
        total_loss, total_acc = 0.0, 0.0
        for chunk, input_ids, mask, y in self.batches:
            engine.check_cancelled()
            input_ids, mask, y = engine.to_device((input_ids, mask, y))
            logits = logits_of(input_ids, mask)
            total_loss += float(code.classification_loss(logits, y)) * len(chunk)
            total_acc += float(code.accuracy(logits, y)) * len(chunk)
            for i, p in zip(chunk, logits.argmax(dim=-1).tolist(), strict=True):
                preds[i] = p
        n = len(self.labels)
        return total_loss / n, preds, total_acc / n


__all__ = ["ClassifierModel", "run"]
