"""open_database: pragmas, migrations, refusing newer files, backups, concurrency, doctor."""

import hashlib
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from studyapp.store import backups, schema
from studyapp.store.db import StoreError, apply_migrations, latest_version, open_database
from studyapp.store.doctor import run_doctor
from studyapp.store.reviews import card_state
from studyapp.store.transfer import export_progress, import_progress
from tests.study_support import at, local, make_lesson, service


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_open_creates_folders_and_sets_pragmas(tmp_path):
    path = tmp_path / "a" / "b" / "study.db"
    db = open_database(path)
    assert path.exists()
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert {"runs", "exercise_progress", "cards", "review_log"} <= set(db.table_names())
    assert [r["version"] for r in db["schema_migrations"].rows] == list(
        range(1, latest_version() + 1))
    db.close()
    mem = open_database(":memory:")
    assert "cards" in mem.table_names()


def test_runs_table_shape():
    db = open_database(":memory:")
    cols = {c.name for c in db["runs"].columns}
    assert cols == {"id", "exercise", "variant", "settings", "device", "started_at",
                    "finished_at", "status", "losses", "metrics", "checks", "error",
                    "owner_pid", "parent_id", "code"}
    assert {c.name for c in db["exercise_progress"].columns} == {
        "exercise", "status", "first_attempt_at", "last_attempt_at", "passed_at"}


def test_newer_database_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "study.db"
    db = open_database(path, daily_backup=False)
    db.conn.execute(f"PRAGMA user_version = {latest_version() + 3}")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    before = digest(path)
    with pytest.raises(StoreError) as err:
        open_database(path)
    message = str(err.value)
    assert f"schema version {latest_version() + 3}" in message
    assert f"schema version {latest_version()}" in message
    assert digest(path) == before
    assert not (tmp_path / "backups").exists()


