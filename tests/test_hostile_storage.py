"""Storage faults: a damaged database never spreads into the backups and doctor restores
the newest good one; an export over an existing one survives a full disk; read-only,
locked and missing places end in one clear line, and nothing unacknowledged is written."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import Settings, bundled_exercises_dir, bundled_lessons_dir
from studyapp.services.study import StudyService
from studyapp.store import backups
from studyapp.store.db import StoreError, open_database

# after today: the backup that a plain open takes today (real clock) is the oldest one
DAY = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                      microsecond=0)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(db: Path, *args: str, input: str | None = None):
    result = CliRunner().invoke(main, ["--db", str(db), "--lessons", str(bundled_lessons_dir()),
                                       *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    assert "Traceback" not in result.output, result.output
    return result


def study_days(db: Path, days: int) -> None:
    """A learner's database: a lesson finished on day 0, some answers every day, and each
    day's first open taking that day's backup."""
    settings = Settings(db_path=db, lessons_dir=bundled_lessons_dir(),
                        exercises_dir=bundled_exercises_dir(), fixed_now=DAY)
    svc = StudyService.open(settings)
    lesson = svc.lessons()[0].id
    svc.complete_lesson(lesson)
    svc.close()
    for day in range(days):
        now = DAY + timedelta(days=day)
        open_database(db, now=now).close()                 # the day's first open: backup
        settings = Settings(db_path=db, lessons_dir=bundled_lessons_dir(),
                            exercises_dir=bundled_exercises_dir(), fixed_now=now)
        svc = StudyService.open(settings)
        for item in svc.due()[:3]:
            svc.grade(item.id, 3, 4.0)
        svc.close()


def corrupt(db: Path) -> None:
    """Overwrite pages in the middle of the file (as a failing disk would)."""
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        for offset in range(4096 * 2, min(size, 4096 * 12), 4096):
            fh.seek(offset + 16)
            fh.write(os.urandom(2048))


def test_a_damaged_database_never_replaces_a_good_backup_and_doctor_restores_it(tmp_path):
    db = tmp_path / "study.db"
    study_days(db, 7)
    kept = backups.daily_backups(db)
    assert len(kept) == backups.KEEP_DAILY
    assert all(backups.check_file(p) is None for p in kept)
    answers_before = sqlite3.connect(db).execute("SELECT count(*) FROM review_log").fetchone()[0]
    corrupt(db)
    assert backups.check_file(db, quick=False) is not None

    # the next day's first open: the backup's check fails, nothing good is rotated out
    with pytest.raises(StoreError, match="damaged|failed its check"):
        open_database(db, now=DAY + timedelta(days=8))
    assert backups.daily_backups(db) == kept
    assert all(backups.check_file(p) is None for p in kept)
    assert not list(backups.backups_dir(db).glob("*.part"))

    # writes are refused from now on, and the file is left as it is
    before = digest(db)
    out = cli(db, "grade", "whatever:quiz:x", "3")
    assert out.exit_code == 1 and "studyapp doctor" in out.output
    out = cli(db, "due")
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert digest(db) == before

    # doctor reports the damage and offers the newest good backup
    out = cli(db, "doctor")
    assert out.exit_code == 1
    assert "Integrity check: FAILED" in out.output and "good" in out.output
    assert "doctor --restore" in out.output
    assert digest(db) == before
    report = json.loads(cli(db, "doctor", "--json").stdout)
    assert report["ok"] is False and report["backups"][0]["good"] is True

    out = cli(db, "doctor", "--restore")
    assert out.exit_code == 0, out.output
    assert f"Restored {kept[-1].name}" in out.output
    assert backups.check_file(db, quick=False) is None
    assert backups.damaged_reason(db) is None
    assert list(tmp_path.glob("study.db.damaged-*")), "the damaged file is kept"
    answers = sqlite3.connect(db).execute("SELECT count(*) FROM review_log").fetchone()[0]
    assert 0 < answers <= answers_before
    assert cli(db, "due").exit_code == 0
    assert cli(db, "doctor").exit_code == 0


def test_a_backup_killed_mid_copy_is_listed_and_cleaned_by_doctor(tmp_path):
    db = tmp_path / "study.db"
    study_days(db, 1)
    part = backups.backups_dir(db) / "study-20261101-000000.db.part"
    part.write_bytes(b"half a copy")
    out = cli(db, "doctor", "--no-repair")
    assert part.name in out.output and part.exists()
    out = cli(db, "doctor")
    assert part.name in out.output and not part.exists()


def test_export_over_an_existing_export_survives_a_full_disk(tmp_path, monkeypatch):
    db = tmp_path / "study.db"
    study_days(db, 2)
    target = tmp_path / "progress.json"
    assert cli(db, "export", str(target)).exit_code == 0
    old = target.read_bytes()
    assert json.loads(old)["format"] == "studyapp-progress"

    real_write = os.write

    def full_disk(fd, data):                 # the disk fills half way through the file
        if len(data) > 1000:
            real_write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    import io

    real_fdopen = os.fdopen

    class Full(io.FileIO):
        def write(self, data):  # type: ignore[override]
            return full_disk(self.fileno(), bytes(data))

    def fdopen(fd, mode="r", *args, **kwargs):
        if "w" in mode and "b" in mode:
            return Full(fd, "w")
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    out = cli(db, "export", str(target))
    monkeypatch.undo()
    assert out.exit_code == 1
    assert "the disk is full" in out.output and str(target) in out.output
    assert "Exported" not in out.output
    assert target.read_bytes() == old                     # the old export is intact
    assert json.loads(target.read_bytes())["format"] == "studyapp-progress"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_export_to_a_missing_folder_is_one_line(tmp_path):
    db = tmp_path / "study.db"
    study_days(db, 1)
    out = cli(db, "export", str(tmp_path / "no" / "such" / "x.json"))
    assert out.exit_code == 1
    assert out.output.strip().endswith("does not exist")
    assert out.output.count("\n") == 1


def test_a_lock_held_past_the_busy_timeout_says_how_long_it_waited(tmp_path, monkeypatch):
    from studyapp.store import db as store_db

    db = tmp_path / "study.db"
    study_days(db, 1)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        before = digest(db)
        out = cli(db, "grade", "anything:quiz:x", "3")
        assert out.exit_code == 1
        assert "locked by another process (waited" in out.output
        assert out.output.count("\n") == 1
    finally:
        holder.rollback()
        holder.close()
    assert digest(db) == before


def test_a_read_only_database_refuses_writes_in_one_line(tmp_path, monkeypatch):
    db = tmp_path / "study.db"
    study_days(db, 1)
    svc = StudyService.open(Settings(
        db_path=db, lessons_dir=bundled_lessons_dir(), exercises_dir=bundled_exercises_dir(),
        fixed_now=DAY + timedelta(days=3)))
    item = svc.due()[0].id
    svc.close()
    before = digest(db)
    real = sqlite3.connect

    def read_only(path, *args, **kwargs):          # as a chmod a-w would (tests run as root)
        if str(path) == str(db):
            return real(f"file:{db}?mode=ro", *args, uri=True, **kwargs)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    out = cli(db, "--now", (DAY + timedelta(days=3)).isoformat(), "grade", item, "3")
    assert out.exit_code == 1, out.output
    assert "Graded" not in out.output
    assert "read-only" in out.output or "readonly" in out.output, out.output
    monkeypatch.undo()
    assert digest(db) == before
