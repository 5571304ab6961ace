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
per step of 8 pairs on a 2-core CPU with one thread, about 75 s for the default run), "tiny"
(a GPT-2 built in code with byte tokens, first pretrained for `pretrain_steps` on the course
corpus so that SFT starts from a base model), or a hub id / local folder of a causal LM.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.training.device import (
    autocast,
    describe,
    make_scaler,
    memory_mb,
    optimizer_step,
)
from studyapp.training.events import Evaluation, Started, Step
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    CharTokenizer,
    finish,
    lr_schedule,
    param_counts,
    prepare,
    read_jsonl,
    resolve,
    tiny_gpt2,
    write_json,
)

DEFAULTS: dict[str, Any] = {
    "model": "smollm2",
    "max_train_examples": 64,
    "max_eval_examples": 0,
    "epochs": 1,
    "batch_size": 8,
    "lr": 1e-4,
    "warmup_ratio": 0.05,
    "weight_decay": 0.01,
    "max_length": 128,        # tokens per example (prompt + response + end)
    "max_new_tokens": 40,     # generated per answer
    "style_prefix": "In short:",
    "n_embd": 128,            # the "tiny" model's size
    "n_layer": 4,
    "n_head": 4,
    "pretrain_steps": 400,    # "tiny" only: causal LM on `corpus` before SFT (0: none)
    "pretrain_block": 128,
    "pretrain_lr": 3e-3,
    "corpus": "../data/corpus/course.txt",
    "seed": 123,
    "threads": 0,
    "precision": "auto",
}


@dataclass
class _LM:
    name: str
    model: torch.nn.Module
    encode: Any               # str -> list[int]
    decode: Any               # list[int] -> str
    eos_id: int
    pad_id: int


