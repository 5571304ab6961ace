"""The study application functions over one database and one lessons folder.

Consumed by the CLI and the TUI; no textual, no torch. Every write is one
`BEGIN IMMEDIATE` transaction committed before the method returns, so a crash loses
nothing that a method reported done, and two processes sharing the file lose nothing.
Time comes from `settings.now()` (UTC); the learner's day from the `day_start_hour` and
`timezone` settings stored in the database.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Self, TypeVar

import sqlite_utils

from studyapp.config import Settings
from studyapp.course.model import Diagnostic, Lesson, ParseResult, SectionKind
from studyapp.store.db import open_database, write_transaction
from studyapp.store.settings import StudySettings, load_settings, set_setting
from studyapp.store.sync import SyncReport, put_card_state, resolve_card_id, sync_course
from studyapp.study import srs
from studyapp.study.day import learner_day, resolve_timezone, utc_text
from studyapp.study.identity import normalise, quiz_card_natural_id
from studyapp.study.plan import plan_id, plan_steps
from studyapp.study.queue import Limits, rooms

RATING_NAMES = srs.RATINGS


@dataclass(frozen=True)
class LessonEntry:
    id: str
    title: str
    path: str
    lesson: Lesson | None
    diagnostics: tuple[Diagnostic, ...]
    state: str  # new | in_progress | done | broken
    position: int
    next_review: date | None


@dataclass(frozen=True)
class PlanReview:
    id: str
    lesson_id: str
    step: int
    days: int
    due: date
    prompt: str
    done: bool


@dataclass(frozen=True)
class DueItem:
    id: str
    kind: str  # plan | card
    lesson_id: str
    lesson_title: str
    prompt: str
    answer: str | None
    context: str | None
    due: date
    card_kind: str | None  # quiz | concept | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "lesson": self.lesson_id,
            "lesson_title": self.lesson_title, "prompt": self.prompt, "answer": self.answer,
            "context": self.context, "due": self.due.isoformat(), "card_kind": self.card_kind,
        }


@dataclass(frozen=True)
class GradeResult:
    item_id: str
    rating: int
    next_due: date | None


@dataclass(frozen=True)
class Stats:
    due_today: int
    forecast: list[tuple[date, int]]
    reviews_done: int
    retention: float | None
    streak: int
    lessons: list[LessonEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "due_today": self.due_today,
            "forecast": [[d.isoformat(), n] for d, n in self.forecast],
            "reviews_done": self.reviews_done,
            "retention": self.retention,
            "streak": self.streak,
            "lessons": [
                {"id": e.id, "title": e.title, "path": e.path, "state": e.state,
                 "position": e.position,
                 "next_review": e.next_review.isoformat() if e.next_review else None}
                for e in self.lessons
            ],
        }


def _course_fingerprint(folder: Path) -> str | None:
    """Names, sizes and mtimes of the lesson files plus the parser's own source."""
    from studyapp.course import loader

    parts = [str(folder.resolve())]
    try:
        for path in loader.lesson_files(folder):
            st = path.stat()
            parts.append(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}")
        for code in sorted(Path(loader.__file__).parent.glob("*.py")):
            parts.append(hashlib.sha1(code.read_bytes()).hexdigest())
    except OSError:
        return None
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()


