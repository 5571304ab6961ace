"""Pretraining objectives: masked LM and causal LM on the same corpus, same tiny size.

Three models are trained from scratch, one after the other, on the same byte-level corpus
(by default the course's own text) with the same width, depth and number of steps. Both
kinds are modern pre-norm transformers with rotary positions and the same MLP width, so
they differ in little but the attention mask and the objective (about 100k parameters):

    clm        a causal LM (Llama layout): predict every next byte from the bytes before it
    mlm        a masked LM (ModernBERT layout), BERT's recipe: 15% of the bytes are targets
               (80% -> [MASK], 10% -> a random token, 10% unchanged), predicted from
               both sides
    mlm_high   the same masked LM with far more masking (`high_mask_prob`, default 0.8)

The learner's module provides:

    mask_tokens(input_ids, mask_token_id, vocab_size, mask_prob, special_mask, generator)
        -> (masked_input_ids, labels)        # labels -100 where nothing is predicted
    perplexity(mean_loss) -> float

Held-out text: every `val_every_line`-th line of the corpus is validation text and
never trained on. Both masked models are evaluated on the same validation bytes with the
same 15% masking (a fixed seed), so their perplexities compare; the causal model's
perplexity is per next byte. Perplexity = exp(mean cross-entropy).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.atomic import write_atomic
from studyapp.training.device import (
    autocast,
    describe,
    memory_mb,
    seed_everything,
)
from studyapp.training.events import Evaluation, Started, Step
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import (
    CharTokenizer,
    finish,
    lr_schedule,
    overlay_plot,
    param_counts,
    prepare,
    resolve,
    tiny_llama,
    tiny_modernbert,
    write_json,
)

DEFAULTS: dict[str, Any] = {
    "corpus": "../data/corpus/course.txt",
    "max_corpus_chars": 0,        # 0: all of it
    "val_every_line": 10,         # every 10th line is held out for validation
    "block_size": 128,            # bytes per training sequence
    "n_embd": 64,
    "n_layer": 2,
    "n_head": 2,
    "steps": 1200,                # optimizer steps per objective
    "batch_size": 16,
    "lr": 3e-3,
    "warmup_ratio": 0.05,
    "weight_decay": 0.01,
    "mask_prob": 0.15,
    "high_mask_prob": 0.8,
    "eval_every": 200,
    "max_eval_blocks": 64,
    "seed": 123,
    "threads": 0,
    "precision": "auto",
}

PHASES = ("clm", "mlm", "mlm_high")


def run(ctx: RunContext) -> dict[str, Any]:
    clock, s, seed, code, device, precision = prepare(ctx, DEFAULTS)
    tok = CharTokenizer()

    train_text, val_text, source = _corpus(ctx, s)
    block = int(s["block_size"])
    train_ids = torch.tensor(tok.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(val_text), dtype=torch.long)
    if len(train_ids) <= block + 1 or len(val_ids) < block:
        raise ValueError(f"the corpus {source} is too short for block_size={block}")
    n_val = min(len(val_ids) // block, int(s["max_eval_blocks"]))
    val_blocks = val_ids[: n_val * block].view(n_val, block)

    steps = int(s["steps"])
    total_steps = steps * len(PHASES)
    ctx.emit(Started(run_id=ctx.spec.run_id, exercise=ctx.spec.exercise,
                     variant=ctx.spec.variant, device=describe(device), settings=ctx.settings,
                     total_steps=total_steps,
                     model=f"tiny Llama (causal) / tiny ModernBERT (masked), {s['n_layer']} "
                     f"blocks of width {s['n_embd']}", train_examples=len(train_ids) // block))
    ctx.log(f"corpus {source}: {len(train_ids):,} training bytes, {len(val_ids):,} held-out "
            f"bytes ({n_val} validation blocks of {block})")

    measured: dict[str, Any] = {"device": describe(device), "precision": precision.name,
                                "corpus": str(source), "train_tokens": len(train_ids),
                                "val_tokens": len(val_ids)}
    curves: dict[str, list[list[float]]] = {}
    train_losses: list[list[float]] = []
    val_losses: list[list[float]] = []
    rng = random.Random(seed)
    offset = 0
    for phase in PHASES:
        seed_everything(seed)        # same initialisation and batches for every objective
        rng.seed(seed)
        mask_prob = float(s["high_mask_prob"] if phase == "mlm_high" else s["mask_prob"])
        model = _build(phase, s, tok).to(device)
        _, n_params = param_counts(model)
        measured[f"{phase}_params"] = n_params
        ctx.log(f"{phase}: {'causal' if phase == 'clm' else 'masked'} LM with {n_params:,} "
                f"parameters" + ("" if phase == "clm" else f", {mask_prob:.0%} masking"))
        gen = torch.Generator().manual_seed(seed)

        def evaluate(step: int, prob: float, _model: Any = model,
                     _phase: str = phase) -> float:
            return _evaluate(ctx, code, _model, _phase, val_blocks, tok, prob, seed, device,
                             precision, step)

        first = evaluate(offset, float(s["mask_prob"]))
        measured[f"{phase}_val_loss_first"] = first
        measured[f"{phase}_perplexity_first"] = float(code.perplexity(first))
        curve = [[0, first]]
        val_losses.append([offset, first])
        ctx.emit(Evaluation(step=offset, val_loss=first,
                            metrics={"perplexity": measured[f"{phase}_perplexity_first"]}))

        optimizer = torch.optim.AdamW(model.parameters(), lr=float(s["lr"]),
                                      weight_decay=float(s["weight_decay"]))
        scheduler = lr_schedule(optimizer, steps, float(s["warmup_ratio"]))
        model.train()
        t_phase = clock()
        tail: list[float] = []
        for i in range(1, steps + 1):
            ctx.check_cancelled(offset + i - 1, dict(measured))
            starts = [rng.randrange(0, len(train_ids) - block) for _ in range(int(s["batch_size"]))]
            x = torch.stack([train_ids[a:a + block] for a in starts])
            if phase == "clm":
                inputs, labels = x, x
            else:
                inputs, labels = code.mask_tokens(x, tok.mask_token_id, tok.vocab_size,
                                                  mask_prob, torch.zeros_like(x, dtype=torch.bool),
                                                  gen)
            inputs, labels = inputs.to(device), labels.to(device)
            with autocast(device, precision):
                loss = model(input_ids=inputs, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            value = float(loss.detach())
            tail = (tail + [value])[-20:]
            train_losses.append([offset + i, value])
            elapsed = clock() - t_phase
            ctx.emit(Step(step=offset + i, epoch=PHASES.index(phase) + i / steps, loss=value,
                          lr=lr, tokens_per_s=float(x.numel()) * i / max(elapsed, 1e-9),
                          elapsed=clock(), memory_mb=memory_mb(device)))
            if i % int(s["eval_every"]) == 0 or i == steps:
                vloss = evaluate(offset + i, float(s["mask_prob"]))
                model.train()
                curve.append([i, vloss])
                val_losses.append([offset + i, vloss])
                ctx.emit(Evaluation(step=offset + i, val_loss=vloss,
                                    metrics={"perplexity": float(code.perplexity(vloss))}))
        measured[f"{phase}_train_time_s"] = clock() - t_phase
        measured[f"{phase}_train_loss"] = sum(tail) / len(tail)
        final = curve[-1][1]
        measured[f"{phase}_val_loss"] = final
        measured[f"{phase}_perplexity"] = float(code.perplexity(final))
        if phase == "mlm_high":
            own = evaluate(offset + steps, mask_prob)
            measured["mlm_high_perplexity_own_rate"] = float(code.perplexity(own))
            measured["mlm_high_mask_prob"] = mask_prob
        curves[phase] = curve
        offset += steps
        del model, optimizer

    measured["mlm_perplexity_at_15"] = measured["mlm_perplexity"]
    measured["mlm_high_perplexity_at_15"] = measured["mlm_high_perplexity"]
    measured["mask_prob"] = float(s["mask_prob"])
    measured["high_masking_hurts"] = float(
        measured["mlm_high_perplexity"] > measured["mlm_perplexity"])
    measured.update(steps=total_steps, time_s=clock(), val_loss=measured["clm_val_loss"],
                    perplexity=measured["clm_perplexity"])
    out = ctx.output_dir
    plot = overlay_plot({f"{k} (val)": v for k, v in curves.items()},
                        title="validation loss per objective (nats per predicted byte)")
    try:
        write_json(out / "curves.json", curves)
        write_atomic(out / "curves.txt", plot)
        measured["plot_file"] = str(out / "curves.txt")
    except OSError as exc:  # the run's result matters more than its plot file
        ctx.log(f"could not write the plot: {exc}")
    ctx.log("validation loss of the three objectives:\n" + plot, curves=curves)
    ctx.log(f"perplexity on held-out text: causal LM {measured['clm_perplexity']:.2f} per byte,"
            f" masked LM ({s['mask_prob']:.0%}) {measured['mlm_perplexity']:.2f} per masked byte,"
            f" masked LM trained at {s['high_mask_prob']:.0%} {measured['mlm_high_perplexity']:.2f}"
            " (evaluated at the same 15% masking)")
    return finish(ctx, measured, {"train": train_losses, "val": val_losses})


def _build(phase: str, s: dict[str, Any], tok: CharTokenizer) -> torch.nn.Module:
    args = {"vocab_size": tok.vocab_size, "n_embd": int(s["n_embd"]),
            "n_layer": int(s["n_layer"]), "n_head": int(s["n_head"]),
            "n_positions": int(s["block_size"]), "pad_id": tok.pad_token_id}
    if phase == "clm":
        return tiny_llama(**args, eos_id=tok.eos_token_id)
    return tiny_modernbert(**args, eos_id=tok.eos_token_id)


@torch.no_grad()
def _evaluate(ctx: RunContext, code: ModuleType, model: torch.nn.Module, phase: str,
              blocks: torch.Tensor, tok: CharTokenizer, mask_prob: float, seed: int,
              device: torch.device, precision: Any, step: int) -> float:
    """Mean cross-entropy per predicted byte over the validation blocks."""
    model.eval()
    gen = torch.Generator().manual_seed(seed + 1)   # the same masked positions every time
    total, count = 0.0, 0
    for start in range(0, len(blocks), 32):
        ctx.check_cancelled(step)
        x = blocks[start:start + 32]
        if phase == "clm":
            inputs, labels = x, x
            n = x.shape[0] * (x.shape[1] - 1)
        else:
            inputs, labels = code.mask_tokens(x, tok.mask_token_id, tok.vocab_size, mask_prob,
                                              torch.zeros_like(x, dtype=torch.bool), gen)
            n = int((labels != -100).sum())
        if n == 0:
            continue
        with autocast(device, precision):
            loss = model(input_ids=inputs.to(device), labels=labels.to(device)).loss
        total += float(loss) * n
        count += n
    return total / count if count else math.nan


def _corpus(ctx: RunContext, s: dict[str, Any]) -> tuple[str, str, Path]:
    """(training text, validation text, where it came from): every `val_every_line`-th
    non-empty line is held out (the corpus has one sentence per line)."""
    path = resolve(ctx, str(s["corpus"]))
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        from studyapp.config import bundled_lessons_dir

        lessons = sorted(bundled_lessons_dir().glob("*.md"))
        if not lessons:
            raise FileNotFoundError(f"the corpus {path} does not exist (and no lessons to "
                                    "use instead)")
        ctx.log(f"{path} does not exist: using the bundled lessons as the corpus")
        text = "\n\n".join(p.read_text(encoding="utf-8") for p in lessons)
        path = bundled_lessons_dir()
    limit = int(s["max_corpus_chars"])
    if limit > 0:
        text = text[:limit]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    every = max(2, int(s["val_every_line"]))
    train = [x for i, x in enumerate(lines) if i % every != every - 1]
    val = [x for i, x in enumerate(lines) if i % every == every - 1]
    return "\n".join(train), "\n".join(val), path
