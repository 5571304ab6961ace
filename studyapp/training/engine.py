"""The one training loop, on `accelerate.Accelerator` (worker side: imports torch).

Every task trains through `Engine.fit`. A task gives it a model, batches (a torch
`DataLoader`), a loss function and, if it likes, an evaluation function and hooks; it never
calls `backward()` or `optimizer.step()` itself. The engine owns, in one place:

- device placement and mixed precision (`Accelerator`): bf16 on a GPU that supports it,
  fp16 with Accelerate's gradient scaler on one that does not, fp32 on the CPU (bf16
  autocast on the CPU when asked for with `precision="bf16"`);
- the optimizer (AdamW over the parameters that train; fused on the CPU and CUDA, as the
  HF Trainer's default `adamw_torch_fused`) and its step:
  `accelerator.backward`, clipping with `accelerator.clip_grad_norm_`, gradient
  accumulation with `accelerator.accumulate`;
- the learning-rate schedule: linear warm-up, then linear (or cosine) decay;
- evaluation every `eval_every` optimizer steps (and before training: step 0) under
  `torch.no_grad()` in eval mode, on the main process only;
- checkpoints of the trainable weights (safetensors) and the `Checkpoint` event;
- cancellation (checked every step; across all processes at once);
- the events: `Started`, `Step` (loss, lr, tokens/s, elapsed, peak memory), `Evaluation`,
  `Checkpoint`; loss, tokens/s, elapsed and peak memory are computed here and nowhere
  else. The worker sends `Finished` / `Failed` / `Cancelled` (with `Engine.summary()` in
  the metrics the task returns, or in `RunCancelled`);
- several data-parallel processes (`studyapp exercise run ID --processes N`: torchrun
  underneath, gloo on CPU, NCCL on GPUs): `batch_size` stays the global batch (Accelerate's
  `split_batches`), the main process (rank 0) alone emits events and evaluates.

The task-facing API (all a task needs):

    from studyapp.training.engine import Engine, Evaluated, TrainConfig

    def run(ctx: RunContext) -> dict:
        s = MySettings.from_dict(ctx.settings)          # the task's typed settings
        engine = Engine(ctx, TrainConfig(lr=s.lr, epochs=s.epochs, seed=s.seed,
                                         warmup_ratio=0.1, eval_every=s.eval_every,
                                         precision=s.precision, threads=s.threads))
        code = engine.learner_code()                     # checked before any training
        model = build_model()                            # on the CPU; the engine moves it
        train = DataLoader(rows, batch_size=s.batch_size, shuffle=True,
                           collate_fn=collate)           # batches: dicts of tensors

        def loss_fn(model, batch):                       # batch is on engine.device
            logits = model(input_ids=batch["input_ids"]).logits
            return F.cross_entropy(logits.float(), batch["labels"])

        def evaluate(model):                             # main process, no_grad, eval mode
            losses = [float(loss_fn(model, engine.to_device(b))) for b in val_batches]
            return Evaluated(loss=sum(losses) / len(losses), metrics={"val_accuracy": 0.9})

        fit = engine.fit(model, train, loss_fn, evaluate=evaluate, model_name="tiny",
                         train_examples=len(rows))
        measured = {**engine.summary(), "val_loss": fit.val_losses[-1][1]}
        if engine.is_main:                               # anything after training
            with engine.inference(fit.model):
                ...                                      # test set, generation, ...
        return engine.finish(measured, fit)              # metrics, checks, losses

A task that trains several models in one run (LoRA vs full, three pretraining objectives)
calls `engine.start(total_steps, model_name=..)` once with the steps of all of them, then
`engine.fit(..., config=TrainConfig(lr=..))` once per model: one `Started`, steps counted
across the fits; each fit's schedule, `max_steps` and `eval_every` count its own steps
(device, precision, seed, threads and accumulation stay the engine's config).

`Engine.fit(model, train, loss_fn, ...)` arguments:
    model       an `nn.Module`; only parameters with `requires_grad` train (or `params`)
    train       a `DataLoader` of batches (a dict of tensors, a tuple, or a tensor)
    loss_fn     `(model, batch) -> loss tensor` (a scalar: the mean over the batch)
    evaluate    `(model) -> Evaluated(loss, metrics)` or None
    tokens      `(batch) -> int`: tokens in a batch for tokens/s (default: the sum of
                `attention_mask`, else the size of `input_ids`, else the batch size)
    on_step     `(step, loss) -> None` after each optimizer step (all processes)
    on_evaluation `(step, Evaluated) -> bool`: True stops training (early stopping)
    params      the parameters to optimize, or parameter groups (default: all that train)
    model_name, train_examples: shown in the `Started` event
    config      this fit's `TrainConfig` (default: the engine's)
It returns `Fit`: the trained (unwrapped) model, `steps` (this fit's), `train_losses` /
`val_losses` (this fit's, [[step, loss], ...] on the run's step axis, the val curve starting
before its first step), `evaluations` (the main process's, shared with every process when
the fit ends), `stopped_early`.

Cancellation: `fit` raises `RunCancelled` (with `Engine.summary()` and the losses so far)
when the run is cancelled; the worker turns it into the `Cancelled` event. Inside a long
`evaluate`, call `engine.check_cancelled()` between batches.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from studyapp.training.catalog import CheckSpec, evaluate_checks
from studyapp.training.device import cpu_threads, memory_mb, pick_device, seed_everything
from studyapp.training.events import Checkpoint, Evaluation, Started, Step
from studyapp.training.runtime import RunCancelled, RunContext

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("linear", "cosine", "constant")
MEMORY_EVERY_S = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """How the engine trains: the optimizer, the schedule, precision, evaluation."""

    lr: float
    epochs: int = 1
    max_steps: int = 0               # optimizer steps; 0: `epochs` passes over the data
    warmup_ratio: float = 0.0        # share of the steps with a linear warm-up
    schedule: str = "linear"         # after warm-up: linear | cosine decay to 0 | constant
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    max_grad_norm: float = 1.0       # gradient clipping; 0: none
    grad_accum: int = 1              # batches per optimizer step
    eval_every: int = 0              # optimizer steps; 0: at the end of each epoch
    eval_before: bool = True         # an evaluation at step 0, before training
    checkpoint: bool = False         # save the trainable weights at the end
    checkpoint_every: int = 0        # and every N steps (0: only at the end)
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    device: str | None = None        # None/"auto": the best there is; cpu, cuda, cuda:N, mps
    seed: int = 0
    threads: int = 0                 # CPU threads per process; 0: the cores free now

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of "
                             f"{', '.join(PRECISIONS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.grad_accum < 1:
            raise ValueError("grad_accum must be at least 1")


@dataclass(frozen=True)
class Evaluated:
    """What a task's `evaluate(model)` returns."""

    loss: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Fit:
    """What `Engine.fit` returns."""

    model: nn.Module                          # the trained model, unwrapped
    steps: int
    train_losses: list[list[float]]
    val_losses: list[list[float]]
    evaluations: list[tuple[int, Evaluated]]
    stopped_early: bool = False

    @property
    def last_eval(self) -> Evaluated | None:
        return self.evaluations[-1][1] if self.evaluations else None


