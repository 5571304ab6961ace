"""Each task's settings: one frozen dataclass per task (pure: no torch).

The single source of a task's settings: their defaults, types and allowed ranges (the
mechanism is `studyapp.training.settings`). `exercise.toml` and `--set` only override
them. Register a class with its task in `studyapp.training.tasks.TASKS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from studyapp.training.settings import (
    MAX_THREADS,
    PRECISIONS,
    SettingsError,
    TaskSettings,
    setting,
)


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


@dataclass(frozen=True)
class MemorySettings(TaskSettings):
    """`memory` (training/tasks/memory.py): the same fine-tune with one batch, with
    micro-batches and gradient accumulation, with gradient checkpointing and with mixed
    precision; peak memory, time per step and loss of each."""

    model: str = setting("minilm", help="a classifier of training/models.py")
    head: str = setting("sequence", choices=("sequence", "last_token"))
    batch_size: int = setting(16, ge=1, le=4096, help="B: the batch of one optimizer step")
    accumulation_steps: int = setting(4, ge=2, le=256,
                                      help="k: the accumulation mode runs k micro-batches "
                                      "of B / k per step (B must be a multiple of k)")
    modes: str = setting("batch,accumulation,checkpointing,mixed",
                         help="comma-separated: batch, accumulation, checkpointing, mixed")
    lr: float = setting(1e-4, gt=0, le=1)
    epochs: int = setting(1, ge=1, le=100)
    max_length: int = setting(64, ge=8, le=4096)
    max_train_examples: int = setting(320, ge=0, help="0: all")
    max_eval_examples: int = setting(100, ge=0, help="validation and test messages; 0: all")
    eval_every: int = setting(5, ge=0, help="evaluate every N steps (0: each epoch)")
    dropout: float = setting(0.0, ge=0, lt=1, help="0: the modes differ by arithmetic only")
    warmup_ratio: float = setting(0.1, ge=0, lt=1)
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS,
                             help="of the batch, accumulation and checkpointing modes")

    def __post_init__(self) -> None:
        modes = [m.strip() for m in self.modes.split(",") if m.strip()]
        allowed = ("batch", "accumulation", "checkpointing", "mixed")
        if not modes or any(m not in allowed for m in modes):
            raise SettingsError(f"modes={self.modes}: modes must be comma-separated names "
                                f"from {', '.join(allowed)}")
        if self.batch_size % self.accumulation_steps:
            raise SettingsError(
                f"batch_size={self.batch_size} accumulation_steps={self.accumulation_steps}: "
                "batch_size must be a multiple of accumulation_steps (the micro-batches "
                "make up the batch)")


@dataclass(frozen=True)
class SweepSettings(TaskSettings):
    """`sweep` (training/tasks/sweep.py): a grid search over LoRA's learning rate and
    rank, each trial a run of its own, pruned when hopeless, chosen on validation loss."""

    model: str = setting("minilm", help="a classifier of training/models.py")
    head: str = setting("sequence", choices=("sequence", "last_token"))
    learning_rates: str = setting("3e-4,1e-3,3e-3,3e-2", help="comma-separated: the grid")
    ranks: str = setting("4,16", help="comma-separated LoRA ranks: the grid")
    default_lr: float = setting(1e-4, gt=0, le=10, help="the untuned default to beat")
    default_rank: int = setting(8, ge=1, le=1024)
    target_modules: str = setting("query,value", help="comma-separated layer names")
    dropout: float = setting(0.05, ge=0, lt=1, help="LoRA dropout")
    epochs: int = setting(1, ge=1, le=100)
    batch_size: int = setting(16, ge=1, le=4096)
    max_length: int = setting(48, ge=8, le=4096)
    max_train_examples: int = setting(240, ge=0, help="0: all")
    max_eval_examples: int = setting(80, ge=0, help="validation messages; 0: all")
    max_test_examples: int = setting(0, ge=0, help="test messages, used once; 0: all")
    eval_every: int = setting(5, ge=1, help="evaluate every N steps")
    prune_factor: float = setting(1.5, gt=1, help="pruned when the validation loss at the "
                                  "first evaluation is this many times its start or the "
                                  "best earlier trial's at that step")
    max_trials: int = setting(16, ge=1, le=256, help="refuse larger grids")
    warmup_ratio: float = setting(0.1, ge=0, lt=1)
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)

    def __post_init__(self) -> None:
        for key, kind in (("learning_rates", float), ("ranks", int)):
            text = getattr(self, key)
            try:
                values = [kind(v.strip()) for v in text.split(",") if v.strip()]
            except ValueError:
                values = []
            if not values or any(not math.isfinite(v) or v <= 0 for v in values):
                raise SettingsError(f"{key}={text}: {key} must be comma-separated positive "
                                    f"{'numbers' if kind is float else 'integers'}")
        size = len(self.learning_rates.split(",")) * len(self.ranks.split(","))
        if size > self.max_trials:
            raise SettingsError(f"learning_rates x ranks = {size} trials: more than "
                                f"max_trials={self.max_trials}")


@dataclass(frozen=True)
class ExportSettings(TaskSettings):
    """`export` (training/tasks/export.py): train a LoRA adapter, merge it into the base
    weights (the learner's merge and peft's), save and reload the merged model, export it
    to ONNX where an exporter is installed."""

    model: str = setting("minilm", help="a classifier of training/models.py")
    head: str = setting("sequence", choices=("sequence", "last_token"))
    target_modules: str = setting("query,value", help="comma-separated layer names")
    rank: int = setting(8, ge=1, le=1024)
    alpha: float = setting(16.0, gt=0)
    dropout: float = setting(0.05, ge=0, lt=1, help="LoRA dropout")
    lr: float = setting(1e-3, gt=0, le=10)
    epochs: int = setting(1, ge=1, le=100)
    batch_size: int = setting(16, ge=1, le=4096)
    max_length: int = setting(48, ge=8, le=4096)
    max_train_examples: int = setting(0, ge=0, help="0: all")
    max_eval_examples: int = setting(0, ge=0, help="validation and test messages; 0: all")
    onnx: bool = setting(True, help="also export the merged model to ONNX (needs the "
                         "onnx, onnxscript and onnxruntime packages)")
    warmup_ratio: float = setting(0.1, ge=0, lt=1)
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)


MODEL_HELP = ("a model name of training/models.py, a hub id or a folder; a|b takes the "
              "first that loads offline")


@dataclass(frozen=True)
class SftSettings(TaskSettings):
    """`sft` (tasks/sft.py): instruction fine-tuning of a causal LM, the prompt tokens
    masked out of the loss."""

    model: str = setting("smollm2", help="smollm2 (SmolLM2-135M-Instruct, offline), "
                         "tiny-gpt2 (a GPT-2 built in code, byte tokens, sized by n_embd, "
                         "n_layer, n_head), or a hub id / folder of a causal LM")
    max_train_examples: int = setting(64, ge=0, help="training pairs (0: all)")
    max_eval_examples: int = setting(0, ge=0, help="validation and test pairs (0: all)")
    epochs: int = setting(1, ge=1, le=1000)
    batch_size: int = setting(8, ge=1, le=4096)
    lr: float = setting(1e-4, gt=0, le=1, help="peak learning rate")
    warmup_ratio: float = setting(0.05, ge=0, lt=1)
    weight_decay: float = setting(0.01, ge=0, le=1)
    max_length: int = setting(128, ge=8, le=8192,
                              help="tokens per example (prompt + response + end)")
    max_new_tokens: int = setting(40, ge=1, le=4096, help="tokens generated per answer")
    style_prefix: str = setting("In short:", help="how the trained answers start")
    n_embd: int = setting(128, ge=8, le=4096, help="the tiny model's width (model = tiny-gpt2)")
    n_layer: int = setting(4, ge=1, le=64)
    n_head: int = setting(4, ge=1, le=64)
    pretrain_steps: int = setting(400, ge=0, le=1_000_000,
                                  help="tiny only: causal LM steps on `corpus` first (0: none)")
    pretrain_block: int = setting(128, ge=8, le=8192)
    pretrain_lr: float = setting(3e-3, gt=0, le=1)
    corpus: str = setting("../data/corpus/course.txt",
                          help="plain text, relative to the exercise folder")
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)


@dataclass(frozen=True)
class LoraSettings(TaskSettings):
    """`lora` (tasks/lora.py): full fine-tuning vs LoRA (peft) on the same classifier."""

    model: str = setting("minilm", help=MODEL_HELP)
    head: str = setting("sequence", choices=("sequence", "last_token"))
    target_modules: str = setting("query,value",
                                  help="comma-separated layer names that get adapters")
    rank: int = setting(8, ge=1, le=1024)
    alpha: float = setting(16.0, gt=0, le=4096)
    dropout: float = setting(0.05, ge=0, lt=1)
    lr_full: float = setting(5e-5, gt=0, le=1, help="full fine-tuning's learning rate")
    lr_lora: float = setting(1e-3, gt=0, le=1, help="LoRA's learning rate")
    epochs: int = setting(1, ge=1, le=1000)
    batch_size: int = setting(16, ge=1, le=4096)
    max_length: int = setting(48, ge=1, le=8192)
    max_train_examples: int = setting(0, ge=0, help="0: all")
    max_eval_examples: int = setting(0, ge=0, help="0: all")
    second_adapter_steps: int = setting(8, ge=1, le=100_000,
                                        help="steps of the second (label-flipped) adapter")
    warmup_ratio: float = setting(0.1, ge=0, lt=1)
    weight_decay: float = setting(0.0, ge=0, le=1)
    qlora: bool = setting(False, help="4-bit base weights (needs a CUDA GPU and "
                          "bitsandbytes)")
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)


@dataclass(frozen=True)
class PretrainingSettings(TaskSettings):
    """`pretraining` (tasks/pretraining.py): a causal LM and masked LMs of the same tiny
    size, trained from scratch on the same corpus."""

    corpus: str = setting("../data/corpus/course.txt",
                          help="plain text, relative to the exercise folder")
    max_corpus_chars: int = setting(0, ge=0, help="0: the whole corpus")
    val_every_line: int = setting(10, ge=2, le=1_000_000,
                                  help="every N-th line is held out for validation")
    block_size: int = setting(128, ge=4, le=8192, help="bytes per training sequence")
    n_embd: int = setting(64, ge=4, le=4096)
    n_layer: int = setting(2, ge=1, le=64)
    n_head: int = setting(2, ge=1, le=64)
    steps: int = setting(1200, ge=1, le=10_000_000, help="optimizer steps per objective")
    batch_size: int = setting(16, ge=1, le=4096)
    lr: float = setting(3e-3, gt=0, le=1)
    warmup_ratio: float = setting(0.05, ge=0, lt=1)
    weight_decay: float = setting(0.01, ge=0, le=1)
    mask_prob: float = setting(0.15, gt=0, lt=1, help="BERT's masking rate")
    high_mask_prob: float = setting(0.8, gt=0, lt=1, help="the too-much-masking run")
    eval_every: int = setting(200, ge=1, help="steps between validation losses")
    max_eval_blocks: int = setting(64, ge=1, le=1_000_000)
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)


@dataclass(frozen=True)
class OverfittingSettings(TaskSettings):
    """`overfitting` (tasks/overfitting.py): too little data for too many epochs, early
    stopping, a far too high learning rate."""

    model: str = setting("minilm", help=MODEL_HELP)
    head: str = setting("sequence", choices=("sequence", "last_token"))
    small_train: int = setting(32, ge=1, help="training messages: far too few")
    epochs: int = setting(25, ge=1, le=10_000, help="far too many")
    batch_size: int = setting(8, ge=1, le=4096)
    lr: float = setting(1e-4, gt=0, le=1)
    high_lr: float = setting(0.05, gt=0, le=100, help="far too high for fine-tuning")
    high_lr_epochs: int = setting(4, ge=1, le=10_000)
    patience: int = setting(3, ge=1, le=10_000,
                            help="evaluations without improvement before stopping")
    min_delta: float = setting(0.0, ge=0)
    max_length: int = setting(48, ge=1, le=8192)
    max_eval_examples: int = setting(0, ge=0, help="0: all")
    weight_decay: float = setting(0.0, ge=0, le=1)
    seed: int = setting(123, ge=0, le=2**32 - 1)
    threads: int = setting(0, ge=0, le=MAX_THREADS, help="CPU threads; 0: the cores free")
    precision: str = setting("auto", choices=PRECISIONS)
