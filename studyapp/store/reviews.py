"""Queries of the study loop: plan reviews, card schedules, the review log, the queue's rows.

Every function takes the connection and returns typed rows (frozen dataclasses, dates as
`date`); writers expect to run inside the caller's `write_transaction`. Nothing here
schedules: `study/` decides, this module reads and writes what was decided.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from studyapp.study.srs import CardState


def change_counter(conn: sqlite3.Connection) -> tuple[int, int]:
    """(rows this connection changed, `PRAGMA data_version`): both move when anything is
    written, by this connection or by another process, so a result computed under the
    same pair is still true."""
    return conn.total_changes, int(conn.execute("PRAGMA data_version").fetchone()[0])


# -- plan reviews ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    id: str
    lesson_id: str
    step: int
    days: int
    due_day: date
    prompt: str
    done: bool
    done_at: str | None = None
    rating: int | None = None


_PLAN_COLS = "id, lesson_id, step, days, due_day, prompt, done, done_at, rating"


def _plan(r: tuple[Any, ...]) -> PlanRow:
    return PlanRow(r[0], r[1], r[2], r[3], date.fromisoformat(r[4]), r[5], bool(r[6]), r[7], r[8])


def plan_rows(conn: sqlite3.Connection, lesson_id: str) -> list[PlanRow]:
    return [_plan(r) for r in conn.execute(
        f"SELECT {_PLAN_COLS} FROM plan_reviews WHERE lesson_id=? ORDER BY step", (lesson_id,))]


def plan_row(conn: sqlite3.Connection, item_id: str) -> PlanRow | None:
    r = conn.execute(f"SELECT {_PLAN_COLS} FROM plan_reviews WHERE id=?", (item_id,)).fetchone()
    return _plan(r) if r else None


def has_plan(conn: sqlite3.Connection, lesson_id: str) -> bool:
    return conn.execute("SELECT 1 FROM plan_reviews WHERE lesson_id=? LIMIT 1",
                        (lesson_id,)).fetchone() is not None


def insert_plan(conn: sqlite3.Connection, rows: Iterable[PlanRow], stamp: str) -> None:
    conn.executemany(
        "INSERT INTO plan_reviews (id, lesson_id, step, days, due_day, prompt, done, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.id, r.lesson_id, r.step, r.days, r.due_day.isoformat(), r.prompt, int(r.done), stamp)
         for r in rows])


def put_plan(conn: sqlite3.Connection, row: PlanRow) -> None:
    """Write a plan row's review fields (done, done_at, rating, due_day)."""
    conn.execute("UPDATE plan_reviews SET done=?, done_at=?, rating=?, due_day=? WHERE id=?",
                 (int(row.done), row.done_at, row.rating, row.due_day.isoformat(), row.id))


def next_plan_days(conn: sqlite3.Connection) -> dict[str, date]:
    """lesson id -> the first due day of its plan steps not yet done."""
    return {lid: date.fromisoformat(d) for lid, d in conn.execute(
        "SELECT lesson_id, min(due_day) FROM plan_reviews WHERE done=0 GROUP BY lesson_id")}


# -- card schedules ------------------------------------------------------------------------------

_STATE_COLS = ("due, due_day, state, step, stability, difficulty, last_review, reps, lapses, "
               "first_review_day")
_STATE_KEYS = tuple(k.strip() for k in _STATE_COLS.split(","))


def card_state(conn: sqlite3.Connection, card_id: str) -> CardState | None:
    row = conn.execute(f"SELECT {_STATE_COLS} FROM card_state WHERE card_id=?",
                       (card_id,)).fetchone()
    return CardState.from_dict(dict(zip(_STATE_KEYS, row))) if row else None


