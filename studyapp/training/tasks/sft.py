"""Instruction fine-tuning (SFT) of a causal LM, with the prompt tokens masked out.

Each training pair (instruction, optional input, response) is written with a prompt
template; the model reads prompt + response + end-of-text, and learns to produce the
response only: the labels of the prompt tokens are -100, so the loss counts response
tokens alone. The learner's module provides:

    format_prompt(instruction, input) -> str          (given: the prompt template)
    build_example(prompt_ids, response_ids, eos_id, max_length) -> (input_ids, labels)
    response_loss(logits[B, T, V], labels[B, T]) -> scalar   (shifted, -100 ignored)

Before and after training the run measures, on held-out instructions (the `test` file,
never trained on): the loss on response tokens and the answers the model generates
(greedy), and how many of those answers follow the trained style (they start with
`style_prefix`, "In short:" in the bundled data). Validation loss (response tokens of the
`val` file) is measured after each epoch.

Models (`model`): "smollm2" (SmolLM2-135M-Instruct, offline, all weights train: about 5 s
per step of 8 pairs on a 2-core CPU with one thread, about 75 s for the default run),
"tiny-gpt2" (a GPT-2 built in code with byte tokens, first pretrained for `pretrain_steps` on the course
corpus so that SFT starts from a base model), or a hub id / local folder of a causal LM.

Both phases (the tiny model's pretraining, then SFT) are `Engine.fit` calls
(training/engine.py): warm-up then linear decay, gradients clipped at 1.0. Settings:
`SftSettings` (tasks/settings.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.training.engine import Engine, Evaluated, Fit, TrainConfig
from studyapp.training.models import CausalLM, load_causal_lm
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    SeededOrder,
    param_counts,
    read_jsonl,
    resolve,
    write_json,
)
from studyapp.training.tasks.settings import SftSettings

EVAL_BATCH = 16


def run(ctx: RunContext) -> dict[str, Any]:
    s = SftSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(lr=s.lr, precision=s.precision, seed=s.seed,
                                     threads=s.threads))
    code = engine.learner_code()

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    train_rows = _limit(read_jsonl(Path(d["train"])), s.max_train_examples, s.seed)
    val_rows = _limit(read_jsonl(Path(d["val"])), s.max_eval_examples, s.seed)
    test_rows = _limit(read_jsonl(Path(d["test"])), s.max_eval_examples, s.seed) \
        if d.get("test") else val_rows

    lm = load_causal_lm(s.model, cache_dir=ctx.cache_dir, log=engine.log,
                        n_embd=s.n_embd, n_layer=s.n_layer, n_head=s.n_head,
                        n_positions=max(s.max_length + s.max_new_tokens, 64))
    corpus = _corpus_ids(ctx, s, lm) if s.model == "tiny-gpt2" and s.pretrain_steps > 0 else None

    def encode(rows: list[dict[str, Any]]) -> list[tuple[list[int], list[int]]]:
        out = []
        for r in rows:
            prompt = code.format_prompt(str(r["instruction"]), str(r.get("input", "") or ""))
            ids, labels = code.build_example(lm.encode(prompt), lm.encode(str(r["output"])),
                                             lm.eos_token_id, s.max_length)
            out.append((list(ids), list(labels)))
        return out

    train, val, test = encode(train_rows), encode(val_rows), encode(test_rows)
    masked = sum(sum(1 for y in labels if y == -100) for _, labels in train)
    counted = sum(sum(1 for y in labels if y != -100) for _, labels in train)
    spe = math.ceil(len(train) / s.batch_size)
    engine.start(spe * s.epochs + (s.pretrain_steps if corpus is not None else 0),
                 model_name=lm.name, train_examples=len(train))

    def response_loss(model: torch.nn.Module, examples: list) -> float:
        return _response_loss(engine, code, lm, model, examples)

    def evaluate(model: torch.nn.Module) -> Evaluated:
        return Evaluated(response_loss(model, val))

    # the tiny model's pretraining: validation loss before it (the random model) and after
    # it (the base model SFT starts from)
    base = _pretrain(engine, s, lm, corpus, evaluate) if corpus is not None else None
    trainable, total = param_counts(lm.model)
    engine.log(f"{lm.name}: {total:,} parameters on {engine.describe()}, {engine.precision}; "
               f"{len(train)} training pairs: {counted:,} response tokens count in the loss, "
               f"{masked:,} prompt tokens are masked (-100)",
               trainable_params=trainable, total_params=total)

    measured: dict[str, Any] = {"model": lm.name, "trainable_params": trainable,
                                "total_params": total, "train_examples": len(train),
                                "test_examples": len(test), "masked_prompt_tokens": masked,
                                "response_tokens": counted}
    prefix = s.style_prefix
    prompts = [code.format_prompt(str(r["instruction"]), str(r.get("input", "") or ""))
               for r in test_rows]
    lm.model.to(engine.device)
    before_answers: list[str] = []
    if engine.is_main:
        with engine.inference(lm.model):
            before_answers = _generate(engine, lm, prompts, s.max_new_tokens)
            measured["response_loss_before"] = response_loss(lm.model, test)
        measured["style_share_before"] = _share(before_answers, prefix)
        engine.log(f"before training: response loss {measured['response_loss_before']:.3f} on "
                   f"the held-out instructions; {measured['style_share_before']:.0%} of the "
                   f"answers start with {prefix!r}")

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                       ).logits
        return code.response_loss(logits.float(), batch["labels"])

    loader = torch.utils.data.DataLoader(
        train, batch_size=s.batch_size, sampler=SeededOrder(len(train), s.seed),
        collate_fn=lambda batch: _collate(batch, lm.pad_token_id),
        generator=torch.Generator().manual_seed(s.seed))
    fit = engine.fit(lm.model, loader, loss_fn, evaluate=evaluate, model_name=lm.name,
                     train_examples=len(train),
                     config=TrainConfig(lr=s.lr, epochs=s.epochs, warmup_ratio=s.warmup_ratio,
                                        weight_decay=s.weight_decay, max_grad_norm=1.0,
                                        eval_before=base is None))
    tail = [v for _, v in fit.train_losses[-spe:]]
    first = (base or fit).val_losses[-1 if base else 0][1] if (base or fit).val_losses else None
    measured.update(engine.summary(), precision=engine.precision)
    measured.update(steps=fit.steps, epochs=s.epochs, train_loss=sum(tail) / max(1, len(tail)),
                    val_loss_first=first,
                    val_loss=fit.val_losses[-1][1] if fit.val_losses else None)
    if base is not None:
        measured["pretrain_steps"] = base.steps
    if not engine.is_main:
        return engine.finish(measured)

    with engine.inference(fit.model):
        after_answers = _generate(engine, lm, prompts, s.max_new_tokens)
        measured["response_loss"] = response_loss(fit.model, test)
    measured["response_perplexity"] = math.exp(min(measured["response_loss"], 50.0))
    measured["style_share"] = _share(after_answers, prefix)
    answers = [{"instruction": r["instruction"], "reference": r["output"], "before": b,
                "after": a} for r, b, a in zip(test_rows, before_answers, after_answers,
                                               strict=True)]
    try:
        measured["answers_file"] = str(write_json(ctx.output_dir / "answers.json", answers))
    except OSError as exc:
        engine.log(f"could not write the answers: {exc}")
    for a in answers[:3]:
        engine.log(f"Q: {a['instruction']}\n  before: {a['before'][:160]!r}\n  after:  "
                   f"{a['after'][:160]!r}")
    engine.log(f"after training: response loss {measured['response_loss_before']:.3f} -> "
               f"{measured['response_loss']:.3f} on held-out instructions; answers starting "
               f"with {prefix!r}: {measured['style_share_before']:.0%} -> "
               f"{measured['style_share']:.0%}", answers=answers[:5])
    return engine.finish(measured)


def _corpus_ids(ctx: RunContext, s: SftSettings, lm: CausalLM) -> torch.Tensor | None:
    path = resolve(ctx, s.corpus)
    if not path.is_file():
        ctx.log(f"no corpus at {path}: the tiny model starts from random weights")
        return None
    ids = torch.tensor(lm.encode(path.read_text(encoding="utf-8")), dtype=torch.long)
    if len(ids) <= s.pretrain_block + 1:
        return None
    ctx.log(f"pretraining the tiny model on {path.name} first ({s.pretrain_steps} steps of "
            f"causal LM, {len(ids):,} bytes): the base model for SFT")
    return ids


def _pretrain(engine: Engine, s: SftSettings, lm: CausalLM, ids: torch.Tensor,
              evaluate: Callable[[torch.nn.Module], Evaluated]) -> Fit:
    """Give the tiny model some language first: causal LM on the course corpus (the
    pretraining exercise's objective), so that the model SFT starts from is a base model
    that rambles in the course's words rather than random bytes."""
    rng = random.Random(s.seed)
    block = s.pretrain_block
    starts = [rng.randrange(0, len(ids) - block) for _ in range(s.pretrain_steps * s.batch_size)]

    def collate(batch: list[int]) -> dict[str, torch.Tensor]:
        return {"input_ids": torch.stack([ids[a:a + block] for a in batch])}

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], labels=batch["input_ids"]).loss

    losses: list[float] = []

    def report(step: int, loss: float) -> None:
        losses.append(loss)
        if len(losses) % 100 == 0 or len(losses) == s.pretrain_steps:
            tail = losses[-20:]
            engine.log(f"pretraining step {len(losses)}/{s.pretrain_steps}: loss "
                       f"{sum(tail) / len(tail):.3f}")

    loader = torch.utils.data.DataLoader(starts, batch_size=s.batch_size, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(s.seed))
    return engine.fit(lm.model, loader, loss_fn, evaluate=evaluate, on_step=report,
                      model_name=lm.name,
                      config=TrainConfig(lr=s.pretrain_lr, max_steps=s.pretrain_steps,
                                         warmup_ratio=0.05, weight_decay=0.01,
                                         max_grad_norm=1.0, eval_every=s.pretrain_steps))