def test_old_database_is_migrated_with_a_backup_first(tmp_path, monkeypatch):
    """A database made by schema 1 opens under the latest schema (and a fabricated next)."""
    path = tmp_path / "study.db"
    conn = sqlite3.connect(path)
    apply_migrations(conn, None, upto=1)
    conn.execute("INSERT INTO settings (key, value) VALUES ('new_per_day', '7')")
    conn.commit()
    conn.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1

    def migration_next_add_note(c):
        c.execute("ALTER TABLE cards ADD COLUMN note TEXT")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, migration_next_add_note])
    monkeypatch.setattr("studyapp.store.db.MIGRATIONS", schema.MIGRATIONS)
    latest = len(schema.MIGRATIONS)
    db = open_database(path)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == latest
    assert "note" in {c.name for c in db["cards"].columns}
    assert "owner_pid" in {c.name for c in db["runs"].columns}  # the real migration 2
    assert db.conn.execute("SELECT value FROM settings").fetchone()[0] == "7"
    kept = [b for b in backups.list_backups(path) if b.kind == "premigrate"]
    assert len(kept) == 1 and f"v1-to-v{latest}" in kept[0].path.name
    old = sqlite3.connect(kept[0].path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT value FROM settings").fetchone()[0] == "7"


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "study.db"
    open_database(path).close()

    def migration_next_broken(c):
        c.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr("studyapp.store.db.MIGRATIONS",
                        [*schema.MIGRATIONS, migration_next_broken])
    with pytest.raises(RuntimeError):
        open_database(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name='half_done'").fetchone()


def test_daily_backups_rotate(tmp_path):
    path = tmp_path / "study.db"
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    for i in range(8):
        for hour in (0, 5):  # twice a day: one backup a day
            open_database(path, now=start + timedelta(days=i, hours=hour)).close()
    daily = backups.daily_backups(path)
    assert len(daily) == backups.KEEP_DAILY
    assert daily[-1].name.startswith("study-20261108-")
    assert daily[0].name.startswith("study-20261104-")
    assert sqlite3.connect(daily[-1]).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # nothing beside the kept copies (a WAL copy once left .part-wal/.part-shm files)
    assert sorted(p.name for p in daily[0].parent.iterdir()) == sorted(p.name for p in daily)


GRADER = """
import sys
from datetime import datetime
from studyapp.config import Settings
from studyapp.services.study import StudyService
from tests.study_support import make_lesson, results
settings = Settings(db_path=sys.argv[1], lessons_dir='.', exercises_dir='.',
                    fixed_now=datetime.fromisoformat(sys.argv[2]))
svc = StudyService.open(settings, sync=False)
svc.load_results(results(make_lesson()))
ids = sys.argv[3].split(',')
for n in range(int(sys.argv[4])):
    svc.grade(ids[n % len(ids)], 1 + n % 4)
"""


def test_two_processes_grading_at_once_lose_nothing(tmp_path):
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, make_lesson())
    ids = [svc.quiz_card_id("epochs", 0), svc.quiz_card_id("epochs", 1)]
    plan = svc.complete_lesson("epochs")
    svc.close()
    n = 150
    root = Path(__file__).resolve().parent.parent
    procs = [
        subprocess.Popen([sys.executable, "-c", GRADER, str(tmp_path / "study.db"),
                          t0.isoformat(), ",".join(ids if k == 0 else [plan[0].id, ids[0]]),
                          str(n)], cwd=root)
        for k in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    db = open_database(tmp_path / "study.db")
    assert db.conn.execute("SELECT count(*) FROM review_log").fetchone()[0] == 2 * n
    # every card's state is the state after its last log row: no update was lost
    for cid in ids:
        last = db.conn.execute("SELECT state_after FROM review_log WHERE item_id=? "
                               "ORDER BY id DESC LIMIT 1", (cid,)).fetchone()[0]
        reps = db.conn.execute("SELECT reps FROM card_state WHERE card_id=?", (cid,)).fetchone()[0]
        count = db.conn.execute("SELECT count(*) FROM review_log WHERE item_id=?",
                                (cid,)).fetchone()[0]
        assert json.loads(last)["reps"] == reps == count


def test_export_import_round_trip(tmp_path):
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path / "a", t0, make_lesson(), make_lesson("other"))
    plan = svc.complete_lesson("epochs")
    for item in svc.due():
        svc.grade(item.id, 3, seconds=4.5, answer="мой отговор")
    at(svc, t0 + timedelta(days=1)).grade(plan[0].id, 4)
    svc.save_prior_answer("other", 1, "x")
    svc.set_step_done("other", 0, True)
    svc.db["runs"].insert({"id": "r1", "exercise": "spam", "started_at": "t",
                           "status": "finished", "metrics": '{"accuracy": 0.9}'})
    doc = export_progress(svc.conn)
    assert len(doc["tables"]["review_log"]) == 5

    fresh = service(tmp_path / "b", t0, make_lesson(), make_lesson("other"))
    counts = import_progress(fresh.conn, doc)
    assert counts["review_log"] == 5
    doc2 = export_progress(fresh.conn)
    assert doc2["tables"] == doc["tables"]
    assert [i.id for i in at(fresh, t0 + timedelta(days=3)).due()] == \
        [i.id for i in at(svc, t0 + timedelta(days=3)).due()]
    with pytest.raises(StoreError):
        import_progress(fresh.conn, doc)  # it holds progress now
    import_progress(fresh.conn, doc, replace=True)
    with pytest.raises(StoreError):
        import_progress(fresh.conn, {"format": "something else"})


def test_doctor_reports_and_repairs_without_losing_anything(tmp_path):
    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson())
    svc.complete_lesson("epochs")
    cid = svc.quiz_card_id("epochs", 0)
    svc.grade(cid, 3)
    c = svc.conn
    c.execute("PRAGMA foreign_keys = OFF")
    c.execute("DELETE FROM card_state WHERE card_id=?", (cid,))
    c.execute("INSERT INTO card_aliases (alias, card_id) VALUES ('ghost:quiz:x', 'ghost:quiz:x')")
    c.execute("INSERT INTO steps_done (lesson_id, idx, done_at) VALUES ('vanished', 0, 't')")
    c.execute("INSERT INTO review_log (time, day, item_id, item_kind, rating, state_after) "
              "VALUES ('t', '2026-11-23', 'nowhere:quiz:1', 'card', 3, '{}')")
    c.execute("DROP INDEX card_state_due")
    c.commit()
    c.execute("PRAGMA foreign_keys = ON")
    report = run_doctor(c, tmp_path / "study.db", repair=False)
    assert report.integrity == ["ok"]
    assert len(report.found) >= 5 and report.repaired == []
    report = run_doctor(c, tmp_path / "study.db", repair=True)
    assert len(report.repaired) == 4, report.repaired
    assert c.execute("PRAGMA foreign_key_check").fetchall() == []
    assert card_state(c, cid).reps == 1
    assert c.execute("SELECT count(*) FROM review_log").fetchone()[0] == 2  # nothing deleted
    assert any("review_log" in f for f in report.found)
    assert report.backups and report.to_dict()["backups"][0]["kind"] == "daily"
    again = run_doctor(c, tmp_path / "study.db")
    assert again.repaired == []
