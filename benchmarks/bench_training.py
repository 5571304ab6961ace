"""Training speed: the spam encoder configuration with the real MiniLM (issue 9), then the
same tiny training as a bare PyTorch loop and through the engine.

The encoder configuration (`encoder_rows`): MiniLM, the 600 bundled training messages,
batch 16, max_length 64, 1 epoch (38 steps), lr 1e-4 with 10% warm-up then linear decay,
2 threads, dynamic padding, and one batch order for all three: the length-grouped order of
`engine.LengthGroupedSampler` (the HF Trainer's `group_by_length` algorithm, seed 123).
Each trains in a fresh interpreter, three times interleaved (best of each: two were within
the noise of each other); the figure is the training time of the 38 steps
(no evaluation: eval_every past the end, except the engine's one at the end, not timed):
- (a) a bare PyTorch loop (AdamW, clip 1.0, the same schedule);
- (b) the engine through the CLI (`studyapp exercise run spam` via the service, the worker
  process, events, SQLite): the engine's own `train_time_s` and the whole wall time;
- (c) the HF Trainer with the same model, data, collator (DataCollatorWithPadding) and
  batch order (its train sampler replaced by the same LengthGroupedSampler).
(b)/(a) and (b)/(c) are speed ratios (time of the other / time of the engine): want
>= 0.95 and >= 1.0. `BENCH_SPAM_EXAMPLES=N` trains on N messages only (a smoke check).

The tiny training:

The training: the spam exercise's `tiny` variant (a 2-block GPT-2 built in code, byte
tokens, a new 2-way head, last-token loss), batch 16, max_length 32, on the bundled
spam messages (or synthetic ones when those are missing), one CPU thread, ~400 steps.

- (a) `bare loop`: the loop written by hand, in a fresh interpreter (as the worker is),
  with no events, no pipe, no database.
- (b) `engine (CLI)`: `studyapp exercise run spam --variant tiny` as the CLI runs it: a
  worker process streaming events through a pipe, the parent drawing the rich progress bar
  (to a buffer here) and recording the run in SQLite.

- (c) `engine in the TUI`: the same run started with `s` on the TUI's exercise screen
  (a headless `app.run_test()` at 120x40), the live loss plot and progress line drawing
  on their 2 Hz timers, the run recorded in SQLite.

steps/s is measured over the same steps in all three (after 20 warm-up steps), from the
worker's own step clock for (b) and (c). The ratios (b)/(a) and (c)/(a) should be at least
0.95. Each is run twice, interleaved, and the best of each kept, so a burst of load from
another process hurts none more than the others.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 20
EPOCHS = 10
SETTINGS = {"epochs": str(EPOCHS), "max_train_examples": "0", "eval_every": "100000",
            "threads": "1", "max_eval_examples": "32"}


def _exercise_root(tmp: Path) -> Path:
    """The bundled exercises when their data is there, else a copy on synthetic data."""
    bundled = ROOT / "exercises"
    if (bundled / "data" / "spam" / "train.jsonl").is_file():
        return bundled
    from tests.test_training_run import make_exercise, write_data

    root = make_exercise(tmp)
    write_data(root / "data", sizes=(("train", 600), ("val", 32), ("test", 32)))
    return root


def _texts_labels(exercises: Path) -> tuple[list[str], list[int]]:
    data = (exercises / "data" / "spam" / "train.jsonl")
    if not data.is_file():
        data = exercises / "data" / "train.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [r["text"] for r in rows], [1 if r["label"] == "spam" else 0 for r in rows]


def bare_loop(texts: list[str], labels: list[int], settings: dict[str, Any]) -> float:
    """(a): steps/s of the hand-written loop (same model, data, batches, optimizer)."""
    import torch
    import torch.nn.functional as F
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(1)
    torch.manual_seed(settings["seed"])
    max_len, bs = settings["max_length"], settings["batch_size"]
    config = GPT2Config(vocab_size=257, n_positions=max(64, max_len), n_embd=32, n_layer=2,
                        n_head=2, n_inner=64, pad_token_id=0, bos_token_id=1, eos_token_id=1)
    model = GPT2LMHeadModel(config)
    model.lm_head = torch.nn.Linear(32, 2)
    ids = [[b + 1 for b in t.encode("utf-8")[:max_len]] or [1] for t in texts]
    opt = torch.optim.AdamW(model.parameters(), lr=settings["lr"])
    total = math.ceil(len(ids) / bs) * EPOCHS
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, (total - i) / total))
    rng = random.Random(settings["seed"])
    step, t_start = 0, None
    model.train()
    for _ in range(EPOCHS):
        order = list(range(len(ids)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            batch = order[i:i + bs]
            width = max(len(ids[j]) for j in batch)
            x = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros_like(x)
            for r, j in enumerate(batch):
                x[r, :len(ids[j])] = torch.tensor(ids[j])
                mask[r, :len(ids[j])] = 1
            y = torch.tensor([labels[j] for j in batch])
            logits = model(input_ids=x, attention_mask=mask).logits
            last = (torch.arange(width) * mask).argmax(dim=1)
            loss = F.cross_entropy(logits[torch.arange(len(batch)), last], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            float(loss.detach())
            step += 1
            if step == WARMUP:
                t_start = time.perf_counter()
    assert t_start is not None
    return (step - WARMUP) / (time.perf_counter() - t_start)


def bare_loop_process(exercises: Path, settings: dict[str, Any]) -> float:
    """(a) in a fresh interpreter, as the engine's worker is: same imports, same start."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_training", "--bare", str(exercises),
         json.dumps(settings)], capture_output=True, text=True, cwd=ROOT, check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[-1])