def load_course(folder: Path) -> list[ParseResult]:
    """`course.loader.load_lessons(folder)`, cached while no lesson file and no parser file
    changed (the cache lives in the user's cache directory; any problem with it means a
    plain parse). Opening a 50-lesson course then costs milliseconds instead of a parse."""
    from studyapp.config import cache_dir
    from studyapp.course.loader import load_lessons

    key = _course_fingerprint(folder)
    if key is None:
        return load_lessons(folder)
    cache = cache_dir() / "parsed-course" / f"{key}.pickle"
    cached = _read_cache(cache)
    if cached is not None:
        return cached
    results = load_lessons(folder)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("*.pickle"):
            old.unlink(missing_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(results, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache)
    except OSError:
        pass
    return results


def _read_cache(path: Path) -> list[ParseResult] | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable cache means: parse again
        return None
    return cached if isinstance(cached, list) else None


_SKIP_SECTIONS = (SectionKind.QUIZ, SectionKind.REVIEW_PLAN, SectionKind.PRIOR_KNOWLEDGE)


def _stems(text: str) -> set[str]:
    # word prefixes stand in for stems, so inflected forms (loss/losses, загуба/загубата) meet
    return {w[:5] for w in normalise(text).split() if len(w) >= 4}


def relevant_passages(lesson: Lesson, question: str, limit: int = 3) -> str | None:
    """The lesson passages that share the most words with `question`, as markdown."""
    words = _stems(question)
    if not words:
        return None
    scored: list[tuple[int, int, str, str]] = []  # score, order, heading, block
    order = 0
    for section in lesson.sections:
        if section.kind in _SKIP_SECTIONS:
            continue
        for block in _blocks(section.markdown):
            order += 1
            score = len(words & _stems(block))
            if score:
                scored.append((score, order, section.heading, block))
    if not scored:
        return None
    best = sorted(scored, key=lambda t: (-t[0], t[1]))[:limit]
    out: list[str] = []
    heading = None
    for _score, _order, head, block in sorted(best, key=lambda t: t[1]):
        if head != heading:
            out.append(f"**{head}**")
            heading = head
        out.append(block)
    return "\n\n".join(out)


def _blocks(markdown: str) -> list[str]:
    """Top-level list items and paragraphs of a section's markdown (code fences kept whole)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    fence = False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = not fence
        starts_item = (not fence and line[:1] not in (" ", "\t") and
                       (stripped[:2] in ("- ", "* ", "+ ") or stripped.split(". ")[0].isdigit()))
        if (not fence and not stripped) or starts_item:
            if current:
                blocks.append(current)
            current = [line] if stripped else []
            continue
        current.append(line)
    if current:
        blocks.append(current)
    return ["\n".join(b).strip() for b in blocks if "".join(b).strip()]


F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """Run the method under the service's lock: one connection, callable from any thread."""

    @functools.wraps(method)
    def wrapper(self: StudyService, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class StudyService:
    """See the module docstring. Open with `StudyService.open(settings)`; close when done.

    Thread-safe: the methods share one SQLite connection under a re-entrant lock, so a TUI
    worker thread may call them as well as the UI thread.
    """

    def __init__(self, settings: Settings, db: sqlite_utils.Database) -> None:
        self.settings = settings
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self._lock = threading.RLock()
        self._results: list[ParseResult] = []
        self._lessons: dict[str, Lesson] = {}
        self.last_sync: SyncReport | None = None
        self._load_study_settings()

    # -- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, sync: bool = True) -> StudyService:
        """open_database(settings.db_path) + load the lessons folder + sync the course."""
        db = open_database(settings.db_path)
        service = cls(settings, db)
        if sync:
            service.reload()
        return service

    @_locked
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @_locked
    def reload(self) -> None:
        """Re-read the lessons folder and sync it into the database."""
        self.load_results(load_course(Path(self.settings.lessons_dir)))

    @_locked
    def load_results(self, results: list[ParseResult]) -> SyncReport:
        """Use these parsed lessons as the course (tests hand-build them) and sync."""
        self._results = list(results)
        self._lessons = {r.lesson.id: r.lesson for r in results if r.lesson is not None}
        self.last_sync = sync_course(self.conn, self._results, self.now())
        return self.last_sync

    # -- settings and time -------------------------------------------------------------

    def _load_study_settings(self) -> None:
        self.study_settings: StudySettings = load_settings(self.conn)
        self.tz: tzinfo = resolve_timezone(self.study_settings.timezone)
        self.start_hour = self.study_settings.day_start_hour
        self.limits = Limits(self.study_settings.new_per_day, self.study_settings.reviews_per_day)

    @_locked
    def set_setting(self, key: str, value: str) -> str:
        """Store a learner setting (see store.settings.DEFAULTS); returns the stored value."""
        stored = set_setting(self.conn, key, value)
        self._load_study_settings()
        return stored

    def now(self) -> datetime:
        return self.settings.now()

    def day_of(self, moment: datetime) -> date:
        return learner_day(moment, self.tz, self.start_hour)

    def today(self) -> date:
        return self.day_of(self.now())

    # -- lessons and progress -----------------------------------------------------------

    @_locked
    def lessons(self) -> list[LessonEntry]:
        progress = {
            r[0]: r[1:] for r in self.conn.execute(
                "SELECT lesson_id, started_at, position, completed_at FROM lesson_progress")
        }
        next_due = dict(self.conn.execute(
            "SELECT lesson_id, min(due_day) FROM plan_reviews WHERE done=0 GROUP BY lesson_id"))
        out = []
        for r in self._results:
            lesson = r.lesson
            if lesson is None:
                stem = Path(r.path).stem
                out.append(LessonEntry(stem, Path(r.path).name, r.path, None, r.diagnostics,
                                       "broken", 0, None))
                continue
            started, position, completed = progress.get(lesson.id, (None, 0, None))
            state = "done" if completed else "in_progress" if started else "new"
            nd = next_due.get(lesson.id)
            out.append(LessonEntry(lesson.id, lesson.title, r.path, lesson, r.diagnostics, state,
                                   position or 0, date.fromisoformat(nd) if nd else None))
        return out

    def lesson(self, lesson_id: str) -> Lesson:
        return self._lessons[lesson_id]

    def _require(self, lesson_id: str) -> None:
        if lesson_id not in self._lessons:
            raise KeyError(lesson_id)

    @_locked
    def save_position(self, lesson_id: str, position: int) -> None:
        self._require(lesson_id)
        stamp = utc_text(self.now())
        with write_transaction(self.conn) as c:
            c.execute(
                "INSERT INTO lesson_progress (lesson_id, started_at, position, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(lesson_id) DO UPDATE SET position=excluded."
                "position, started_at=coalesce(started_at, excluded.started_at), "
                "updated_at=excluded.updated_at",
                (lesson_id, stamp, int(position), stamp),
            )

    @_locked
    def save_prior_answer(self, lesson_id: str, index: int, text: str) -> None:
        self._require(lesson_id)
        with write_transaction(self.conn) as c:
            c.execute("INSERT OR REPLACE INTO prior_answers (lesson_id, idx, text, updated_at) "
                      "VALUES (?, ?, ?, ?)", (lesson_id, int(index), text, utc_text(self.now())))

    @_locked
    def prior_answers(self, lesson_id: str) -> dict[int, str]:
        return dict(self.conn.execute(
            "SELECT idx, text FROM prior_answers WHERE lesson_id=? ORDER BY idx", (lesson_id,)))

    @_locked
    def set_step_done(self, lesson_id: str, index: int, done: bool) -> None:
        self._require(lesson_id)
        with write_transaction(self.conn) as c:
            if done:
                c.execute("INSERT OR IGNORE INTO steps_done (lesson_id, idx, done_at) VALUES "
                          "(?, ?, ?)", (lesson_id, int(index), utc_text(self.now())))
            else:
                c.execute("DELETE FROM steps_done WHERE lesson_id=? AND idx=?",
                          (lesson_id, int(index)))

    @_locked
    def steps_done(self, lesson_id: str) -> set[int]:
        return {r[0] for r in self.conn.execute(
            "SELECT idx FROM steps_done WHERE lesson_id=?", (lesson_id,))}

    @_locked
    def quiz_card_id(self, lesson_id: str, quiz_index: int) -> str:
        """The id of the card for the lesson's quiz question `quiz_index` (0-based)."""
        natural = quiz_card_natural_id(self.lesson(lesson_id), quiz_index)
        return resolve_card_id(self.conn, natural) or natural

    # -- the review plan --------------------------------------------------------------------

    @_locked
    def complete_lesson(self, lesson_id: str) -> list[PlanReview]:
        """Mark the lesson completed today and schedule its review plan from today.

        Idempotent: completing a lesson again adds no plan rows and keeps the first
        completion's day and schedule (reviews already done stay done); it only returns
        the existing plan. The position/started fields are left as they are.
        """
        lesson = self.lesson(lesson_id)
        now, today = self.now(), self.today()
        stamp = utc_text(now)
        with write_transaction(self.conn) as c:
            c.execute(
                "INSERT INTO lesson_progress (lesson_id, started_at, position, completed_at, "
                "completed_day, updated_at) VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT(lesson_id) "
                "DO UPDATE SET started_at=coalesce(started_at, excluded.started_at), "
                "completed_at=coalesce(completed_at, excluded.completed_at), "
                "completed_day=coalesce(completed_day, excluded.completed_day), "
                "updated_at=excluded.updated_at",
                (lesson_id, stamp, stamp, today.isoformat(), stamp),
            )
            exists = c.execute("SELECT 1 FROM plan_reviews WHERE lesson_id=? LIMIT 1",
                               (lesson_id,)).fetchone()
            if not exists:
                for step in plan_steps(lesson):
                    c.execute(
                        "INSERT INTO plan_reviews (id, lesson_id, step, days, due_day, prompt, "
                        "done, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                        (plan_id(lesson_id, step.step), lesson_id, step.step, step.days,
                         (today + timedelta(days=step.days)).isoformat(), step.prompt, stamp),
                    )
        return self.plan_reviews(lesson_id)

    @_locked
    def plan_reviews(self, lesson_id: str) -> list[PlanReview]:
        return [
            PlanReview(r[0], r[1], r[2], r[3], date.fromisoformat(r[4]), r[5], bool(r[6]))
            for r in self.conn.execute(
                "SELECT id, lesson_id, step, days, due_day, prompt, done FROM plan_reviews "
                "WHERE lesson_id=? ORDER BY step", (lesson_id,))
        ]

    # -- grading ------------------------------------------------------------------------------

    @_locked
    def grade(self, item_id: str, rating: int, seconds: float | None = None,
              answer: str | None = None, *, source: str = "review") -> GradeResult:
        """Record an answer to a plan prompt or a card and reschedule it; committed on return.

        One transaction: the review_log row (UTC time, learner day, item, rating, seconds,
        answer, state before and after as JSON) and the new state. `source` is "review",
        "quiz" (answered inside the lesson: the card's schedule starts there) or "cli".
        Raises KeyError for an unknown item and ValueError for a rating outside 1-4.
        """
        rating = int(rating)
        if rating not in RATING_NAMES:
            raise ValueError(f"rating must be 1-4 (Again, Hard, Good, Easy), not {rating}")
        now = self.now()
        day = self.day_of(now)
        stamp = utc_text(now)
        with write_transaction(self.conn) as c:
            plan = c.execute("SELECT done, done_at, rating FROM plan_reviews WHERE id=?",
                             (item_id,)).fetchone()
            if plan is not None:
                before = {"done": bool(plan[0]), "done_at": plan[1], "rating": plan[2]}
                after = {"done": True, "done_at": stamp, "rating": rating}
                c.execute("UPDATE plan_reviews SET done=1, done_at=?, rating=? WHERE id=?",
                          (stamp, rating, item_id))
                self._log(c, stamp, day, item_id, "plan", rating, seconds, answer, source,
                          before, after)
                return GradeResult(item_id, rating, None)
            card_id = resolve_card_id(c, item_id)
            if card_id is None:
                raise KeyError(f"no plan prompt or card with id {item_id!r}")
            before_state = self._card_state(c, card_id)
            st = self.study_settings
            after_state = srs.review(card_id, before_state, rating, now,
                                     st.desired_retention, st.fuzz)
            after_state["due_day"] = srs.due_day(after_state, now, day, self.day_of).isoformat()
            after_state["first_review_day"] = (
                before_state or {}).get("first_review_day") or day.isoformat()
            self._put_card_state(c, card_id, after_state)
            if before_state is None:
                c.execute("UPDATE cards SET scheduled=1 WHERE id=?", (card_id,))
            self._log(c, stamp, day, card_id, "card", rating, seconds, answer, source,
                      before_state, after_state)
        return GradeResult(card_id, rating, date.fromisoformat(after_state["due_day"]))

    @staticmethod
    def _log(c: sqlite3.Connection, stamp: str, day: date, item_id: str, kind: str, rating: int,
             seconds: float | None, answer: str | None, source: str,
             before: dict[str, Any] | None, after: dict[str, Any]) -> None:
        prev = before.get("state") if (kind == "card" and before) else None
        c.execute(
            "INSERT INTO review_log (time, day, item_id, item_kind, rating, seconds, answer, "
            "source, prev_state, state_before, state_after) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stamp, day.isoformat(), item_id, kind, rating, seconds, answer, source, prev,
             json.dumps(before, ensure_ascii=False) if before is not None else None,
             json.dumps(after, ensure_ascii=False)),
        )

    @staticmethod
    def _card_state(c: sqlite3.Connection, card_id: str) -> dict[str, Any] | None:
        row = c.execute(
            "SELECT due, due_day, state, step, stability, difficulty, last_review, reps, lapses, "
            "first_review_day FROM card_state WHERE card_id=?", (card_id,)).fetchone()
        if row is None:
            return None
        keys = ("due", "due_day", "state", "step", "stability", "difficulty", "last_review",
                "reps", "lapses", "first_review_day")
        return dict(zip(keys, row))

    @staticmethod
    def _put_card_state(c: sqlite3.Connection, card_id: str, s: dict[str, Any]) -> None:
        put_card_state(c, card_id, s)

    @_locked
    def undo_last(self) -> str | None:
        """Undo the latest grade in the database: its log row is removed and the item's state
        before it restored. Returns the item id, or None when the log is empty."""
        with write_transaction(self.conn) as c:
            row = c.execute("SELECT id, item_id, item_kind, state_before FROM review_log "
                            "ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                return None
            log_id, item_id, kind, before_text = row
            before = json.loads(before_text) if before_text else None
            if kind == "plan":
                before = before or {"done": False, "done_at": None, "rating": None}
                c.execute("UPDATE plan_reviews SET done=?, done_at=?, rating=? WHERE id=?",
                          (int(before["done"]), before["done_at"], before["rating"], item_id))
            elif before is None:
                c.execute("DELETE FROM card_state WHERE card_id=?", (item_id,))
                c.execute("UPDATE cards SET scheduled=0 WHERE id=?", (item_id,))
            else:
                self._put_card_state(c, item_id, before)
            c.execute("DELETE FROM review_log WHERE id=?", (log_id,))
        return item_id

    # -- the queue --------------------------------------------------------------------------------

    def _done_today(self, today: date) -> tuple[int, int]:
        """(new cards introduced, card reviews) today in review sessions (lesson quiz excluded)."""
        row = self.conn.execute(
            "SELECT coalesce(sum(state_before IS NULL), 0), "
            "coalesce(sum(state_before IS NOT NULL), 0) FROM review_log "
            "WHERE day=? AND item_kind='card' AND source<>'quiz'", (today.isoformat(),)
        ).fetchone()
        return int(row[0]), int(row[1])

    @_locked
    def due(self) -> list[DueItem]:
        """Today's queue: plan prompts, due cards (reviews limit), new cards (new limit).

        New cards come only from completed lessons (the lesson quiz starts the others).
        """
        today = self.today()
        new_done, reviews_done = self._done_today(today)
        new_room, review_room = rooms(self.limits, new_done, reviews_done)
        items: list[DueItem] = []
        for r in self.conn.execute(
            "SELECT p.id, p.lesson_id, l.title, p.prompt, p.due_day FROM plan_reviews p "
            "JOIN lessons l ON l.id = p.lesson_id WHERE p.done=0 AND p.due_day<=? "
            "AND l.present=1 ORDER BY p.due_day, p.lesson_id, p.step", (today.isoformat(),)
        ):
            items.append(DueItem(r[0], "plan", r[1], r[2], r[3], None,
                                 self._context(r[1], "plan"), date.fromisoformat(r[4]), None))
        if review_room:
            for r in self.conn.execute(
                "SELECT c.id, c.lesson_id, l.title, c.front, c.back, c.kind, s.due_day "
                "FROM card_state s JOIN cards c ON c.id = s.card_id "
                "JOIN lessons l ON l.id = c.lesson_id "
                "WHERE s.due_day <= ? AND c.retired=0 ORDER BY s.due_day, s.due, s.card_id LIMIT ?",
                (today.isoformat(), review_room)
            ):
                items.append(self._card_item(r, date.fromisoformat(r[6])))
        if new_room:
            # lesson by lesson (completion order), each through the partial index of new
            # cards, so the cost does not grow with the cards already scheduled
            completed = [r[0] for r in self.conn.execute(
                "SELECT p.lesson_id FROM lesson_progress p JOIN lessons l ON l.id=p.lesson_id "
                "WHERE p.completed_at IS NOT NULL AND l.present=1 "
                "ORDER BY p.completed_at, p.lesson_id")]
            for lesson_id in completed:
                if new_room <= 0:
                    break
                rows = self.conn.execute(
                    "SELECT c.id, c.lesson_id, l.title, c.front, c.back, c.kind FROM cards c "
                    "JOIN lessons l ON l.id = c.lesson_id WHERE c.lesson_id=? AND "
                    "c.scheduled=0 AND c.retired=0 ORDER BY c.kind DESC, c.position LIMIT ?",
                    (lesson_id, new_room)).fetchall()
                items.extend(self._card_item(r, today) for r in rows)
                new_room -= len(rows)
        return items

    def _card_item(self, r: Any, due: date) -> DueItem:
        cid, lesson_id, title, front, back, kind = r[:6]
        context = None if back else self._context(lesson_id, kind, front)
        return DueItem(cid, "card", lesson_id, title, front, back, context, due, kind)

    def _context(self, lesson_id: str, kind: str, prompt: str = "") -> str | None:
        """The part of the lesson that answers an item without a reference answer.

        For a quiz question: the lesson passages (list items, paragraphs) that share the
        most words with it, under their section headings; else the recap or overview.
        """
        lesson = self._lessons.get(lesson_id)
        if lesson is None:
            return None
        if kind == "quiz" and prompt:
            found = relevant_passages(lesson, prompt)
            if found:
                return found
        order = ((SectionKind.KEY_CONCEPTS,) if kind == "concept"
                 else (SectionKind.RECAP, SectionKind.OVERVIEW, SectionKind.KEY_CONCEPTS,
                       SectionKind.QUIZ))
        for k in order:
            section = lesson.section(k)
            if section is not None and section.markdown.strip():
                return section.markdown
        return None

    @_locked
    def next_review_date(self) -> date | None:
        """Today when something is due; else the first day something falls due (None: nothing)."""
        today = self.today()
        if self.due():
            return today
        candidates: list[date] = []
        row = self.conn.execute(
            "SELECT min(p.due_day) FROM plan_reviews p JOIN lessons l ON l.id=p.lesson_id "
            "WHERE p.done=0 AND l.present=1").fetchone()
        if row[0]:
            candidates.append(date.fromisoformat(row[0]))
        row = self.conn.execute(
            "SELECT min(s.due_day) FROM card_state s JOIN cards c ON c.id=s.card_id "
            "WHERE c.retired=0").fetchone()
        if row[0]:
            candidates.append(date.fromisoformat(row[0]))
        row = self.conn.execute(
            "SELECT 1 FROM lesson_progress p JOIN cards c ON c.lesson_id=p.lesson_id "
            "AND c.scheduled=0 AND c.retired=0 WHERE p.completed_at IS NOT NULL LIMIT 1"
        ).fetchone()
        if row:
            candidates.append(today + timedelta(days=1))
        if not candidates:
            return None
        # something due today but held back by today's limits falls to tomorrow
        return max(min(candidates), today + timedelta(days=1))

    # -- statistics --------------------------------------------------------------------------------

    @_locked
    def stats(self) -> Stats:
        today = self.today()
        due_today = len(self.due())
        counts = [0] * 30
        for due_day, n in self.conn.execute(
            "SELECT p.due_day, count(*) FROM plan_reviews p JOIN lessons l ON l.id=p.lesson_id "
            "WHERE p.done=0 AND l.present=1 GROUP BY p.due_day"
        ):
            idx = max(0, (date.fromisoformat(due_day) - today).days)
            if idx < 30:
                counts[idx] += n
        for due_day, n in self.conn.execute(
            "SELECT s.due_day, count(*) FROM card_state s JOIN cards c ON c.id=s.card_id "
            "WHERE c.retired=0 AND s.due_day < ? GROUP BY s.due_day",
            ((today + timedelta(days=30)).isoformat(),)
        ):
            counts[max(0, (date.fromisoformat(due_day) - today).days)] += n
        # Today is the queue as it stands (new cards and daily limits included), so home's
        # "due" and the forecast agree; later days count what is scheduled for them.
        counts[0] = due_today
        forecast = [(today + timedelta(days=i), counts[i]) for i in range(30)]
        reviews_done = self.conn.execute("SELECT count(*) FROM review_log").fetchone()[0]
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(rating > 1), 0) FROM review_log "
            "WHERE item_kind='card' AND prev_state = 2").fetchone()
        retention = (row[1] / row[0]) if row[0] else None
        def answered(day: date) -> bool:
            return self.conn.execute("SELECT 1 FROM review_log WHERE day=? LIMIT 1",
                                     (day.isoformat(),)).fetchone() is not None

        streak = 0
        cursor = today if answered(today) else today - timedelta(days=1)
        while answered(cursor):
            streak += 1
            cursor -= timedelta(days=1)
        return Stats(due_today, forecast, reviews_done, retention, streak, self.lessons())

    # -- for `studyapp lint --db` -------------------------------------------------------------------

    @_locked
    def card_history(self, card_id: str) -> list[dict[str, Any]]:
        """The review log rows of a card (oldest first)."""
        cid = resolve_card_id(self.conn, card_id) or card_id
        return [dict(r) for r in self.db.query(
            "SELECT * FROM review_log WHERE item_id=? ORDER BY id", [cid])]
