"""`studyapp exercise list|run|runs|check` as a learner runs them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from studyapp.cli import main
from tests.test_training_run import make_exercise


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_list_json_shows_the_bundled_spam_exercise(tmp_path):
    out = invoke("--db", str(tmp_path / "db"), "exercise", "list", "--json")
    assert out.exit_code == 0, out.output
    items = {e["id"]: e for e in json.loads(out.output)}
    spam = items["spam"]
    assert spam["title"] and spam["lesson"] == "gpt-classification"
    assert spam["default_variant"] == "encoder"
    assert spam["status"] == "not_started"
    assert not (tmp_path / "db").exists()     # listing creates no database


def test_run_json_then_runs(tmp_path):
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path))}
    db = str(tmp_path / "study.db")
    out = invoke("--db", db, "exercise", "run", "spam", "--variant", "tiny",
                 "--set", "eval_every=4", "--json", env=env)
    result = json.loads(out.output)          # stdout holds the JSON object and nothing else
    assert result["status"] == "finished"
    assert out.exit_code == (0 if result["passed"] else 1)
    assert result["device"].startswith("cpu")
    assert result["settings"]["eval_every"] == 4
    for key in ("accuracy", "f1", "val_loss"):
        assert isinstance(result["metrics"][key], float)
    assert {c["name"] for c in result["checks"]} == {"test accuracy", "validation loss fell"}

    runs = json.loads(invoke("--db", db, "exercise", "runs", "spam", "--json", env=env).output)
    assert [r["id"] for r in runs] == [result["run_id"]]
    assert runs[0]["losses"]["val"][0][0] == 0
    table = invoke("--db", db, "exercise", "runs", "spam", env=env).output
    assert result["run_id"][:8] in table

    listed = json.loads(invoke("--db", db, "exercise", "list", "--json", env=env).output)
    # a run of the reference solution (the default code) is no progress of the learner's
    assert listed[0]["status"] == "not_started"


def test_run_with_progress_prints_plot_metrics_and_checks(tmp_path):
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path))}
    out = invoke("--db", str(tmp_path / "db"), "exercise", "run", "spam", "-v", "tiny",
                 env=env)
    assert "loss" in out.output and "step" in out.output        # the plot
    assert "test accuracy" in out.output and "expected accuracy >= 0.9" in out.output
    assert "run id" in out.output


def test_a_failed_run_exits_1_and_says_why(tmp_path):
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path))}
    out = invoke("--db", str(tmp_path / "db"), "exercise", "run", "spam", "-v", "tiny",
                 "--set", "model=no-such-org/no-such-model", "--json", env=env)
    assert out.exit_code == 1
    result = json.loads(out.output)
    assert result["status"] == "failed" and "--set model=smollm2" in result["error"]


def test_bad_requests_are_refused_before_anything_starts(tmp_path):
    db = str(tmp_path / "db")
    out = CliRunner().invoke(main, ["--db", db, "exercise", "run", "spam", "--set", "lr=fast"])
    assert out.exit_code == 2 and "--set lr=fast: lr must be a number > 0" in out.output
    out = CliRunner().invoke(main, ["--db", db, "exercise", "run", "spam", "-v", "nope"])
    assert out.exit_code != 0 and "encoder, decoder" in out.output
    out = CliRunner().invoke(main, ["--db", db, "exercise", "run", "nope"])
    assert out.exit_code != 0 and "no exercise 'nope'" in out.output


def test_check_says_what_the_learner_still_has_to_write(tmp_path):
    out = invoke("exercise", "check", "spam")
    assert out.exit_code == 1
    assert "FAIL" in out.output and "not written yet: last_token_logits" in out.output
    out = invoke("exercise", "check", "spam", "--code", "solution", "--json")
    assert out.exit_code == 0 and json.loads(out.output)["passed"] is True


def test_runs_show_the_measured_time_under_a_fixed_clock(tmp_path):
    """Under --now started and finished are the same instant: the time is the measured one."""
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path))}
    db = str(tmp_path / "study.db")
    now = ["--now", "2026-11-24T09:00:00+00:00"]
    invoke(*now, "--db", db, "exercise", "run", "spam", "-v", "tiny", "--json", env=env)
    runs = json.loads(invoke(*now, "--db", db, "exercise", "runs", "--json", env=env).output)
    assert runs[0]["started_at"] == runs[0]["finished_at"]
    took = runs[0]["metrics"]["wall_time_s"]
    assert took > 0
    table = invoke(*now, "--db", db, "exercise", "runs", "spam", env=env).output.splitlines()
    col = table[0].index("time s")
    assert float(table[1][col:].split()[0]) > 0


def test_list_and_status_keep_ids_and_statuses_whole_at_80_columns(tmp_path):
    env = {"COLUMNS": "80"}
    for command in (["exercise", "list"], ["exercise", "status"]):
        out = invoke("--db", str(tmp_path / "db"), *command, env=env).output
        lines = out.splitlines()
        assert all(len(line) <= 80 for line in lines), out
        rows = [line.split() for line in lines if "not_started" in line]
        assert {r[0] for r in rows} >= {"spam", "sft", "lora"}, out
        assert "…" not in out, out