def engine_cli(exercises: Path, tmp: Path) -> tuple[float, dict[str, Any]]:
    """(b): steps/s of the same training run as `studyapp exercise run` runs it."""
    from rich.console import Console

    from studyapp.cli.exercise_cmds import _run_with_progress
    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService
    from studyapp.training.events import Step

    settings = Settings(db_path=tmp / "bench.db", lessons_dir=ROOT / "lessons",
                        exercises_dir=exercises)
    svc = ExerciseService(settings, cache_dir=tmp / "cache", data_dir=tmp / "data")
    handle = svc.start_run("spam", variant="tiny", overrides=SETTINGS)
    steps: list[Step] = []
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    result = _run_with_progress(handle, console=console,
                                on_event=lambda e: steps.append(e) if isinstance(e, Step)
                                else None)
    if result.status != "finished":
        raise RuntimeError(f"engine run {result.status}: {result.error}")
    first = next(s for s in steps if s.step == WARMUP)
    last = steps[-1]
    return (last.step - first.step) / (last.elapsed - first.elapsed), result.metrics


class _StepTap:
    """A run handle that also keeps its Step events (for the steps/s of (c))."""

    def __init__(self, handle: Any, steps: list[Any]) -> None:
        self._handle, self._steps = handle, steps

    def events(self) -> Any:
        from studyapp.training.events import Step

        for event in self._handle.events():
            if isinstance(event, Step):
                self._steps.append(event)
            yield event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def engine_tui(exercises: Path, tmp: Path) -> tuple[float, int]:
    """(c): steps/s of the same run started from the TUI's exercise screen, live plot on.

    Returns steps/s and how many times the plot was drawn.
    """
    import asyncio

    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService
    from studyapp.services.study import StudyService
    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.exercise import ExerciseScreen
    from studyapp.tui.widgets.loss_plot import LossPlot

    steps: list[Any] = []

    class BenchRuns(ExerciseService):
        def start_run(self, exercise_id: str, **kwargs: Any) -> Any:
            kwargs["overrides"] = SETTINGS
            return _StepTap(super().start_run(exercise_id, **kwargs), steps)

    settings = Settings(db_path=tmp / "bench-tui.db", lessons_dir=ROOT / "lessons",
                        exercises_dir=exercises)
    svc = BenchRuns(settings, cache_dir=tmp / "cache", data_dir=tmp / "data")

    async def drive() -> tuple[str, int]:
        app = StudyApp(StudyService.open(settings), cursor_blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = ExerciseScreen(app.service, "spam", exercises=svc)
            await app.push_screen(screen)
            await pilot.pause()
            screen.variant = "tiny"
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("enter")  # the prediction dialog: run without one
            deadline = time.monotonic() + 600
            while screen.status in {"idle", "starting", "running", "cancelling"}:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"TUI run still {screen.status!r} after 600 s")
                await pilot.pause(0.2)
            await app.workers.wait_for_complete()
            return screen.status, screen.query_one(LossPlot).draws

    status, draws = asyncio.run(drive())
    if status not in {"passed", "finished: checks failed"}:
        raise RuntimeError(f"TUI run ended {status!r}")
    first = next(s for s in steps if s.step == WARMUP)
    last = steps[-1]
    return (last.step - first.step) / (last.elapsed - first.elapsed), draws


