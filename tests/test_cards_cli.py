"""`studyapp cards`: list and filter, suspend/unsuspend, bury until the next learner day,
reset, history; suspended and buried cards never in `due`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from studyapp.cli import main

LESSON = """---
id: epochs-101
title: Epochs
---
# Epochs

## Key Concepts
- **Epoch** – one full pass over the training set.

## Short Retrieval Quiz
1. What is an epoch? {#epoch}
   Answer: One full pass over the training set.
2. Какво е „валидация“? {#val}
   Answer: Данни, отделени за решения.
"""

DAY0 = "2026-11-23T10:00:00+00:00"
CARD = "epochs-101:quiz:epoch"


@pytest.fixture
def env(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
    env = {"STUDYAPP_DB": str(tmp_path / "study.db"), "STUDYAPP_LESSONS": str(lessons)}
    cli(env, DAY0, "settings", "timezone", "UTC")
    cli(env, DAY0, "complete", "epochs-101")
    return env


def cli(env, now, *args, code=0):
    r = CliRunner().invoke(main, list(args), env={**env, "STUDYAPP_NOW": now},
                           catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r.output


def due_ids(env, now):
    return [i["id"] for i in json.loads(cli(env, now, "due", "--json"))]


def test_done_when_suspend_removes_a_due_card_and_unsuspend_brings_it_back(env):
    assert CARD in due_ids(env, DAY0)
    assert "Suspended" in cli(env, DAY0, "cards", "suspend", CARD)
    assert CARD not in due_ids(env, DAY0)
    assert CARD not in due_ids(env, "2026-12-23T10:00:00+00:00")
    listed = json.loads(cli(env, DAY0, "cards", "list", "--state", "suspended", "--json"))
    assert [c["id"] for c in listed] == [CARD]
    cli(env, DAY0, "cards", "unsuspend", CARD)
    assert CARD in due_ids(env, DAY0)


def test_done_when_bury_hides_a_card_until_the_next_learner_day(env):
    cli(env, DAY0, "grade", CARD, "good")  # scheduled; learning step due in 10 minutes
    later = "2026-11-23T12:00:00+00:00"
    assert CARD in due_ids(env, later)
    out = cli(env, later, "cards", "bury", CARD)
    assert "until 2026-11-24" in out
    assert CARD not in due_ids(env, later)
    # the learner day starts at 04:00: at 03:59 on the 24th it is still the 23rd
    assert CARD not in due_ids(env, "2026-11-24T03:59:00+00:00")
    assert CARD in due_ids(env, "2026-11-24T04:01:00+00:00")
    assert json.loads(cli(env, later, "cards", "list", "--state", "buried", "--json"))[0][
        "buried_until"] == "2026-11-24"


def test_a_buried_new_card_returns_the_next_day_too(env):
    new = "epochs-101:quiz:val"
    assert new in due_ids(env, DAY0)
    cli(env, DAY0, "cards", "bury", new)
    assert new not in due_ids(env, DAY0)
    assert new in due_ids(env, "2026-11-24T10:00:00+00:00")


def test_list_filters_by_lesson_state_and_text(env):
    everything = json.loads(cli(env, DAY0, "cards", "list", "--json"))
    assert {c["state"] for c in everything} == {"new"} and len(everything) == 3
    cli(env, DAY0, "grade", CARD, "good")
    learning = json.loads(cli(env, DAY0, "cards", "list", "--state", "learning", "--json"))
    assert [c["id"] for c in learning] == [CARD]
    found = json.loads(cli(env, DAY0, "cards", "list", "--search", "ВАЛИДАЦИЯ", "--json"))
    assert [c["id"] for c in found] == ["epochs-101:quiz:val"]
    assert json.loads(cli(env, DAY0, "cards", "list", "--lesson", "nope", "--json")) == []
    text = cli(env, DAY0, "cards", "list")
    assert "3 cards." in text and CARD in text


def test_reset_makes_a_card_new_and_keeps_its_history(env):
    cli(env, DAY0, "grade", CARD, "good")
    cli(env, DAY0, "cards", "reset", CARD)
    listed = {c["id"]: c for c in json.loads(cli(env, DAY0, "cards", "list", "--json"))}
    assert listed[CARD]["state"] == "new" and listed[CARD]["reps"] == 0
    hist = json.loads(cli(env, DAY0, "cards", "history", CARD, "--json"))
    assert [(h["rating"], h["source"]) for h in hist] == [(3, "cli"), (0, "reset")]
    text = cli(env, DAY0, "cards", "history", CARD)
    assert "Good" in text and "Reset" in text
    stats = json.loads(cli(env, DAY0, "stats", "--json"))
    assert stats["reviews_done"] == 1  # a reset is not an answer
    # doctor does not rebuild the schedule of a reset card from its log
    doctor = json.loads(cli(env, DAY0, "doctor", "--json"))
    assert not any("no schedule" in f for f in doctor["found"])


def test_unknown_card_is_one_clear_line(env):
    out = cli(env, DAY0, "cards", "suspend", "nope:quiz:x", code=1)
    assert "no card with id 'nope:quiz:x'" in out
