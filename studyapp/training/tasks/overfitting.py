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

Each run is one `Engine.fit` (training/engine.py) at a constant learning rate without
gradient clipping; the learner's EarlyStopping is the fit's `on_evaluation` hook, so its
rule alone decides when the early_stop run ends. Settings: `OverfittingSettings`
(tasks/settings.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from studyapp.atomic import write_atomic
from studyapp.training import data as data_mod
from studyapp.training.device import seed_everything
from studyapp.training.engine import Engine, Evaluated, TrainConfig, pad_batch
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    SeededOrder,
    class_logits,
    overlay_plot,
    write_json,
)
from studyapp.training.tasks.settings import OverfittingSettings


def run(ctx: RunContext) -> dict[str, Any]:
    s = OverfittingSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(lr=s.lr, precision=s.precision, seed=s.seed,
                                     threads=s.threads))
    code = engine.learner_code()

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": tuple(d.get("labels") or ())}
    limit = s.max_eval_examples
    train = data_mod.subsample(data_mod.load_examples(Path(d["train"]), **read),
                               s.small_train, s.seed)
    val = data_mod.subsample(data_mod.load_examples(Path(d["val"]), **read), limit, s.seed)
    test = data_mod.subsample(data_mod.load_examples(Path(d["test"]), **read), limit, s.seed) \
        if d.get("test") else val
    num_labels = max(len(read["labels"]), 2)

    spe = math.ceil(len(train) / s.batch_size)
    engine.start(spe * (2 * s.epochs + s.high_lr_epochs),   # early stopping ends sooner
                 model_name=s.model, train_examples=len(train))
    engine.log(f"{len(train)} training messages (far too few), {s.epochs} epochs (far too "
               f"many); validation {len(val)}, held-out test {len(test)}")

    runs = _Runs(engine, s, train, val, test, num_labels)
    measured: dict[str, Any] = {"train_examples": len(train), "epochs": s.epochs}
    curves: dict[str, list[list[float]]] = {}

    # 1. too little data, too many epochs, nothing stops it
    engine.log("run 1 of 3 (overfit): no early stopping")
    r1 = runs.train("overfit", lr=s.lr, epochs=s.epochs, stopper=None)
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
    engine.log(f"run 2 of 3 (early_stop): your EarlyStopping(patience={s.patience}, "
               f"min_delta={s.min_delta})")
    stopper = code.EarlyStopping(patience=s.patience, min_delta=s.min_delta)
    r2 = runs.train("early_stop", lr=s.lr, epochs=s.epochs, stopper=stopper)
    best_loss = float(getattr(stopper, "best_loss", math.nan))
    measured.update(
        early_stop_epoch=r2["stopped_epoch"], early_stop_best_epoch=getattr(
            stopper, "best_step", None), early_stop_best_val_loss=best_loss,
        early_stop_restored_val_loss=r2["restored_val_loss"],
        early_stop_test_loss=r2["test_loss"], early_stop_test_accuracy=r2["test_accuracy"],
        restore_error=abs(r2["restored_val_loss"] - best_loss)
        if math.isfinite(best_loss) else math.inf,
    )
    measured["early_stop_saved_epochs"] = s.epochs - r2["stopped_epoch"]
    curves["early_stop (val)"] = r2["val"]

    # 3. a far too high learning rate
    engine.log(f"run 3 of 3 (high_lr): lr={s.high_lr:g}, {s.high_lr_epochs} epochs")
    r3 = runs.train("high_lr", lr=s.high_lr, epochs=s.high_lr_epochs, stopper=None)
    first_train = r3["train_steps"][0] if r3["train_steps"] else math.nan
    finite = [v for v in r3["train_steps"] if math.isfinite(v)]
    peak = max(finite) if len(finite) == len(r3["train_steps"]) else math.inf
    measured.update(
        high_lr=s.high_lr, high_lr_first_loss=first_train, high_lr_max_loss=peak,
        high_lr_final_val_loss=r3["val"][-1][1], high_lr_test_accuracy=r3["test_accuracy"],
        high_lr_loss_ratio=peak / first_train if first_train and math.isfinite(first_train)
        else math.inf,
    )
    curves["high_lr (val)"] = r3["val"]

    summary = engine.summary()
    summary.pop("train_loss")                 # over three runs: not one run's loss
    measured.update(summary, precision=engine.precision)
    measured.update(val_loss=measured["early_stop_restored_val_loss"],
                    accuracy=measured["early_stop_test_accuracy"],
                    test_loss=measured["early_stop_test_loss"])
    ymax = 3 * max(v for _, v in r1["val"] if math.isfinite(v))
    plot = overlay_plot(curves, title="validation loss per epoch: overfit, early stop, high LR",
                        xlabel="epoch", ylim=(0.0, ymax))
    if engine.is_main:
        try:
            write_json(ctx.output_dir / "curves.json", curves)
            write_atomic(ctx.output_dir / "curves.txt", plot)
            measured["plot_file"] = str(ctx.output_dir / "curves.txt")
        except OSError as exc:
            engine.log(f"could not write the plot: {exc}")
    engine.log("the three runs:\n" + plot, curves=curves)
    engine.log(f"overfit: best val loss {measured['overfit_best_val_loss']:.3f} at epoch "
               f"{measured['overfit_best_epoch']}, {measured['overfit_final_val_loss']:.3f} at "
               f"the end; early stopping stopped at epoch {measured['early_stop_epoch']} and "
               f"restored epoch {measured['early_stop_best_epoch']}; test loss "
               f"{measured['early_stop_test_loss']:.3f} vs {measured['overfit_test_loss']:.3f} "
               f"without stopping; high LR: loss {first_train:.3f} -> peak {peak:.3g}")
    return engine.finish(measured)


