"""Syncing the course into the database: lessons and their cards.

- A lesson whose content hash is unchanged is skipped (opening a 50-lesson course costs one
  query when nothing changed).
- A new card is added; a card found again (by id, or by an alias it was known under) is
  updated in place; a new card that matches no stored card is paired by similarity with a
  stored card of the same lesson and kind that left the lesson (see `study.identity`): that
  card takes the new text and keeps its id and history, and the new id becomes an alias.
- A card that left its lesson is retired (retired=1), never deleted; a lesson whose file is
  gone is marked absent (present=0) and its cards retired. They come back, history intact,
  if the text returns.
- A lesson that moved to another file keeps its id (front matter id or file name); its
  source path is updated.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from studyapp.course.model import Lesson, ParseResult
from studyapp.store.db import write_transaction
from studyapp.study.day import utc_text
from studyapp.study.identity import CardSpec, OldCard, lesson_cards, match_edits
from studyapp.study.plan import plan_steps

SYNC_VERSION = 1  # bump when what sync derives from a lesson changes


@dataclass
class SyncReport:
    lessons_added: list[str] = field(default_factory=list)
    lessons_updated: list[str] = field(default_factory=list)
    lessons_unchanged: int = 0
    lessons_absent: list[str] = field(default_factory=list)
    cards_added: list[str] = field(default_factory=list)
    cards_matched: list[tuple[str, str]] = field(default_factory=list)  # (new id, card id)
    cards_retired: list[str] = field(default_factory=list)
    cards_revived: list[str] = field(default_factory=list)


def lesson_hash(lesson: Lesson) -> str:
    return hashlib.sha1(repr((SYNC_VERSION, lesson)).encode("utf-8")).hexdigest()


def sync_course(conn: sqlite3.Connection, results: Sequence[ParseResult], now: datetime) -> SyncReport:
    """Bring the lessons/cards tables in line with the parsed course; one transaction."""
    report = SyncReport()
    stored = {
        row[0]: (row[1], row[2], row[3])
        for row in conn.execute("SELECT id, content_hash, source_path, present FROM lessons")
    }
    lessons = [r.lesson for r in results if r.lesson is not None]
    broken_paths = {r.path for r in results if r.lesson is None}
    todo: list[tuple[Lesson, str]] = []
    for lesson in lessons:
        h = lesson_hash(lesson)
        old = stored.get(lesson.id)
        if old is not None and old[0] == h and old[2] == 1:
            report.lessons_unchanged += 1
            continue
        todo.append((lesson, h))
    seen = {lesson.id for lesson in lessons}
    gone = [
        lid for lid, (_h, path, present) in stored.items()
        if lid not in seen and present == 1 and path not in broken_paths
    ]
    if not todo and not gone:
        return report
    stamp = utc_text(now)
    with write_transaction(conn):
        for lesson, h in todo:
            if lesson.id in stored:
                conn.execute(
                    "UPDATE lessons SET title=?, source_path=?, content_hash=?, present=1, "
                    "synced_at=? WHERE id=?",
                    (lesson.title, lesson.source, h, stamp, lesson.id),
                )
                report.lessons_updated.append(lesson.id)
            else:
                conn.execute(
                    "INSERT INTO lessons (id, title, source_path, content_hash, present, "
                    "first_seen_at, synced_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                    (lesson.id, lesson.title, lesson.source, h, stamp, stamp),
                )
                report.lessons_added.append(lesson.id)
            sync_cards(conn, lesson.id, lesson_cards(lesson), stamp, report)
            _sync_plan_prompts(conn, lesson)
        for lid in gone:
            conn.execute("UPDATE lessons SET present=0, synced_at=? WHERE id=?", (stamp, lid))
            report.lessons_absent.append(lid)
            # code cards belong to the lesson's exercise, not its text: they stay
            retired = [r[0] for r in conn.execute(
                "SELECT id FROM cards WHERE lesson_id=? AND retired=0 AND kind<>'code'",
                (lid,))]
            conn.execute("UPDATE cards SET retired=1, updated_at=? WHERE lesson_id=? AND "
                         "retired=0 AND kind<>'code'", (stamp, lid))
            report.cards_retired.extend(retired)
    return report


def sync_cards(
    conn: sqlite3.Connection, lesson_id: str, specs: list[CardSpec], stamp: str,
    report: SyncReport,
) -> None:
    """Match a lesson's card specs to its stored cards; see the module docstring."""
    rows = conn.execute(
        "SELECT id, kind, key, front, back, position, retired FROM cards WHERE lesson_id=? "
        "AND kind<>'code'",  # code cards come from the lesson's exercise, not its text
        (lesson_id,),
    ).fetchall()
    stored = {r[0]: r for r in rows}
    aliases = dict(conn.execute(
        "SELECT a.alias, a.card_id FROM card_aliases a JOIN cards c ON c.id = a.card_id "
        "WHERE c.lesson_id=? AND c.kind<>'code'", (lesson_id,)))
    claimed: dict[str, CardSpec] = {}
    unmatched: list[CardSpec] = []
    for spec in specs:
        target = spec.id if spec.id in stored else aliases.get(spec.id)
        if target is not None and target in stored and target not in claimed:
            claimed[target] = spec
        else:
            unmatched.append(spec)
    vanished = [
        OldCard(r[0], lesson_id, r[1], r[3], r[4], bool(r[6]))
        for cid, r in stored.items() if cid not in claimed
    ]
    for spec, old, _ratio in match_edits(vanished, unmatched):
        claimed[old.id] = spec
        conn.execute("INSERT OR REPLACE INTO card_aliases (alias, card_id) VALUES (?, ?)",
                     (spec.id, old.id))
        report.cards_matched.append((spec.id, old.id))
    matched_specs = {id(s) for s in claimed.values()}
    for cid, spec in claimed.items():
        r = stored[cid]
        if (r[2], r[3], r[4], r[5], r[6]) != (spec.key, spec.front, spec.back, spec.position, 0):
            if r[6]:
                report.cards_revived.append(cid)
            conn.execute(
                "UPDATE cards SET key=?, front=?, back=?, norm=?, position=?, retired=0, "
                "updated_at=? WHERE id=?",
                (spec.key, spec.front, spec.back, spec.norm, spec.position, stamp, cid),
            )
    for spec in specs:
        if id(spec) in matched_specs:
            continue
        new_id, n = spec.id, 1
        while new_id in stored or conn.execute(
                "SELECT 1 FROM cards WHERE id=?", (new_id,)).fetchone():
            n += 1
            new_id = f"{spec.id}~{n}"
        conn.execute(
            "INSERT INTO cards (id, lesson_id, kind, key, front, back, norm, position, retired, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (new_id, lesson_id, spec.kind, spec.key, spec.front, spec.back, spec.norm,
             spec.position, stamp, stamp),
        )
        conn.execute("INSERT OR REPLACE INTO card_aliases (alias, card_id) VALUES (?, ?)",
                     (spec.id, new_id))
        if new_id != spec.id:
            conn.execute("INSERT OR REPLACE INTO card_aliases (alias, card_id) VALUES (?, ?)",
                         (new_id, new_id))
        report.cards_added.append(new_id)
    for cid, r in stored.items():
        if cid not in claimed and not r[6]:
            conn.execute("UPDATE cards SET retired=1, updated_at=? WHERE id=?", (stamp, cid))
            report.cards_retired.append(cid)


