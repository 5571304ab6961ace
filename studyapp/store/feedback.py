"""Exercises feeding the scheduler: the cards a failed own-code run brought forward, kept
until a passing run counts as their review (table exercise_feedback)."""

from __future__ import annotations

import json
import sqlite3


def pending(conn: sqlite3.Connection, exercise: str) -> list[str] | None:
    """The card ids waiting for a passing run of `exercise`, or None (no failure pending)."""
    row = conn.execute("SELECT cards FROM exercise_feedback WHERE exercise=?",
                       (exercise,)).fetchone()
    return list(json.loads(row[0])) if row else None


def put_pending(conn: sqlite3.Connection, exercise: str, cards: list[str], stamp: str) -> None:
    conn.execute("INSERT OR REPLACE INTO exercise_feedback (exercise, failed_at, cards) "
                 "VALUES (?, ?, ?)", (exercise, stamp, json.dumps(sorted(set(cards)))))


def clear_pending(conn: sqlite3.Connection, exercise: str) -> None:
    conn.execute("DELETE FROM exercise_feedback WHERE exercise=?", (exercise,))


def lesson_known(conn: sqlite3.Connection, lesson_id: str) -> bool:
    return conn.execute("SELECT 1 FROM lessons WHERE id=?", (lesson_id,)).fetchone() is not None