class _Runs:
    """Trains fresh copies of the classifier through the engine, one fit per run."""

    def __init__(self, engine: Engine, s: OverfittingSettings, train: list, val: list,
                 test: list, num_labels: int):
        self.engine, self.s, self.num_labels = engine, s, num_labels
        self.train_set, self.val_set, self.test_set = train, val, test
        self._encoded: dict[str, list[list[int]]] | None = None

    def _model(self) -> ClassifierModel:
        s = self.s
        seed_everything(s.seed)       # every run starts from the same weights
        cm = load_classifier(s.model, s.head, self.num_labels, cache_dir=self.engine.ctx.cache_dir,
                             max_length=s.max_length,
                             log=self.engine.log if self._encoded is None else (lambda m: None))
        for p in cm.model.parameters():
            p.requires_grad = True
        cm.model.to(self.engine.device)
        if self._encoded is None:
            self._encoded = {k: cm.encode([ex.text for ex in v], s.max_length) if v else []
                             for k, v in (("train", self.train_set), ("val", self.val_set),
                                          ("test", self.test_set))}
        return cm

    def evaluate(self, cm: ClassifierModel, which: str) -> tuple[float, float, list[int]]:
        """(mean loss, accuracy, predictions) on the validation or test set (call it under
        `engine.inference`)."""
        assert self._encoded is not None
        ids = self._encoded[which]
        ys = [ex.label for ex in (self.val_set if which == "val" else self.test_set)]
        total, preds = 0.0, []
        for start in range(0, len(ids), 32):
            self.engine.check_cancelled()
            x, mask = pad_batch(ids[start:start + 32], cm.pad_token_id)
            x, mask, y = self.engine.to_device((x, mask, torch.tensor(ys[start:start + 32])))
            logits = class_logits(cm, cm.model, x, mask)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            preds += logits.argmax(-1).tolist()
        acc = sum(int(p == y) for p, y in zip(preds, ys, strict=True)) / max(1, len(ys))
        return total / max(1, len(ys)), acc, preds

    def train(self, name: str, *, lr: float, epochs: int, stopper: Any) -> dict[str, Any]:
        s, engine = self.s, self.engine
        cm = self._model()
        assert self._encoded is not None
        rows = list(zip(self._encoded["train"], [ex.label for ex in self.train_set],
                        strict=True))

        def collate(batch: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
            ids, mask = pad_batch([r[0] for r in batch], cm.pad_token_id)
            return {"input_ids": ids, "attention_mask": mask,
                    "labels": torch.tensor([r[1] for r in batch], dtype=torch.long)}

        loader = torch.utils.data.DataLoader(rows, batch_size=s.batch_size,
                                             sampler=SeededOrder(len(rows), s.seed),
                                             collate_fn=collate,
                                             generator=torch.Generator().manual_seed(s.seed))

        def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = class_logits(cm, model, batch["input_ids"], batch["attention_mask"])
            return F.cross_entropy(logits, batch["labels"])

        epochs_done = [0]        # evaluations: before training (epoch 0), then each epoch

        def evaluate(model: torch.nn.Module) -> Evaluated:
            vloss, vacc, _ = self.evaluate(cm, "val")
            return Evaluated(vloss, {"val_accuracy": vacc, "epoch": float(epochs_done[0])})

        def early_stopping(step: int, result: Evaluated) -> bool:
            epoch = epochs_done[0]
            epochs_done[0] += 1
            stop = bool(stopper.step(result.loss, cm.model, epoch))
            if stop and epoch > 0:
                engine.log(f"{name}: early stopping at epoch {epoch} (best: epoch "
                           f"{getattr(stopper, 'best_step', '?')}, val loss "
                           f"{getattr(stopper, 'best_loss', math.nan):.4f})")
            return stop and epoch > 0

        def count(step: int, result: Evaluated) -> bool:
            epochs_done[0] += 1
            return False

        train_steps: list[float] = []
        fit = engine.fit(cm.model, loader, loss_fn, evaluate=evaluate,
                         on_step=lambda step, loss: train_steps.append(loss),
                         on_evaluation=early_stopping if stopper is not None else count,
                         model_name=s.model, train_examples=len(rows),
                         config=TrainConfig(lr=lr, epochs=epochs, schedule="constant",
                                            max_grad_norm=0.0, weight_decay=s.weight_decay))
        val = [[i, e.loss] for i, (_, e) in enumerate(fit.evaluations)]
        spe = math.ceil(len(rows) / s.batch_size)
        train_epoch = [sum(chunk) / len(chunk) for chunk in
                       (train_steps[i:i + spe] for i in range(0, len(train_steps), spe))]
        restored = math.nan
        with engine.inference(cm.model):
            if stopper is not None:
                stopper.restore_best(cm.model)
                restored, _, _ = self.evaluate(cm, "val")
            test_loss, test_acc, preds = self.evaluate(cm, "test")
        m = classification_metrics(preds, [ex.label for ex in self.test_set], self.num_labels - 1)
        engine.log(f"{name}: test loss {test_loss:.4f}, accuracy {test_acc:.3f}, "
                   f"F1 {m['f1']:.3f}")
        stopped = len(val) - 1 if fit.stopped_early else epochs
        return {"val": val, "train_epoch": train_epoch, "train_steps": train_steps,
                "stopped_epoch": stopped, "restored_val_loss": restored,
                "test_loss": test_loss, "test_accuracy": test_acc}
