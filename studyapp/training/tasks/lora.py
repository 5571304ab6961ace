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
"""

from __future__ import annotations

import gc
import math
import random
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from studyapp.training import data as data_mod
from studyapp.training.device import (
    autocast,
    describe,
    memory_mb,
    seed_everything,
)
from studyapp.training.events import Checkpoint, Evaluation, Started, Step
from studyapp.training.metrics import classification_metrics
from studyapp.training.models import ClassifierModel, load_classifier
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    Clock,
    PeakMemory,
    finish,
    lr_schedule,
    param_counts,
    prepare,
    training_state_mb,
)

DEFAULTS: dict[str, Any] = {
    "model": "minilm",
    "head": "sequence",
    "target_modules": "query,value",  # comma-separated module names (peft target_modules)
    "rank": 8,
    "alpha": 16,
    "dropout": 0.05,
    "lr_full": 5e-5,
    "lr_lora": 1e-3,
    "epochs": 1,
    "batch_size": 16,
    "max_length": 48,
    "max_train_examples": 0,
    "max_eval_examples": 0,
    "second_adapter_steps": 8,
    "warmup_ratio": 0.1,
    "weight_decay": 0.0,
    "qlora": False,
    "seed": 123,
    "threads": 0,
    "precision": "auto",
}

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
    clock, s, seed, code, device, precision = prepare(ctx, DEFAULTS)

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    read = {"fmt": d.get("format"), "text_field": d.get("text_field", "text"),
            "label_field": d.get("label_field", "label"), "labels": tuple(d.get("labels") or ())}
    limit = int(s["max_eval_examples"])
    train = data_mod.subsample(data_mod.load_examples(Path(d["train"]), **read),
                               int(s["max_train_examples"]), seed)
    test = data_mod.subsample(data_mod.load_examples(Path(d["test" if d.get("test") else "val"]),
                                                     **read), limit, seed)
    num_labels = max(len(read["labels"]), 2)

    batch_size = int(s["batch_size"])
    steps = math.ceil(len(train) / batch_size) * int(s["epochs"])
    second_steps = int(s["second_adapter_steps"])
    ctx.emit(Started(run_id=ctx.spec.run_id, exercise=ctx.spec.exercise,
                     variant=ctx.spec.variant, device=describe(device), settings=ctx.settings,
                     total_steps=2 * steps + second_steps, model=str(s["model"]),
                     train_examples=len(train)))
    task = _Task(ctx, s, device, precision, train, test, num_labels)
    measured: dict[str, Any] = {"device": describe(device), "precision": precision.name,
                                "train_examples": len(train), "test_examples": len(test),
                                "rank": int(s["rank"]), "alpha": float(s["alpha"]),
                                "target_modules": str(s["target_modules"])}

    qlora_why = qlora_unavailable_reason() if s["qlora"] else None
    if s["qlora"] and qlora_why:
        ctx.log(qlora_why)
        measured["qlora"] = qlora_why
    quantized = bool(s["qlora"]) and qlora_why is None

    # one untimed forward and backward first, so that one-time allocations (thread pools,
    # kernels' caches) count for neither mode
    cm = task.fresh_model(quantized=False)
    task.warm_up(cm)
    before = task.evaluate(cm.model, cm)     # the base with its new, untrained head
    measured.update(accuracy_before=before["accuracy"], test_loss_before=before["loss"])
    task.val_losses.append([0, before["loss"]])
    ctx.emit(Evaluation(step=0, val_loss=before["loss"],
                        metrics={"test_accuracy": before["accuracy"]}))
    del cm
    _release()

    # 1. LoRA
    cm = task.fresh_model(quantized=quantized)
    peft_model = _add_lora(cm, s, quantized)
    mode = "qlora" if quantized else "lora"
    lora = task.train(mode, peft_model, float(s["lr_lora"]), steps, code, cm)
    measured.update(_prefixed("lora", lora))
    measured["lora_delta_error"] = _check_lora_delta(code, peft_model, device)
    adapter_dir = ctx.output_dir / "adapters" / "spam"
    peft_model.save_pretrained(str(adapter_dir))
    size = sum(p.stat().st_size for p in adapter_dir.rglob("*") if p.is_file())
    measured["adapter_kb"] = size / 1024
    ctx.emit(Checkpoint(step=task.global_step, path=str(adapter_dir)))
    ctx.log(f"saved the LoRA adapter ({size / 1024:.0f} KB) to {adapter_dir}")

    # a second adapter on the same base: the same task with the labels flipped
    from peft import LoraConfig

    peft_model.add_adapter("flipped", LoraConfig(**_lora_kwargs(cm, s)))
    peft_model.set_adapter("flipped")
    task.train("flipped", peft_model, float(s["lr_lora"]) * 3, second_steps, code, cm,
               flip=True, measure=False)
    flipped_dir = ctx.output_dir / "adapters"
    peft_model.save_pretrained(str(flipped_dir), selected_adapters=["flipped"])
    del peft_model, cm
    _release()

    # 2. load the adapter back onto a fresh base; swap the two adapters over that one base
    from peft import PeftModel

    base = task.fresh_model(quantized=quantized)
    model = PeftModel.from_pretrained(base.model, str(adapter_dir), adapter_name="spam")
    if not quantized:                   # a 4-bit model is placed when loaded; .to() refuses
        model.to(device)
    reloaded = task.evaluate(model, base)
    model.load_adapter(str(flipped_dir / "flipped"), adapter_name="flipped")
    model.set_adapter("flipped")
    flipped = task.evaluate(model, base)
    model.set_adapter("spam")
    back = task.evaluate(model, base)
    measured.update(
        reload_accuracy=reloaded["accuracy"],
        reload_error=abs(reloaded["loss"] - lora["test_loss"]),
        flipped_adapter_accuracy=flipped["accuracy"],
        swap_back_accuracy=back["accuracy"],
        swap_error=abs(back["loss"] - reloaded["loss"]),
    )
    ctx.log(f"adapter loaded onto a fresh base: accuracy {reloaded['accuracy']:.3f} (trained: "
            f"{lora['accuracy']:.3f}); set_adapter('flipped'): {flipped['accuracy']:.3f}; "
            f"set_adapter('spam') again: {back['accuracy']:.3f} - one base, no reload")
    del model, base
    _release()

    # 3. full fine-tuning from the same start
    cm = task.fresh_model(quantized=False)
    for p in cm.model.parameters():
        p.requires_grad = True
    full = task.train("full", cm.model, float(s["lr_full"]), steps, code, cm)
    measured.update(_prefixed("full", full))
    del cm
    _release()

    measured["memory_saved_mb"] = measured["full_peak_memory_mb"] - measured["lora_peak_memory_mb"]
    measured["memory_saved_share"] = (measured["memory_saved_mb"] / measured["full_peak_memory_mb"]
                                      if measured["full_peak_memory_mb"] > 0 else None)
    measured["state_saved_mb"] = (measured["full_training_state_mb"]
                                  - measured["lora_training_state_mb"])
    measured.update(accuracy=measured["lora_accuracy"], f1=measured["lora_f1"],
                    trainable_share=measured["lora_trainable_share"],
                    trainable_params=measured["lora_trainable_params"],
                    steps=task.global_step, time_s=clock())
    ctx.log(_table(measured))
    return finish(ctx, measured, {"train": task.train_losses, "val": task.val_losses})


def _prefixed(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{k}": v for k, v in values.items()}


def _release() -> None:
    """Give freed memory back to the system, so the next mode's peak starts clean."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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


