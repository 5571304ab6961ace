"""Export and import of the learner's whole progress as one JSON document.

The document holds every row of every progress table (course snapshot, cards and their
aliases, FSRS state, the review log, plan reviews, settings, training runs and exercise
progress). Importing it into an empty database gives back the same state: exporting that
database again gives the same document (apart from `exported_at`).
"""

from __future__ import annotations

import math
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


def validate_document(conn: sqlite3.Connection, doc: Any) -> dict[str, list[dict[str, Any]]]:
    """The document's tables, or StoreError naming the key, table or row that is wrong.

    Checked before anything is written: the format, `format_version` and `schema_version`
    (whole numbers, not newer than this database), `tables` an object of known tables, each
    a list of row objects whose keys are columns of that table, whose values are plain
    (text, numbers, null), with every required column given and no primary key twice.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError("not a studyapp progress export (no 'format': 'studyapp-progress')")
    for key, newest in (("format_version", FORMAT_VERSION), ("schema_version",
                                                             schema_version(conn))):
        value = doc.get(key, 0 if key == "schema_version" else FORMAT_VERSION)
        if isinstance(value, bool) or not isinstance(value, int):
            raise StoreError(f"'{key}' must be a whole number, got {json_repr(value)}")
        if value > newest:
            raise StoreError(f"the export was made by a newer studyapp ({key} {value}; this "
                             f"version reads {newest} at most)")
    tables = doc.get("tables", {})
    if not isinstance(tables, dict):
        raise StoreError(f"'tables' must be an object of table name to rows, got "
                         f"{type(tables).__name__}")
    known = dict(TABLES)
    for name in tables:
        if name not in known:
            raise StoreError(f"tables.{name}: unknown table (known: {', '.join(known)})")
    out: dict[str, list[dict[str, Any]]] = {}
    for table, _order in TABLES:
        rows = tables.get(table, [])
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            raise StoreError(f"tables.{table} must be a list of rows, got "
                             f"{type(rows).__name__}")
        info = conn.execute(f"PRAGMA table_info({table})").fetchall()
        cols = {r[1] for r in info}
        required = [r[1] for r in info if r[3] and r[4] is None and not r[5]]
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        seen: set[tuple[Any, ...]] = set()
        for i, row in enumerate(rows):
            where = f"tables.{table}[{i}]"
            if not isinstance(row, dict):
                raise StoreError(f"{where} must be an object, got {type(row).__name__}")
            extra = [k for k in row if k not in cols]
            if extra:
                raise StoreError(f"{where}: unknown column {extra[0]!r}")
            for key, value in row.items():
                if isinstance(value, dict | list):
                    raise StoreError(f"{where}.{key}: must be text, a number or null")
                if isinstance(value, float) and not math.isfinite(value):
                    raise StoreError(f"{where}.{key}: {value} is not a value")
            for key in required:
                if row.get(key) is None:
                    raise StoreError(f"{where}: '{key}' is required (got "
                                     f"{'null' if key in row else 'nothing'})")
            if pk:
                ident = tuple(row.get(k) for k in pk)
                if ident in seen:
                    shown = ident if len(pk) > 1 else ident[0]
                    raise StoreError(f"{where}: {', '.join(pk)} {shown!r} appears twice")
                seen.add(ident)
        out[table] = rows
    return out


def json_repr(value: Any) -> str:
    import json

    return json.dumps(value)[:40]


def import_progress(conn: sqlite3.Connection, doc: dict[str, Any], replace: bool = False,
                    *, allow_empty: bool = False) -> dict[str, int]:
    """Load an exported document; returns rows imported per table.

    The whole document is validated first (`validate_document`). Refuses (StoreError) a
    database that already holds progress unless `replace`, and with `replace` a document
    without any progress row unless `allow_empty` too (it would wipe everything). All or
    nothing: a row the database refuses names its table and index, and nothing is written.
    """
    tables = validate_document(conn, doc)
    if has_progress(conn) and not replace:
        raise StoreError("this database already holds progress; import into an empty database "
                         "(--db NEW.db) or pass --replace to overwrite it")
    if replace and not allow_empty and not any(tables.get(t) for t in PROGRESS_TABLES):
        raise StoreError("the document holds no progress at all: --replace would wipe the "
                         "progress of this database; pass --replace --allow-empty to do that")
    counts: dict[str, int] = {}
    with write_transaction(conn) as c:
        for table, _order in reversed(TABLES):
            c.execute(f"DELETE FROM {table}")
        for table, _order in TABLES:
            rows = tables.get(table) or []
            for i, row in enumerate(rows):
                keys = list(row)
                try:
                    c.execute(
                        f"INSERT INTO {table} ({', '.join(keys)}) VALUES "
                        f"({', '.join('?' for _ in keys)})", [row[k] for k in keys])
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"tables.{table}[{i}]: {exc}") from exc
            counts[table] = len(rows)
        problems = c.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise StoreError(f"the export is inconsistent: {len(problems)} rows refer to "
                             f"missing rows (first: {problems[0]})")
    return counts
