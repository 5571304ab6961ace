"""LoRA vs full fine-tuning on the same task, through peft.

The same classifier (by default the pretrained MiniLM encoder with a new 2-way head, on the
spam/ham messages) is fine-tuned twice from the same start, with the same data and the same
number of steps:

    lora   the base weights frozen; low-rank adapters (rank `rank`, scale `alpha / rank`,
           `dropout`) on the `target_modules`, and the new head, train (peft)
    full   every weight trains

For each: trainable parameters and their share, the memory training takes (CPU: peak RSS
above the start, sampled; CUDA: torch.cuda.max_memory_allocated; and, exactly, weights +
gradients + AdamW states from the tensors), time per step, and accuracy / F1 on the
held-out test messages. Then the LoRA adapter is saved (a few hundred KB), loaded back onto
a fresh base model (same accuracy), and a second adapter is trained on the same base with
the labels flipped; `load_adapter` / `set_adapter` swap the two over one base without
reloading it. QLoRA (`qlora = true`: a 4-bit base through bitsandbytes) needs a CUDA GPU.

The learner's module provides:

    lora_delta(x, lora_A, lora_B, alpha, r) -> the update LoRA adds to a layer's output
    count_parameters(model) -> (trainable, total)

and the run checks `lora_delta` against peft's own LoRA layer after training.

Each training (LoRA, the second adapter, full) is one `Engine.fit` (training/engine.py):
warm-up then linear decay, gradients clipped at 1.0, the same batches in the same order.
The LoRA fit's evaluation before its first step is the untrained classifier's (LoRA's B
starts at zero, so the adapted model computes what the base with its new head does).
Settings: `LoraSettings` (tasks/settings.py).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studyapp.training import data as data_mod
from studyapp.training.device import seed_everything
from studyapp.training.engine import Engine, Evaluated, Fit, TrainConfig, pad_batch
from studyapp.training.events import Checkpoint
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    PeakMemory,
    class_logits,
    param_counts,
    training_state_mb,
)
from studyapp.training.tasks.settings import LoraSettings
from studyapp.training.tasks.textclf import released

QLORA_NEEDS = ("QLoRA needs a CUDA GPU and the bitsandbytes package (4-bit weights are a "
               "CUDA kernel); {why}. Run with qlora = false here, or on a machine with an "
               "NVIDIA GPU after `pip install bitsandbytes`.")


def qlora_unavailable_reason() -> str | None:
    """None when QLoRA can run here, else why not (one line)."""
    if not torch.cuda.is_available():
        return QLORA_NEEDS.format(why="no CUDA GPU is available here")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return QLORA_NEEDS.format(why="bitsandbytes is not installed")
    return None


def run(ctx: RunContext) -> dict[str, Any]:
    s = LoraSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(lr=s.lr_lora, precision=s.precision, seed=s.seed,
                                     threads=s.threads))
    code = engine.learner_code()

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": tuple(d.get("labels") or ())}
    train = data_mod.subsample(data_mod.load_examples(Path(d["train"]), **read),
                               s.max_train_examples, s.seed)
    test = data_mod.subsample(data_mod.load_examples(Path(d["test" if d.get("test") else "val"]),
                                                     **read), s.max_eval_examples, s.seed)
    num_labels = max(len(read["labels"]), 2)

    steps = math.ceil(len(train) / s.batch_size) * s.epochs
    engine.start(2 * steps + s.second_adapter_steps, model_name=s.model,
                 train_examples=len(train))
    task = _Task(engine, s, train, test, num_labels, code)
    measured: dict[str, Any] = {"train_examples": len(train), "test_examples": len(test),
                                "rank": s.rank, "alpha": s.alpha,
                                "target_modules": s.target_modules}

    qlora_why = qlora_unavailable_reason() if s.qlora else None
    if s.qlora and qlora_why:
        engine.log(qlora_why)
        measured["qlora"] = qlora_why
    quantized = s.qlora and qlora_why is None

    # 1. LoRA; its evaluation at step 0 is the base with its new, untrained head
    cm = task.fresh_model(quantized=quantized)
    peft_model = _add_lora(cm, s, quantized)
    mode = "qlora" if quantized else "lora"
    lora = task.train(mode, peft_model, s.lr_lora, steps, cm, before=True)
    measured.update(accuracy_before=lora.pop("accuracy_before"),
                    test_loss_before=lora.pop("test_loss_before"))
    measured.update(_prefixed("lora", lora))
    measured["lora_delta_error"] = _check_lora_delta(code, peft_model, engine.device)
    adapter_dir = ctx.output_dir / "adapters" / "spam"
    flipped_dir = ctx.output_dir / "adapters"
    if engine.is_main:
        peft_model.save_pretrained(str(adapter_dir))
        size = sum(p.stat().st_size for p in adapter_dir.rglob("*") if p.is_file())
        measured["adapter_kb"] = size / 1024
        ctx.emit(Checkpoint(step=engine.step, path=str(adapter_dir)))
        engine.log(f"saved the LoRA adapter ({size / 1024:.0f} KB) to {adapter_dir}")

    # a second adapter on the same base: the same task with the labels flipped
    from peft import LoraConfig

    peft_model.add_adapter("flipped", LoraConfig(**_lora_kwargs(cm, s)))
    peft_model.set_adapter("flipped")
    task.train("flipped", peft_model, s.lr_lora * 3, s.second_adapter_steps, cm, flip=True,
               measure=False)
    if engine.is_main:
        peft_model.save_pretrained(str(flipped_dir), selected_adapters=["flipped"])
    del peft_model, cm
    released()

    # 2. load the adapter back onto a fresh base; swap the two adapters over that one base
    if engine.is_main:
        measured.update(_reload_and_swap(task, adapter_dir, flipped_dir, quantized, lora))

    # 3. full fine-tuning from the same start
    cm = task.fresh_model(quantized=False)
    for p in cm.model.parameters():
        p.requires_grad = True
    full = task.train("full", cm.model, s.lr_full, steps, cm)
    measured.update(_prefixed("full", full))
    del cm
    released()

    summary = engine.summary()
    summary.pop("train_loss")                 # over three trainings: not one model's loss
    measured.update(summary, precision=engine.precision)
    measured["memory_saved_mb"] = measured["full_peak_memory_mb"] - measured["lora_peak_memory_mb"]
    measured["memory_saved_share"] = (measured["memory_saved_mb"] / measured["full_peak_memory_mb"]
                                      if measured["full_peak_memory_mb"] > 0 else None)
    measured["state_saved_mb"] = (measured["full_training_state_mb"]
                                  - measured["lora_training_state_mb"])
    measured.update(accuracy=measured["lora_accuracy"], f1=measured["lora_f1"],
                    trainable_share=measured["lora_trainable_share"],
                    trainable_params=measured["lora_trainable_params"])
    engine.log(_table(measured))
    return engine.finish(measured)


def _reload_and_swap(task: _Task, adapter_dir: Path, flipped_dir: Path, quantized: bool,
                     lora: dict[str, Any]) -> dict[str, Any]:
    """The saved adapter on a fresh base, then the second adapter swapped in and out."""
    from peft import PeftModel

    engine = task.engine
    base = task.fresh_model(quantized=quantized)
    model = PeftModel.from_pretrained(base.model, str(adapter_dir), adapter_name="spam")
    if not quantized:                   # a 4-bit model is placed when loaded; .to() refuses
        model.to(engine.device)
    reloaded = task.evaluate(model, base)
    model.load_adapter(str(flipped_dir / "flipped"), adapter_name="flipped")
    model.set_adapter("flipped")
    flipped = task.evaluate(model, base)
    model.set_adapter("spam")
    back = task.evaluate(model, base)
    engine.log(f"adapter loaded onto a fresh base: accuracy {reloaded['accuracy']:.3f} "
               f"(trained: {lora['accuracy']:.3f}); set_adapter('flipped'): "
               f"{flipped['accuracy']:.3f}; set_adapter('spam') again: {back['accuracy']:.3f}"
               " - one base, no reload")
    del model, base
    released()
    return {"reload_accuracy": reloaded["accuracy"],
            "reload_error": abs(reloaded["loss"] - lora["test_loss"]),
            "flipped_adapter_accuracy": flipped["accuracy"],
            "swap_back_accuracy": back["accuracy"],
            "swap_error": abs(back["loss"] - reloaded["loss"])}


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


def _table(m: dict[str, Any]) -> str:
    rows = [("", "LoRA", "full"),
            ("trainable params", f"{m['lora_trainable_params']:,}",
             f"{m['full_trainable_params']:,}"),
            ("trainable share", f"{m['lora_trainable_share']:.2%}",
             f"{m['full_trainable_share']:.2%}"),
            ("peak memory (MB)", f"{m['lora_peak_memory_mb']:.0f}",
             f"{m['full_peak_memory_mb']:.0f}"),
            ("weights+grads+AdamW (MB)", f"{m['lora_training_state_mb']:.1f}",
             f"{m['full_training_state_mb']:.1f}"),
            ("time per step (s)", f"{m['lora_time_per_step_s']:.3f}",
             f"{m['full_time_per_step_s']:.3f}"),
            ("test accuracy", f"{m['lora_accuracy']:.3f}", f"{m['full_accuracy']:.3f}"),
            ("test F1", f"{m['lora_f1']:.3f}", f"{m['full_f1']:.3f}")]
    return "\n".join(f"{a:<26}{b:>14}{c:>14}" for a, b, c in rows)


def _module_names(root: nn.Module, modules: list[nn.Module]) -> list[str]:
    wanted = {id(m) for m in modules}
    return [name for name, mod in root.named_modules() if id(mod) in wanted and name]


def _lora_kwargs(cm: ClassifierModel, s: LoraSettings) -> dict[str, Any]:
    targets = [t.strip() for t in s.target_modules.split(",") if t.strip()]
    head = [n.split(".")[-1] for n in _module_names(cm.model, cm.head)]
    return {"r": s.rank, "lora_alpha": s.alpha,
            "lora_dropout": s.dropout, "target_modules": targets,
            "modules_to_save": head or None, "fan_in_fan_out": _is_conv1d(cm.model, targets)}


def _is_conv1d(model: nn.Module, targets: list[str]) -> bool:
    """GPT-2 keeps its projections in Conv1D layers (weights stored transposed)."""
    for name, mod in model.named_modules():
        if name.split(".")[-1] in targets:
            return type(mod).__name__ == "Conv1D"
    return False


def _add_lora(cm: ClassifierModel, s: LoraSettings, quantized: bool) -> nn.Module:
    import warnings

    from peft import LoraConfig, get_peft_model

    kwargs = _lora_kwargs(cm, s)
    model = cm.model
    if quantized:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # fan_in_fan_out notes for GPT-2's Conv1D
        try:
            return get_peft_model(model, LoraConfig(**kwargs))
        except ValueError as exc:
            names = sorted({n.split(".")[-1] for n, m in model.named_modules()
                            if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"})
            raise ValueError(f"LoRA could not be added: {exc}. Layers this model has: "
                             f"{', '.join(names)} (set target_modules to some of them)") from exc


@torch.no_grad()
def _check_lora_delta(code: ModuleType, model: nn.Module, device: torch.device) -> float:
    """Largest difference between the learner's lora_delta and peft's LoRA layer output."""
    from peft.tuners.lora import LoraLayer

    layer = next((m for m in model.modules() if isinstance(m, LoraLayer)), None)
    if layer is None:
        return math.inf
    name = layer.active_adapters[0]
    was_training = layer.training
    layer.eval()
    a = layer.lora_A[name].weight
    b = layer.lora_B[name].weight
    x = torch.randn(2, 3, a.shape[1], device=a.device, dtype=a.dtype)
    base_weight = getattr(layer.base_layer, "weight", None)
    if base_weight is not None and base_weight.dtype == torch.float32:
        peft_delta = layer(x) - layer.base_layer(x)       # what the adapted layer adds
    else:   # a 4-bit or half-precision base: compare with peft's LoRA term itself
        peft_delta = layer.lora_B[name](layer.lora_A[name](x)) * layer.scaling[name]
    mine = code.lora_delta(x, a, b, layer.lora_alpha[name], layer.r[name])
    layer.train(was_training)
    return float((peft_delta.float() - mine.float()).abs().max())


class _Stream:
    """A batch sampler: `steps` batches of `batch_size` indices from an endless stream of
    shuffled passes over 0..n-1 (one `random.Random(seed)` per training, so every mode
    trains on the same batches in the same order; a pass's tail and the next pass's head
    share a batch)."""

    drop_last = False

    def __init__(self, n: int, batch_size: int, steps: int, seed: int):
        self.n, self.batch_size, self.steps, self.seed = n, batch_size, steps, seed

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed)
        order: list[int] = []
        for _ in range(self.steps):
            if len(order) < self.batch_size:
                more = list(range(self.n))
                rng.shuffle(more)
                order += more
            batch, order = order[:self.batch_size], order[self.batch_size:]
            yield batch


_NAN = {"loss": math.nan, "accuracy": math.nan, "f1": math.nan}


class _Task:
    """The modes' shared data, models and evaluation; each training is one engine fit."""

    def __init__(self, engine: Engine, s: LoraSettings, train: list, test: list,
                 num_labels: int, code: ModuleType):
        self.engine, self.s, self.code = engine, s, code
        self.train_set, self.test_set, self.num_labels = train, test, num_labels
        self.encoded: dict[str, list[list[int]]] | None = None

    def fresh_model(self, *, quantized: bool) -> ClassifierModel:
        s = self.s
        seed_everything(s.seed)          # the same start (and the same new head) each time
        quiet = self.encoded is not None
        cm = load_classifier(s.model, s.head, self.num_labels,
                             cache_dir=self.engine.ctx.cache_dir, max_length=s.max_length,
                             log=(lambda m: None) if quiet else self.engine.log)
        if quantized:
            cm = _quantized(cm, self.engine)
        else:
            cm.model.to(self.engine.device)
        if self.encoded is None:
            self.encoded = {"train": cm.encode([e.text for e in self.train_set], s.max_length),
                            "test": cm.encode([e.text for e in self.test_set], s.max_length)}
        return cm

    def evaluate(self, model: nn.Module, cm: ClassifierModel) -> dict[str, float]:
        """Loss, accuracy and F1 on the held-out test messages."""
        assert self.encoded is not None
        ids, ys = self.encoded["test"], [e.label for e in self.test_set]
        total, preds = 0.0, []
        with self.engine.inference(model):
            for start in range(0, len(ids), 32):
                self.engine.check_cancelled()
                x, mask = pad_batch(ids[start:start + 32], cm.pad_token_id)
                x, mask, y = self.engine.to_device((x, mask, torch.tensor(ys[start:start + 32])))
                logits = class_logits(cm, model, x, mask)
                total += float(F.cross_entropy(logits, y, reduction="sum"))
                preds += logits.argmax(-1).tolist()
        m = classification_metrics(preds, ys, self.num_labels - 1)
        return {"loss": total / max(1, len(ys)), "accuracy": m["accuracy"], "f1": m["f1"]}

    def train(self, mode: str, model: nn.Module, lr: float, steps: int, cm: ClassifierModel,
              *, flip: bool = False, measure: bool = True, before: bool = False
              ) -> dict[str, Any]:
        engine, s = self.engine, self.s
        assert self.encoded is not None
        trainable, total = self.code.count_parameters(model)
        true_trainable, true_total = param_counts(model)
        if (trainable, total) != (true_trainable, true_total):
            raise ValueError(f"count_parameters says {trainable:,} of {total:,} trainable; "
                             f"the model has {true_trainable:,} of {true_total:,}")
        if measure:
            engine.log(f"{mode}: {trainable:,} of {total:,} parameters train "
                       f"({trainable / total:.2%}), lr {lr:g}", mode=mode,
                       trainable_params=trainable, total_params=total)
        ys = [(1 - e.label if flip and self.num_labels == 2 else e.label)
              for e in self.train_set]
        rows = list(zip(self.encoded["train"], ys, strict=True))

        def collate(batch: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
            ids, mask = pad_batch([r[0] for r in batch], cm.pad_token_id)
            return {"input_ids": ids, "attention_mask": mask,
                    "labels": torch.tensor([r[1] for r in batch], dtype=torch.long)}

        loader = torch.utils.data.DataLoader(
            rows, batch_sampler=_Stream(len(rows), s.batch_size, steps, s.seed),
            collate_fn=collate, generator=torch.Generator().manual_seed(s.seed))

        def loss_fn(m: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            logits = class_logits(cm, m, batch["input_ids"], batch["attention_mask"])
            return F.cross_entropy(logits, batch["labels"])

        def evaluate(m: nn.Module) -> Evaluated:
            result = self.evaluate(m, cm)
            return Evaluated(result["loss"], {"test_accuracy": result["accuracy"],
                                              "test_f1": result["f1"]})

        stamps: list[float] = []

        def on_step(step: int, loss: float) -> None:
            if engine.device.type == "cuda":
                torch.cuda.synchronize(engine.device)
            stamps.append(time.perf_counter())

        if measure:   # one untimed forward first: one-time allocations count for no mode
            with engine.inference(model):
                warm = collate(rows[:s.batch_size])
                loss_fn(model, engine.to_device(warm))
        memory = PeakMemory(engine.device)
        with memory:
            fit = engine.fit(model, loader, loss_fn, evaluate=evaluate, on_step=on_step,
                             model_name=s.model, train_examples=len(rows),
                             config=TrainConfig(lr=lr, epochs=1, warmup_ratio=s.warmup_ratio,
                                                weight_decay=s.weight_decay, max_grad_norm=1.0,
                                                eval_before=before))
        state_mb = training_state_mb(model)
        result = _result(fit)
        if not measure:
            engine.log(f"{mode}: test accuracy {result['accuracy']:.3f} (labels flipped in "
                       "training)")
            return result
        gaps = [b - a for a, b in itertools.pairwise(stamps)] or [math.nan]
        out = {"trainable_params": trainable, "total_params": total,
               "trainable_share": trainable / total,
               "peak_memory_mb": memory.used_mb, "training_state_mb": state_mb,
               "time_per_step_s": sum(gaps) / len(gaps), "steps": fit.steps,
               "accuracy": result["accuracy"], "f1": result["f1"], "test_loss": result["loss"]}
        if before:
            first = _result(fit, 0)
            out.update(accuracy_before=first["accuracy"], test_loss_before=first["loss"])
        engine.log(f"{mode}: test accuracy {result['accuracy']:.3f}, F1 {result['f1']:.3f}, "
                   f"{out['time_per_step_s']:.3f} s/step, peak memory +{memory.used_mb:.0f} MB")
        return out


def _result(fit: Fit, index: int = -1) -> dict[str, float]:
    """A fit's evaluation (the last, or `index`) as loss, accuracy, F1; NaN on the processes
    that do not evaluate (all but the main one)."""
    if not fit.evaluations:
        return dict(_NAN)
    e = fit.evaluations[index][1]
    return {"loss": e.loss, "accuracy": e.metrics["test_accuracy"], "f1": e.metrics["test_f1"]}


def _quantized(cm: ClassifierModel, engine: Engine) -> ClassifierModel:  # pragma: no cover - CUDA
    """The same classifier reloaded with 4-bit (NF4) base weights through bitsandbytes."""
    from transformers import AutoModelForSequenceClassification, BitsAndBytesConfig

    if cm.head_kind != "sequence" or cm.source == "built in code":
        raise ValueError("QLoRA here needs a pretrained encoder with a sequence head "
                         "(model = minilm, or a hub id)")
    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForSequenceClassification.from_pretrained(
        cm.source, num_labels=cm.model.config.num_labels, quantization_config=config,
        device_map={"": torch.cuda.current_device()})
    engine.log("QLoRA: base weights loaded in 4 bits (NF4) on the GPU")
    # the new head trains in full precision; the 4-bit pooler stays frozen
    cm.model, cm.head = model, [model.classifier]
    return cm
