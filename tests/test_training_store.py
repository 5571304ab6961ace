"""store/runs.py: runs and exercise progress in SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from studyapp.store import runs
from studyapp.store.db import open_database

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def db():
    return open_database(":memory:")


def _start(db, run_id="r1", exercise="spam", when=T0):
    runs.create_run(db, run_id=run_id, exercise=exercise, variant="tiny",
                    settings={"lr": 0.001}, device=None, started_at=when)


def test_a_run_is_running_from_its_start(db):
    _start(db)
    r = runs.get_run(db, "r1")
    assert r.status == "running" and r.started_at == T0 and r.finished_at is None
    assert r.settings == {"lr": 0.001}
    assert r.losses == {"train": [], "val": []} and r.passed is None
    assert runs.get_progress(db, "spam").status == "attempted"


def test_progress_and_end_of_a_finished_run(db):
    _start(db)
    runs.update_run(db, "r1", device="cpu", losses={"train": [[1, 0.7]], "val": [[0, 0.69]]})
    checks = [{"name": "acc", "passed": True, "expected": "accuracy >= 0.9",
               "measured": 0.95, "message": "ok"}]
    runs.end_run(db, "r1", status="finished", finished_at=T0 + timedelta(seconds=90),
                 losses={"train": [[1, 0.7], [2, 0.5]], "val": [[0, 0.69], [2, 0.4]]},
                 metrics={"accuracy": 0.95, "f1": 0.94}, checks=checks)
    r = runs.get_run(db, "r1")
    assert r.status == "finished" and r.device == "cpu" and r.duration_s == 90
    assert r.losses["train"] == [[1, 0.7], [2, 0.5]]
    assert r.metrics["accuracy"] == 0.95 and r.passed is True
    p = runs.get_progress(db, "spam")
    assert p.status == "passed" and p.passed_at == T0 + timedelta(seconds=90)
    assert r.to_dict()["passed"] is True


def test_a_failed_run_keeps_its_error_and_earlier_losses(db):
    _start(db)
    runs.update_run(db, "r1", losses={"train": [[1, 0.7]], "val": []})
    runs.end_run(db, "r1", status="failed", finished_at=T0, error="RuntimeError: boom")
    r = runs.get_run(db, "r1")
    assert r.status == "failed" and r.error == "RuntimeError: boom"
    assert r.losses["train"] == [[1, 0.7]]
    assert runs.get_progress(db, "spam").status == "attempted"


def test_passed_stays_passed_after_a_later_failure(db):
    _start(db, "r1")
    runs.end_run(db, "r1", status="finished", finished_at=T0,
                 checks=[{"name": "a", "passed": True}])
    _start(db, "r2", when=T0 + timedelta(hours=1))
    runs.end_run(db, "r2", status="finished", finished_at=T0 + timedelta(hours=2),
                 checks=[{"name": "a", "passed": False}])
    p = runs.get_progress(db, "spam")
    assert p.status == "passed" and p.passed_at == T0
    assert p.first_attempt_at == T0 and p.last_attempt_at == T0 + timedelta(hours=1)


def test_runs_are_listed_newest_first_per_exercise(db):
    for i in range(3):
        _start(db, f"r{i}", when=T0 + timedelta(minutes=i))
    _start(db, "other", exercise="lora")
    assert [r.id for r in runs.list_runs(db, "spam")] == ["r2", "r1", "r0"]
    assert [r.id for r in runs.list_runs(db, "spam", limit=1)] == ["r2"]
    assert len(runs.list_runs(db)) == 4
    assert runs.get_run(db, "missing") is None
    assert set(runs.all_progress(db)) == {"spam", "lora"}


def test_a_diverged_loss_is_stored_as_null_and_the_column_stays_json(db):
    _start(db)
    runs.end_run(db, "r1", status="cancelled", finished_at=T0,
                 losses={"train": [[1, float("nan")]], "val": []},
                 metrics={"train_loss": float("inf")})
    raw = db.execute("SELECT losses, metrics FROM runs").fetchone()
    assert json.loads(raw[0])["train"] == [[1, None]]
    assert json.loads(raw[1]) == {"train_loss": None}


def test_ending_twice_or_badly_is_refused(db):
    _start(db)
    with pytest.raises(ValueError):
        runs.end_run(db, "r1", status="running", finished_at=T0)
    with pytest.raises(KeyError):
        runs.end_run(db, "nope", status="failed", finished_at=T0)


def test_runs_left_running_by_a_dead_app_are_marked_failed(db):
    """Only runs whose recording process is gone: a run going on in another live process
    (here: this one) is left alone, and so is one named in `keep`."""
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _start(db, "alive")                 # recorded by this (live) process
    _start(db, "orphan")
    _start(db, "kept")
    db.execute("UPDATE runs SET owner_pid = ? WHERE id IN ('orphan', 'kept')", [dead.pid])
    db.conn.commit()
    assert runs.abandon_stale_runs(db, T0, keep={"kept"}) == 1
    assert runs.get_run(db, "orphan").status == "failed"
    assert "stopped" in runs.get_run(db, "orphan").error
    assert runs.get_run(db, "alive").status == "running"
    assert runs.get_run(db, "kept").status == "running"


def test_naive_times_are_refused(db):
    with pytest.raises(ValueError, match="timezone"):
        runs.create_run(db, run_id="x", exercise="spam", variant=None, settings={},
                        device=None, started_at=datetime(2026, 1, 1))
