"""Export and import of the learner's whole progress as one JSON document.

The document holds every row of every progress table (course snapshot, cards and their
aliases, FSRS state, the review log, plan reviews, settings, training runs and exercise
progress). Importing it into an empty database gives back the same state: exporting that
database again gives the same document (apart from `exported_at`).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from studyapp.store.db import StoreError, schema_version, write_transaction

FORMAT = "studyapp-progress"
FORMAT_VERSION = 1

# parents before children (import order); each with the columns that order its rows
TABLES: list[tuple[str, str]] = [
    ("settings", "key"),
    ("lessons", "id"),
    ("lesson_progress", "lesson_id"),
    ("prior_answers", "lesson_id, idx"),
    ("steps_done", "lesson_id, idx"),
    ("plan_reviews", "id"),
    ("cards", "id"),
    ("card_aliases", "alias"),
    ("card_state", "card_id"),
    ("review_log", "id"),
    ("runs", "started_at, id"),
    ("exercise_progress", "exercise"),
]

# tables that hold what the learner did (the course tables are re-derived on open)
PROGRESS_TABLES = ("lesson_progress", "prior_answers", "steps_done", "plan_reviews",
                   "card_state", "review_log", "runs", "exercise_progress")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def export_progress(conn: sqlite3.Connection, now: datetime | None = None) -> dict[str, Any]:
    tables: dict[str, list[dict[str, Any]]] = {}
    conn.execute("BEGIN")  # one consistent snapshot
    try:
        for table, order in TABLES:
            cols = _columns(conn, table)
            tables[table] = [
                dict(zip(cols, row))
                for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}")
            ]
    finally:
        conn.execute("COMMIT")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema_version(conn),
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "tables": tables,
    }


def has_progress(conn: sqlite3.Connection) -> bool:
    return any(
        conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in PROGRESS_TABLES
    )


def import_progress(conn: sqlite3.Connection, doc: dict[str, Any], replace: bool = False) -> dict[str, int]:
    """Load an exported document; returns rows imported per table.

    Refuses (StoreError) a database that already holds progress unless `replace`, and a
    document that is not an export or comes from a newer schema. All or nothing.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError("not a studyapp progress export (no 'format': 'studyapp-progress')")
    if int(doc.get("schema_version", 0)) > schema_version(conn):
        raise StoreError(
            f"the export was made by a newer studyapp (schema version {doc['schema_version']}; "
            f"this database has {schema_version(conn)})")
    tables = doc.get("tables") or {}
    if has_progress(conn) and not replace:
        raise StoreError("this database already holds progress; import into an empty database "
                         "(--db NEW.db) or pass --replace to overwrite it")
    counts: dict[str, int] = {}
    with write_transaction(conn) as c:
        for table, _order in reversed(TABLES):
            c.execute(f"DELETE FROM {table}")
        for table, _order in TABLES:
            cols = set(_columns(c, table))
            rows = tables.get(table) or []
            for row in rows:
                keys = [k for k in row if k in cols]
                c.execute(
                    f"INSERT INTO {table} ({', '.join(keys)}) VALUES "
                    f"({', '.join('?' for _ in keys)})", [row[k] for k in keys])
            counts[table] = len(rows)
        problems = c.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise StoreError(f"the export is inconsistent: {len(problems)} rows refer to "
                             f"missing rows (first: {problems[0]})")
    return counts
