"""Overfitting, early stopping and the learning rate: three runs of one small fine-tune.

The classifier (by default the pretrained MiniLM encoder with a new 2-way head) is
fine-tuned on far too little data (`small_train` messages) for far too many epochs:

    overfit     all `epochs`, no stopping: the training loss falls to ~0 while the
                validation loss reaches a minimum and then turns up
    early_stop  the same run (same seed, same batches) with the learner's EarlyStopping:
                it stops once the validation loss has not improved for `patience`
                evaluations and restores the best checkpoint
    high_lr     the same start with a far too high learning rate (`high_lr`): the loss
                jumps up instead of falling (diverges)

The learner's module provides `EarlyStopping(patience, min_delta)` with
`step(val_loss, model, step) -> bool` (True: stop now) and `restore_best(model)`.
Validation loss is measured once per epoch on the validation messages; the two models the
first runs end with are compared on the held-out test messages. The three validation-loss
curves are written as one overlaid plot (curves.txt, curves.json in the run's folder).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from studyapp.atomic import write_atomic
from studyapp.training import data as data_mod
from studyapp.training.device import (
    autocast,
    describe,
    memory_mb,
    seed_everything,
)
from studyapp.training.events import Evaluation, Started, Step
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    Clock,
    finish,
    overlay_plot,
    prepare,
    write_json,
)

DEFAULTS: dict[str, Any] = {
    "model": "minilm",
    "head": "sequence",
    "small_train": 32,        # training messages: far too few
    "epochs": 25,             # far too many
    "batch_size": 8,
    "lr": 1e-4,
    "high_lr": 0.05,          # far too high for fine-tuning (AdamW)
    "high_lr_epochs": 4,
    "patience": 3,
    "min_delta": 0.0,
    "max_length": 48,
    "max_eval_examples": 0,
    "weight_decay": 0.0,
    "seed": 123,
    "threads": 0,
    "precision": "auto",
}


def run(ctx: RunContext) -> dict[str, Any]:
    clock, s, seed, code, device, precision = prepare(ctx, DEFAULTS)

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": tuple(d.get("labels") or ())}
    limit = int(s["max_eval_examples"])
    train = data_mod.subsample(data_mod.load_examples(Path(d["train"]), **read),
                               int(s["small_train"]), seed)
    val = data_mod.subsample(data_mod.load_examples(Path(d["val"]), **read), limit, seed)
    test = data_mod.subsample(data_mod.load_examples(Path(d["test"]), **read), limit, seed) \
        if d.get("test") else val
    num_labels = max(len(read["labels"]), 2)

    batch_size = int(s["batch_size"])
    spe = math.ceil(len(train) / batch_size)
    epochs, high_epochs = int(s["epochs"]), int(s["high_lr_epochs"])
    total_steps = spe * (2 * epochs + high_epochs)      # an upper bound: early stopping ends sooner
    ctx.emit(Started(run_id=ctx.spec.run_id, exercise=ctx.spec.exercise,
                     variant=ctx.spec.variant, device=describe(device), settings=ctx.settings,
                     total_steps=total_steps, model=str(s["model"]),
                     train_examples=len(train)))
    ctx.log(f"{len(train)} training messages (far too few), {epochs} epochs (far too many); "
            f"validation {len(val)}, held-out test {len(test)}")

    loop = _Loop(ctx, s, device, precision, train, val, test, num_labels)
    measured: dict[str, Any] = {"device": describe(device), "precision": precision.name,
                                "train_examples": len(train), "epochs": epochs}
    curves: dict[str, list[list[float]]] = {}

    # 1. too little data, too many epochs, nothing stops it
    ctx.log("run 1 of 3 (overfit): no early stopping")
    r1 = loop.train("overfit", lr=float(s["lr"]), epochs=epochs, stopper=None)
    best_i = min(range(len(r1["val"])), key=lambda i: r1["val"][i][1])
    measured.update(
        overfit_best_val_loss=r1["val"][best_i][1], overfit_best_epoch=r1["val"][best_i][0],
        overfit_final_val_loss=r1["val"][-1][1], overfit_final_train_loss=r1["train_epoch"][-1],
        overfit_test_loss=r1["test_loss"], overfit_test_accuracy=r1["test_accuracy"],
        val_loss_first=r1["val"][0][1],
    )
    measured["val_loss_rise"] = measured["overfit_final_val_loss"] / measured[
        "overfit_best_val_loss"]
    curves["overfit (val)"] = r1["val"]
    curves["overfit (train)"] = [[i + 1, v] for i, v in enumerate(r1["train_epoch"])]

    # 2. the same run with the learner's early stopping
    ctx.log(f"run 2 of 3 (early_stop): your EarlyStopping(patience={s['patience']}, "
            f"min_delta={s['min_delta']})")
    stopper = code.EarlyStopping(patience=int(s["patience"]), min_delta=float(s["min_delta"]))
    r2 = loop.train("early_stop", lr=float(s["lr"]), epochs=epochs, stopper=stopper)
    best_loss = float(getattr(stopper, "best_loss", math.nan))
    measured.update(
        early_stop_epoch=r2["stopped_epoch"], early_stop_best_epoch=getattr(
            stopper, "best_step", None), early_stop_best_val_loss=best_loss,
        early_stop_restored_val_loss=r2["restored_val_loss"],
        early_stop_test_loss=r2["test_loss"], early_stop_test_accuracy=r2["test_accuracy"],
        restore_error=abs(r2["restored_val_loss"] - best_loss)
        if math.isfinite(best_loss) else math.inf,
    )
    measured["early_stop_saved_epochs"] = epochs - r2["stopped_epoch"]
    curves["early_stop (val)"] = r2["val"]

    # 3. a far too high learning rate
    ctx.log(f"run 3 of 3 (high_lr): lr={s['high_lr']:g}, {high_epochs} epochs")
    r3 = loop.train("high_lr", lr=float(s["high_lr"]), epochs=high_epochs, stopper=None)
    first_train = r3["train_steps"][0] if r3["train_steps"] else math.nan
    finite = [v for v in r3["train_steps"] if math.isfinite(v)]
    peak = max(finite) if len(finite) == len(r3["train_steps"]) else math.inf
    measured.update(
        high_lr=float(s["high_lr"]), high_lr_first_loss=first_train, high_lr_max_loss=peak,
        high_lr_final_val_loss=r3["val"][-1][1], high_lr_test_accuracy=r3["test_accuracy"],
        high_lr_loss_ratio=peak / first_train if first_train and math.isfinite(first_train)
        else math.inf,
    )
    curves["high_lr (val)"] = r3["val"]

    measured.update(val_loss=measured["early_stop_restored_val_loss"],
                    accuracy=measured["early_stop_test_accuracy"],
                    test_loss=measured["early_stop_test_loss"],
                    steps=loop.global_step, time_s=clock())
    ymax = 3 * max(v for _, v in r1["val"] if math.isfinite(v))
    plot = overlay_plot(curves, title="validation loss per epoch: overfit, early stop, high LR",
                        xlabel="epoch", ylim=(0.0, ymax))
    try:
        write_json(ctx.output_dir / "curves.json", curves)
        write_atomic(ctx.output_dir / "curves.txt", plot)
        measured["plot_file"] = str(ctx.output_dir / "curves.txt")
    except OSError as exc:
        ctx.log(f"could not write the plot: {exc}")
    ctx.log("the three runs:\n" + plot, curves=curves)
    ctx.log(f"overfit: best val loss {measured['overfit_best_val_loss']:.3f} at epoch "
            f"{measured['overfit_best_epoch']}, {measured['overfit_final_val_loss']:.3f} at the "
            f"end; early stopping stopped at epoch {measured['early_stop_epoch']} and restored "
            f"epoch {measured['early_stop_best_epoch']}; test loss {measured['early_stop_test_loss']:.3f}"
            f" vs {measured['overfit_test_loss']:.3f} without stopping; high LR: loss "
            f"{first_train:.3f} -> peak {peak:.3g}")
    return finish(ctx, measured, {"train": loop.train_losses, "val": loop.val_losses})


class _Loop:
    """Trains fresh copies of the classifier; steps are counted across the three runs."""

    def __init__(self, ctx: RunContext, s: dict[str, Any], device: torch.device, precision: Any,
                 train: list, val: list, test: list, num_labels: int):
        self.ctx, self.s, self.device, self.precision = ctx, s, device, precision
        self.num_labels = num_labels
        self.train_set, self.val_set, self.test_set = train, val, test
        self.global_step = 0
        self.train_losses: list[list[float]] = []
        self.val_losses: list[list[float]] = []
        self._encoded: dict[str, list[list[int]]] | None = None
        self.clock = Clock()

    def _model(self) -> ClassifierModel:
        seed_everything(int(self.s["seed"]))       # every run starts from the same weights
        cm = load_classifier(str(self.s["model"]), str(self.s["head"]), self.num_labels,
                             cache_dir=self.ctx.cache_dir, max_length=int(self.s["max_length"]),
                             log=self.ctx.log if self._encoded is None else (lambda m: None))
        for p in cm.model.parameters():
            p.requires_grad = True
        cm.model.to(self.device)
        if self._encoded is None:
            n = int(self.s["max_length"])
            self._encoded = {k: cm.encode([ex.text for ex in v], n) if v else [] for k, v in
                             (("train", self.train_set), ("val", self.val_set),
                              ("test", self.test_set))}
        return cm

    def _logits(self, cm: ClassifierModel, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            logits = cm.logits(ids, mask)
        if cm.head_kind == "last_token":
            from studyapp.training.reference import last_token_logits

            logits = last_token_logits(logits, mask)
        return logits.float()

    @torch.no_grad()
    def evaluate(self, cm: ClassifierModel, which: str) -> tuple[float, float, list[int]]:
        """(mean loss, accuracy, predictions) on the validation or test set."""
        assert self._encoded is not None
        ids = self._encoded[which]
        ys = [ex.label for ex in (self.val_set if which == "val" else self.test_set)]
        cm.model.eval()
        total, preds = 0.0, []
        for start in range(0, len(ids), 32):
            self.ctx.check_cancelled(self.global_step)
            x, mask = data_mod.collate(ids[start:start + 32], cm.pad_token_id)
            y = torch.tensor(ys[start:start + 32], device=self.device)
            logits = self._logits(cm, x.to(self.device), mask.to(self.device))
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            preds += logits.argmax(-1).tolist()
        acc = sum(int(p == y) for p, y in zip(preds, ys, strict=True)) / max(1, len(ys))
        return total / max(1, len(ys)), acc, preds

    def train(self, name: str, *, lr: float, epochs: int, stopper: Any) -> dict[str, Any]:
        s, ctx = self.s, self.ctx
        cm = self._model()
        assert self._encoded is not None
        ids, ys = self._encoded["train"], [ex.label for ex in self.train_set]
        optimizer = torch.optim.AdamW(cm.model.parameters(), lr=lr,
                                      weight_decay=float(s["weight_decay"]))
        rng = random.Random(int(s["seed"]))
        v0, a0, _ = self.evaluate(cm, "val")
        val = [[0, v0]]
        self.val_losses.append([self.global_step, v0])
        ctx.emit(Evaluation(step=self.global_step, val_loss=v0, metrics={"val_accuracy": a0}))
        train_epoch, train_steps = [], []
        stopped = epochs
        restored = math.nan
        if stopper is not None:
            stopper.step(v0, cm.model, 0)
        for epoch in range(1, epochs + 1):
            cm.model.train()
            losses = []
            for batch in data_mod.batches(len(ids), int(s["batch_size"]), shuffle=True, rng=rng):
                ctx.check_cancelled(self.global_step)
                x, mask = data_mod.collate([ids[i] for i in batch], cm.pad_token_id)
                y = torch.tensor([ys[i] for i in batch], device=self.device)
                logits = self._logits(cm, x.to(self.device), mask.to(self.device))
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                self.global_step += 1
                value = float(loss.detach())
                losses.append(value)
                train_steps.append(value)
                self.train_losses.append([self.global_step, value])
                ctx.emit(Step(step=self.global_step, epoch=epoch, loss=value, lr=lr,
                              tokens_per_s=float(mask.sum()) * len(train_steps)
                              / max(self.clock(), 1e-9), elapsed=self.clock(),
                              memory_mb=memory_mb(self.device)))
            train_epoch.append(sum(losses) / len(losses))
            vloss, vacc, _ = self.evaluate(cm, "val")
            val.append([epoch, vloss])
            self.val_losses.append([self.global_step, vloss])
            ctx.emit(Evaluation(step=self.global_step, val_loss=vloss,
                                metrics={"val_accuracy": vacc, "epoch": float(epoch)}))
            if stopper is not None and stopper.step(vloss, cm.model, epoch):
                stopped = epoch
                ctx.log(f"{name}: early stopping at epoch {epoch} (best: epoch "
                        f"{getattr(stopper, 'best_step', '?')}, val loss "
                        f"{getattr(stopper, 'best_loss', math.nan):.4f})")
                break
        if stopper is not None:
            stopper.restore_best(cm.model)
            restored, _, _ = self.evaluate(cm, "val")
        test_loss, test_acc, preds = self.evaluate(cm, "test")
        m = classification_metrics(preds, [ex.label for ex in self.test_set], self.num_labels - 1)
        ctx.log(f"{name}: test loss {test_loss:.4f}, accuracy {test_acc:.3f}, F1 {m['f1']:.3f}")
        del cm, optimizer
        return {"val": val, "train_epoch": train_epoch, "train_steps": train_steps,
                "stopped_epoch": stopped, "restored_val_loss": restored,
                "test_loss": test_loss, "test_accuracy": test_acc}
