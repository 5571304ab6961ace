"""The learner's graded typed answers, for calibrating suggested grades."""

from __future__ import annotations

import sqlite3

from studyapp.study.suggest import GradedAnswer

RECENT = 500
"""At most this many of the latest graded typed answers are used."""


def graded_typed_answers(conn: sqlite3.Connection, limit: int = RECENT) -> list[GradedAnswer]:
    """The latest grades of cards answered with typed text and having a reference answer,
    newest first (an undone grade has no log row, so it never counts)."""
    rows = conn.execute(
        "SELECT c.front, c.back, r.answer, r.rating FROM review_log r JOIN cards c ON c.id = r.item_id "
        "WHERE r.item_kind = 'card' AND trim(coalesce(r.answer, '')) <> '' "
        "AND trim(coalesce(c.back, '')) <> '' AND r.rating BETWEEN 1 AND 4 AND c.kind <> 'code' "
        "ORDER BY r.id DESC LIMIT ?", (int(limit),)).fetchall()
    return [GradedAnswer(str(front), str(back), str(answer), int(rating))
            for front, back, answer, rating in rows]
