"""Pieces the exercise-set tasks share (worker side: imports torch).

- the learner's code: load it and run its fast checks before any training;
- a byte-level tokenizer and tiny GPT-2 / Llama / ModernBERT models built in code;
- peak-memory measurement (CUDA: max_memory_allocated; CPU: a psutil RSS sampler);
- text plots of several curves overlaid (plotext), and the final checks.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Self

import torch
from torch import nn

from studyapp.jsonsafe import finite
from studyapp.training.catalog import CheckSpec, evaluate_checks
from studyapp.training.device import (
    Precision,
    cpu_threads,
    pick_device,
    pick_precision,
    seed_everything,
)
from studyapp.training.models import (  # noqa: F401 - re-exported until the tasks port
    ByteTokenizer,
    tiny_gpt2,
    tiny_llama,
    tiny_modernbert,
)
from studyapp.training.runtime import RunContext

# --- the learner's code ------------------------------------------------------------------

def exercise_folder(ctx: RunContext) -> Path:
    """The bundled exercise folder (where its checks file lives)."""
    if ctx.spec.code_checks_path:
        return Path(ctx.spec.code_checks_path).resolve().parent
    from studyapp.config import bundled_exercises_dir

    return bundled_exercises_dir() / ctx.spec.exercise


def learner_code(ctx: RunContext) -> ModuleType:
    """The run's code, its fast checks passed: the one loader, codecheck.load_learner_code
    (`engine.learner_code()` in a task ported to the engine)."""
    from studyapp.training.codecheck import load_learner_code

    return load_learner_code(ctx)


def resolve(ctx: RunContext, value: str) -> Path:
    """A path setting: absolute, or relative to the exercise folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (exercise_folder(ctx) / path).resolve()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    from studyapp.training.data import read_rows

    return read_rows(Path(path), "jsonl")


# --- tokenizer and tiny models -----------------------------------------------------------

# DEPRECATED names, kept while sft.py / pretraining.py import them from here: the one byte
# tokenizer and the tiny builders live in the model registry (training/models.py).
CharTokenizer = ByteTokenizer


def param_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def lr_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float
                ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then linear decay to zero."""
    warmup = int(total_steps * warmup_ratio)

    def factor(i: int) -> float:
        if i < warmup:
            return (i + 1) / (warmup + 1)
        return max(0.0, (total_steps - i) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --- memory ------------------------------------------------------------------------------

class PeakMemory:
    """Peak memory while the `with` block runs, in MB above what was in use at its start.

    CUDA: torch.cuda.max_memory_allocated (reset at the start). CPU: the process's resident
    set size (psutil), sampled every `interval_s` in a thread (torch's CPU tensors are not
    seen by tracemalloc, so RSS is the honest measure; it includes allocator slack).
    """

    def __init__(self, device: torch.device, interval_s: float = 0.01):
        self.device = device
        self.interval_s = interval_s
        self.peak_mb: float = 0.0
        self.base_mb: float = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base_mb = torch.cuda.memory_allocated(self.device) / 2**20
            return self
        import psutil

        proc = psutil.Process()
        self.base_mb = proc.memory_info().rss / 2**20
        self.peak_mb = self.base_mb

        def sample() -> None:
            while not self._stop.is_set():
                self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=sample, daemon=True, name="peak-memory")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()

    @property
    def used_mb(self) -> float:
        return max(0.0, self.peak_mb - self.base_mb)


def training_state_mb(model: nn.Module, optimizer_states: int = 2) -> float:
    """Memory the weights, gradients and AdamW states take, in MB (exact, from the tensors):
    every parameter once, and each trainable one again for its gradient and its
    `optimizer_states` moment estimates."""
    total = 0
    for p in model.parameters():
        size = p.numel() * p.element_size()
        total += size
        if p.requires_grad:
            total += size * (1 + optimizer_states)
    return total / 2**20


# --- reporting ---------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def overlay_plot(curves: dict[str, list[list[float]]], *, title: str, xlabel: str = "step",
                 ylabel: str = "loss", width: int = 90, height: int = 22,
                 ylim: tuple[float, float] | None = None) -> str:
    """Several [[x, y], ...] curves on one text plot (plotext), without colour codes."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    markers = ["braille", "dot", "hd", "x", "+"]
    for i, (name, points) in enumerate(curves.items()):
        pts = [(x, y) for x, y in points if isinstance(y, int | float) and math.isfinite(y)]
        if ylim:
            pts = [(x, min(max(y, ylim[0]), ylim[1])) for x, y in pts]
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=name,
                     marker=markers[i % len(markers)])
    if ylim:
        plt.ylim(*ylim)
    plt.title(title)
    plt.xlabel(xlabel)
    plt.ylabel(ylabel)
    text = _ANSI.sub("", plt.build())
    plt.clear_figure()
    return text


def write_json(path: Path, value: Any) -> Path:
    from studyapp.atomic import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(finite(value), indent=2, ensure_ascii=False))


def finish(ctx: RunContext, measured: dict[str, Any], losses: dict[str, list]) -> dict[str, Any]:
    """The task's return value: metrics, the exercise's checks evaluated on them, losses."""
    checks = [CheckSpec(**c) for c in ctx.spec.checks]
    return {"metrics": measured, "checks": evaluate_checks(checks, measured), "losses": losses}


class Clock:
    """Seconds since the task started."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


class Prepared(NamedTuple):
    clock: Clock
    settings: dict[str, Any]
    seed: int
    code: ModuleType
    device: torch.device
    precision: Precision


def prepare(ctx: RunContext, defaults: dict[str, Any]) -> Prepared:
    """What every task does first: its settings over its defaults, the thread count, every
    seed, the learner's code (checked), the device and the precision."""
    clock = Clock()
    s = {**defaults, **ctx.settings}
    torch.set_num_threads(cpu_threads(int(s["threads"])))   # 0: the cores free now
    seed = int(s["seed"])
    seed_everything(seed)
    code = learner_code(ctx)
    device = pick_device(ctx.spec.device)
    precision = pick_precision(device, None if s["precision"] == "auto" else s["precision"])
    return Prepared(clock, s, seed, code, device, precision)
