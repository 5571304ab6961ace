"""Queries of the card browser: list and find cards, suspend, bury, reset.

A card's browser state is one of `new` (never answered), `learning` (FSRS learning or
relearning steps), `review`, `suspended` (kept out of every queue until unsuspended) or
`buried` (kept out until the learner day `buried_until`). Retired cards (gone from their
lesson) are not listed. Writers expect the caller's `write_transaction`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

STATES = ("new", "learning", "review", "suspended", "buried")


@dataclass(frozen=True)
class CardRow:
    id: str
    lesson_id: str
    lesson_title: str
    kind: str  # quiz | concept
    front: str
    back: str | None
    state: str  # one of STATES
    due_day: date | None  # None: new
    reps: int
    lapses: int
    stability: float | None
    buried_until: date | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "lesson": self.lesson_id, "lesson_title": self.lesson_title,
                "kind": self.kind, "front": self.front, "back": self.back, "state": self.state,
                "due": self.due_day.isoformat() if self.due_day else None, "reps": self.reps,
                "lapses": self.lapses, "stability": self.stability,
                "buried_until": self.buried_until.isoformat() if self.buried_until else None}


def _state(suspended: int, buried: bool, fsrs_state: int | None) -> str:
    if suspended:
        return "suspended"
    if buried:
        return "buried"
    if fsrs_state is None:
        return "new"
    return "review" if fsrs_state == 2 else "learning"


def list_cards(conn: sqlite3.Connection, today: date, *, lesson: str | None = None,
               state: str | None = None, search: str | None = None) -> list[CardRow]:
    """Live cards in course order (lesson, quiz before concepts, position), filtered by
    lesson id, browser state and text (case, accents of punctuation and spacing ignored,
    matched in the front and the back)."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}; use one of {', '.join(STATES)}")
    day = today.isoformat()
    sql = ("SELECT c.id, c.lesson_id, l.title, c.kind, c.front, c.back, c.suspended, "
           "c.buried_until, s.state, s.due_day, coalesce(s.reps, 0), coalesce(s.lapses, 0), "
           "s.stability FROM cards c JOIN lessons l ON l.id=c.lesson_id "
           "LEFT JOIN card_state s ON s.card_id=c.id WHERE c.retired=0")
    args: list[Any] = []
    if lesson is not None:
        sql += " AND c.lesson_id=?"
        args.append(lesson)
    sql += " ORDER BY l.source_path, c.lesson_id, c.kind DESC, c.position"
    from studyapp.study.identity import normalise

    needle = normalise(search) if search else ""
    out = []
    for r in conn.execute(sql, args):
        st = _state(r[6], bool(r[7] and r[7] > day), r[8])
        if state is not None and st != state:
            continue
        if needle and needle not in normalise(f"{r[4]} {r[5] or ''} {r[0]}"):
            continue
        out.append(CardRow(r[0], r[1], r[2], r[3], r[4], r[5], st,
                           date.fromisoformat(r[9]) if r[9] else None, r[10], r[11], r[12],
                           date.fromisoformat(r[7]) if r[7] else None))
    return out


def counts_by_state(conn: sqlite3.Connection, today: date) -> dict[str, int]:
    """How many live cards are in each browser state."""
    day = today.isoformat()
    counts = dict.fromkeys(STATES, 0)
    for suspended, buried, fsrs_state, n in conn.execute(
            "SELECT c.suspended, c.buried_until > ?, s.state, count(*) FROM cards c "
            "LEFT JOIN card_state s ON s.card_id=c.id WHERE c.retired=0 "
            "GROUP BY 1, 2, 3", (day,)):
        counts[_state(suspended, bool(buried), fsrs_state)] += n
    return counts


def counts_by_kind(conn: sqlite3.Connection) -> dict[str, int]:
    """How many live cards there are of each kind (quiz, concept, code), those first."""
    counts = {"quiz": 0, "concept": 0, "code": 0}
    for kind, n in conn.execute(
            "SELECT kind, count(*) FROM cards WHERE retired=0 GROUP BY kind"):
        counts[kind] = n
    return counts


def set_suspended(conn: sqlite3.Connection, card_id: str, suspended: bool) -> None:
    conn.execute("UPDATE cards SET suspended=? WHERE id=?", (int(suspended), card_id))


def set_buried_until(conn: sqlite3.Connection, card_id: str, day: date | None) -> None:
    conn.execute("UPDATE cards SET buried_until=? WHERE id=?",
                 (day.isoformat() if day else None, card_id))


def card_flags(conn: sqlite3.Connection, card_id: str) -> tuple[bool, date | None] | None:
    """(suspended, buried until) of a card; None when there is no such card."""
    row = conn.execute("SELECT suspended, buried_until FROM cards WHERE id=?",
                       (card_id,)).fetchone()
    if row is None:
        return None
    return bool(row[0]), date.fromisoformat(row[1]) if row[1] else None


def lesson_card_ids(conn: sqlite3.Connection, lesson_id: str, kinds: tuple[str, ...],
                    keys: tuple[str, ...] = ()) -> list[str]:
    """Live cards of a lesson of these kinds (only these keys, when given), course order."""
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"SELECT id, key FROM cards WHERE lesson_id=? AND kind IN ({marks}) AND retired=0 "
        "ORDER BY kind DESC, position", (lesson_id, *kinds)).fetchall()
    return [r[0] for r in rows if not keys or r[1] in keys]


def bring_forward(conn: sqlite3.Connection, card_ids: list[str], day: date,
                  due: str) -> list[str]:
    """Scheduled cards due after `day` become due on `day` (at `due`, UTC text); new and
    already-due cards are left as they are. Returns the ids that moved."""
    moved = []
    for card_id in card_ids:
        cur = conn.execute("UPDATE card_state SET due_day=?, due=min(due, ?) "
                           "WHERE card_id=? AND due_day>?",
                           (day.isoformat(), due, card_id, day.isoformat()))
        if cur.rowcount:
            moved.append(card_id)
    return moved


def add_code_card(conn: sqlite3.Connection, card_id: str, lesson_id: str, key: str,
                  front: str, back: str | None, stamp: str, state: dict[str, Any]) -> bool:
    """A `code` card (a function of an exercise; the lesson sync leaves these alone),
    scheduled with `state` (a CardState dict) unless it exists. True when it was added."""
    from studyapp.study.identity import normalise

    cur = conn.execute(
        "INSERT OR IGNORE INTO cards (id, lesson_id, kind, key, front, back, norm, position, "
        "retired, scheduled, created_at, updated_at) VALUES (?, ?, 'code', ?, ?, ?, ?, 0, 0, "
        "1, ?, ?)", (card_id, lesson_id, key, front, back, normalise(front), stamp, stamp))
    if not cur.rowcount:
        return False
    conn.execute("INSERT OR IGNORE INTO card_aliases (alias, card_id) VALUES (?, ?)",
                 (card_id, card_id))
    cols = ("due", "due_day", "state", "step", "stability", "difficulty", "last_review",
            "reps", "lapses", "first_review_day")
    conn.execute(f"INSERT OR IGNORE INTO card_state (card_id, {', '.join(cols)}) VALUES "
                 f"(?, {', '.join('?' * len(cols))})", (card_id, *(state[c] for c in cols)))
    return True
