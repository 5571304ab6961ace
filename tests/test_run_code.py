"""Whose code ran (issue 11): recorded on every run, shown by `--json` and `exercise runs`,
and only the learner's own code marks an exercise passed; a reference run says so."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.training.catalog import find_exercise
from studyapp.training.learner import LearnerError, Workspace, resolve_code
from tests.test_training_run import make_exercise

FAST = ["-v", "tiny", "--set", "epochs=3", "--set", "threads=1"]


@pytest.fixture
def env(tmp_path):
    return {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path)),
            "STUDYAPP_DATA_DIR": str(tmp_path / "data"),
            "STUDYAPP_CACHE_DIR": str(tmp_path / "cache")}


def _cli(env, *args):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _status(env, db) -> str:
    rows = json.loads(_cli(env, "--db", db, "exercise", "status", "--json").output)
    return {r["id"]: r for r in rows}["spam"]["status"]


def test_a_reference_run_never_passes_the_exercise_the_learners_own_code_does(env, tmp_path):
    db = str(tmp_path / "fresh.db")
    out = _cli(env, "--db", db, "exercise", "run", "spam", *FAST, "--json")
    ref = json.loads(out.output)
    assert ref["code"] == "solution" and ref["status"] == "finished"
    assert ref["passed"] is True, ref["checks"]          # the checks pass ...
    assert _status(env, db) == "not_started"             # ... but it was not the learner's
    shown = _cli(env, "--db", db, "exercise", "run", "spam", *FAST).output
    assert "a reference run:" in shown and "exercise passed" not in shown

    mine = _cli(env, "--db", db, "exercise", "edit", "spam").output.strip()
    shutil.copyfile(find_exercise(tmp_path / "exercises", "spam").solution_file, mine)
    out = _cli(env, "--db", db, "exercise", "run", "spam", *FAST, "--code", "mine", "--json")
    own = json.loads(out.output)
    assert own["code"] == "mine" and own["passed"] is True, own.get("error")
    assert _status(env, db) == "passed"

    runs = json.loads(_cli(env, "--db", db, "exercise", "runs", "spam", "--json").output)
    assert [r["code"] for r in runs] == ["mine", "solution", "solution"]
    table = _cli(env, "--db", db, "exercise", "runs", "spam").output
    assert "code" in table.splitlines()[0] and " ref " in table and " mine " in table


def test_the_logs_name_whose_code_passed_its_checks(env, tmp_path):
    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService
    from studyapp.training.events import Log

    settings = Settings(db_path=tmp_path / "db", lessons_dir=tmp_path,
                        exercises_dir=tmp_path / "exercises")
    svc = ExerciseService(settings, cache_dir=tmp_path / "cache", data_dir=tmp_path / "d")
    handle = svc.start_run("spam", variant="tiny", overrides={"max_train_examples": "16"})
    logs = [e.message for e in handle.events() if isinstance(e, Log)]
    assert any(m.startswith("the reference solution passed its") for m in logs), logs
    assert not any("your code" in m for m in logs)


def test_one_resolver_says_whose_code_a_path_is(tmp_path):
    exercises = make_exercise(tmp_path)
    ex = find_exercise(exercises, "spam")
    ws = Workspace(tmp_path / "ws")
    assert resolve_code(ex, "solution").kind == "solution"
    assert resolve_code(ex, str(ex.solution_file)).kind == "solution"
    assert resolve_code(ex, str(ex.learner_file)).kind == "learner"
    mine = resolve_code(ex, "mine", ws)
    assert mine.kind == "mine" and mine.path.parent == tmp_path / "ws" / "spam"
    other = tmp_path / "elsewhere.py"
    other.write_text("x = 1\n", encoding="utf-8")
    assert resolve_code(ex, str(other)).kind == "mine"
    with pytest.raises(LearnerError, match="does not exist"):
        resolve_code(ex, str(tmp_path / "missing.py"))


def test_the_migration_adds_the_code_column(tmp_path):
    from studyapp.store.db import open_database

    db = open_database(tmp_path / "m.db")
    try:
        assert "code" in {c.name for c in db["runs"].columns}
    finally:
        db.conn.close()