def graded_card(conn: sqlite3.Connection, item_id: str) -> tuple[str, CardState | None] | None:
    """(the stored card an id refers to, its state: None for a new card), in one query
    (`resolve_card` + `card_state`, the lookups of a grade); None for an unknown id."""
    row = conn.execute(
        f"SELECT a.card_id, {', '.join('s.' + k for k in _STATE_KEYS)} FROM card_aliases a "
        "LEFT JOIN card_state s ON s.card_id = a.card_id WHERE a.alias=?", (item_id,)).fetchone()
    if row is None:
        card_id = resolve_card(conn, item_id)
        return None if card_id is None else (card_id, card_state(conn, card_id))
    if row[1] is None:  # due is NOT NULL: no state row
        return row[0], None
    return row[0], CardState.from_dict(dict(zip(_STATE_KEYS, row[1:])))


def put_card_state(conn: sqlite3.Connection, card_id: str, s: CardState) -> None:
    """Insert or update a card's state; an update is made in place (the row keeps its
    rowid, so a grade writes the row's page and the due index, not a delete and an insert)."""
    d = s.to_dict()
    conn.execute(
        f"INSERT INTO card_state (card_id, {_STATE_COLS}) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (card_id) DO UPDATE SET "
        + ", ".join(f"{k}=excluded.{k}" for k in _STATE_KEYS),
        (card_id, *(d[k] for k in _STATE_KEYS)))


def set_scheduled(conn: sqlite3.Connection, card_id: str, scheduled: bool) -> None:
    conn.execute("UPDATE cards SET scheduled=? WHERE id=?", (int(scheduled), card_id))


def drop_card_state(conn: sqlite3.Connection, card_id: str) -> None:
    conn.execute("DELETE FROM card_state WHERE card_id=?", (card_id,))
    set_scheduled(conn, card_id, False)


def resolve_card(conn: sqlite3.Connection, item_id: str) -> str | None:
    """The stored card an id (its own or an alias) refers to."""
    row = conn.execute("SELECT card_id FROM card_aliases WHERE alias=?", (item_id,)).fetchone()
    if row:
        return row[0]
    row = conn.execute("SELECT id FROM cards WHERE id=?", (item_id,)).fetchone()
    return row[0] if row else None


# -- the review log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRow:
    id: int
    time: str  # UTC ISO
    day: date
    item_id: str
    item_kind: str  # card | plan
    rating: int
    seconds: float | None
    answer: str | None
    source: str
    prev_state: int | None
    state_before: dict[str, Any] | None
    state_after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "day": self.day.isoformat(),
                "item_id": self.item_id, "item_kind": self.item_kind, "rating": self.rating,
                "seconds": self.seconds, "answer": self.answer, "source": self.source,
                "prev_state": self.prev_state, "state_before": self.state_before,
                "state_after": self.state_after}


_LOG_COLS = ("id, time, day, item_id, item_kind, rating, seconds, answer, source, prev_state, "
             "state_before, state_after")


def _log(r: tuple[Any, ...]) -> LogRow:
    return LogRow(r[0], r[1], date.fromisoformat(r[2]), r[3], r[4], r[5], r[6], r[7], r[8],
                  r[9], json.loads(r[10]) if r[10] else None, json.loads(r[11]) if r[11] else None)


def add_log(conn: sqlite3.Connection, *, stamp: str, day: date, item_id: str, kind: str,
            rating: int, seconds: float | None, answer: str | None, source: str,
            prev_state: int | None, before: dict[str, Any] | None,
            after: dict[str, Any] | None) -> None:
    """One row of the append-only log; rating 0 with source "reset" records a reset."""
    conn.execute(
        f"INSERT INTO review_log ({_LOG_COLS.split(', ', 1)[1]}) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (stamp, day.isoformat(), item_id, kind, rating, seconds, answer, source, prev_state,
         json.dumps(before, ensure_ascii=False) if before is not None else None,
         json.dumps(after, ensure_ascii=False) if after is not None else None))


def last_log(conn: sqlite3.Connection) -> LogRow | None:
    r = conn.execute(f"SELECT {_LOG_COLS} FROM review_log ORDER BY id DESC LIMIT 1").fetchone()
    return _log(r) if r else None


