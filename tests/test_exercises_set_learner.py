"""The learner's-code workflow: a copy in the workspace (originals untouched), checks in a
child process, hints one at a time, the solution after passing, reset, progress, watch."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import PROJECT_ROOT, Settings
from studyapp.training.learner import LearnerError, LearnerService, Workspace, run_checks

EX = "overfitting"     # its checks are the quickest (a Linear layer)


@pytest.fixture
def svc(tmp_path) -> LearnerService:
    settings = Settings.from_env(db=tmp_path / "db.sqlite")
    return LearnerService(settings, workspace=Workspace(tmp_path / "work"))


def _solve(svc: LearnerService, ex_id: str = EX) -> Path:
    ex = svc.exercise(ex_id)
    path = svc.edit(ex_id)
    path.write_text(ex.solution_file.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_edit_copies_the_original_once_and_never_touches_it(svc, tmp_path):
    ex = svc.exercise(EX)
    original = ex.learner_file.read_bytes()
    path = svc.edit(EX)
    assert path == tmp_path / "work" / EX / ex.learner_file.name
    assert path.read_bytes() == original
    path.write_text("# my work\n", encoding="utf-8")
    assert svc.edit(EX) == path and path.read_text(encoding="utf-8") == "# my work\n"
    assert ex.learner_file.read_bytes() == original


def test_a_folder_of_the_learners_choice_is_remembered(svc, tmp_path):
    mine = tmp_path / "elsewhere"
    path = svc.edit(EX, mine)
    assert path.parent == mine.resolve() and path.is_file()
    assert svc.edit(EX) == path
    with pytest.raises(LearnerError, match="bundled"):
        svc.edit(EX, svc.exercise(EX).path)


def test_the_default_workspace_is_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYAPP_DATA_DIR", str(tmp_path / "data"))
    svc = LearnerService(Settings.from_env(db=tmp_path / "db.sqlite"))
    assert svc.edit("sft") == tmp_path / "data" / "exercises" / "sft" / "sft.py"


def test_check_fails_then_passes_and_records_progress(svc):
    assert svc.progress(EX)["status"] == "not_started"
    report = svc.check(EX)
    assert not report.passed and report.error is None
    assert all("not written yet" in r["message"] for r in report.failed)
    p = svc.progress(EX)
    assert p["status"] == "attempted" and p["first_attempt_at"] and p["passed_at"] is None
    _solve(svc)
    report = svc.check(EX)
    assert report.passed, report.lines()
    p = svc.progress(EX)
    assert p["status"] == "passed" and p["passed_at"] is not None
    svc.reset(EX)
    assert not svc.check(EX).passed
    assert svc.progress(EX)["status"] == "passed"        # once passed, stays passed


def test_checking_the_bundled_files_records_nothing(svc):
    assert svc.check(EX, "solution").passed
    assert not svc.check(EX, "learner").passed
    assert svc.progress(EX)["status"] == "not_started"


def test_a_hanging_learner_file_times_out_cleanly(tmp_path):
    code = tmp_path / "hang.py"
    code.write_text("while True:\n    pass\n", encoding="utf-8")
    checks = PROJECT_ROOT / "exercises" / EX / "checks.py"
    report = run_checks(code, checks, timeout_s=3)
    assert not report.passed and "did not finish" in report.error


def test_prints_in_the_learners_code_do_not_spoil_the_result(tmp_path):
    ex_dir = PROJECT_ROOT / "exercises" / EX
    code = tmp_path / "chatty.py"
    solution = (ex_dir / "solution.py").read_text(encoding="utf-8")
    code.write_text(solution.replace("from torch import nn\n",
                                     'from torch import nn\n\nprint(\'{"checks": []}\')\n'),
                    encoding="utf-8")
    report = run_checks(code, ex_dir / "checks.py")
    assert report.passed and len(report.results) == 5


def test_hints_are_revealed_one_at_a_time_and_counted(svc, tmp_path):
    ex = svc.exercise(EX)
    shown = [svc.hint(EX) for _ in range(len(ex.hints) + 1)]
    assert [h.number for h in shown] == [*range(1, len(ex.hints) + 1), len(ex.hints)]
    assert shown[0].text == ex.hints[0] and shown[-1].new is False
    again = LearnerService(svc.settings, workspace=Workspace(tmp_path / "work"))
    assert again.hints(EX) == list(ex.hints)


def test_the_solution_is_shown_after_passing_or_on_request(svc):
    with pytest.raises(LearnerError, match="--force"):
        svc.solution(EX)
    path, text = svc.solution(EX, force=True)
    assert path == svc.exercise(EX).solution_file and "class EarlyStopping" in text
    _solve(svc)
    assert svc.check(EX).passed
    assert "class EarlyStopping" in svc.solution(EX)[1]


def test_reset_restores_the_original_and_keeps_a_backup(svc):
    ex = svc.exercise(EX)
    path = svc.edit(EX)
    path.write_text("# my attempt\n", encoding="utf-8")
    restored, backup = svc.reset(EX)
    assert restored == path and path.read_bytes() == ex.learner_file.read_bytes()
    assert backup is not None and backup.read_text(encoding="utf-8") == "# my attempt\n"
    assert svc.reset(EX)[1] is None            # nothing to back up the second time


def test_watch_rechecks_when_the_file_is_saved(svc):
    path = svc.edit(EX)
    solution = svc.exercise(EX).solution_file.read_text(encoding="utf-8")
    reports = []

    def save_later() -> None:
        while not reports:
            time.sleep(0.05)
        time.sleep(0.2)
        path.write_text(solution, encoding="utf-8")

    saver = threading.Thread(target=save_later, daemon=True)
    saver.start()
    deadline = time.monotonic() + 120
    for report in svc.watch(EX, interval_s=0.05, max_checks=2,
                            stop=lambda: time.monotonic() > deadline):
        reports.append(report)  # noqa: PERF402 - the saver thread watches it grow
    saver.join(timeout=5)
    assert [r.passed for r in reports] == [False, True]


def test_status_lists_every_exercise_with_progress(svc):
    svc.hint(EX)
    svc.check(EX)
    rows = {r.id: r for r in svc.status()}
    assert {"sft", "lora", "pretraining", "overfitting", "spam"} <= set(rows)
    assert rows[EX].status == "attempted" and rows[EX].hints_shown == 1
    assert rows[EX].copy is not None and rows[EX].modified is False
    assert rows["sft"].status == "not_started" and rows["sft"].copy is None


def test_cli_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYAPP_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    db = ["--db", str(tmp_path / "db.sqlite")]

    def run(*args: str):
        return runner.invoke(main, [*db, "exercise", *args])

    edit = run("edit", EX)
    assert edit.exit_code == 0
    path = Path(edit.output.strip())
    assert path.is_file() and path.is_relative_to(tmp_path / "data")
    check = run("check", EX)
    assert check.exit_code == 1 and "FAIL" in check.output and "not written yet" in check.output
    hint = run("hint", EX)
    assert hint.exit_code == 0 and hint.output.startswith("hint 1 of")
    assert run("solution", EX).exit_code == 1
    assert "class EarlyStopping" in run("solution", EX, "--force").output
    status = json.loads(run("status", "--json").output)
    row = next(r for r in status if r["id"] == EX)
    assert row["status"] == "attempted" and row["hints_shown"] == 1
    as_json = json.loads(run("check", EX, "--code", "solution", "--json").output)
    assert as_json["passed"] is True
    assert run("reset", EX).exit_code == 0
