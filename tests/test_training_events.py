"""The event stream's wire form: every event round-trips through one JSON line."""

from __future__ import annotations

import json
import math

import pytest

from studyapp.training.events import (
    EVENT_TYPES,
    Cancelled,
    Checkpoint,
    Evaluation,
    EventError,
    Failed,
    Finished,
    Log,
    Started,
    Step,
    Trial,
    event_from_dict,
    parse_line,
)

EXAMPLES = [
    Started(run_id="r1", exercise="spam", variant="tiny", device="cpu (1 thread)",
            settings={"lr": 0.001, "epochs": 1}, total_steps=8, model="tiny-gpt2",
            train_examples=128),
    Step(step=3, epoch=0.375, loss=0.61, lr=0.001, tokens_per_s=51234.5, elapsed=0.4),
    Evaluation(step=0, val_loss=0.69, metrics={"val_accuracy": 0.5}),
    Checkpoint(step=8, path="/tmp/run/trainable.safetensors"),
    Trial(trial=2, name="lr=0.001 rank=4", settings={"lr": 0.001, "rank": 4},
          status="pruned", metrics={"val_loss": 0.9, "pruned_at_step": 5},
          losses={"train": [[1, 0.7]], "val": [[0, 0.69], [5, 0.9]]}),
    Log(message="loading minilm", data={"trainable_params": 22713986}),
    Finished(metrics={"accuracy": 0.95, "f1": 0.94},
             checks=[{"name": "test accuracy", "passed": True, "expected": "accuracy >= 0.9",
                      "measured": 0.95, "message": "ok"}]),
    Failed(error="RuntimeError: boom", traceback="Traceback ..."),
    Cancelled(step=5, metrics={"train_loss": 0.4}),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_every_event_round_trips_as_one_json_line(event):
    line = event.to_json()
    assert "\n" not in line
    assert json.loads(line)["type"] == event.type
    assert parse_line(line) == event
    assert event_from_dict(event.to_dict()) == event


def test_every_event_type_has_an_example():
    assert {e.type for e in EXAMPLES} == set(EVENT_TYPES)


def test_only_the_end_events_are_terminal():
    assert {e.type for e in EXAMPLES if e.terminal} == {"finished", "failed", "cancelled"}


def test_unknown_fields_are_ignored_so_newer_workers_stay_readable():
    data = {**EXAMPLES[1].to_dict(), "grad_norm": 1.5}
    assert event_from_dict(data) == EXAMPLES[1]


def test_a_diverged_loss_survives_the_wire():
    event = parse_line(Step(1, 0.1, float("nan"), 1.0, 0.0, 0.1).to_json())
    assert math.isnan(event.loss)


def test_numbers_from_numpy_are_written_as_plain_numbers():
    np = pytest.importorskip("numpy")
    line = Evaluation(step=1, val_loss=np.float32(0.5), metrics={"acc": np.float64(1.0)}).to_json()
    assert json.loads(line)["metrics"]["acc"] == 1.0


@pytest.mark.parametrize("line, message", [
    ("not json", "not a JSON event line"),
    ('{"type": "nope"}', "unknown event type"),
    ('[1, 2]', "JSON object"),
    ('{"type": "step", "step": 1}', "bad step event"),
])
def test_bad_lines_raise_event_error(line, message):
    with pytest.raises(EventError, match=message):
        parse_line(line)


def test_finished_passed_is_all_checks():
    assert Finished({}, [{"passed": True}, {"passed": True}]).passed
    assert not Finished({}, [{"passed": True}, {"passed": False}]).passed