def run(ctx: RunContext) -> dict[str, Any]:
    clock, s, seed, code, device, precision = prepare(ctx, DEFAULTS)

    d = ctx.spec.data
    if not d:
        raise ValueError(f"exercise {ctx.spec.exercise!r} names no data")
    train_rows = _limit(read_jsonl(Path(d["train"])), int(s["max_train_examples"]), seed)
    val_rows = _limit(read_jsonl(Path(d["val"])), int(s["max_eval_examples"]), seed)
    test_rows = _limit(read_jsonl(Path(d["test"])), int(s["max_eval_examples"]), seed) \
        if d.get("test") else val_rows

    lm = _load(ctx, s)
    lm.model.to(device)
    if str(s["model"]) == "tiny" and int(s["pretrain_steps"]) > 0:
        _pretrain(ctx, s, lm, device, precision)
    trainable, total = param_counts(lm.model)
    max_length = int(s["max_length"])

    def encode(rows: list[dict[str, Any]]) -> list[tuple[list[int], list[int]]]:
        out = []
        for r in rows:
            prompt = code.format_prompt(str(r["instruction"]), str(r.get("input", "") or ""))
            ids, labels = code.build_example(lm.encode(prompt), lm.encode(str(r["output"])),
                                             lm.eos_id, max_length)
            out.append((list(ids), list(labels)))
        return out

    train, val, test = encode(train_rows), encode(val_rows), encode(test_rows)
    masked = sum(sum(1 for y in labels if y == -100) for _, labels in train)
    counted = sum(sum(1 for y in labels if y != -100) for _, labels in train)
    batch_size = int(s["batch_size"])
    spe = math.ceil(len(train) / batch_size)
    epochs = int(s["epochs"])
    total_steps = spe * epochs
    ctx.emit(Started(run_id=ctx.spec.run_id, exercise=ctx.spec.exercise,
                     variant=ctx.spec.variant, device=describe(device), settings=ctx.settings,
                     total_steps=total_steps, model=lm.name, train_examples=len(train)))
    ctx.log(f"{lm.name}: {total:,} parameters on {describe(device)}, {precision.name}; "
            f"{len(train)} training pairs: {counted:,} response tokens count in the loss, "
            f"{masked:,} prompt tokens are masked (-100)",
            trainable_params=trainable, total_params=total)

    def evaluate(examples: list, step: int) -> float:
        return _response_loss(ctx, code, lm, examples, device, precision, step)

    measured: dict[str, Any] = {"device": describe(device), "model": lm.name,
                                "precision": precision.name, "trainable_params": trainable,
                                "total_params": total, "train_examples": len(train),
                                "test_examples": len(test), "masked_prompt_tokens": masked,
                                "response_tokens": counted}
    prefix = str(s["style_prefix"])
    prompts = [code.format_prompt(str(r["instruction"]), str(r.get("input", "") or ""))
               for r in test_rows]
    before_answers = _generate(ctx, lm, prompts, int(s["max_new_tokens"]), device, 0)
    measured["response_loss_before"] = evaluate(test, 0)
    measured["style_share_before"] = _share(before_answers, prefix)
    v0 = evaluate(val, 0)
    measured["val_loss_first"] = v0
    val_losses = [[0, v0]]
    ctx.emit(Evaluation(step=0, val_loss=v0, metrics={"test_response_loss":
                                                      measured["response_loss_before"]}))
    ctx.log(f"before training: response loss {measured['response_loss_before']:.3f} on the "
            f"held-out instructions; {measured['style_share_before']:.0%} of the answers start "
            f"with {prefix!r}")

    params = [p for p in lm.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=float(s["lr"]), weight_decay=float(s["weight_decay"]))
    scheduler = lr_schedule(optimizer, total_steps, float(s["warmup_ratio"]))
    scaler = make_scaler(device, precision)
    rng = random.Random(seed)
    step, train_losses = 0, []
    t_train = clock()
    for epoch in range(epochs):
        lm.model.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            ctx.check_cancelled(step, dict(measured))
            t_step = clock() - t_train
            ids, mask, labels = _collate([train[i] for i in order[start:start + batch_size]],
                                         lm.pad_id)
            ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
            with autocast(device, precision):
                logits = lm.model(input_ids=ids, attention_mask=mask).logits
            loss = code.response_loss(logits.float(), labels)
            optimizer_step(loss, optimizer, scaler, params)
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            step += 1
            value = float(loss.detach())
            train_losses.append([step, value])
            elapsed = clock() - t_train
            ctx.emit(Step(step=step, epoch=epoch + min(1.0, (start + batch_size) / len(order)),
                          loss=value, lr=lr, tokens_per_s=float(mask.sum()) / max(
                              elapsed - t_step, 1e-9), elapsed=elapsed,
                          memory_mb=memory_mb(device)))
        vloss = evaluate(val, step)
        val_losses.append([step, vloss])
        ctx.emit(Evaluation(step=step, val_loss=vloss, metrics={"epoch": float(epoch + 1)}))
    train_time = clock() - t_train

    after_answers = _generate(ctx, lm, prompts, int(s["max_new_tokens"]), device, step)
    measured["response_loss"] = evaluate(test, step)
    measured["response_perplexity"] = math.exp(min(measured["response_loss"], 50.0))
    measured["style_share"] = _share(after_answers, prefix)
    tail = [v for _, v in train_losses[-spe:]]
    measured.update(val_loss=val_losses[-1][1], train_loss=sum(tail) / max(1, len(tail)),
                    steps=step, epochs=epochs, train_time_s=train_time,
                    steps_per_s=step / train_time if train_time > 0 else None, time_s=clock())
    answers = [{"instruction": r["instruction"], "reference": r["output"], "before": b,
                "after": a} for r, b, a in zip(test_rows, before_answers, after_answers,
                                               strict=True)]
    try:
        measured["answers_file"] = str(write_json(ctx.output_dir / "answers.json", answers))
    except OSError as exc:
        ctx.log(f"could not write the answers: {exc}")
    for a in answers[:3]:
        ctx.log(f"Q: {a['instruction']}\n  before: {a['before'][:160]!r}\n  after:  "
                f"{a['after'][:160]!r}")
    ctx.log(f"after training: response loss {measured['response_loss_before']:.3f} -> "
            f"{measured['response_loss']:.3f} on held-out instructions; answers starting with "
            f"{prefix!r}: {measured['style_share_before']:.0%} -> {measured['style_share']:.0%}",
            answers=answers[:5])
    return finish(ctx, measured, {"train": train_losses, "val": val_losses})


