"""The classification task: fine-tune a model to put texts into classes (spam or ham).

Runs inside the worker. The parts the lesson is about come from the learner's file (or the
reference solution), a module with these functions:

    freeze_all_but_last(model, blocks, final_norm, head, trainable_blocks) -> None
    last_token_logits(logits[B, T, C], attention_mask[B, T]) -> logits[B, C]
    classification_loss(logits[B, C], labels[B]) -> scalar loss
    accuracy(logits[B, C], labels[B]) -> float

Settings (see exercises/spam/exercise.toml for defaults):
    model, head ("sequence" | "last_token"), lr, epochs, batch_size, max_length,
    trainable_blocks (-1: all), eval_every (steps; 0: once per epoch), seed,
    max_train_examples / max_eval_examples (0: all), warmup_ratio, weight_decay,
    checkpoint (save the trained weights), threads (CPU threads; 0: torch's default),
    precision ("auto" | "fp32" | "bf16" | "fp16").
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.training import data as data_mod
from studyapp.training.catalog import CheckSpec, evaluate_checks
from studyapp.training.codecheck import load_module, run_code_checks
from studyapp.training.device import (
    autocast,
    cpu_threads,
    describe,
    make_scaler,
    memory_mb,
    optimizer_step,
    pick_device,
    pick_precision,
    seed_everything,
)
from studyapp.training.events import Checkpoint, Evaluation, Started, Step
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import CodeChecksFailed, RunContext

DEFAULTS: dict[str, Any] = {
    "model": "tiny-gpt2",
    "head": "last_token",
    "lr": 5e-5,
    "epochs": 1,
    "batch_size": 16,
    "max_length": 64,
    "trainable_blocks": 1,
    "eval_every": 0,
    "seed": 123,
    "max_train_examples": 0,
    "max_eval_examples": 0,
    "warmup_ratio": 0.1,
    "weight_decay": 0.0,
    "checkpoint": False,
    "threads": 0,
    "precision": "auto",
}


def run(ctx: RunContext) -> dict[str, Any]:
    """Train and evaluate; returns the final metrics and check results."""
    t_start = time.perf_counter()
    s = {**DEFAULTS, **ctx.settings}
    spec = ctx.spec
    threads = cpu_threads(int(s["threads"]))
    torch.set_num_threads(threads)
    seed_everything(int(s["seed"]))

    code = _learner_code(ctx)
    device = pick_device(spec.device)
    precision = pick_precision(device, None if s["precision"] == "auto" else s["precision"])

    # --- data ---------------------------------------------------------------------------
    if not spec.data:
        raise ValueError(f"exercise {spec.exercise!r} names no data")
    d = spec.data
    labels = tuple(d.get("labels") or ())
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
                "label_field": d.get("label_field", "label"), "labels": labels}
    train = data_mod.subsample(data_mod.load_examples(Path(d["train"]), **read),
                               int(s["max_train_examples"]), int(s["seed"]))
    val = data_mod.subsample(data_mod.load_examples(Path(d["val"]), **read),
                             int(s["max_eval_examples"]), int(s["seed"]))
    test = (data_mod.subsample(data_mod.load_examples(Path(d["test"]), **read),
                               int(s["max_eval_examples"]), int(s["seed"]))
            if d.get("test") else [])
    num_labels = max(len(labels), 1 + max(ex.label for ex in train + val + test), 2)
    positive = num_labels - 1

    batch_size = int(s["batch_size"])
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total_steps = steps_per_epoch * int(s["epochs"])
    ctx.emit(Started(run_id=spec.run_id, exercise=spec.exercise, variant=spec.variant,
                     device=describe(device), settings=ctx.settings, total_steps=total_steps,
                     model=str(s["model"]), train_examples=len(train)))

    # --- model --------------------------------------------------------------------------
    max_length = int(s["max_length"])
    cm = load_classifier(str(s["model"]), str(s["head"]), num_labels,
                         cache_dir=ctx.cache_dir, max_length=max_length, log=ctx.log)
    code.freeze_all_but_last(cm.model, cm.blocks, cm.final_norm, cm.head,
                             int(s["trainable_blocks"]))
    trainable = [p for p in cm.model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in cm.model.parameters())
    if not trainable:
        raise ValueError("no parameter is left trainable: check freeze_all_but_last")
    cm.model.to(device)
    ctx.log(f"{cm.name}: {n_trainable:,} of {n_total:,} parameters train "
            f"({100 * n_trainable / n_total:.1f}%) on {describe(device)}, {precision.name}",
            model=cm.name, trainable_params=n_trainable, total_params=n_total,
            precision=precision.name)

    enc = _Encoded(cm, max_length)
    train_ids = enc(train)
    val_ids, test_ids = enc(val), enc(test)
    train_y = [ex.label for ex in train]

    def evaluate(ids: list[list[int]], ys: list[int], step: int) -> tuple[float, list[int],
                                                                              float]:
        return _evaluate(ctx, cm, code, device, precision, ids, ys, batch_size * 2, step)

    # --- before training ----------------------------------------------------------------
    val_losses: list[list[float]] = []
    train_losses: list[list[float]] = []
    measured: dict[str, Any] = {"device": describe(device), "model": cm.name,
                                "trainable_params": n_trainable, "total_params": n_total}
    loss0, _, acc0 = evaluate(val_ids, [ex.label for ex in val], 0)
    val_losses.append([0, loss0])
    ctx.emit(Evaluation(step=0, val_loss=loss0, metrics={"val_accuracy": acc0}))
    if test:
        _, preds0, _ = evaluate(test_ids, [ex.label for ex in test], 0)
        before = classification_metrics(preds0, [ex.label for ex in test], positive)
        measured["accuracy_before"] = before["accuracy"]
        measured["f1_before"] = before["f1"]
    measured.update(val_loss_first=loss0, val_accuracy_before=acc0)

    # --- training -----------------------------------------------------------------------
    optimizer = torch.optim.AdamW(trainable, lr=float(s["lr"]),
                                  weight_decay=float(s["weight_decay"]))
    warmup = int(total_steps * float(s["warmup_ratio"]))

    def lr_factor(i: int) -> float:   # linear warm-up, then linear decay to zero
        if i < warmup:
            return (i + 1) / (warmup + 1)
        return max(0.0, (total_steps - i) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    scaler = make_scaler(device, precision)
    eval_every = int(s["eval_every"]) or steps_per_epoch
    rng = random.Random(int(s["seed"]))
    step, last_eval_step = 0, 0
    t_train = time.perf_counter()
    cm.model.train()
    for epoch in range(int(s["epochs"])):
        for batch in data_mod.batches(len(train_ids), batch_size, shuffle=True, rng=rng):
            ctx.check_cancelled(step, _partial(measured, train_losses, val_losses, step))
            t0 = time.perf_counter()
            input_ids, mask = data_mod.collate([train_ids[i] for i in batch], cm.pad_token_id)
            y = torch.tensor([train_y[i] for i in batch], device=device)
            input_ids, mask = input_ids.to(device), mask.to(device)
            with autocast(device, precision):
                logits = _class_logits(cm, code, input_ids, mask)
            loss = code.classification_loss(logits.float(), y)
            optimizer_step(loss, optimizer, scaler, trainable)
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            step += 1
            loss_value = float(loss.detach())
            now = time.perf_counter()
            train_losses.append([step, loss_value])
            ctx.emit(Step(step=step, epoch=epoch + (step - epoch * steps_per_epoch)
                          / steps_per_epoch, loss=loss_value, lr=lr,
                          tokens_per_s=float(mask.sum()) / max(now - t0, 1e-9),
                          elapsed=now - t_train, memory_mb=memory_mb(device)))
            if step % eval_every == 0 or step == total_steps:
                cm.model.eval()
                vloss, _, vacc = evaluate(val_ids, [ex.label for ex in val], step)
                cm.model.train()
                val_losses.append([step, vloss])
                last_eval_step = step
                ctx.emit(Evaluation(step=step, val_loss=vloss,
                                    metrics={"val_accuracy": vacc}))
                measured.update(val_loss=vloss, val_accuracy=vacc)
    train_time = time.perf_counter() - t_train
    if last_eval_step != step:  # pragma: no cover - the loop always ends with an evaluation
        vloss, _, vacc = evaluate(val_ids, [ex.label for ex in val], step)
        val_losses.append([step, vloss])
        measured.update(val_loss=vloss, val_accuracy=vacc)

    # --- after training -----------------------------------------------------------------
    cm.model.eval()
    if test:
        test_loss, preds, _ = evaluate(test_ids, [ex.label for ex in test], step)
        after = classification_metrics(preds, [ex.label for ex in test], positive)
        measured.update(accuracy=after["accuracy"], f1=after["f1"],
                        precision=after["precision"], recall=after["recall"],
                        test_loss=test_loss,
                        confusion={k: after[k] for k in ("tp", "fp", "fn", "tn")})
    if s["checkpoint"]:
        path = _save_trainable(cm, ctx.output_dir)
        ctx.emit(Checkpoint(step=step, path=str(path)))
    tail = [loss for _, loss in train_losses[-max(1, steps_per_epoch // 4):]]
    measured.update(
        train_loss=sum(tail) / len(tail) if tail else None,
        steps=step, epochs=int(s["epochs"]), train_examples=len(train),
        val_examples=len(val), test_examples=len(test),
        trainable_share=n_trainable / n_total,
        train_time_s=train_time, time_s=time.perf_counter() - t_start,
        steps_per_s=step / train_time if train_time > 0 else None,
        peak_memory_mb=memory_mb(device), autocast=precision.name,
        threads=threads if device.type == "cpu" else None,
    )
    checks = [CheckSpec(**c) for c in spec.checks]
    return {"metrics": measured, "checks": evaluate_checks(checks, measured),
            "losses": {"train": train_losses, "val": val_losses}}


def _partial(measured: dict[str, Any], train_losses: list, val_losses: list,
             step: int) -> dict[str, Any]:
    out = dict(measured, steps=step)
    if train_losses:
        out["train_loss"] = train_losses[-1][1]
    if val_losses:
        out["val_loss"] = val_losses[-1][1]
    return out


class _Encoded:
    def __init__(self, cm: ClassifierModel, max_length: int):
        self.cm, self.max_length = cm, max_length

    def __call__(self, examples: list[data_mod.Example]) -> list[list[int]]:
        if not examples:
            return []
        return self.cm.encode([ex.text for ex in examples], self.max_length)


def _learner_code(ctx: RunContext) -> ModuleType:
    spec = ctx.spec
    if spec.code_path:
        code = load_module(Path(spec.code_path))
    else:  # no exercise code: the engine's own reference implementation
        from studyapp.training import reference as code  # type: ignore[no-redef]
    if spec.code_checks_path:
        results = [r.to_dict() for r in run_code_checks(code, load_module(
            Path(spec.code_checks_path)))]
        if not all(r["passed"] for r in results):
            raise CodeChecksFailed(results)
        ctx.log(f"your code passed its {len(results)} checks", code_checks=results)
    return code


def _class_logits(cm: ClassifierModel, code: ModuleType, input_ids: torch.Tensor,
                  mask: torch.Tensor) -> torch.Tensor:
    logits = cm.logits(input_ids, mask)
    if cm.head_kind == "last_token":
        logits = code.last_token_logits(logits, mask)
    return logits


@torch.no_grad()
def _evaluate(ctx: RunContext, cm: ClassifierModel, code: ModuleType, device: torch.device,
              precision: Any, ids: list[list[int]], ys: list[int], batch_size: int,
              step: int) -> tuple[float, list[int], float]:
    """Mean loss, predictions (in input order) and the learner's accuracy over a set."""
    if not ids:
        return float("nan"), [], float("nan")
    was_training = cm.model.training
    cm.model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))   # less padding
    preds = [0] * len(ids)
    total_loss, total_acc = 0.0, 0.0
    for start in range(0, len(order), batch_size):
        ctx.check_cancelled(step)
        chunk = order[start:start + batch_size]
        input_ids, mask = data_mod.collate([ids[i] for i in chunk], cm.pad_token_id)
        input_ids, mask = input_ids.to(device), mask.to(device)
        y = torch.tensor([ys[i] for i in chunk], device=device)
        with autocast(device, precision):
            logits = _class_logits(cm, code, input_ids, mask)
        logits = logits.float()
        total_loss += float(code.classification_loss(logits, y)) * len(chunk)
        total_acc += float(code.accuracy(logits, y)) * len(chunk)
        for i, p in zip(chunk, logits.argmax(dim=-1).tolist(), strict=True):
            preds[i] = p
    if was_training:
        cm.model.train()
    return total_loss / len(ids), preds, total_acc / len(ids)


def _save_trainable(cm: ClassifierModel, output_dir: Path) -> Path:
    from safetensors.torch import save_file

    output_dir.mkdir(parents=True, exist_ok=True)
    state = {name: p.detach().cpu().contiguous()
             for name, p in cm.model.named_parameters() if p.requires_grad}
    path = output_dir / "trainable.safetensors"
    save_file(state, str(path), metadata={"model": cm.name, "source": cm.source})
    return path
