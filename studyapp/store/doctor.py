"""`studyapp doctor`: check the database, repair what is safe to repair, list the backups.

Checks: SQLite's `integrity_check` and `foreign_key_check`, the schema version, missing
indexes, rows that refer to missing rows, cards whose state disagrees with their log.
Repairs never delete what the learner did:

- a row that refers to a missing lesson or card gets a placeholder parent (an absent
  lesson, a retired card) so nothing is lost and the foreign keys hold again;
- a card with review log rows but no state gets its state back from its last log row;
- missing indexes are re-created.

Review log rows whose item no longer exists are reported, never deleted. A database that
fails `integrity_check` is not touched: restore a backup (listed) instead.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studyapp.store.backups import BackupInfo, backups_dir, list_backups, partials
from studyapp.store.db import latest_version, schema_version, write_transaction
from studyapp.store.schema import index_statements
from studyapp.store.sync import put_card_state


@dataclass
class DoctorReport:
    path: str
    schema_version: int
    latest_version: int
    integrity: list[str] = field(default_factory=list)  # ["ok"] when fine
    found: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    backups: list[BackupInfo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and not self.unrepaired

    @property
    def unrepaired(self) -> list[str]:
        return [f for f in self.found if not f.startswith("(repaired)")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "ok": self.ok, "schema_version": self.schema_version,
            "latest_version": self.latest_version, "integrity": self.integrity,
            "found": self.found, "repaired": self.repaired,
            "backups": [{"path": str(b.path), "size": b.size, "kind": b.kind,
                         "taken_at": b.taken_at.isoformat() if b.taken_at else None}
                        for b in self.backups],
        }


# child table, column, parent table
_LESSON_CHILDREN = [("lesson_progress", "lesson_id"), ("prior_answers", "lesson_id"),
                    ("steps_done", "lesson_id"), ("plan_reviews", "lesson_id"),
                    ("cards", "lesson_id")]
_CARD_CHILDREN = [("card_aliases", "card_id"), ("card_state", "card_id")]


def run_doctor(conn: sqlite3.Connection, db_path: Path | None, repair: bool = True) -> DoctorReport:
    now = datetime.now(UTC).isoformat()
    report = DoctorReport(str(db_path or ":memory:"), schema_version(conn), latest_version())
    report.integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if db_path is not None:
        report.backups = list_backups(db_path)
        for part in partials(backups_dir(db_path)):
            report.found.append(f"unfinished backup copy {part.name} (a backup killed "
                                "mid-copy)")
            if repair:
                part.unlink(missing_ok=True)
                report.repaired.append(f"removed {part.name}")
    if report.integrity != ["ok"]:
        report.found.append("integrity check failed: the file is damaged; restore a backup "
                            "(copy it over the database while studyapp is closed)")
        return report
    fk = conn.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        report.found.append(f"{len(fk)} rows break foreign keys")

    for table, col in _LESSON_CHILDREN:
        ids = [r[0] for r in conn.execute(
            f"SELECT DISTINCT {col} FROM {table} WHERE {col} NOT IN (SELECT id FROM lessons)")]
        if ids:
            report.found.append(f"{table}: rows for {len(ids)} missing lessons "
                                f"({', '.join(ids[:5])})")
            if repair:
                with write_transaction(conn) as c:
                    for lid in ids:
                        c.execute("INSERT OR IGNORE INTO lessons (id, title, source_path, "
                                  "content_hash, present, first_seen_at, synced_at) VALUES "
                                  "(?, ?, NULL, NULL, 0, ?, ?)", (lid, lid, now, now))
                report.repaired.append(f"added {len(ids)} placeholder lessons for {table}")
    for table, col in _CARD_CHILDREN:
        ids = [r[0] for r in conn.execute(
            f"SELECT DISTINCT {col} FROM {table} WHERE {col} NOT IN (SELECT id FROM cards)")]
        if ids:
            report.found.append(f"{table}: rows for {len(ids)} missing cards "
                                f"({', '.join(ids[:5])})")
            if repair:
                with write_transaction(conn) as c:
                    for cid in ids:
                        _placeholder_card(c, cid, now)
                report.repaired.append(f"added {len(ids)} retired placeholder cards for {table}")

    orphan_log = conn.execute(
        "SELECT count(*), count(DISTINCT item_id) FROM review_log WHERE "
        "(item_kind='card' AND item_id NOT IN (SELECT id FROM cards)) OR "
        "(item_kind='plan' AND item_id NOT IN (SELECT id FROM plan_reviews))").fetchone()
    if orphan_log[0]:
        report.found.append(f"review_log: {orphan_log[0]} rows for {orphan_log[1]} items that "
                            "no longer exist (kept: the log is never deleted)")

    lost = conn.execute(
        "SELECT l.item_id, l.state_after FROM review_log l JOIN cards c ON c.id = l.item_id "
        "WHERE l.item_kind='card' AND l.id = (SELECT max(id) FROM review_log m "
        "WHERE m.item_id = l.item_id) AND l.source <> 'reset' AND NOT EXISTS "
        "(SELECT 1 FROM card_state s WHERE s.card_id = l.item_id)").fetchall()
    if lost:
        report.found.append(f"card_state: {len(lost)} cards with answers but no schedule")
        if repair:
            with write_transaction(conn) as c:
                for cid, after in lost:
                    put_card_state(c, cid, json.loads(after))
            report.repaired.append(f"rebuilt the schedule of {len(lost)} cards from their log")

    flags = conn.execute(
        "SELECT count(*) FROM cards c WHERE c.scheduled <> "
        "(EXISTS (SELECT 1 FROM card_state s WHERE s.card_id = c.id))").fetchone()[0]
    if flags:
        report.found.append(f"cards: {flags} cards marked new/scheduled wrongly")
        if repair:
            with write_transaction(conn) as c:
                c.execute("UPDATE cards SET scheduled = "
                          "(EXISTS (SELECT 1 FROM card_state s WHERE s.card_id = cards.id))")
            report.repaired.append(f"fixed the new/scheduled mark of {flags} cards")

    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    missing = [s for s in index_statements() if s.split()[5] not in have]
    if missing:
        report.found.append(f"{len(missing)} indexes missing")
        if repair:
            with write_transaction(conn) as c:
                for stmt in missing:
                    c.execute(stmt)
            report.repaired.append(f"re-created {len(missing)} indexes")

    if repair and report.repaired:
        left = conn.execute("PRAGMA foreign_key_check").fetchall()
        if left:
            report.found.append(f"{len(left)} rows still break foreign keys")
        report.found = [f"(repaired) {f}" if not f.startswith(("review_log", "integrity"))
                        else f for f in report.found]
    if repair:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    return report


def _placeholder_card(c: sqlite3.Connection, cid: str, now: str) -> None:
    parts = cid.split(":")
    lesson_id = parts[0] if len(parts) >= 3 else "(unknown)"
    kind = parts[-2] if len(parts) >= 3 else "quiz"
    c.execute("INSERT OR IGNORE INTO lessons (id, title, source_path, content_hash, present, "
              "first_seen_at, synced_at) VALUES (?, ?, NULL, NULL, 0, ?, ?)",
              (lesson_id, lesson_id, now, now))
    c.execute("INSERT OR IGNORE INTO cards (id, lesson_id, kind, key, front, back, norm, "
              "position, retired, created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, '', 0, 1, "
              "?, ?)", (cid, lesson_id, kind, parts[-1], f"(missing card {cid})", now, now))