def _sync_plan_prompts(conn: sqlite3.Connection, lesson: Lesson) -> None:
    """Plan steps not yet reviewed take the lesson's current prompt wording."""
    for step in plan_steps(lesson):
        conn.execute(
            "UPDATE plan_reviews SET prompt=? WHERE lesson_id=? AND step=? AND done=0 "
            "AND prompt<>?",
            (step.prompt, lesson.id, step.step, step.prompt),
        )


def resolve_card_id(conn: sqlite3.Connection, item_id: str) -> str | None:
    """The stored card an id (its own or an alias) refers to."""
    row = conn.execute("SELECT card_id FROM card_aliases WHERE alias=?", (item_id,)).fetchone()
    if row:
        return row[0]
    row = conn.execute("SELECT id FROM cards WHERE id=?", (item_id,)).fetchone()
    return row[0] if row else None


def stored_cards(conn: sqlite3.Connection, lesson_id: str) -> tuple[list[OldCard], dict[str, str]]:
    """A lesson's stored cards and aliases, for `study.identity.edits_that_reset`."""
    cards = [
        OldCard(r[0], lesson_id, r[1], r[2], r[3], bool(r[4]))
        for r in conn.execute(
            "SELECT id, kind, front, back, retired FROM cards WHERE lesson_id=? "
            "AND kind<>'code'", (lesson_id,))
    ]
    aliases = dict(conn.execute(
        "SELECT a.alias, a.card_id FROM card_aliases a JOIN cards c ON c.id=a.card_id "
        "WHERE c.lesson_id=? AND c.kind<>'code'", (lesson_id,)))
    return cards, aliases


def put_card_state(conn: sqlite3.Connection, card_id: str, s: dict) -> None:
    """Write a card's scheduling state (a dict as kept in the review log)."""
    conn.execute(
        "INSERT OR REPLACE INTO card_state (card_id, due, due_day, state, step, stability, "
        "difficulty, last_review, reps, lapses, first_review_day) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (card_id, s["due"], s.get("due_day") or s["due"][:10], s["state"], s.get("step"),
         s.get("stability"), s.get("difficulty"), s.get("last_review"), s.get("reps", 0),
         s.get("lapses", 0), s.get("first_review_day")),
    )


def reset_warnings(conn: sqlite3.Connection, lessons: Sequence[Lesson]) -> list:
    """For `studyapp lint --db`: the stored cards these (edited) lessons would leave behind.

    Returns `study.identity.ResetWarning`s (lesson_id, old card, closest new card, ratio,
    line of the new card; `.message()` for the text). Nothing is written.
    """
    from studyapp.study.identity import edits_that_reset

    out = []
    for lesson in lessons:
        cards, aliases = stored_cards(conn, lesson.id)
        if cards:
            out.extend(edits_that_reset(cards, lesson_cards(lesson), aliases))
    return out


def stored_lessons(conn: sqlite3.Connection) -> list:
    """Every stored lesson with its file and card keys (`study.identity.StoredLesson`)."""
    from studyapp.study.identity import StoredLesson

    keys: dict[str, set[str]] = {}
    for lesson_id, kind, key in conn.execute("SELECT lesson_id, kind, key FROM cards"):
        keys.setdefault(lesson_id, set()).add(f"{kind}:{key}")
    return [StoredLesson(r[0], r[1], frozenset(keys.get(r[0], ())))
            for r in conn.execute("SELECT id, source_path FROM lessons")]