def lr_factor(step: int, total: int, warmup: int, schedule: str = "linear") -> float:
    """The learning rate at optimizer step `step` (0-based) as a share of the peak."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return max(0.0, (total - step) / max(1, total - warmup))


def count_tokens(batch: Any) -> int:
    """Tokens in a batch: the attention mask's sum, else the size of `input_ids`."""
    if isinstance(batch, dict):
        if "attention_mask" in batch:
            return int(batch["attention_mask"].sum())
        if "input_ids" in batch:
            return int(batch["input_ids"].numel())
        first = next(iter(batch.values()), None)
        return int(first.shape[0]) if hasattr(first, "shape") else 0
    if isinstance(batch, list | tuple) and batch and hasattr(batch[0], "numel"):
        return int(batch[0].numel())
    return int(batch.numel()) if hasattr(batch, "numel") else 0


def _mixed_precision(requested: str, device: torch.device) -> str:
    """Accelerate's `mixed_precision` for a `precision` setting on `device`."""
    if requested == "fp32":
        return "no"
    if requested == "bf16":
        return "bf16"
    if requested == "fp16":
        if device.type == "cpu":
            raise ValueError("precision fp16 needs a GPU (its gradient scaler runs there); "
                             "on the CPU use precision=bf16 or fp32")
        return "fp16"
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def _fused_adamw(device: torch.device, params: Any) -> bool | None:
    """Whether AdamW runs as one fused kernel: on the CPU and CUDA, for floating-point
    parameters (as the HF Trainer's default `adamw_torch_fused`); None lets torch pick."""
    if device.type not in ("cpu", "cuda"):
        return None
    tensors = [p for group in params for p in group["params"]] if params and \
        isinstance(params[0], dict) else params
    return all(p.dtype.is_floating_point for p in tensors) or None