def delete_log(conn: sqlite3.Connection, log_id: int) -> None:
    conn.execute("DELETE FROM review_log WHERE id=?", (log_id,))


def item_log(conn: sqlite3.Connection, item_id: str) -> list[LogRow]:
    """The log rows of one item, oldest first."""
    return [_log(r) for r in conn.execute(
        f"SELECT {_LOG_COLS} FROM review_log WHERE item_id=? ORDER BY id", (item_id,))]


def done_today(conn: sqlite3.Connection, day: date) -> tuple[int, int]:
    """(new cards introduced, card reviews) on `day` in review sessions (lesson quiz excluded)."""
    row = conn.execute(
        "SELECT coalesce(sum(state_before IS NULL), 0), "
        "coalesce(sum(state_before IS NOT NULL), 0) FROM review_log "
        "WHERE day=? AND item_kind='card' AND source NOT IN ('quiz', 'reset')",
        (day.isoformat(),)).fetchone()
    return int(row[0]), int(row[1])


# -- the queue's rows ------------------------------------------------------------------------------


class QueueRow(NamedTuple):
    """A plan step or card that may go into today's queue (`study.queue` decides).

    A named tuple rather than a dataclass: the queue reads hundreds of them per build."""

    id: str
    kind: str  # plan | card
    lesson_id: str
    prompt: str
    answer: str | None
    card_kind: str | None  # quiz | concept | None for plan steps
    due_day: date


_day = lru_cache(maxsize=1024)(date.fromisoformat)  # due days repeat across rows


