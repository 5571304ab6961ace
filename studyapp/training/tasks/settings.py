"""Each task's settings: one frozen dataclass per task (pure: no torch).

The single source of a task's settings: their defaults, types and allowed ranges (the
mechanism is `studyapp.training.settings`). `exercise.toml` and `--set` only override
them. Register a class with its task in `studyapp.training.tasks.TASKS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from studyapp.training.settings import MAX_THREADS, PRECISIONS, TaskSettings, setting


@dataclass(frozen=True)
class ClassificationSettings(TaskSettings):
    """`classification` (training/classification.py): fine-tune a model to sort texts
    into classes (the spam exercise)."""

    model: str = setting("tiny-gpt2", help="a model name of training/models.py, a hub id "
                         "or a folder; a|b takes the first that loads offline")
    head: str = setting("last_token", choices=("sequence", "last_token"),
                        help="sequence: a pooled encoder head; last_token: a decoder's "
                        "logits at the last real token")
    lr: float = setting(5e-5, gt=0, le=1, help="peak learning rate")
    epochs: int = setting(1, ge=1, le=1000)
    batch_size: int = setting(16, ge=1, le=4096, help="the global batch, over all processes")
    grad_accum: int = setting(1, ge=1, le=1024, help="batches per optimizer step")
    max_length: int = setting(64, ge=1, le=8192, help="tokens per text; longer ones are cut")
    trainable_blocks: int = setting(1, ge=-1, le=1000,
                                    help="how many of the last blocks train (-1: all)")
    eval_every: int = setting(0, ge=0, help="evaluate every N steps (0: each epoch)")
    seed: int = setting(123, ge=0, le=2**32 - 1)
    max_train_examples: int = setting(0, ge=0, help="0: all")
    max_eval_examples: int = setting(0, ge=0, help="0: all")
    warmup_ratio: float = setting(0.1, ge=0, lt=1)
    weight_decay: float = setting(0.0, ge=0, le=1)
    group_by_length: bool = setting(False, help="batches of texts of similar length "
                                    "(less padding), as the HF Trainer's group_by_length; "
                                    "on spam it groups the long spam texts: lower accuracy")
    checkpoint: bool = setting(False, help="save the trained weights under the run's folder")
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)
