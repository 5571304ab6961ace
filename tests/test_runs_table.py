"""`studyapp exercise runs` fits 80 columns: optional columns give way, the run stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.store.db import open_database
from studyapp.store.runs import create_run, end_run

T0 = datetime(2026, 11, 30, 21, 5, tzinfo=UTC)


def _record(db_path: Path, run_id: str, exercise: str, variant: str, metrics: dict,
            passed: bool) -> None:
    db = open_database(db_path, daily_backup=False)
    try:
        create_run(db, run_id=run_id, exercise=exercise, variant=variant, settings={},
                   device="cpu", started_at=T0, code="mine")
        end_run(db, run_id, status="finished", finished_at=T0 + timedelta(seconds=83.4),
                metrics=metrics, checks=[{"name": "c", "passed": passed}])
    finally:
        db.conn.close()


def _runs(db_path: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(main, ["--db", str(db_path), "exercise", "runs", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_runs_table_fits_80_columns_and_keeps_what_matters(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    full = {"accuracy": 0.9734, "f1": 0.9411, "val_loss": 0.123456}
    _record(db, "a" * 32, "spam", "encoder", full, True)
    _record(db, "b" * 32, "overfitting", "default", {"val_loss": 2.3456}, False)
    _record(db, "c" * 32, "pretraining", "default", {"val_loss": 3.21}, True)

    for args in ((), ("spam",)):
        lines = _runs(db, *args)
        assert lines and max(len(line) for line in lines) <= 80, "\n".join(lines)
        head = lines[0].split()
        for column in ("run", "variant", "code", "status", "checks"):
            assert column in head
    every = _runs(db)
    assert "exercise" in every[0] and "F1" not in every[0]      # F1 gave way first
    assert any("overfitting" in line and "failed" in line for line in every[1:])
    spam = _runs(db, "spam")
    assert "acc" in spam[0].split() and "0.973" in spam[1]
