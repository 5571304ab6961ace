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

Each objective is one `Engine.fit` (training/engine.py) of `steps` steps on batches of
random blocks of the corpus (the learner's masking applied as a batch is drawn), warm-up
then linear decay, evaluated every `eval_every` steps. Settings: `PretrainingSettings`
(tasks/settings.py).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from studyapp.atomic import write_atomic
from studyapp.training.device import seed_everything
from studyapp.training.engine import Engine, Evaluated, TrainConfig
from studyapp.training.models import ByteTokenizer, tiny_llama, tiny_modernbert
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import overlay_plot, param_counts, resolve, write_json
from studyapp.training.tasks.settings import PretrainingSettings

PHASES = ("clm", "mlm", "mlm_high")


def run(ctx: RunContext) -> dict[str, Any]:
    s = PretrainingSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(lr=s.lr, precision=s.precision, seed=s.seed,
                                     threads=s.threads))
    code = engine.learner_code()
    tok = ByteTokenizer()

    train_text, val_text, source = _corpus(ctx, s)
    block = s.block_size
    train_ids = torch.tensor(tok.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tok.encode(val_text), dtype=torch.long)
    if len(train_ids) <= block + 1 or len(val_ids) < block:
        raise ValueError(f"the corpus {source} is too short for block_size={block}")
    n_val = min(len(val_ids) // block, s.max_eval_blocks)
    val_blocks = val_ids[: n_val * block].view(n_val, block)

    engine.start(s.steps * len(PHASES),
                 model_name=f"tiny Llama (causal) / tiny ModernBERT (masked), {s.n_layer} "
                 f"blocks of width {s.n_embd}", train_examples=len(train_ids) // block)
    engine.log(f"corpus {source}: {len(train_ids):,} training bytes, {len(val_ids):,} "
               f"held-out bytes ({n_val} validation blocks of {block})")

    measured: dict[str, Any] = {"corpus": str(source), "train_tokens": len(train_ids),
                                "val_tokens": len(val_ids)}
    curves: dict[str, list[list[float]]] = {}
    rng = random.Random(s.seed)
    for phase in PHASES:
        seed_everything(s.seed)        # same initialisation and batches for every objective
        rng.seed(s.seed)
        mask_prob = s.high_mask_prob if phase == "mlm_high" else s.mask_prob
        model = _build(phase, s)
        _, n_params = param_counts(model)
        measured[f"{phase}_params"] = n_params
        engine.log(f"{phase}: {'causal' if phase == 'clm' else 'masked'} LM with {n_params:,} "
                   f"parameters" + ("" if phase == "clm" else f", {mask_prob:.0%} masking"))
        gen = torch.Generator().manual_seed(s.seed)
        # the blocks every step trains on, drawn in the order the steps take them
        starts = [rng.randrange(0, len(train_ids) - block) for _ in range(s.steps * s.batch_size)]

        def collate(batch: list[int], _phase: str = phase, _prob: float = mask_prob,
                    _gen: torch.Generator = gen) -> dict[str, torch.Tensor]:
            x = torch.stack([train_ids[a:a + block] for a in batch])
            if _phase == "clm":
                return {"input_ids": x, "labels": x}
            inputs, labels = code.mask_tokens(x, tok.mask_token_id, tok.vocab_size, _prob,
                                              torch.zeros_like(x, dtype=torch.bool), _gen)
            return {"input_ids": inputs, "labels": labels}

        loader = torch.utils.data.DataLoader(starts, batch_size=s.batch_size, shuffle=False,
                                             collate_fn=collate,
                                             generator=torch.Generator().manual_seed(s.seed))

        def evaluate(m: torch.nn.Module, _phase: str = phase) -> Evaluated:
            loss = _evaluate(engine, code, m, _phase, val_blocks, tok, s.mask_prob, s.seed)
            return Evaluated(loss, {"perplexity": float(code.perplexity(loss))})

        fit = engine.fit(model, loader, _loss, evaluate=evaluate,
                         tokens=lambda batch: int(batch["input_ids"].numel()),
                         config=TrainConfig(lr=s.lr, max_steps=s.steps,
                                            warmup_ratio=s.warmup_ratio,
                                            weight_decay=s.weight_decay, max_grad_norm=1.0,
                                            eval_every=s.eval_every))
        curve = [[step - fit.evaluations[0][0], e.loss] for step, e in fit.evaluations]
        first, final = curve[0][1], curve[-1][1]
        tail = [v for _, v in fit.train_losses[-20:]]
        measured[f"{phase}_val_loss_first"] = first
        measured[f"{phase}_perplexity_first"] = float(code.perplexity(first))
        measured[f"{phase}_train_loss"] = sum(tail) / len(tail)
        measured[f"{phase}_val_loss"] = final
        measured[f"{phase}_perplexity"] = float(code.perplexity(final))
        if phase == "mlm_high" and engine.is_main:
            with engine.inference(fit.model):
                own = _evaluate(engine, code, fit.model, phase, val_blocks, tok, mask_prob,
                                s.seed)
            measured["mlm_high_perplexity_own_rate"] = float(code.perplexity(own))
            measured["mlm_high_mask_prob"] = mask_prob
        curves[phase] = curve
        del model, fit, loader

    measured["mlm_perplexity_at_15"] = measured["mlm_perplexity"]
    measured["mlm_high_perplexity_at_15"] = measured["mlm_high_perplexity"]
    measured["mask_prob"] = s.mask_prob
    measured["high_masking_hurts"] = float(
        measured["mlm_high_perplexity"] > measured["mlm_perplexity"])
    summary = engine.summary()
    summary.pop("train_loss")               # over three objectives: not one model's loss
    measured.update(summary, precision=engine.precision)
    measured.update(val_loss=measured["clm_val_loss"], perplexity=measured["clm_perplexity"])
    out = ctx.output_dir
    plot = overlay_plot({f"{k} (val)": v for k, v in curves.items()},
                        title="validation loss per objective (nats per predicted byte)")
    if engine.is_main:
        try:
            write_json(out / "curves.json", curves)
            write_atomic(out / "curves.txt", plot)
            measured["plot_file"] = str(out / "curves.txt")
        except OSError as exc:  # the run's result matters more than its plot file
            engine.log(f"could not write the plot: {exc}")
    engine.log("validation loss of the three objectives:\n" + plot, curves=curves)
    engine.log(f"perplexity on held-out text: causal LM {measured['clm_perplexity']:.2f} per "
               f"byte, masked LM ({s.mask_prob:.0%}) {measured['mlm_perplexity']:.2f} per "
               f"masked byte, masked LM trained at {s.high_mask_prob:.0%} "
               f"{measured['mlm_high_perplexity']:.2f} (evaluated at the same 15% masking)")
    return engine.finish(measured)


def _loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], labels=batch["labels"]).loss