def lesson_titles(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT id, title FROM lessons"))


def due_plan_rows(conn: sqlite3.Connection, today: date) -> list[QueueRow]:
    return [QueueRow(r[0], "plan", r[1], r[2], None, None, _day(r[3]))
            for r in conn.execute(
                "SELECT p.id, p.lesson_id, p.prompt, p.due_day FROM plan_reviews p "
                "JOIN lessons l ON l.id = p.lesson_id WHERE p.done=0 AND p.due_day<=? "
                "AND l.present=1 ORDER BY p.due_day, p.lesson_id, p.step", (today.isoformat(),))]


_VISIBLE = "c.retired=0 AND c.suspended=0 AND (c.buried_until IS NULL OR c.buried_until<=?)"


def due_card_keys(conn: sqlite3.Connection, today: date, limit: int) -> list[tuple[str, date]]:
    """(card id, due day) of the scheduled cards due by `today`, most overdue first, at
    most `limit`; retired, suspended and buried (past today) cards left out.

    Read from card_state's covering index alone: the few hidden cards (the partial index
    cards_flagged) are found first and skipped, so no card row is read; the queue takes
    the texts it lacks from `card_texts`."""
    if limit <= 0:
        return []
    day = today.isoformat()
    hidden = {r[0] for r in conn.execute(
        "SELECT c.id FROM cards c INDEXED BY cards_flagged JOIN card_state s ON s.card_id=c.id "
        "WHERE (c.retired = 1 OR c.suspended = 1 OR c.buried_until IS NOT NULL) AND "
        "(c.retired = 1 OR c.suspended = 1 OR c.buried_until > ?) AND s.due_day <= ?",
        (day, day))}
    rows = conn.execute("SELECT card_id, due_day FROM card_state WHERE due_day <= ? "
                        "ORDER BY due_day, due, card_id LIMIT ?", (day, limit + len(hidden)))
    if not hidden:
        return [(r[0], _day(r[1])) for r in rows]
    return [(r[0], _day(r[1])) for r in rows if r[0] not in hidden][:limit]


class CardText(NamedTuple):
    lesson_id: str
    kind: str  # quiz | concept | code
    front: str
    back: str | None


def card_texts(conn: sqlite3.Connection, card_ids: Iterable[str]) -> dict[str, CardText]:
    """card id -> its lesson, kind and text, for the ids given (a query per 500 ids)."""
    ids = list(card_ids)
    out: dict[str, CardText] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update((r[0], CardText(r[1], r[2], r[3], r[4])) for r in conn.execute(
            "SELECT id, lesson_id, kind, front, back FROM cards "
            f"WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return out


def new_card_rows(conn: sqlite3.Connection, today: date, limit: int) -> list[QueueRow]:
    """New cards of completed lessons (completion order, then course order), up to `limit`.

    The lessons that still have new cards are found in one query through the partial index
    of new cards (one probe per such lesson); then lesson by lesson, so the cost does not
    grow with scheduled cards.
    """
    if limit <= 0:
        return []
    day = today.isoformat()
    lessons = [r[0] for r in conn.execute(
        # the lessons with new cards, one probe of cards_new each (a skip scan), then those
        # completed and present, in completion order
        "WITH RECURSIVE n(lid) AS (SELECT (SELECT min(lesson_id) FROM cards "
        "WHERE scheduled=0 AND retired=0) UNION ALL SELECT (SELECT min(lesson_id) FROM cards "
        "WHERE scheduled=0 AND retired=0 AND lesson_id > n.lid) FROM n WHERE n.lid IS NOT NULL) "
        "SELECT p.lesson_id FROM n JOIN lesson_progress p ON p.lesson_id=n.lid "
        "JOIN lessons l ON l.id=p.lesson_id WHERE p.completed_at IS NOT NULL AND l.present=1 "
        "ORDER BY p.completed_at, p.lesson_id")]
    out: list[QueueRow] = []
    for lesson_id in lessons:
        if len(out) >= limit:
            break
        out.extend(QueueRow(r[0], "card", lesson_id, r[1], r[2], r[3], today) for r in conn.execute(
            "SELECT c.id, c.front, c.back, c.kind FROM cards c "
            f"WHERE c.lesson_id=? AND c.scheduled=0 AND {_VISIBLE} "
            "ORDER BY c.kind DESC, c.position LIMIT ?", (lesson_id, day, limit - len(out))))
    return out


def first_due_days(conn: sqlite3.Connection) -> tuple[date | None, date | None, bool]:
    """(first due day of a plan step not done, first due day of a visible card, whether a
    completed lesson still has new cards). A buried card counts from its return day."""
    plan = conn.execute(
        "SELECT min(p.due_day) FROM plan_reviews p JOIN lessons l ON l.id=p.lesson_id "
        "WHERE p.done=0 AND l.present=1").fetchone()[0]
    # in due order through the index, stopping at the first card that is not flagged
    first = conn.execute(
        "SELECT s.due_day FROM card_state s CROSS JOIN cards c ON c.id=s.card_id WHERE "
        "c.retired=0 AND c.suspended=0 AND c.buried_until IS NULL ORDER BY s.due_day "
        "LIMIT 1").fetchone()
    buried = conn.execute(
        "SELECT min(max(s.due_day, c.buried_until)) FROM cards c INDEXED BY cards_flagged "
        "JOIN card_state s ON s.card_id=c.id WHERE (c.retired = 1 OR c.suspended = 1 OR "
        "c.buried_until IS NOT NULL) AND c.retired=0 AND c.suspended=0").fetchone()[0]
    days = [d for d in ((first[0] if first else None), buried) if d]
    new = conn.execute(
        "SELECT 1 FROM lesson_progress p JOIN cards c ON c.lesson_id=p.lesson_id "
        "AND c.scheduled=0 AND c.retired=0 AND c.suspended=0 WHERE p.completed_at IS NOT NULL "
        "LIMIT 1").fetchone() is not None
    return (date.fromisoformat(plan) if plan else None,
            date.fromisoformat(min(days)) if days else None, new)


# -- what the statistics count --------------------------------------------------------------------


def plan_due_counts(conn: sqlite3.Connection) -> dict[date, int]:
    return {date.fromisoformat(d): n for d, n in conn.execute(
        "SELECT p.due_day, count(*) FROM plan_reviews p JOIN lessons l ON l.id=p.lesson_id "
        "WHERE p.done=0 AND l.present=1 GROUP BY p.due_day")}


def card_due_counts(conn: sqlite3.Connection, before: date) -> dict[date, int]:
    """Scheduled cards by due day for days before `before`, retired and suspended left out:
    all of them through card_state's covering index, less the few flagged ones."""
    day = before.isoformat()
    counts = {d: n for d, n in conn.execute(
        "SELECT due_day, count(*) FROM card_state WHERE due_day < ? GROUP BY due_day", (day,))}
    for d, n in conn.execute(
            "SELECT s.due_day, count(*) FROM cards c INDEXED BY cards_flagged "
            "JOIN card_state s ON s.card_id=c.id WHERE (c.retired = 1 OR c.suspended = 1 OR "
            "c.buried_until IS NOT NULL) AND (c.retired = 1 OR c.suspended = 1) "
            "AND s.due_day < ? GROUP BY s.due_day", (day,)):
        counts[d] -= n
    return {date.fromisoformat(d): n for d, n in counts.items() if n}


def review_count(conn: sqlite3.Connection) -> int:
    """Answers in the log (resets, rating 0, are not answers)."""
    total = conn.execute("SELECT count(*) FROM review_log").fetchone()[0]
    resets = conn.execute("SELECT count(*) FROM review_log WHERE prev_state IS NULL AND "
                          "item_kind='card' AND rating=0").fetchone()[0]  # an index range
    return int(total - resets)


def review_retention(conn: sqlite3.Connection) -> tuple[int, int]:
    """(answers to cards in the Review state, of which passed) over the whole log.

    Most of a grown log is such answers, so they are counted as the whole log (a count of
    the index pages, not a walk of a million entries) less the rows outside that state,
    and the passed as those less the failed (rating below 2): each a range of
    review_log_retention, short in a learner's log. One statement, one snapshot."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM review_log), "
        "(SELECT count(*) FROM review_log WHERE prev_state IS NULL), "
        "(SELECT count(*) FROM review_log WHERE prev_state < 2), "
        "(SELECT count(*) FROM review_log WHERE prev_state > 2), "
        "(SELECT count(*) FROM review_log WHERE prev_state = 2 AND item_kind < 'card'), "
        "(SELECT count(*) FROM review_log WHERE prev_state = 2 AND item_kind > 'card'), "
        "(SELECT count(*) FROM review_log WHERE prev_state = 2 AND item_kind = 'card' "
        "AND rating < 2)").fetchone()
    answered = row[0] - sum(row[1:6])
    return int(answered), int(answered - row[6])


def answered_on(conn: sqlite3.Connection, day: date) -> bool:
    """Whether the learner answered anything on `day` (one probe of the day index)."""
    return conn.execute("SELECT 1 FROM review_log WHERE day=? LIMIT 1",
                        (day.isoformat(),)).fetchone() is not None


def reviews_per_day(conn: sqlite3.Connection, since: date) -> dict[date, int]:
    return {date.fromisoformat(d): n for d, n in conn.execute(
        "SELECT day, count(*) FROM review_log WHERE day >= ? GROUP BY day",
        (since.isoformat(),))}


def retention_per_day(conn: sqlite3.Connection, since: date) -> dict[date, tuple[int, int]]:
    """day -> (answers to Review-state cards, passed) from `since` on."""
    return {date.fromisoformat(d): (n, p) for d, n, p in conn.execute(
        "SELECT day, count(*), coalesce(sum(rating > 1), 0) FROM review_log "
        "WHERE day >= ? AND item_kind='card' AND prev_state = 2 GROUP BY day",
        (since.isoformat(),))}


def card_log_for_fsrs(conn: sqlite3.Connection) -> list[tuple[str, str, int, float | None]]:
    """(card id, UTC time, rating, seconds) of every card answer, oldest first."""
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(
        "SELECT item_id, time, rating, seconds FROM review_log WHERE item_kind='card' "
        "ORDER BY id")]  # resets (rating 0) included: the caller starts a new history there
