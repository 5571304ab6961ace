"""Real tiny runs through the worker process: the event stream, cancel, crash, errors.

Each run trains the 2-block GPT-2 built in code on a small synthetic spam set, in a child
process, recorded in a temporary database: a few seconds each.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.store import runs as store_runs
from studyapp.store.db import open_database
from studyapp.training.events import Evaluation, Failed, Finished, Log, Started, Step

ROOT = Path(__file__).resolve().parent.parent
SPAM = ROOT / "exercises" / "spam"

SPAM_WORDS = ["WIN a FREE prize now", "claim your cash reward", "URGENT call now to win",
              "free entry txt WIN", "you have been selected for a bonus"]
HAM_WORDS = ["see you at lunch", "are we still on for tonight", "thanks for the notes",
             "call me when you get home", "the meeting moved to three"]


def write_data(folder: Path, sizes=(("train", 160), ("val", 32), ("test", 32)),
               seed: int = 0) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in sizes:
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(n):
                label = "spam" if i % 2 else "ham"
                text = rng.choice(SPAM_WORDS if label == "spam" else HAM_WORDS)
                fh.write(json.dumps({"text": f"{text} {rng.randint(0, 99)}",
                                     "label": label}) + "\n")


def make_exercise(root: Path) -> Path:
    """A copy of the spam exercise pointing at synthetic data; returns the exercises dir."""
    exercises = root / "exercises"
    folder = exercises / "spam"
    folder.mkdir(parents=True)
    for name in ("exercise.toml", "spam.py", "solution.py", "checks.py"):
        shutil.copy(SPAM / name, folder / name)
    toml = (folder / "exercise.toml").read_text(encoding="utf-8")
    (folder / "exercise.toml").write_text(toml.replace("../data/spam/", "../data/"),
                                          encoding="utf-8")
    write_data(exercises / "data")
    return exercises


@pytest.fixture
def service(tmp_path) -> ExerciseService:
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=tmp_path / "lessons",
                        exercises_dir=make_exercise(tmp_path))
    return ExerciseService(settings, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")


def record(service: ExerciseService, run_id: str):
    db = open_database(service.settings.db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return store_runs.get_run(db, run_id)
    finally:
        db.conn.close()


def test_a_tiny_run_streams_its_events_and_is_recorded(service):
    handle = service.start_run("spam", variant="tiny", overrides={"eval_every": "3"})
    events = list(handle.events())
    kinds = [e.type for e in events if not isinstance(e, Log)]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    started = next(e for e in events if isinstance(e, Started))
    assert started.run_id == handle.run_id and started.variant == "tiny"
    assert started.device.startswith("cpu")
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.step for s in steps] == list(range(1, started.total_steps + 1))
    assert all(s.loss > 0 and s.tokens_per_s > 0 and s.lr > 0 for s in steps)
    assert [s.elapsed for s in steps] == sorted(s.elapsed for s in steps)
    evals = [e for e in events if isinstance(e, Evaluation)]
    assert evals[0].step == 0 and events.index(evals[0]) < events.index(steps[0])
    assert [e.step for e in evals] == [0, 3, 6, started.total_steps]
    finished = events[-1]
    assert isinstance(finished, Finished)
    m = finished.metrics
    for key in ("accuracy", "accuracy_before", "f1", "val_loss", "val_loss_first",
                "trainable_params", "time_s", "device"):
        assert key in m, key
    assert {c["name"] for c in finished.checks} == {"test accuracy", "validation loss fell"}
    assert all({"expected", "measured", "message"} <= set(c) for c in finished.checks)

    r = record(service, handle.run_id)
    assert r.status == "finished" and r.variant == "tiny" and r.device.startswith("cpu")
    assert len(r.losses["train"]) == started.total_steps
    assert [v[0] for v in r.losses["val"]] == [0, 3, 6, started.total_steps]
    assert r.metrics["accuracy"] == m["accuracy"] and r.checks == finished.checks
    assert service.runs("spam")[0].id == handle.run_id
    assert handle.result.to_dict()["status"] == "finished"


def test_cancel_mid_run_keeps_what_was_measured(service):
    handle = service.start_run("spam", variant="tiny",
                               overrides={"epochs": "200", "eval_every": "1000"})
    seen = []
    for event in handle.events():
        seen.append(event)
        if isinstance(event, Step) and event.step == 3:
            handle.cancel()
    assert seen[-1].type == "cancelled"
    result = handle.result
    assert result.status == "cancelled" and result.step >= 3
    assert result.metrics["steps"] >= 3 and "train_loss" in result.metrics
    r = record(service, handle.run_id)
    assert r.status == "cancelled" and r.finished_at is not None
    assert len(r.losses["train"]) >= 3 and r.losses["val"][0][0] == 0
    # the parent goes on: another run works
    assert service.start_run("spam", variant="tiny").wait().status == "finished"


def test_a_killed_worker_is_recorded_failed_and_the_parent_goes_on(service):
    handle = service.start_run("spam", variant="tiny", overrides={"epochs": "200"})
    for event in handle.events():
        if isinstance(event, Step):
            handle.kill()        # as the kernel's out-of-memory killer would
    assert handle.result.status == "failed"
    assert "killed (SIGKILL)" in handle.result.error
    assert "out of memory" in handle.result.error
    r = record(service, handle.run_id)
    assert r.status == "failed" and "killed" in r.error


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_cancel_that_is_not_heard_ends_in_a_kill(service):
    handle = service.start_run("spam", variant="tiny", overrides={"epochs": "200"},
                               grace_s=0.5)
    events = handle.events()
    next(e for e in events if isinstance(e, Step))
    handle._proc.send_signal(signal.SIGSTOP)  # the worker cannot answer any more
    t0 = time.monotonic()
    handle.cancel()
    last = list(events)[-1]
    assert last.type == "cancelled" and time.monotonic() - t0 < 10
    assert record(service, handle.run_id).status == "cancelled"


def test_a_run_that_raises_is_recorded_failed_with_its_error(service, tmp_path):
    code = tmp_path / "my_spam.py"
    code.write_text((SPAM / "solution.py").read_text(encoding="utf-8").replace(
        "    return F.cross_entropy(logits, labels)",
        "    if labels.numel() > 4:\n"
        "        raise RuntimeError('boom in the loss')\n"
        "    return F.cross_entropy(logits, labels)") + "\nprint('noise on stdout')\n",
        encoding="utf-8")
    result = service.start_run("spam", variant="tiny", code=code).wait()
    assert result.status == "failed"
    assert result.error == "RuntimeError: boom in the loss"
    assert "my_spam.py" in result.traceback
    r = record(service, result.run_id)
    assert r.status == "failed" and r.error == "RuntimeError: boom in the loss"


def test_unwritten_learner_code_fails_its_checks_before_training(service):
    handle = service.start_run("spam", variant="tiny", code="learner")
    events = list(handle.events())
    assert not any(isinstance(e, Step | Started) for e in events)
    assert isinstance(events[-1], Failed)
    assert "4 of 4 code checks failed" in events[-1].error
    assert "not written yet: last_token_logits" in events[-1].error


def test_a_missing_hub_model_gives_the_clear_message(service):
    result = service.start_run("spam", variant="tiny",
                               overrides={"model": "no-such-org/no-such-model"}).wait()
    assert result.status == "failed"
    assert "no-such-org/no-such-model" in result.error
    assert "not in the local Hugging Face cache" in result.error
    assert "--set model=smollm2" in result.error
    assert "Traceback" not in result.error


def test_bad_data_names_the_file_and_row(service):
    data = service.settings.exercises_dir / "data" / "train.jsonl"
    data.write_text(data.read_text() + json.dumps({"text": "hi", "label": "maybe"}) + "\n")
    result = service.start_run("spam", variant="tiny").wait()
    assert result.status == "failed"
    assert "train.jsonl" in result.error and "'maybe'" in result.error


def test_an_unknown_device_is_refused_clearly(service):
    result = service.start_run("spam", variant="tiny", device="mps").wait()
    assert result.status == "failed"
    assert "MPS is not available" in result.error or result.status == "finished"


def test_a_reader_that_stops_early_stops_the_run(service):
    handle = service.start_run("spam", variant="tiny", overrides={"epochs": "200"})
    events = handle.events()
    for event in events:
        if isinstance(event, Step):
            break
    events.close()
    assert handle.done and handle.result.status == "cancelled"
    assert handle._proc.poll() is not None
    assert record(service, handle.run_id).status == "cancelled"


def test_a_worker_that_cannot_start_ends_in_one_failed_event(service, tmp_path):
    from studyapp.training.runner import RunHandle

    spec = service.build_spec("spam", variant="tiny")
    handle = RunHandle(spec, python=str(tmp_path / "no-such-python")).start()
    events = list(handle.events())
    assert [e.type for e in events] == ["failed"]
    assert "cannot start the training worker" in events[0].error


def test_a_recorder_that_fails_never_stops_the_run(service):
    from studyapp.training.runner import RunHandle

    class Broken:
        def started(self, result):
            raise OSError("disk full")

        progress = ended = started

    handle = RunHandle(service.build_spec("spam", variant="tiny"), recorder=Broken()).start()
    assert handle.wait().status == "finished"
    assert handle.recorder_errors and "disk full" in handle.recorder_errors[0]