def _limit(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    if n <= 0 or n >= len(rows):
        return rows
    return random.Random(seed).sample(rows, n)


def _share(answers: list[str], prefix: str) -> float:
    if not answers:
        return 0.0
    return sum(1 for a in answers if a.strip().startswith(prefix)) / len(answers)


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask, and labels padded with -100."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        ids[row, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[row, :len(x)] = 1
        labels[row, :len(y)] = torch.tensor(y, dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _response_loss(engine: Engine, code: ModuleType, lm: CausalLM, model: torch.nn.Module,
                   examples: list) -> float:
    """The learner's response loss, averaged over every counted (shifted) label token
    (call it under `engine.inference`)."""
    total, count = 0.0, 0
    for start in range(0, len(examples), EVAL_BATCH):
        engine.check_cancelled()
        batch = _collate(examples[start:start + EVAL_BATCH], lm.pad_token_id)
        n = int((batch["labels"][:, 1:] != -100).sum())
        if n == 0:
            continue
        batch = engine.to_device(batch)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                       ).logits
        total += float(code.response_loss(logits.float(), batch["labels"])) * n
        count += n
    return total / count if count else math.nan


def _generate(engine: Engine, lm: CausalLM, prompts: list[str], max_new: int) -> list[str]:
    """Greedy answers to `prompts` (left-padded batches, stopping at end-of-text; call it
    under `engine.inference`)."""
    answers: list[str] = []
    for start in range(0, len(prompts), EVAL_BATCH):
        engine.check_cancelled()
        encoded = [lm.encode(p) for p in prompts[start:start + EVAL_BATCH]]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), lm.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, width - len(e):] = torch.tensor(e, dtype=torch.long)
            mask[row, width - len(e):] = 1
        ids, mask = engine.to_device((ids, mask))
        out = lm.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new,
                                do_sample=False, pad_token_id=lm.pad_token_id,
                                eos_token_id=lm.eos_token_id)
        for row in out[:, width:].tolist():
            if lm.eos_token_id in row:
                row = row[:row.index(lm.eos_token_id)]
            answers.append(lm.decode(row).strip())
    return answers
