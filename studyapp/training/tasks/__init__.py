"""The training tasks of the exercise set, one module per task (worker side).

Each module has `run(ctx: RunContext) -> dict` like `studyapp.training.classification`:
it reads its settings from `ctx.settings`, emits Started/Step/Evaluation/Log events
through `ctx.emit`, checks `ctx.check_cancelled(step)` each step and returns
`{"metrics": {...}, "checks": [...], "losses": {...}}`.

    sft          instruction fine-tuning of a causal LM, prompt tokens masked with -100
    lora         full fine-tuning vs LoRA (peft) on the same classification task
    pretraining  masked LM vs causal LM on the same corpus with the same tiny model size
    overfitting  too little data / too many epochs, early stopping, a far too high LR

The worker finds a task's module through `module_for(task)` (see `TASKS`).
"""

from __future__ import annotations

TASKS: dict[str, str] = {
    "sft": "studyapp.training.tasks.sft",
    "lora": "studyapp.training.tasks.lora",
    "pretraining": "studyapp.training.tasks.pretraining",
    "overfitting": "studyapp.training.tasks.overfitting",
}


def module_for(task: str) -> str | None:
    """The module that runs `task`, or None when this package has none."""
    return TASKS.get(task)