# --- the spam encoder configuration, real MiniLM ------------------------------------------

ENCODER = {"lr": 1e-4, "batch_size": 16, "max_length": 64, "seed": 123, "threads": 2,
           "warmup_ratio": 0.1}


def _spam_rows(limit: int) -> tuple[list[str], list[int]]:
    texts, labels = _texts_labels(ROOT / "exercises")
    return (texts[:limit], labels[:limit]) if limit else (texts, labels)


def _encoder_setup(limit: int) -> tuple[Any, Any, list[list[int]], list[int], Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from studyapp.training.engine import LengthGroupedSampler
    from studyapp.training.models import minilm_folder

    torch.set_num_threads(ENCODER["threads"])
    torch.manual_seed(ENCODER["seed"])
    texts, labels = _spam_rows(limit)
    tok = AutoTokenizer.from_pretrained(str(minilm_folder()))
    model = AutoModelForSequenceClassification.from_pretrained(str(minilm_folder()),
                                                               num_labels=2)
    ids = [list(x) for x in tok(texts, truncation=True,
                                max_length=ENCODER["max_length"])["input_ids"]]
    sampler = LengthGroupedSampler([len(x) for x in ids], ENCODER["batch_size"],
                                   seed=ENCODER["seed"])
    return tok, model, ids, labels, sampler


def encoder_bare(limit: int) -> float:
    """(a): seconds for the training steps of a hand-written loop."""
    import math

    import torch

    from studyapp.training.engine import lr_factor, pad_batch

    tok, model, ids, labels, sampler = _encoder_setup(limit)
    bs = ENCODER["batch_size"]
    order = list(sampler)
    total = math.ceil(len(order) / bs)
    warmup = int(total * ENCODER["warmup_ratio"])
    opt = torch.optim.AdamW(model.parameters(), lr=ENCODER["lr"])
    model.train()
    t0 = time.perf_counter()
    for step, start in enumerate(range(0, len(order), bs)):
        batch = order[start:start + bs]
        for group in opt.param_groups:
            group["lr"] = ENCODER["lr"] * lr_factor(step, total, warmup)
        x, mask = pad_batch([ids[j] for j in batch], tok.pad_token_id)
        y = torch.tensor([labels[j] for j in batch])
        loss = torch.nn.functional.cross_entropy(
            model(input_ids=x, attention_mask=mask).logits.float(), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        float(loss.detach())
    return time.perf_counter() - t0


def encoder_trainer(limit: int, tmp: str) -> float:
    """(c): seconds of `Trainer.train()` (its train_runtime) on the same batches."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    tok, model, ids, labels, sampler = _encoder_setup(limit)
    rows = [{"input_ids": x, "attention_mask": [1] * len(x), "labels": y}
            for x, y in zip(ids, labels, strict=True)]

    class SameOrder(Trainer):
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            return sampler

    steps = -(-len(rows) // ENCODER["batch_size"])
    args = TrainingArguments(
        output_dir=tmp, per_device_train_batch_size=ENCODER["batch_size"],
        num_train_epochs=1, learning_rate=ENCODER["lr"],
        warmup_steps=int(steps * ENCODER["warmup_ratio"]), lr_scheduler_type="linear",
        max_grad_norm=1.0, weight_decay=0.0, logging_strategy="no", save_strategy="no",
        eval_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0,
        disable_tqdm=True, seed=ENCODER["seed"], remove_unused_columns=False)
    trainer = SameOrder(model=model, args=args, train_dataset=rows,
                        data_collator=DataCollatorWithPadding(tok))
    return float(trainer.train().metrics["train_runtime"])


def encoder_engine(limit: int, tmp: Path) -> tuple[float, float, dict[str, Any]]:
    """(b): the engine's training time (train_time_s: the steps, not the final
    evaluation), the CLI's wall time, and the run's metrics."""
    from rich.console import Console

    from studyapp.cli.exercise_cmds import _run_with_progress
    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService

    settings = Settings(db_path=tmp / "bench-encoder.db", lessons_dir=ROOT / "lessons",
                        exercises_dir=ROOT / "exercises")
    svc = ExerciseService(settings, cache_dir=tmp / "cache", data_dir=tmp / "data")
    overrides = {"threads": str(ENCODER["threads"]), "group_by_length": "true",
                 "eval_every": "100000", "max_train_examples": str(limit)}
    t0 = time.perf_counter()
    handle = svc.start_run("spam", variant="encoder", overrides=overrides)
    result = _run_with_progress(handle, console=Console(file=io.StringIO(), width=100))
    wall = time.perf_counter() - t0
    if result.status != "finished":
        raise RuntimeError(f"engine run {result.status}: {result.error}")
    return float(result.metrics["train_time_s"]), wall, result.metrics


def _in_fresh_interpreter(what: str, limit: int) -> float:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_training", what,
                          str(limit)], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    return float(out.stdout.strip().splitlines()[-1])


def encoder_rows(tmp: Path, repeats: int = 3) -> list[dict[str, Any]]:
    limit = int(os.environ.get("BENCH_SPAM_EXAMPLES", "0"))
    bare, trainer, engine, walls = [], [], [], []
    metrics: dict[str, Any] = {}
    for _ in range(repeats):                 # interleaved; the best of each is kept
        bare.append(_in_fresh_interpreter("--encoder-bare", limit))
        seconds, wall, metrics = encoder_engine(limit, tmp)
        engine.append(seconds)
        walls.append(wall)
        trainer.append(_in_fresh_interpreter("--encoder-trainer", limit))
    a, b, c = min(bare), min(engine), min(trainer)
    steps = metrics.get("steps")
    return [
        {"name": "spam encoder (a) bare PyTorch loop", "value": a, "unit": "s",
         "baseline": None, "ratio": None,
         "note": f"MiniLM, {steps} steps of 16, max_length 64, 2 threads; best of {repeats}"},
        {"name": "spam encoder (b) engine via CLI", "value": b, "unit": "s", "baseline": a,
         "ratio": a / b, "note": f"(b)/(a) speed, want >= 0.95; whole CLI run "
                                 f"{min(walls):.1f} s; test accuracy "
                                 f"{metrics.get('accuracy')}"},
        {"name": "spam encoder (c) HF Trainer", "value": c, "unit": "s", "baseline": b,
         "ratio": c / b, "note": "(b)/(c) speed = (c) time / (b) time, want >= 1.0; same "
                                 "model, data, padding, batch order"},
    ]


def run() -> list[dict[str, Any]]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp_name:
        tmp = Path(tmp_name)
        exercises = _exercise_root(tmp)
        from studyapp.training.catalog import find_exercise, resolve_settings

        spam = find_exercise(exercises, "spam")
        settings = resolve_settings(spam.variant("tiny"), SETTINGS, spam.task)
        bare, engine, tui, draws = [], [], [], 0
        for _ in range(2):
            bare.append(bare_loop_process(exercises, settings))
            sps, metrics = engine_cli(exercises, tmp)
            engine.append(sps)
            sps, draws = engine_tui(exercises, tmp)
            tui.append(sps)
    a, b, c = max(bare), max(engine), max(tui)
    steps = metrics.get("steps")
    with tempfile.TemporaryDirectory(prefix="bench-encoder-") as tmp_name:
        encoder = encoder_rows(Path(tmp_name))
    return encoder + [
        {"name": "training tiny (a) bare PyTorch loop", "value": a, "unit": "steps/s",
         "baseline": None, "ratio": None,
         "note": f"{steps} steps, batch 16, 1 thread; best of {len(bare)}"},
        {"name": "training tiny (b) engine via CLI", "value": b, "unit": "steps/s",
         "baseline": a, "ratio": b / a,
         "note": "(b)/(a): worker process + events + progress bar + SQLite; want >= 0.95"},
        {"name": "training tiny (c) engine in the TUI with live plot", "value": c,
         "unit": "steps/s", "baseline": a, "ratio": c / a,
         "note": f"(c)/(a): headless TUI 120x40, plot drawn {draws} times at <= 2 Hz, "
                 "<= 300 points per series; want >= 0.95"},
    ]


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--encoder-bare"]:
        print(encoder_bare(int(sys.argv[2])))
    elif sys.argv[1:2] == ["--encoder-trainer"]:
        with tempfile.TemporaryDirectory() as out_dir:
            print(encoder_trainer(int(sys.argv[2]), out_dir))
    elif sys.argv[1:2] == ["--bare"]:
        texts, labels = _texts_labels(Path(sys.argv[2]))
        print(bare_loop(texts, labels, json.loads(sys.argv[3])))
    else:
        for row in run():
            print(row)
