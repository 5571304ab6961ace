"""Several data-parallel processes (`exercise run ID --processes N`: torchrun, gloo on the
CPU): the same losses as one process of the same global batch, one JSON result with
"processes", cancel stops every rank, a rank that dies fails the run with its message."""

from __future__ import annotations

import json
import os
import time

import psutil
import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.training.events import Step
from tests.test_training_run import make_exercise, service  # noqa: F401 - a fixture

pytestmark = pytest.mark.skipif(os.name != "posix", reason="torchrun's gloo runs on POSIX")

# 128 messages, global batch 16: 8 steps; each of 2 processes takes 8 of every batch
TINY = ["--set", "max_train_examples=128", "--set", "max_eval_examples=32",
        "--set", "threads=1", "--set", "eval_every=4"]
# float32 sums in another order (two halves averaged by DDP vs one batch), and each half
# padded to its own longest message: the step losses agree to well within this
LOSS_TOLERANCE = 1e-3


def _run(tmp_path, processes: int) -> tuple[dict, list[list[float]]]:
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path / f"p{processes}")),
           "STUDYAPP_DATA": str(tmp_path / f"data{processes}")}
    db = str(tmp_path / f"p{processes}.db")
    out = CliRunner().invoke(main, ["--db", db, "exercise", "run", "spam", "-v", "tiny",
                                    *TINY, "--processes", str(processes), "--json"],
                             env=env, catch_exceptions=False)
    result = json.loads(out.output)
    runs = json.loads(CliRunner().invoke(main, ["--db", db, "exercise", "runs", "spam",
                                                "--json"], env=env).output)
    return result, runs[0]["losses"]["train"]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
    one, losses_one = _run(tmp_path, 1)
    two, losses_two = _run(tmp_path, 2)
    assert one["status"] == "finished", one["error"]
    assert two["status"] == "finished", (two["error"], two.get("traceback"))
    assert one["processes"] == 1 and two["processes"] == 2
    assert two["metrics"]["processes"] == 2 and "x 2 processes" in two["device"]
    assert [s for s, _ in losses_one] == [s for s, _ in losses_two] == list(range(1, 9))
    for (_, a), (_, b) in zip(losses_one, losses_two, strict=True):
        assert abs(a - b) <= LOSS_TOLERANCE * max(1.0, abs(a)), (losses_one, losses_two)
    assert abs(one["metrics"]["val_loss"] - two["metrics"]["val_loss"]) <= LOSS_TOLERANCE


def _group(pid: int) -> list[int]:
    """The run's process and its children now (torchrun and its ranks)."""
    try:
        return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_cancelling_two_processes_stops_every_rank(service):  # noqa: F811
    handle = service.start_run("spam", variant="tiny", processes=2,
                               overrides={"epochs": "200", "threads": "1"})
    pids: list[int] = []
    steps = 0
    for event in handle.events():
        if isinstance(event, Step):
            steps += 1
            if steps == 3:
                pids = _group(handle.pid)
                handle.cancel()
    result = handle.result
    assert result.status == "cancelled"
    assert len(pids) >= 3                      # torchrun and its two ranks
    deadline = time.monotonic() + 15
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pids)


LUCKLESS = '''

_loss = classification_loss


def classification_loss(logits, labels):
    import os

    if os.environ.get("RANK") == "1" and logits.shape[0] == 8:   # rank 1, in training
        raise RuntimeError("rank 1 ran out of luck")
    return _loss(logits, labels)
'''


def test_a_rank_that_dies_fails_the_run_with_its_message(service, tmp_path):  # noqa: F811
    folder = service.settings.exercises_dir / "spam"
    code = folder / "luckless.py"
    code.write_text((folder / "solution.py").read_text(encoding="utf-8") + LUCKLESS,
                    encoding="utf-8")
    handle = service.start_run("spam", variant="tiny", processes=2, code=str(code),
                               overrides={"threads": "1"})
    pids: list[int] = []
    for event in handle.events():
        if isinstance(event, Step) and not pids:
            pids = _group(handle.pid)
    result = handle.result
    assert result.status == "failed"
    assert "training process 1 of 2 failed: RuntimeError: rank 1 ran out of luck" in \
        result.error, (result.error, handle.stderr_tail())
    deadline = time.monotonic() + 15
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pids)
