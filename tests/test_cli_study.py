"""The study commands: due/complete/grade/stats/export/import/doctor/settings and review."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main

LESSON = """---
id: epochs-101
title: Epochs and early stopping
---
# Epochs and early stopping

## Key Concepts
- **Epoch** – one full pass over the training set.
- **Early stopping** – stop when validation loss has not improved for a while.

## Short Retrieval Quiz
1. What is an epoch? {#epoch}
   Answer: One full pass over the training set.
2. Why keep a validation set apart from the test set?
   Answer: It is used to make decisions during training.
3. Какво е „overfitting“?

## Quick Recap
- Stop when validation loss stops improving.

## Spaced Review Plan
| After | Prompt |
|---|---|
| 1 day | What is an epoch? |
| 3 days | Explain a patience rule. |
| 1 week | Walk through a run. |
| 1 month | Which pitfalls would you check first? |
"""

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
    return {"STUDYAPP_DB": str(tmp_path / "data" / "study.db"),
            "STUDYAPP_LESSONS": str(lessons)}


def run(env, *args, input=None, now=None):
    extra = {"STUDYAPP_NOW": now} if now else {}
    result = CliRunner().invoke(main, list(args), env={**env, **extra}, input=input,
                                catch_exceptions=False)
    return result


def test_complete_due_grade_stats(env):
    assert run(env, "settings", "timezone", "Europe/Sofia").exit_code == 0
    r = run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00")
    assert r.exit_code == 0 and "2026-11-24" in r.output
    r = run(env, "due", "--json", now="2026-11-24T10:00+02:00")
    items = json.loads(r.output)
    assert {"id", "kind", "lesson", "prompt", "due"} <= set(items[0])
    plans = [i for i in items if i["kind"] == "plan"]
    assert [(p["id"], p["due"]) for p in plans] == [("epochs-101:plan:0", "2026-11-24")]
    assert "Какво е „overfitting“?" in r.output  # not escaped
    cards = [i for i in items if i["kind"] == "card"]
    assert len(cards) == 5 and cards[0]["id"] == "epochs-101:quiz:epoch"
    r = run(env, "grade", "epochs-101:plan:0", "good", now="2026-11-24T10:00+02:00")
    assert r.exit_code == 0, r.output
    r = run(env, "grade", "epochs-101:quiz:epoch", "4", "--json", now="2026-11-24T10:05+02:00")
    assert json.loads(r.output)["next_due"] > "2026-11-25"
    r = run(env, "grade", "nope", "3")
    assert r.exit_code == 1 and "no plan prompt or card" in r.output
    r = run(env, "grade", "epochs-101:quiz:epoch", "7")
    assert r.exit_code == 2
    r = run(env, "due", now="2026-11-24T10:10+02:00")
    assert "epochs-101:plan:0" not in r.output and "4 due" in r.output
    r = run(env, "stats", "--json", now="2026-11-24T10:10+02:00")
    stats = json.loads(r.output)
    assert stats["reviews_done"] == 2 and stats["streak"] == 1 and len(stats["forecast"]) == 30
    assert stats["lessons"][0]["state"] == "done"
    assert run(env, "stats", now="2026-11-24T10:10+02:00").exit_code == 0


def test_empty_day_says_when_the_next_review_falls(env):
    run(env, "settings", "new_per_day", "0")
    run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00")
    r = run(env, "due", now="2026-11-23T12:00+02:00")
    assert "Nothing due today" in r.output and "2026-11-24" in r.output
    r = run(env, "review", now="2026-11-23T12:00+02:00", input="")
    assert "Next review: 2026-11-24" in r.output


def test_review_session_grades_undoes_and_summarises(env):
    run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00")
    keys = "an answer\n3\n\nu\n\n4\n\n2\nq\n"
    r = run(env, "review", now="2026-11-24T10:00+02:00", input=keys)
    assert r.exit_code == 0, r.output
    assert "What is an epoch?" in r.output
    assert "Undid the last grade" in r.output
    # the plan prompt: Good, then undone (from the next item's grade prompt), then Easy
    assert "Reviewed 2 items (Hard 1, Easy 1); 1 undone" in r.output
    db = env["STUDYAPP_DB"]
    import sqlite3

    log = sqlite3.connect(db).execute("SELECT item_id, rating, answer FROM review_log "
                                      "ORDER BY id").fetchall()
    assert log == [("epochs-101:plan:0", 4, None), ("epochs-101:quiz:epoch", 2, None)]


def test_review_ends_cleanly_at_end_of_input(env):
    run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00")
    r = run(env, "review", now="2026-11-24T10:00+02:00", input="x\n3\n")
    assert r.exit_code == 0 and "Reviewed 1 item (Good 1)" in r.output


def test_export_import_doctor_settings(env, tmp_path):
    run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00")
    run(env, "grade", "epochs-101:quiz:epoch", "3", now="2026-11-23T10:00+02:00")
    out = tmp_path / "progress.json"
    assert run(env, "export", str(out)).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == "studyapp-progress" and len(doc["tables"]["review_log"]) == 1
    other = {**env, "STUDYAPP_DB": str(tmp_path / "other.db")}
    r = run(other, "import", str(out))
    assert r.exit_code == 0 and "Imported 1 answers" in r.output
    r = run(other, "import", str(out))
    assert r.exit_code == 1 and "already holds progress" in r.output
    a = json.loads(run(env, "export", "-").output)["tables"]
    b = json.loads(run(other, "export", "-").output)["tables"]
    assert a == b
    r = run(env, "doctor")
    assert r.exit_code == 0 and "Integrity check: ok" in r.output and "daily" in r.output
    assert json.loads(run(env, "doctor", "--json").output)["ok"] is True
    assert "day_start_hour = 4" in run(env, "settings").output
    assert run(env, "settings", "day_start_hour", "30").exit_code == 2
    assert json.loads(run(env, "settings", "--json").output)["new_per_day"] == "20"


def test_newer_database_is_refused_by_the_cli(env):
    import sqlite3

    run(env, "due")
    conn = sqlite3.connect(env["STUDYAPP_DB"])
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    r = run(env, "due")
    assert r.exit_code == 1 and "schema version 99" in r.output


def _read_until(stream, marker: bytes, count: int, buf: bytearray, timeout=60) -> None:
    deadline = time.time() + timeout
    while buf.count(marker) < count:
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {marker!r}: {bytes(buf)[-500:]!r}")
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"review ended early: {bytes(buf)[-800:]!r}")
        buf.extend(chunk)


def test_grades_survive_sigkill_mid_session(env):
    assert run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00").exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "studyapp", "review"], cwd=ROOT,
        env={**os.environ, **env, "STUDYAPP_NOW": "2026-11-24T10:00+02:00",
             "PYTHONUNBUFFERED": "1", "COLUMNS": "100"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = bytearray()
    try:
        marker = b"Your answer"
        _read_until(proc.stdout, marker, 1, buf)
        for n, rating in enumerate([3, 1, 4, 2], start=1):
            proc.stdin.write(f"answer {n}\n{rating}\n".encode())
            proc.stdin.flush()
            _read_until(proc.stdout, marker, n + 1, buf)  # the next item shows: grade saved
        proc.stdin.write(b"half typed answer\n")  # mid-item, then killed
        proc.stdin.flush()
        _read_until(proc.stdout, b"Grade 1", 5, buf)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    r = run(env, "stats", "--json", now="2026-11-24T10:00+02:00")
    assert json.loads(r.output)["reviews_done"] == 4
    import sqlite3

    ratings = [row[0] for row in sqlite3.connect(env["STUDYAPP_DB"]).execute(
        "SELECT rating FROM review_log ORDER BY id")]
    assert ratings == [3, 1, 4, 2]
    assert run(env, "doctor").exit_code == 0


def test_ctrl_c_ends_the_session_with_a_summary(env):
    assert run(env, "complete", "epochs-101", now="2026-11-23T10:00+02:00").exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "studyapp", "review"], cwd=ROOT,
        env={**os.environ, **env, "STUDYAPP_NOW": "2026-11-24T10:00+02:00"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = bytearray()
    try:
        _read_until(proc.stdout, b"Your answer", 1, buf)
        proc.stdin.write(b"x\n4\n")
        proc.stdin.flush()
        _read_until(proc.stdout, b"Your answer", 2, buf)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = (bytes(buf) + out).decode()
    assert proc.returncode == 0, text
    assert "Reviewed 1 item (Easy 1)" in text and "Traceback" not in text