def _precision_name(mixed: str) -> str:
    return {"no": "fp32"}.get(mixed, mixed)


class Engine:
    """One training run's accelerator, optimizer, schedule, events. See the module doc."""

    def __init__(self, ctx: RunContext, config: TrainConfig):
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration

        self.ctx = ctx
        self.config = config
        self.t_start = time.perf_counter()
        world = int(os.environ.get("WORLD_SIZE", "1"))
        requested = config.device or ctx.spec.device
        device = pick_device(requested)       # validates the request (DeviceError)
        if world > 1 and device.type == "mps":
            raise ValueError("several processes need CPU or CUDA devices, not Apple MPS")
        if device.type == "cuda" and device.index is not None and world == 1:
            torch.cuda.set_device(device)
        threads = cpu_threads(config.threads)
        if config.threads <= 0 and world > 1:
            threads = max(1, threads // world)
        torch.set_num_threads(threads)
        self.threads = threads
        mixed = _mixed_precision(config.precision, device)
        if world == 1:
            _reset_accelerate_state()
        self.accelerator = Accelerator(
            cpu=device.type == "cpu", mixed_precision=mixed,
            gradient_accumulation_steps=config.grad_accum,
            dataloader_config=DataLoaderConfiguration(split_batches=world > 1))
        seed_everything(config.seed)
        self.precision = _precision_name(mixed)
        self.step = 0
        self._train_time = 0.0
        self._tokens = 0
        self._fit_start: float | None = None
        self._started = False
        self._memory_at, self._memory_mb = -math.inf, None
        self._train_losses: list[list[float]] = []
        self._val_losses: list[list[float]] = []

    # --- what a task may read -------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    @property
    def processes(self) -> int:
        return int(self.accelerator.num_processes)

    def describe(self) -> str:
        """The device for the learner: "cpu (2 threads)", "cuda (NVIDIA H100) x 2"."""
        dev = self.device
        if dev.type == "cuda":
            text = f"cuda ({torch.cuda.get_device_name(dev)})"
        elif dev.type == "cpu":
            n = torch.get_num_threads()
            text = f"cpu ({n} thread{'' if n == 1 else 's'})"
        else:
            text = str(dev)
        return text + (f" x {self.processes} processes" if self.processes > 1 else "")

    def to_device(self, batch: Any) -> Any:
        """A batch (tensors, dicts or tuples of them) moved to the engine's device."""
        from accelerate.utils import send_to_device

        return send_to_device(batch, self.device)

    def learner_code(self) -> ModuleType:
        """The code this run uses (the learner's, or the reference), its fast checks
        passed; raises CodeChecksFailed before any training otherwise."""
        from studyapp.training.codecheck import load_learner_code

        return load_learner_code(self.ctx)

    def log(self, message: str, **data: Any) -> None:
        if self.is_main:
            self.ctx.log(message, **data)

    @contextlib.contextmanager
    def inference(self, model: nn.Module) -> Iterator[nn.Module]:
        """no_grad, eval mode and the run's autocast; the model's mode is restored after."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), self.accelerator.autocast():
                yield model
        finally:
            model.train(was_training)

    def check_cancelled(self) -> None:
        """Raise RunCancelled (with what was measured) when the run was cancelled."""
        if self.ctx.cancel_requested():
            raise RunCancelled(self.step, self._partial())

    # --- the loop --------------------------------------------------------------------------
    def fit(self, model: nn.Module, train: Any, loss_fn: Callable[[nn.Module, Any], Any], *,
            evaluate: Callable[[nn.Module], Evaluated] | None = None,
            tokens: Callable[[Any], int] = count_tokens,
            on_step: Callable[[int, float], None] | None = None,
            on_evaluation: Callable[[int, Evaluated], bool | None] | None = None,
            params: Any = None, model_name: str = "", train_examples: int = 0,
            config: TrainConfig | None = None) -> Fit:
        """Train `model` on `train` with `loss_fn`; see the module docstring.

        `config` (default: the engine's) sets this fit's optimizer, schedule, steps and
        evaluation: a task that trains several models in one run (LoRA vs full, three
        objectives) calls `fit` once per model, each with its own. The device, precision,
        seed, threads and gradient accumulation stay the engine's. Steps are counted across
        the fits of a run (the events' `step`); the schedule, `eval_every` and `max_steps`
        count this fit's own steps.
        """
        cfg, acc = config or self.config, self.accelerator
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        params = list(params)
        if not params:
            raise ValueError("no parameter is left trainable")
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas,
                                      weight_decay=cfg.weight_decay,
                                      fused=_fused_adamw(self.device, params))
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        model, optimizer, loader = acc.prepare(model, optimizer, train)
        trained = [p for group in optimizer.param_groups for p in group["params"]]
        batches_per_epoch = len(loader)
        steps_per_epoch = max(1, math.ceil(batches_per_epoch / cfg.grad_accum))
        total = cfg.max_steps or steps_per_epoch * cfg.epochs
        epochs = math.ceil(total / steps_per_epoch)
        warmup = int(total * cfg.warmup_ratio)
        eval_every = cfg.eval_every or steps_per_epoch
        unwrapped = acc.unwrap_model(model)
        self.start(total, model_name=model_name, train_examples=train_examples)
        first_step, n_train, n_val = self.step, len(self._train_losses), len(self._val_losses)
        evaluations: list[tuple[int, Evaluated]] = []
        evaluated_at = [-1]          # the same on every process (evaluations: main only)

        def run_evaluation() -> bool:
            stop = False
            evaluated_at[0] = self.step
            if evaluate is not None and self.is_main:
                with self.inference(unwrapped):
                    result = evaluate(unwrapped)
                evaluations.append((self.step, result))
                self._val_losses.append([self.step, float(result.loss)])
                self.ctx.emit(Evaluation(step=self.step, val_loss=float(result.loss),
                                         metrics=dict(result.metrics)))
                if on_evaluation is not None:
                    stop = bool(on_evaluation(self.step, result))
            return self._agree(stop)

        self._set_lr(optimizer, lr_factor(0, total, warmup, cfg.schedule))
        stopped = False
        if cfg.eval_before:
            self.check_cancelled()
            stopped = run_evaluation()
        model.train()
        if self._fit_start is None:             # `elapsed`: since the run's first fit
            self._fit_start = time.perf_counter()
        loss_sum, loss_n, step_tokens = 0.0, 0, 0
        t_step = time.perf_counter()
        for epoch in range(epochs):
            if stopped or self.step - first_step >= total:
                break
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            for batch in loader:
                with acc.accumulate(model):
                    loss = loss_fn(model, batch)
                    acc.backward(loss)
                    if acc.sync_gradients and cfg.max_grad_norm > 0:
                        acc.clip_grad_norm_(trained, cfg.max_grad_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                loss_sum += float(loss.detach())
                loss_n += 1
                step_tokens += tokens(batch)
                if not acc.sync_gradients:
                    continue
                lr = optimizer.param_groups[0]["lr"]
                self.step += 1
                local = self.step - first_step
                loss_value, n_tokens, cancel = self._reduce_step(loss_sum / loss_n,
                                                                 step_tokens)
                loss_sum, loss_n, step_tokens = 0.0, 0, 0
                now = time.perf_counter()
                self._train_time += now - t_step
                self._tokens += n_tokens
                self._train_losses.append([self.step, loss_value])
                if self.is_main:
                    self.ctx.emit(Step(
                        step=self.step, epoch=epoch + (local - epoch * steps_per_epoch)
                        / steps_per_epoch, loss=loss_value, lr=lr,
                        tokens_per_s=self._tokens / max(self._train_time, 1e-9),
                        elapsed=now - self._fit_start, memory_mb=self._memory(now)))
                if on_step is not None:
                    on_step(self.step, loss_value)
                if cancel:
                    raise RunCancelled(self.step, self._partial())
                self._set_lr(optimizer, lr_factor(local, total, warmup, cfg.schedule))
                if cfg.checkpoint_every and local % cfg.checkpoint_every == 0:
                    self.save_trainable(unwrapped, f"step-{self.step}")
                if local % eval_every == 0 or local == total:
                    self.check_cancelled()
                    stopped = run_evaluation()
                    model.train()
                t_step = time.perf_counter()
                if stopped or local >= total:
                    break
        if evaluate is not None and evaluated_at[0] != self.step:
            run_evaluation()
        if cfg.checkpoint:
            self.save_trainable(unwrapped, "trainable")
        acc.wait_for_everyone()
        if self.processes > 1 and evaluate is not None:
            # the main process evaluated: every process gets the same evaluations
            from accelerate.utils import broadcast_object_list

            shared = broadcast_object_list([evaluations if self.is_main else None])[0]
            if not self.is_main:
                evaluations = list(shared)
                self._val_losses.extend([step, float(e.loss)] for step, e in evaluations)
        acc.free_memory()        # the accelerator lets go of this fit's model and optimizer
        return Fit(model=unwrapped, steps=self.step - first_step,
                   train_losses=self._train_losses[n_train:],
                   val_losses=self._val_losses[n_val:], evaluations=evaluations,
                   stopped_early=stopped)

    def start(self, total_steps: int, *, model_name: str = "", train_examples: int = 0
              ) -> None:
        """Emit the run's `Started` event (once; main process). A task that calls `fit`
        several times calls this first with the steps of all its fits; otherwise the first
        `fit` does, with its own."""
        if self._started:
            return
        self._started = True
        if self.is_main:
            self.ctx.emit(Started(
                run_id=self.ctx.spec.run_id, exercise=self.ctx.spec.exercise,
                variant=self.ctx.spec.variant, device=self.describe(),
                settings=self.ctx.settings, total_steps=total_steps, model=model_name,
                train_examples=train_examples))

    # --- after training --------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The measurements every run reports, computed once, here."""
        tail = [loss for _, loss in self._train_losses[-max(1, len(self._train_losses) // 8):]]
        return {
            "steps": self.step,
            "train_loss": sum(tail) / len(tail) if tail else None,
            "train_time_s": self._train_time,
            "time_s": time.perf_counter() - self.t_start,
            "steps_per_s": self.step / self._train_time if self._train_time > 0 else None,
            "tokens_per_s": self._tokens / self._train_time if self._train_time > 0 else None,
            "peak_memory_mb": memory_mb(self.device),
            "device": self.describe(),
            "autocast": self.precision,            # fp32 | bf16 | fp16
            "processes": self.processes,
            "threads": self.threads if self.device.type == "cpu" else None,
        }

    def finish(self, measured: dict[str, Any], fit: Fit | None = None) -> dict[str, Any]:
        """The task's return value: metrics, the exercise's checks on them, the losses."""
        checks = [CheckSpec(**c) for c in self.ctx.spec.checks]
        losses = {"train": fit.train_losses if fit else list(self._train_losses),
                  "val": fit.val_losses if fit else list(self._val_losses)}
        return {"metrics": measured, "checks": evaluate_checks(checks, measured),
                "losses": losses}

    def save_trainable(self, model: nn.Module, name: str,
                       metadata: dict[str, str] | None = None) -> Path | None:
        """The trainable weights as `<output_dir>/<name>.safetensors` (main process)."""
        if not self.is_main:
            return None
        from safetensors.torch import save_file

        out = Path(self.ctx.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {n: p.detach().cpu().contiguous()
                 for n, p in model.named_parameters() if p.requires_grad}
        path = out / f"{name}.safetensors"
        from studyapp.atomic import atomic_path

        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=metadata or {})
        self.ctx.emit(Checkpoint(step=self.step, path=str(path)))
        return path

    # --- inside ----------------------------------------------------------------------------
    def _memory(self, now: float) -> float | None:
        """Peak memory for a Step event, read at most every MEMORY_EVERY_S seconds (a
        profile of the tiny run under load had getrusage at 14 ms a call)."""
        if now - self._memory_at >= MEMORY_EVERY_S:
            self._memory_at, self._memory_mb = now, memory_mb(self.device)
        return self._memory_mb

    def _set_lr(self, optimizer: Any, factor: float) -> None:
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor

    def _reduce_step(self, loss: float, tokens: int) -> tuple[float, int, bool]:
        """The step's loss (mean over processes), its tokens (sum) and whether any process
        was asked to cancel: one all-reduce when there are several processes."""
        cancel = self.ctx.cancel_requested()
        if self.processes == 1:
            return loss, tokens, cancel
        t = torch.tensor([loss, float(tokens), float(cancel)], device=self.device,
                         dtype=torch.float64 if self.device.type == "cpu" else torch.float32)
        t = self.accelerator.reduce(t, reduction="sum")
        return float(t[0]) / self.processes, int(t[1]), bool(t[2] > 0)

    def _agree(self, flag: bool) -> bool:
        """The main process's decision (stop training), shared with every process."""
        if self.processes == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        t = self.accelerator.reduce(t, reduction="sum")
        return bool(t[0] > 0)

    def _partial(self) -> dict[str, Any]:
        out = self.summary()
        if self._train_losses:
            out["train_loss"] = self._train_losses[-1][1]
        if self._val_losses:
            out["val_loss"] = self._val_losses[-1][1]
        return out


def _reset_accelerate_state() -> None:
    """A fresh Accelerate state for this run (tests build several engines in a process)."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    PartialState._reset_state()


# --- batches ---------------------------------------------------------------------------------

class LengthGroupedSampler(torch.utils.data.Sampler[int]):
    """Indices in batches of similar length, as the HF Trainer's `group_by_length`.

    The same algorithm as `transformers.trainer_pt_utils.get_length_grouped_indices`: a
    random permutation (seeded: `seed` + epoch, so every process draws the same one), cut
    into mega-batches of up to 50 batches, each sorted by length, the longest first.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0):
        self.lengths, self.batch_size, self.seed = list(lengths), batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        n, lengths = len(self.lengths), self.lengths
        mult = max(1, min(n // (self.batch_size * 4), 50))
        indices = torch.randperm(n, generator=generator).tolist()
        size = mult * self.batch_size
        megabatches = [sorted(indices[i:i + size], key=lambda j: lengths[j], reverse=True)
                       for i in range(0, n, size)]
        if megabatches:
            longest = max(range(len(megabatches)), key=lambda m: lengths[megabatches[m][0]])
            megabatches[0][0], megabatches[longest][0] = (megabatches[longest][0],
                                                          megabatches[0][0])
        return iter([i for mb in megabatches for i in mb])


def pad_batch(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded `input_ids` and `attention_mask` for one batch (dynamic padding: to
    the longest row of this batch, not to max_length)."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows],
                        dtype=torch.long)
    return ids, mask