def _build(phase: str, s: PretrainingSettings) -> torch.nn.Module:
    tok = ByteTokenizer
    size = {"vocab_size": tok.vocab_size, "n_embd": s.n_embd, "n_layer": s.n_layer,
            "n_head": s.n_head, "n_positions": s.block_size, "pad_id": tok.pad_token_id,
            "eos_id": tok.eos_token_id}
    return tiny_llama(**size) if phase == "clm" else tiny_modernbert(**size)


def _evaluate(engine: Engine, code: ModuleType, model: torch.nn.Module, phase: str,
              blocks: torch.Tensor, tok: ByteTokenizer, mask_prob: float, seed: int) -> float:
    """Mean cross-entropy per predicted byte over the validation blocks (call it under
    `engine.inference`)."""
    gen = torch.Generator().manual_seed(seed + 1)   # the same masked positions every time
    total, count = 0.0, 0
    for start in range(0, len(blocks), 32):
        engine.check_cancelled()
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
        inputs, labels = engine.to_device((inputs, labels))
        loss = model(input_ids=inputs, labels=labels).loss
        total += float(loss) * n
        count += n
    return total / count if count else math.nan


def _corpus(ctx: RunContext, s: PretrainingSettings) -> tuple[str, str, Path]:
    """(training text, validation text, where it came from): every `val_every_line`-th
    non-empty line is held out (the corpus has one sentence per line)."""
    path = resolve(ctx, s.corpus)
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
    if s.max_corpus_chars > 0:
        text = text[:s.max_corpus_chars]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    every = max(2, s.val_every_line)
    train = [x for i, x in enumerate(lines) if i % every != every - 1]
    val = [x for i, x in enumerate(lines) if i % every == every - 1]
    return "\n".join(train), "\n".join(val), path