def _pretrain(ctx: RunContext, s: dict[str, Any], lm: _LM, device: torch.device,
              precision: Any) -> None:
    """Give the tiny model some language first: causal LM on the course corpus (the
    pretraining exercise's objective), so that the model SFT starts from is a base model
    that rambles in the course's words rather than random bytes."""
    path = resolve(ctx, str(s["corpus"]))
    if not path.is_file():
        ctx.log(f"no corpus at {path}: the tiny model starts from random weights")
        return
    ids = torch.tensor(lm.encode(path.read_text(encoding="utf-8")), dtype=torch.long)
    block, steps = int(s["pretrain_block"]), int(s["pretrain_steps"])
    if len(ids) <= block + 1:
        return
    ctx.log(f"pretraining the tiny model on {path.name} first ({steps} steps of causal LM, "
            f"{len(ids):,} bytes): the base model for SFT")
    rng = random.Random(int(s["seed"]))
    optimizer = torch.optim.AdamW(lm.model.parameters(), lr=float(s["pretrain_lr"]),
                                  weight_decay=0.01)
    scheduler = lr_schedule(optimizer, steps, 0.05)
    lm.model.train()
    tail: list[float] = []
    for i in range(1, steps + 1):
        ctx.check_cancelled(0)
        starts = [rng.randrange(0, len(ids) - block) for _ in range(int(s["batch_size"]))]
        x = torch.stack([ids[a:a + block] for a in starts]).to(device)
        with autocast(device, precision):
            loss = lm.model(input_ids=x, labels=x).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        tail = (tail + [float(loss.detach())])[-20:]
        if i % 100 == 0 or i == steps:
            ctx.log(f"pretraining step {i}/{steps}: loss {sum(tail) / len(tail):.3f}")


def _limit(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    if n <= 0 or n >= len(rows):
        return rows
    return random.Random(seed).sample(rows, n)


def _share(answers: list[str], prefix: str) -> float:
    if not answers:
        return 0.0
    return sum(1 for a in answers if a.strip().startswith(prefix)) / len(answers)


def _load(ctx: RunContext, s: dict[str, Any]) -> _LM:
    name = str(s["model"])
    if name == "tiny":
        tok = CharTokenizer()
        model = tiny_gpt2(tok.vocab_size, int(s["n_embd"]), int(s["n_layer"]), int(s["n_head"]),
                          max(int(s["max_length"]) + int(s["max_new_tokens"]), 64),
                          pad_id=tok.pad_token_id, eos_id=tok.eos_token_id)
        return _LM(f"tiny GPT-2 ({s['n_layer']} blocks, width {s['n_embd']}, built in code)",
                   model, tok.encode, tok.decode, tok.eos_token_id, tok.pad_token_id)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studyapp.training.models import ModelUnavailable, smollm2_folder

    source = str(smollm2_folder(ctx.cache_dir, ctx.log)) if name == "smollm2" else name
    ctx.log(f"loading {name}" + (f" from {source}" if source != name else ""))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"cannot load the causal LM {name!r} ({exc}); offline, use --set model=tiny or "
            "--set model=smollm2") from exc
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

    def enc(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def dec(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    return _LM(name, model, enc, dec, int(eos), int(pad))


def _collate(batch: list[tuple[list[int], list[int]]], pad_id: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded input ids, attention mask, and labels padded with -100."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (x, y) in enumerate(batch):
        ids[row, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[row, :len(x)] = 1
        labels[row, :len(y)] = torch.tensor(y, dtype=torch.long)
    return ids, mask, labels


@torch.no_grad()
def _response_loss(ctx: RunContext, code: ModuleType, lm: _LM, examples: list,
                   device: torch.device, precision: Any, step: int) -> float:
    """The learner's response loss, averaged over every counted (shifted) label token."""
    lm.model.eval()
    total, count = 0.0, 0
    for start in range(0, len(examples), 16):
        ctx.check_cancelled(step)
        ids, mask, labels = _collate(examples[start:start + 16], lm.pad_id)
        n = int((labels[:, 1:] != -100).sum())
        if n == 0:
            continue
        with autocast(device, precision):
            logits = lm.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        total += float(code.response_loss(logits.float(), labels.to(device))) * n
        count += n
    return total / count if count else math.nan


@torch.no_grad()
def _generate(ctx: RunContext, lm: _LM, prompts: list[str], max_new: int,
              device: torch.device, step: int) -> list[str]:
    """Greedy answers to `prompts` (left-padded batches, stopping at end-of-text)."""
    lm.model.eval()
    answers: list[str] = []
    for start in range(0, len(prompts), 16):
        ctx.check_cancelled(step)
        encoded = [lm.encode(p) for p in prompts[start:start + 16]]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, width - len(e):] = torch.tensor(e, dtype=torch.long)
            mask[row, width - len(e):] = 1
        out = lm.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                max_new_tokens=max_new, do_sample=False,
                                pad_token_id=lm.pad_id, eos_token_id=lm.eos_id)
        for row in out[:, width:].tolist():
            if lm.eos_id in row:
                row = row[:row.index(lm.eos_id)]
            answers.append(lm.decode(row).strip())
    return answers
