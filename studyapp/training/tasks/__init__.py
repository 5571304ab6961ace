"""The one task registry: every training task, its worker module and its settings class.

An exercise's `task` (exercise.toml) names one of `TASKS`. The parent (no torch) reads a
task's settings class from here to check `--set` values; the worker imports the task's
module and calls its `run(ctx: RunContext) -> dict`, which trains through
`studyapp.training.engine.Engine` and returns `{"metrics", "checks", "losses"}`.

    classification  fine-tune a classifier (spam): training/classification.py
    sft             instruction fine-tuning of a causal LM, prompt tokens masked with -100
    lora            full fine-tuning vs LoRA (peft) on the same classification task
    pretraining     masked LM vs causal LM on the same corpus with the same tiny model size
    overfitting     too little data / too many epochs, early stopping, a far too high LR

Each task's settings class (tasks/settings.py) is the single source of its settings'
defaults, types and ranges; exercise.toml and `--set` only override them.
"""

from __future__ import annotations

from dataclasses import dataclass

from studyapp.training.settings import TaskSettings
from studyapp.training.tasks.settings import (
    ClassificationSettings,
    ExportSettings,
    LoraSettings,
    MemorySettings,
    OverfittingSettings,
    PretrainingSettings,
    SftSettings,
    SweepSettings,
)


@dataclass(frozen=True)
class Task:
    name: str
    module: str                                   # has run(ctx) -> dict (worker side)
    settings: type[TaskSettings]                  # the typed settings (parent and worker)


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("classification", "studyapp.training.classification", ClassificationSettings),
    Task("sft", "studyapp.training.tasks.sft", SftSettings),
    Task("lora", "studyapp.training.tasks.lora", LoraSettings),
    Task("pretraining", "studyapp.training.tasks.pretraining", PretrainingSettings),
    Task("overfitting", "studyapp.training.tasks.overfitting", OverfittingSettings),
    Task("memory", "studyapp.training.tasks.memory", MemorySettings),
    Task("sweep", "studyapp.training.tasks.sweep", SweepSettings),
    Task("export", "studyapp.training.tasks.export", ExportSettings),
)}


class UnknownTask(ValueError):
    pass


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTask(f"unknown task {name!r} (known: {', '.join(TASKS)})") from None


def module_for(task: str) -> str | None:
    """The module that runs `task`, or None when there is none."""
    found = TASKS.get(task)
    return found.module if found else None
