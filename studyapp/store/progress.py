"""Queries of a learner's lesson progress: position, completion, prior answers, steps done.

Writers expect the caller's `write_transaction`; readers return typed rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class ProgressRow:
    lesson_id: str
    started_at: str | None
    position: int
    completed_at: str | None
    completed_day: date | None


def progress_rows(conn: sqlite3.Connection) -> dict[str, ProgressRow]:
    return {r[0]: ProgressRow(r[0], r[1], r[2] or 0, r[3], date.fromisoformat(r[4]) if r[4]
                              else None)
            for r in conn.execute("SELECT lesson_id, started_at, position, completed_at, "
                                  "completed_day FROM lesson_progress")}


def stored_lessons_in(conn: sqlite3.Connection, folder: Path) -> list[tuple[str, str, str]]:
    """(id, title, file) of the present lessons last synced from files in `folder`, in
    file-name order (the course's order): what home shows before the folder is read."""
    try:
        where = folder.resolve()
    except OSError:
        return []
    rows = conn.execute("SELECT id, title, source_path FROM lessons "
                        "WHERE present=1 AND source_path IS NOT NULL").fetchall()
    return sorted(((r[0], r[1], r[2]) for r in rows if Path(r[2]).parent.resolve() == where),
                  key=lambda r: Path(r[2]).name)


def save_position(conn: sqlite3.Connection, lesson_id: str, position: int, stamp: str) -> None:
    conn.execute(
        "INSERT INTO lesson_progress (lesson_id, started_at, position, updated_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(lesson_id) DO UPDATE SET position=excluded.position, "
        "started_at=coalesce(started_at, excluded.started_at), updated_at=excluded.updated_at",
        (lesson_id, stamp, int(position), stamp))


def mark_completed(conn: sqlite3.Connection, lesson_id: str, day: date, stamp: str) -> None:
    """Completed on `day`; a lesson completed before keeps its first completion."""
    conn.execute(
        "INSERT INTO lesson_progress (lesson_id, started_at, position, completed_at, "
        "completed_day, updated_at) VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT(lesson_id) "
        "DO UPDATE SET started_at=coalesce(started_at, excluded.started_at), "
        "completed_at=coalesce(completed_at, excluded.completed_at), "
        "completed_day=coalesce(completed_day, excluded.completed_day), "
        "updated_at=excluded.updated_at",
        (lesson_id, stamp, stamp, day.isoformat(), stamp))


def save_prior_answer(conn: sqlite3.Connection, lesson_id: str, index: int, text: str,
                      stamp: str) -> None:
    conn.execute("INSERT OR REPLACE INTO prior_answers (lesson_id, idx, text, updated_at) "
                 "VALUES (?, ?, ?, ?)", (lesson_id, int(index), text, stamp))


def prior_answers(conn: sqlite3.Connection, lesson_id: str) -> dict[int, str]:
    return dict(conn.execute(
        "SELECT idx, text FROM prior_answers WHERE lesson_id=? ORDER BY idx", (lesson_id,)))


def set_step_done(conn: sqlite3.Connection, lesson_id: str, index: int, done: bool,
                  stamp: str) -> None:
    if done:
        conn.execute("INSERT OR IGNORE INTO steps_done (lesson_id, idx, done_at) VALUES "
                     "(?, ?, ?)", (lesson_id, int(index), stamp))
    else:
        conn.execute("DELETE FROM steps_done WHERE lesson_id=? AND idx=?",
                     (lesson_id, int(index)))


def steps_done(conn: sqlite3.Connection, lesson_id: str) -> set[int]:
    return {r[0] for r in conn.execute(
        "SELECT idx FROM steps_done WHERE lesson_id=?", (lesson_id,))}
