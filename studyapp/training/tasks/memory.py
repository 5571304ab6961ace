"""Trading memory for time: one fine-tune, four ways (the memory exercise).

The same classifier (by default the pretrained MiniLM encoder with a new 2-way head, on the
spam/ham messages) is fine-tuned from the same start, on the same batches in the same
order, with the same number of optimizer steps, in up to four modes:

    batch           one batch of B examples per optimizer step
    accumulation    k micro-batches of B / k, their gradients accumulated (the engine's
                    accumulation path: Accelerate's `accumulate`), one step per k
    checkpointing   one batch of B with gradient checkpointing: activations recomputed in
                    the backward pass instead of kept from the forward pass
    mixed           one batch of B under mixed precision (bf16 autocast; fp16 with a
                    gradient scaler on a GPU without bf16), where the device supports it

For each: the activation memory autograd keeps for the backward pass (exactly, from the
saved tensors of one training forward), the peak memory of the process while it trains
(CPU: resident set size above the start, sampled; CUDA: max_memory_allocated), the time
per optimizer step, the loss curve and the held-out accuracy. One table and one overlaid
plot compare them. Dropout is off by default, so batch and accumulation differ only by
float rounding and their loss curves must agree.

The learner's module provides:

    scale_loss(loss, accumulation_steps) -> loss tensor
    effective_batch_size(micro_batch_size, accumulation_steps, num_processes) -> int
    optimizer_steps(num_examples, micro_batch_size, accumulation_steps, epochs,
                    num_processes) -> int

The run checks, on the real model, that k micro-batch gradients scaled with the learner's
`scale_loss` add up to the big batch's gradient, and that the learner's bookkeeping gives
the effective batch and the number of optimizer steps the engine actually took. (The
engine's own accumulation scales the same way inside `accelerator.backward`.)
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Self

import torch
from torch import nn

from studyapp.training.engine import Engine, Evaluated, TrainConfig
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import PeakMemory, overlay_plot
from studyapp.training.tasks.settings import MemorySettings
from studyapp.training.tasks.textclf import (
    Classifier,
    EvalBatches,
    PhaseContext,
    evaluate,
    read_splits,
    released,
    train_loader,
)

MODES = ("batch", "accumulation", "checkpointing", "mixed")


def run(ctx: RunContext) -> dict[str, Any]:
    s = MemorySettings.from_dict(ctx.settings)
    modes = [m.strip() for m in s.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes {s.modes!r}: each must be one of {', '.join(MODES)}")
    if "batch" not in modes:
        modes.insert(0, "batch")           # every other mode is compared with it
    k = s.accumulation_steps
    if s.batch_size % k:
        raise ValueError(f"batch_size {s.batch_size} is not a multiple of accumulation_steps "
                         f"{k}: the micro-batches must add up to the batch")
    micro = s.batch_size // k

    splits = read_splits(ctx, s.max_train_examples, s.max_eval_examples, s.seed)
    steps_per_mode = math.ceil(len(splits.train) / s.batch_size) * s.epochs
    phases = PhaseContext(ctx, total_steps=steps_per_mode * len(modes))

    def engine_for(mode: str, precision: str, grad_accum: int) -> Engine:
        return Engine(phases.phase(mode), TrainConfig(
            lr=s.lr, epochs=s.epochs, warmup_ratio=s.warmup_ratio, grad_accum=grad_accum,
            eval_every=s.eval_every, precision=precision, seed=s.seed, threads=s.threads))

    first = engine_for("batch", s.precision, 1)
    code = first.learner_code()
    device = first.device
    mixed_why = _mixed_unavailable(device)
    if "mixed" in modes and mixed_why:
        first.log(f"mixed precision is skipped: {mixed_why}")
        modes.remove("mixed")

    base = Classifier.load(ctx, splits, model=s.model, head=s.head, max_length=s.max_length,
                           seed=s.seed, dropout=s.dropout, log=first.log)
    order = torch.randperm(len(base.train),
                           generator=torch.Generator().manual_seed(s.seed)).tolist()
    pad = base.cm.pad_token_id
    val = EvalBatches(base.val, 2 * s.batch_size, pad)
    test = EvalBatches(base.test, 2 * s.batch_size, pad)
    measured: dict[str, Any] = {
        "model": base.cm.name, "batch_size": s.batch_size, "micro_batches_per_step": k,
        "micro_batch_size": micro, "train_examples": len(splits.train),
        "val_examples": len(splits.val), "test_examples": len(splits.test),
        "modes": ",".join(modes), "mixed_skipped": mixed_why or ""}

    # the learner's scaling, on the real model: k scaled micro-batch gradients vs the batch
    first_batch = [base.train[i] for i in order[:s.batch_size]]
    measured["accumulation_gradient_error"] = _gradient_error(code, base, first_batch, k)

    results: dict[str, dict[str, Any]] = {}
    curves: dict[str, list[list[float]]] = {}
    engine = first
    for mode in modes:
        if engine is None:
            precision = _mixed_precision(device) if mode == "mixed" else s.precision
            engine = engine_for(mode, precision, k if mode == "accumulation" else 1)
        clf = base if mode == "batch" else Classifier.load(
            ctx, splits, model=s.model, head=s.head, max_length=s.max_length, seed=s.seed,
            dropout=s.dropout, rows=base)
        results[mode] = _train(engine, mode, clf, order, micro if mode == "accumulation"
                               else s.batch_size, s, val, test)
        curves[mode] = results[mode].pop("train_curve")
        phases.end_phase(results[mode]["steps"])
        for key, value in results[mode].items():
            measured[f"{mode}_{key}"] = value
        engine, clf = None, None
        released()

    # the learner's bookkeeping against what the engine did
    eff = code.effective_batch_size(micro, k, 1)
    steps_mine = {mode: code.optimizer_steps(len(splits.train), micro if mode == "accumulation"
                                             else s.batch_size,
                                             k if mode == "accumulation" else 1, s.epochs, 1)
                  for mode in ("batch", "accumulation")}
    measured.update(
        effective_batch_size=eff, effective_batch_error=abs(int(eff) - s.batch_size),
        optimizer_steps_yours=steps_mine["accumulation"],
        optimizer_steps_error=sum(abs(int(steps_mine[m]) - measured[f"{m}_steps"])
                                  for m in steps_mine))

    # the curves: accumulation must follow the batch's, step for step
    measured["accumulation_curve_gap"] = _gap(curves["batch"], curves.get("accumulation"))
    measured["accumulation_val_gap"] = _gap(measured["batch_val_curve"],
                                            measured.get("accumulation_val_curve"))
    if "checkpointing" in results:
        measured["checkpointing_curve_gap"] = _gap(curves["batch"], curves["checkpointing"])
    for mode in results:
        measured.pop(f"{mode}_val_curve", None)
    for mode in ("accumulation", "checkpointing", "mixed"):
        if mode in results:                  # what a mode keeps, as a share of the batch's
            measured[f"{mode}_activation_share"] = (
                measured[f"{mode}_activation_mb"] / measured["batch_activation_mb"])
    measured.update(accuracy=measured["batch_accuracy"], val_loss=measured["batch_val_loss"],
                    val_loss_first=measured["batch_val_loss_first"],
                    steps=sum(r["steps"] for r in results.values()))
    ctx.log(_table(results, s.batch_size, micro, k, cuda=device.type == "cuda"))
    ctx.log(overlay_plot(curves, title="training loss per optimizer step, each mode"))
    return first.finish(measured)          # the checks; the batch mode's curves


def _train(engine: Engine, mode: str, clf: Classifier, order: list[int], batch_size: int,
           s: MemorySettings, val: EvalBatches, test: EvalBatches) -> dict[str, Any]:
    """One mode's fine-tune; what it cost and what it reached."""
    model = clf.model
    if mode == "checkpointing":
        _enable_checkpointing(model)
    loader = train_loader(clf.train, batch_size, s.seed, clf.cm.pad_token_id, order=order)
    saved: dict[str, float] = {}

    def loss_fn(m: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if "mb" in saved:
            return clf.loss(m, batch)
        with SavedActivations(m) as held:        # the first micro-batch: measure it
            loss = clf.loss(m, batch)
        saved["mb"] = held.mb
        return loss

    def evaluate_val(m: nn.Module) -> Evaluated:
        scores = evaluate(engine, clf, m, val)
        return Evaluated(scores.loss, {"val_accuracy": scores.accuracy})

    with PeakMemory(engine.device) as peak:
        fit = engine.fit(model, loader, loss_fn, evaluate=evaluate_val,
                         model_name=f"{s.model} ({mode})", train_examples=len(clf.train))
    summary = engine.summary()
    with engine.inference(fit.model):
        scores = evaluate(engine, clf, fit.model, test)
    # the main process evaluates; with several processes the others have no evaluations
    first, last = ((fit.evaluations[0][1], fit.evaluations[-1][1]) if fit.evaluations
                   else (Evaluated(math.nan), Evaluated(math.nan)))
    out = {"steps": fit.steps, "precision": engine.precision,
           "micro_batch_size": batch_size,
           "activation_mb": saved.get("mb", float("nan")),
           "peak_memory_mb": peak.used_mb,
           "time_per_step_s": summary["train_time_s"] / max(1, fit.steps),
           "train_loss": fit.train_losses[-1][1] if fit.train_losses else None,
           "val_loss_first": first.loss, "val_loss": last.loss,
           "val_accuracy": last.metrics.get("val_accuracy"),
           "accuracy": scores.accuracy, "test_loss": scores.loss,
           "train_curve": [list(p) for p in fit.train_losses],
           "val_curve": [list(p) for p in fit.val_losses]}
    engine.log(f"{mode}: {fit.steps} steps of {s.batch_size} examples ({batch_size} per "
               f"forward), {out['time_per_step_s']:.3f} s/step, activations "
               f"{out['activation_mb']:.1f} MB, test accuracy {scores.accuracy:.3f}")
    return out


class SavedActivations:
    """The memory autograd keeps for the backward pass while the block runs: every tensor
    saved for backward, counted once, the model's own weights left out (they are there
    anyway). Exact, from the tensors themselves (not the allocator)."""

    def __init__(self, model: nn.Module):
        self.params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.seen: set[tuple[int, int]] = set()
        self.bytes = 0
        self._ctx: Any = None

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            key = (storage.data_ptr(), storage.nbytes())
        except (RuntimeError, NotImplementedError):
            key = (id(t), t.numel() * t.element_size())
        if key[0] not in self.params and key not in self.seen:
            self.seen.add(key)
            self.bytes += key[1]
        return t

    def __enter__(self) -> Self:
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    @property
    def mb(self) -> float:
        return self.bytes / 2**20


def _gradient_error(code: ModuleType, clf: Classifier, rows: list, k: int) -> float:
    """Relative difference between the big batch's gradient and the sum of k micro-batch
    gradients, each loss scaled by the learner's `scale_loss` (at the start, no step)."""
    from studyapp.training.tasks.textclf import collate

    model = clf.model
    was_training = model.training
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    batch = collate(clf.cm.pad_token_id)(rows)
    big = torch.autograd.grad(clf.loss(model, batch), params)
    summed = [torch.zeros_like(p) for p in params]
    size = len(rows) // k
    for i in range(k):
        micro = collate(clf.cm.pad_token_id)(rows[i * size:(i + 1) * size])
        scaled = code.scale_loss(clf.loss(model, micro), k)
        if not isinstance(scaled, torch.Tensor) or not scaled.requires_grad:
            raise ValueError("scale_loss must return the loss tensor, still attached to "
                             "its graph (no .item(), no .detach())")
        for acc, g in zip(summed, torch.autograd.grad(scaled, params), strict=True):
            acc += g
    model.train(was_training)
    num = math.sqrt(sum(float((a - b).pow(2).sum()) for a, b in zip(summed, big, strict=True)))
    den = math.sqrt(sum(float(b.pow(2).sum()) for b in big))
    return num / max(den, 1e-12)


def _gap(a: list[list[float]], b: list[list[float]] | None) -> float:
    """The largest difference of two curves at the steps both have (inf without b)."""
    if not b:
        return math.inf
    other = {int(step): value for step, value in b}
    diffs = [abs(value - other[int(step)]) for step, value in a if int(step) in other]
    return max(diffs) if diffs else math.inf


def _enable_checkpointing(model: nn.Module) -> None:
    """Hugging Face gradient checkpointing, non-reentrant (works with frozen inputs)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):        # transformers >= 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if getattr(model, "config", None) is not None and hasattr(model.config, "use_cache"):
        model.config.use_cache = False


def _mixed_unavailable(device: torch.device) -> str | None:
    """None when mixed precision can run on `device`, else why not (one line)."""
    if device.type == "cuda":
        return None
    if device.type == "cpu":
        native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or \
            getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        if native:
            return None
        return ("this CPU has no native bf16 (AVX512-BF16 or AMX): autocast would emulate "
                "it, slower than fp32; on a GPU the mode runs in bf16 or fp16")
    return f"mixed precision on {device.type} is not measured here"


def _mixed_precision(device: torch.device) -> str:
    """The engine's precision for the mixed mode: bf16 on a CPU, the best on a GPU."""
    return "bf16" if device.type == "cpu" else "auto"


def _table(results: dict[str, dict[str, Any]], batch: int, micro: int, k: int, *,
           cuda: bool = False) -> str:
    """The trade-offs side by side. On a CPU the process's memory (RSS) is a rough figure:
    the allocator keeps freed memory and the modes run one after another, so the exact
    row is the activations autograd keeps; on CUDA the peak is torch's own count."""
    names = {"batch": f"batch {batch}", "accumulation": f"{k} x {micro} accum.",
             "checkpointing": "checkpointing", "mixed": "mixed precision"}
    modes = list(results)
    rows = [("", *[names[m] for m in modes]),
            ("precision", *[results[m]["precision"] for m in modes]),
            ("examples per forward", *[str(results[m]["micro_batch_size"]) for m in modes]),
            ("activations kept (MB)", *[f"{results[m]['activation_mb']:.1f}" for m in modes]),
            ("peak allocated (MB)" if cuda else "RSS growth (MB, rough)",
             *[f"{results[m]['peak_memory_mb']:.0f}" for m in modes]),
            ("time per step (s)", *[f"{results[m]['time_per_step_s']:.3f}" for m in modes]),
            ("final train loss", *[f"{results[m]['train_loss']:.4f}" for m in modes]),
            ("val loss", *[f"{results[m]['val_loss']:.4f}" for m in modes]),
            ("test accuracy", *[f"{results[m]['accuracy']:.3f}" for m in modes])]
    return "\n".join(f"{r[0]:<23}" + "".join(f"{c:>16}" for c in r[1:]) for r in rows)
