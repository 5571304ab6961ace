"""Pieces the exercise-set tasks share (worker side: imports torch).

- where an exercise's files are (a path setting, relative to its folder) and JSONL rows;
- batches in the order the tasks have always drawn them (`SeededOrder`);
- a classifier's class logits (a pooled head, or a decoder's last real token);
- peak-memory measurement (CUDA: max_memory_allocated; CPU: a psutil RSS sampler);
- text plots of several curves overlaid (plotext).

The training loop itself is the engine's (training/engine.py); the models come from the
one registry (training/models.py).
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import torch
from torch import nn

from studyapp.jsonsafe import finite
from studyapp.training.models import ClassifierModel
from studyapp.training.runtime import RunContext

# --- the exercise's files ----------------------------------------------------------------

def exercise_folder(ctx: RunContext) -> Path:
    """The bundled exercise folder (where its checks file lives)."""
    if ctx.spec.code_checks_path:
        return Path(ctx.spec.code_checks_path).resolve().parent
    from studyapp.config import bundled_exercises_dir

    return bundled_exercises_dir() / ctx.spec.exercise


def resolve(ctx: RunContext, value: str) -> Path:
    """A path setting: absolute, or relative to the exercise folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (exercise_folder(ctx) / path).resolve()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    from studyapp.training.data import read_rows

    return read_rows(Path(path), "jsonl")


# --- batches -----------------------------------------------------------------------------

class SeededOrder:
    """A DataLoader sampler: 0..n-1 shuffled anew on each pass by one `random.Random(seed)`
    (the same order on every process, and the order these tasks drew before the engine).

    Give the DataLoader a `generator` of its own too: without one, each pass draws its base
    seed from torch's global generator, the one dropout draws from, so the same seed would
    no longer give the same run."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = list(range(self.n))
        self.rng.shuffle(order)
        return iter(order)


# --- models ------------------------------------------------------------------------------

def class_logits(cm: ClassifierModel, model: nn.Module, input_ids: torch.Tensor,
                 attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, C] float logits of `model` (cm.model, or a peft wrapper of it): the pooled head's,
    or for a decoder (head_kind "last_token") those at each row's last real token."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    if cm.head_kind == "last_token":
        positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
        last = (positions * attention_mask).argmax(dim=1)
        logits = logits[torch.arange(logits.shape[0], device=logits.device), last]
    return logits.float()


def param_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


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