def _lora_kwargs(cm: ClassifierModel, s: dict[str, Any]) -> dict[str, Any]:
    targets = [t.strip() for t in str(s["target_modules"]).split(",") if t.strip()]
    head = [n.split(".")[-1] for n in _module_names(cm.model, cm.head)]
    return {"r": int(s["rank"]), "lora_alpha": float(s["alpha"]),
            "lora_dropout": float(s["dropout"]), "target_modules": targets,
            "modules_to_save": head or None, "fan_in_fan_out": _is_conv1d(cm.model, targets)}


def _is_conv1d(model: nn.Module, targets: list[str]) -> bool:
    """GPT-2 keeps its projections in Conv1D layers (weights stored transposed)."""
    for name, mod in model.named_modules():
        if name.split(".")[-1] in targets:
            return type(mod).__name__ == "Conv1D"
    return False


def _add_lora(cm: ClassifierModel, s: dict[str, Any], quantized: bool) -> nn.Module:
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


class _Task:
    """Training and evaluation shared by the modes; steps are counted across them."""

    def __init__(self, ctx: RunContext, s: dict[str, Any], device: torch.device, precision: Any,
                 train: list, test: list, num_labels: int):
        self.ctx, self.s, self.device, self.precision = ctx, s, device, precision
        self.train_set, self.test_set, self.num_labels = train, test, num_labels
        self.encoded: dict[str, list[list[int]]] | None = None
        self.global_step = 0
        self.train_losses: list[list[float]] = []
        self.val_losses: list[list[float]] = []
        self.clock = Clock()

    def fresh_model(self, *, quantized: bool) -> ClassifierModel:
        seed_everything(int(self.s["seed"]))  # the same start (and the same new head) each time
        quiet = self.encoded is not None
        cm = load_classifier(str(self.s["model"]), str(self.s["head"]), self.num_labels,
                             cache_dir=self.ctx.cache_dir, max_length=int(self.s["max_length"]),
                             log=(lambda m: None) if quiet else self.ctx.log)
        if quantized:
            cm = _quantized(cm, self.ctx)
        else:
            cm.model.to(self.device)
        if self.encoded is None:
            n = int(self.s["max_length"])
            self.encoded = {"train": cm.encode([e.text for e in self.train_set], n),
                            "test": cm.encode([e.text for e in self.test_set], n)}
        return cm

    def warm_up(self, cm: ClassifierModel) -> None:
        assert self.encoded is not None
        x, mask = data_mod.collate(self.encoded["train"][:int(self.s["batch_size"])],
                                   cm.pad_token_id)
        y = torch.tensor([e.label for e in self.train_set[:len(x)]], device=self.device)
        F.cross_entropy(self._logits(cm.model, cm, x.to(self.device), mask.to(self.device)),
                        y).backward()

    def _logits(self, model: nn.Module, cm: ClassifierModel, ids: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.precision):
            logits = model(input_ids=ids, attention_mask=mask).logits
        if cm.head_kind == "last_token":
            from studyapp.training.reference import last_token_logits

            logits = last_token_logits(logits, mask)
        return logits.float()

    @torch.no_grad()
    def evaluate(self, model: nn.Module, cm: ClassifierModel) -> dict[str, float]:
        assert self.encoded is not None
        model.eval()
        ids, ys = self.encoded["test"], [e.label for e in self.test_set]
        total, preds = 0.0, []
        for start in range(0, len(ids), 32):
            self.ctx.check_cancelled(self.global_step)
            x, mask = data_mod.collate(ids[start:start + 32], cm.pad_token_id)
            y = torch.tensor(ys[start:start + 32], device=self.device)
            logits = self._logits(model, cm, x.to(self.device), mask.to(self.device))
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            preds += logits.argmax(-1).tolist()
        m = classification_metrics(preds, ys, self.num_labels - 1)
        return {"loss": total / max(1, len(ys)), "accuracy": m["accuracy"], "f1": m["f1"]}

    def train(self, mode: str, model: nn.Module, lr: float, steps: int, code: ModuleType,
              cm: ClassifierModel, *, flip: bool = False, measure: bool = True
              ) -> dict[str, Any]:
        ctx, s = self.ctx, self.s
        assert self.encoded is not None
        trainable, total = code.count_parameters(model)
        true_trainable, true_total = param_counts(model)
        if (trainable, total) != (true_trainable, true_total):
            raise ValueError(f"count_parameters says {trainable:,} of {total:,} trainable; "
                             f"the model has {true_trainable:,} of {true_total:,}")
        if measure:
            ctx.log(f"{mode}: {trainable:,} of {total:,} parameters train "
                    f"({trainable / total:.2%}), lr {lr:g}", mode=mode,
                    trainable_params=trainable, total_params=total)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=float(s["weight_decay"]))
        scheduler = lr_schedule(optimizer, steps, float(s["warmup_ratio"]))
        ids = self.encoded["train"]
        ys = [(1 - e.label if flip and self.num_labels == 2 else e.label)
              for e in self.train_set]
        rng = random.Random(int(s["seed"]))
        order: list[int] = []
        times: list[float] = []
        model.train()
        memory = PeakMemory(self.device)
        with memory:
            for _ in range(steps):
                self.ctx.check_cancelled(self.global_step)
                if len(order) < int(s["batch_size"]):
                    more = list(range(len(ids)))
                    rng.shuffle(more)
                    order += more
                batch, order = order[:int(s["batch_size"])], order[int(s["batch_size"]):]
                t0 = time.perf_counter()
                x, mask = data_mod.collate([ids[i] for i in batch], cm.pad_token_id)
                y = torch.tensor([ys[i] for i in batch], device=self.device)
                logits = self._logits(model, cm, x.to(self.device), mask.to(self.device))
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                lr_now = scheduler.get_last_lr()[0]
                scheduler.step()
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                times.append(time.perf_counter() - t0)
                self.global_step += 1
                value = float(loss.detach())
                self.train_losses.append([self.global_step, value])
                ctx.emit(Step(step=self.global_step, epoch=0.0, loss=value, lr=lr_now,
                              tokens_per_s=float(mask.sum()) / max(times[-1], 1e-9),
                              elapsed=self.clock(), memory_mb=memory_mb(self.device)))
        state_mb = training_state_mb(model)
        del optimizer
        result = self.evaluate(model, cm)
        self.val_losses.append([self.global_step, result["loss"]])
        ctx.emit(Evaluation(step=self.global_step, val_loss=result["loss"],
                            metrics={"test_accuracy": result["accuracy"]}))
        if not measure:
            ctx.log(f"{mode}: test accuracy {result['accuracy']:.3f} (labels flipped in training)")
            return result
        warm = times[1:] or times
        out = {"trainable_params": trainable, "total_params": total,
               "trainable_share": trainable / total,
               "peak_memory_mb": memory.used_mb, "training_state_mb": state_mb,
               "time_per_step_s": sum(warm) / len(warm), "steps": steps,
               "accuracy": result["accuracy"], "f1": result["f1"], "test_loss": result["loss"]}
        ctx.log(f"{mode}: test accuracy {result['accuracy']:.3f}, F1 {result['f1']:.3f}, "
                f"{out['time_per_step_s']:.3f} s/step, peak memory +{memory.used_mb:.0f} MB")
        return out


def _quantized(cm: ClassifierModel, ctx: RunContext) -> ClassifierModel:  # pragma: no cover - CUDA
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
    ctx.log("QLoRA: base weights loaded in 4 bits (NF4) on the GPU")
    # the new head trains in full precision; the 4-bit pooler stays frozen
    cm.model, cm.head = model, [model.classifier]
    return cm
