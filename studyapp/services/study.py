"""The study application functions over one database and one lessons folder.

Consumed by the CLI and the TUI; no textual, no torch, no SQL and no parsing of its own:
lessons come from `course` (parsed, cached by `course.cache`), scheduling from `study`
(FSRS in `study.srs`, the plan ladder in `study.plan`, the queue in `study.queue`,
statistics in `study.stats`), rows from `store`. Every write is one `BEGIN IMMEDIATE`
transaction committed before the method returns, so a crash loses nothing that a method
reported done, and two processes sharing the file lose nothing. Time comes from
`settings.now()` (UTC); the learner's day from the `day_start_hour` and `timezone`
settings stored in the database.

Plan prompts honour the grade: Again keeps the step due (it comes back later in the
session and stays due on the next days) without moving the rest of the ladder; Hard, Good
and Easy complete the step. Undo restores the row exactly as it was.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from studyapp.config import Settings
from studyapp.store import cards as card_store
from studyapp.store import fsrs_params, progress, reviews
from studyapp.store.db import as_database, daily_backup, open_connection, write_transaction
from studyapp.store.settings import StudySettings, load_settings, set_setting
from studyapp.study import srs
from studyapp.study import stats as study_stats
from studyapp.study.day import day_start, learner_day, resolve_timezone, utc_text
from studyapp.study.queue import DueItem, Limits, build_queue, rooms
from studyapp.study.queue import next_review_date as first_review_date

if TYPE_CHECKING:
    import sqlite_utils

    from studyapp.course.model import Diagnostic, Lesson, ParseResult
    from studyapp.store.predictions import PredictionRow
    from studyapp.store.sync import SyncReport
    from studyapp.study.suggest import GradedAnswer

__all__ = ["DueItem", "GradeResult", "LessonEntry", "PlanReview", "Stats", "StudyService",
           "load_course"]

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
class GradeResult:
    item_id: str
    rating: int
    next_due: date | None  # None: a plan step completed
    due_at: datetime | None = None  # when it is due again (UTC; FSRS's due for a card)


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


@dataclass(frozen=True)
class OptimizeReport:
    reviews: int  # answers the fit learns from
    needed: int  # answers the optimizer needs
    default: Any  # study.optimize.Evaluation with the default parameters
    current: Any  # ... with the parameters in use, when they are not the defaults
    fitted: Any  # ... with the fitted parameters (None: no fit was made)
    parameters: tuple[float, ...] | None
    applied: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"reviews": self.reviews, "needed": self.needed,
                "default": self.default.to_dict(),
                "current": self.current.to_dict() if self.current else None,
                "fitted": self.fitted.to_dict() if self.fitted else None,
                "parameters": list(self.parameters) if self.parameters else None,
                "applied": self.applied, "note": self.note}


def load_course(folder: Path) -> list[ParseResult]:
    """The lessons of `folder`, parsed (cached in the user's cache directory)."""
    from studyapp.config import cache_dir
    from studyapp.course.cache import load_course as load_cached

    return load_cached(folder, cache_dir() / "parsed-course")


def _plan_state(row: reviews.PlanRow) -> dict[str, Any]:
    """A plan row's review fields as the review log keeps them."""
    return {"done": row.done, "done_at": row.done_at, "rating": row.rating,
            "due_day": row.due_day.isoformat()}


F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """Run the method under the service's lock: one connection, callable from any thread.
    While the course loads in the background (`load_in_background`), a call waits for it
    first, so no method sees half a course."""

    @functools.wraps(method)
    def wrapper(self: StudyService, *args: Any, **kwargs: Any) -> Any:
        self.wait_for_course()
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class StudyService:
    """See the module docstring. Open with `StudyService.open(settings)`; close when done.

    Thread-safe: the methods share one SQLite connection under a re-entrant lock, so a TUI
    worker thread may call them as well as the UI thread.
    """

    def __init__(self, settings: Settings,
                 db: sqlite_utils.Database | sqlite3.Connection) -> None:
        self.settings = settings
        self.conn: sqlite3.Connection = db if isinstance(db, sqlite3.Connection) else db.conn
        self._db = None if isinstance(db, sqlite3.Connection) else db
        self._lock = threading.RLock()
        self._results: list[ParseResult] = []
        self._lessons: dict[str, Lesson] = {}
        self._titles: dict[str, str] | None = None
        self._queue: tuple[tuple[Any, ...], tuple[DueItem, ...]] | None = None
        self._known: tuple[tuple[Any, ...], dict[str, DueItem]] | None = None
        self._stats: tuple[tuple[Any, ...], Stats] | None = None
        self._generation = 0  # bumped when the course or the settings are reloaded
        self.last_sync: SyncReport | None = None
        self._course_loaded = False
        self._loading: threading.Event | None = None  # set when a background load ended
        self._loader: threading.Thread | None = None
        self._backup_pending = False
        self._closed = False
        self._load_study_settings()

    # -- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, sync: bool = True,
             daily_backup: bool = True) -> StudyService:
        """open_connection(settings.db_path) + load the lessons folder + sync the course.

        The app opens with `sync=False, daily_backup=False` and paints home from the
        database alone, then calls `load_in_background`: the course is read (parse cache)
        and synced, and today's backup taken, after the first paint.
        """
        db = open_connection(settings.db_path, daily_backup=daily_backup)
        service = cls(settings, db)
        service._backup_pending = not daily_backup
        if sync:
            service.reload()
        return service

    @classmethod
    def open_for_app(cls, settings: Settings) -> StudyService:
        """The app's door: the database only, so home paints from it at once; the lessons
        folder is read and today's backup taken later (`load_in_background`). On a first
        start (no lesson in the database yet) the folder is read now, so home never opens
        empty."""
        service = cls.open(settings, sync=False, daily_backup=False)
        try:
            if not service.lessons():
                service.reload()
        except BaseException:
            service.close()
            raise
        return service

    @property
    def course_loaded(self) -> bool:
        """Whether the lessons folder has been read (else `lessons()` comes from the
        database: ids, titles and progress of the lessons synced before)."""
        return self._course_loaded

    @property
    def start_work_pending(self) -> bool:
        """Whether `load_in_background` has work: the course or today's backup."""
        return not self._course_loaded or self._backup_pending

    def load_in_background(self, done: Callable[[str | None], None]) -> None:
        """`reload()` and the deferred daily backup in a thread; then `done(problem)`
        with None or a one-line message. Calls meanwhile wait for the course (`_locked`)."""
        loading = threading.Event()

        def work() -> None:
            problem = None
            try:
                if not self._course_loaded:
                    self.reload()
                if self._backup_pending:
                    self._backup_pending = False
                    daily_backup(self.settings.db_path)
            except Exception as exc:  # noqa: BLE001 - reported in the app, never a crash
                problem = str(exc) or type(exc).__name__
            finally:
                loading.set()
                self._loading = None
            if self._closed:
                return          # the app quit while the course loaded: nobody to tell
            try:
                done(problem)
            except Exception:  # noqa: BLE001, S110 - the app went away meanwhile
                pass

        self._loading = loading
        self._loader = threading.Thread(target=work, name="studyapp-course", daemon=True)
        self._loader.start()

    def wait_for_course(self) -> None:
        """Block until a background load of the course ended (no-op otherwise, in the
        loading thread itself, and while this thread holds the lock: the loader needs it)."""
        loading = self._loading
        if loading is None or threading.current_thread() is self._loader or \
                self._lock._is_owned():  # type: ignore[attr-defined]
            return
        loading.wait()

    @property
    def db(self) -> sqlite_utils.Database:
        """The connection as a sqlite-utils `Database` (made on first use)."""
        if self._db is None:
            self._db = as_database(self.conn)
        return self._db

    def close(self) -> None:
        """Close the connection (without waiting for a background load: it stops)."""
        with self._lock:
            self._closed = True
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reload(self) -> None:
        """Re-read the lessons folder (parsed outside the lock) and sync it into the
        database."""
        self.wait_for_course()
        self.load_results(load_course(Path(self.settings.lessons_dir)))

    @_locked
    def load_results(self, results: list[ParseResult]) -> SyncReport:
        """Use these parsed lessons as the course (tests hand-build them) and sync.

        A lesson whose front matter does not parse and whose id could not be read from its
        `id:` line is matched to the id it was stored under (same file, or most cards in
        common), so its progress does not vanish; its error message says which id.
        """
        from studyapp.store.sync import sync_course

        results = self._keep_identities(list(results))
        self.last_sync = sync_course(self.conn, results, self.now())
        self._results = results
        self._lessons = {r.lesson.id: r.lesson for r in results if r.lesson is not None}
        self._course_loaded = True
        self._titles = None
        self._generation += 1
        return self.last_sync

    def _keep_identities(self, results: list[ParseResult]) -> list[ParseResult]:
        from studyapp.course.model import Severity
        from studyapp.store.sync import stored_lessons
        from studyapp.study.identity import earlier_lesson_id

        broken = [i for i, r in enumerate(results) if r.lesson is not None and any(
            d.code == "front-matter" and d.severity is Severity.ERROR for d in r.diagnostics)]
        if not broken:
            return results
        stored = stored_lessons(self.conn)
        known = {s.id for s in stored}
        taken = {r.lesson.id for r in results if r.lesson is not None}
        for i in broken:
            r = results[i]
            assert r.lesson is not None
            if r.lesson.id in known:
                continue
            earlier = earlier_lesson_id(r.lesson, stored, taken)
            if earlier is None:
                continue
            taken.add(earlier)
            diagnostics = tuple(
                replace(d, message=f"{d.message}: its progress stays under its earlier id "
                        f"'{earlier}'") if d.code == "front-matter" and
                d.severity is Severity.ERROR else d for d in r.diagnostics)
            results[i] = replace(r, lesson=replace(r.lesson, id=earlier), diagnostics=diagnostics)
        return results

    @_locked
    def identity_warnings(self) -> list[str]:
        """One line for each lesson whose front matter has an error, naming the file, the
        line and the id whose progress it carries (for `due`, home and the review)."""
        out: list[str] = []
        if not self._results:
            return out      # the course is not read yet (home's first paint)
        from studyapp.course.model import Severity

        for r in self._results:
            if r.lesson is None:
                continue
            for d in r.diagnostics:
                if d.code == "front-matter" and d.severity is Severity.ERROR:
                    out.append(f"{Path(r.path).name}:{d.line}: its front matter has an error; "
                               f"the lesson still carries the progress of '{r.lesson.id}' "
                               "(studyapp lint shows the error)")
                    break
        return out

    # -- settings and time -------------------------------------------------------------

    def _load_study_settings(self) -> None:
        self.study_settings: StudySettings = load_settings(self.conn)
        self.tz: tzinfo = resolve_timezone(self.study_settings.timezone)
        self.start_hour = self.study_settings.day_start_hour
        self.limits = Limits(self.study_settings.new_per_day, self.study_settings.reviews_per_day)
        self._generation += 1
        fit = fsrs_params.current_fit(self.conn)
        self.weights: tuple[float, ...] | None = fit.parameters if fit else None

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

    # -- lessons and progress -----------------------------------------------------------

    @_locked
    def lessons(self) -> list[LessonEntry]:
        rows = progress.progress_rows(self.conn)
        next_due = reviews.next_plan_days(self.conn)
        if not self._course_loaded:
            return [self._entry(lesson_id, title, path, None, (), rows.get(lesson_id),
                                next_due.get(lesson_id))
                    for lesson_id, title, path in progress.stored_lessons_in(
                        self.conn, Path(self.settings.lessons_dir))]
        out = []
        for r in self._results:
            lesson = r.lesson
            if lesson is None:
                stem = Path(r.path).stem
                out.append(LessonEntry(stem, Path(r.path).name, r.path, None, r.diagnostics,
                                       "broken", 0, None))
                continue
            out.append(self._entry(lesson.id, lesson.title, r.path, lesson, r.diagnostics,
                                   rows.get(lesson.id), next_due.get(lesson.id)))
        return out

    @staticmethod
    def _entry(lesson_id: str, title: str, path: str, lesson: Lesson | None,
               diagnostics: tuple[Diagnostic, ...], row: progress.ProgressRow | None,
               next_review: date | None) -> LessonEntry:
        state = ("done" if row and row.completed_at else "in_progress" if row and
                 row.started_at else "new")
        return LessonEntry(lesson_id, title, path, lesson, diagnostics, state,
                           row.position if row else 0, next_review)

    def lesson(self, lesson_id: str) -> Lesson:
        self.wait_for_course()
        return self._lessons[lesson_id]

    def _require(self, lesson_id: str) -> None:
        if lesson_id not in self._lessons:
            raise KeyError(lesson_id)

    @_locked
    def save_position(self, lesson_id: str, position: int) -> None:
        self._require(lesson_id)
        with write_transaction(self.conn) as c:
            progress.save_position(c, lesson_id, position, utc_text(self.now()))

    @_locked
    def save_prior_answer(self, lesson_id: str, index: int, text: str) -> None:
        self._require(lesson_id)
        with write_transaction(self.conn) as c:
            progress.save_prior_answer(c, lesson_id, index, text, utc_text(self.now()))

    @_locked
    def prior_answers(self, lesson_id: str) -> dict[int, str]:
        return progress.prior_answers(self.conn, lesson_id)

    @_locked
    def set_step_done(self, lesson_id: str, index: int, done: bool) -> None:
        self._require(lesson_id)
        with write_transaction(self.conn) as c:
            progress.set_step_done(c, lesson_id, index, done, utc_text(self.now()))

    @_locked
    def steps_done(self, lesson_id: str) -> set[int]:
        return progress.steps_done(self.conn, lesson_id)

    @_locked
    def quiz_card_id(self, lesson_id: str, quiz_index: int) -> str:
        """The id of the card for the lesson's quiz question `quiz_index` (0-based)."""
        from studyapp.study.identity import quiz_card_natural_id

        natural = quiz_card_natural_id(self.lesson(lesson_id), quiz_index)
        return reviews.resolve_card(self.conn, natural) or natural

    # -- the review plan --------------------------------------------------------------------

    @_locked
    def complete_lesson(self, lesson_id: str) -> list[PlanReview]:
        """Mark the lesson completed today and schedule its review plan from today.

        Idempotent: completing a lesson again adds no plan rows and keeps the first
        completion's day and schedule (reviews already done stay done); it only returns
        the existing plan. The position/started fields are left as they are.
        """
        from studyapp.study.plan import plan_id, plan_steps

        lesson = self.lesson(lesson_id)
        today = self.today()
        stamp = utc_text(self.now())
        with write_transaction(self.conn) as c:
            progress.mark_completed(c, lesson_id, today, stamp)
            if not reviews.has_plan(c, lesson_id):
                reviews.insert_plan(c, [
                    reviews.PlanRow(plan_id(lesson_id, step.step), lesson_id, step.step,
                                    step.days, today + timedelta(days=step.days), step.prompt,
                                    False)
                    for step in plan_steps(lesson)], stamp)
        return self.plan_reviews(lesson_id)

    @_locked
    def plan_reviews(self, lesson_id: str) -> list[PlanReview]:
        return [PlanReview(r.id, r.lesson_id, r.step, r.days, r.due_day, r.prompt, r.done)
                for r in reviews.plan_rows(self.conn, lesson_id)]

    # -- grading ------------------------------------------------------------------------------

    @_locked
    def grade(self, item_id: str, rating: int, seconds: float | None = None,
              answer: str | None = None, *, source: str = "review") -> GradeResult:
        """Record an answer to a plan prompt or a card and reschedule it; committed on return.

        One transaction: the review_log row (UTC time, learner day, item, rating, seconds,
        answer, state before and after as JSON) and the new state. `source` is "review",
        "quiz" (answered inside the lesson: the card's schedule starts there) or "cli".
        A plan prompt graded Again stays due (see the module docstring).
        Raises KeyError for an unknown item and ValueError for a rating outside 1-4.
        """
        rating = int(rating)
        if rating not in RATING_NAMES:
            raise ValueError(f"rating must be 1-4 (Again, Hard, Good, Easy), not {rating}")
        now = self.now()
        day = self.day_of(now)
        stamp = utc_text(now)
        log = functools.partial(reviews.add_log, stamp=stamp, day=day, rating=rating,
                                seconds=seconds, answer=answer, source=source)
        with write_transaction(self.conn) as c:
            plan = reviews.plan_row(c, item_id)
            if plan is not None:
                again = rating == 1
                after = replace(plan, done=not again, done_at=None if again else stamp,
                                rating=rating)
                reviews.put_plan(c, after)
                log(c, item_id=item_id, kind="plan", prev_state=None,
                    before=_plan_state(plan), after=_plan_state(after))
                return GradeResult(item_id, rating, after.due_day if again else None,
                                   now if again else None)
            found = reviews.graded_card(c, item_id)
            if found is None:
                raise KeyError(f"no plan prompt or card with id {item_id!r}")
            card_id, before = found
            st = self.study_settings
            state = srs.review(card_id, before, rating, now, self.day_of,
                               st.desired_retention, st.fuzz, self.weights)
            reviews.put_card_state(c, card_id, state)
            if before is None:
                reviews.set_scheduled(c, card_id, True)
            log(c, item_id=card_id, kind="card", prev_state=before.state if before else None,
                before=before.to_dict() if before else None, after=state.to_dict())
        return GradeResult(card_id, rating, state.due_day, state.due)

    @_locked
    def intervals(self, item_id: str) -> dict[int, timedelta] | None:
        """For a card: how long until it is due again after each rating (1-4), as FSRS
        computes it now (without fuzz). None for a plan prompt or an unknown id."""
        card_id = reviews.resolve_card(self.conn, item_id)
        if card_id is None:
            return None
        return srs.next_intervals(card_id, reviews.card_state(self.conn, card_id), self.now(),
                                  self.day_of, self.study_settings.desired_retention,
                                  self.weights)

    @_locked
    def undo_last(self, only: str | None = None) -> str | None:
        """Undo the latest grade in the database: its log row is removed and the item's state
        before it restored. Returns the item id, or None when the log is empty (or, with
        `only`, when the latest grade is of another item: then nothing is undone)."""
        with write_transaction(self.conn) as c:
            row = reviews.last_log(c)
            if row is None or (only is not None and row.item_id != only):
                return None
            before = row.state_before
            if row.item_kind == "plan":
                plan = reviews.plan_row(c, row.item_id)
                if plan is not None:
                    before = before or {"done": False, "done_at": None, "rating": None}
                    reviews.put_plan(c, replace(
                        plan, done=bool(before["done"]), done_at=before["done_at"],
                        rating=before["rating"],
                        due_day=date.fromisoformat(before["due_day"]) if before.get("due_day")
                        else plan.due_day))
            elif before is None:
                reviews.drop_card_state(c, row.item_id)
            elif row.source == "reset":
                reviews.put_card_state(c, row.item_id, srs.CardState.from_dict(before))
                reviews.set_scheduled(c, row.item_id, True)
            else:
                reviews.put_card_state(c, row.item_id, srs.CardState.from_dict(before))
            reviews.delete_log(c, row.id)
        return row.item_id

    # -- the queue --------------------------------------------------------------------------------

    def _titles_map(self) -> dict[str, str]:
        if self._titles is None:
            self._titles = reviews.lesson_titles(self.conn)
        return self._titles

    @_locked
    def due(self) -> list[DueItem]:
        """Today's queue: plan prompts, due cards (reviews limit), new cards (new limit).

        New cards come only from completed lessons (the lesson quiz starts the others);
        suspended cards and cards buried until a later day are left out. Built again only
        when something changed: a write through this connection (`total_changes`), a
        commit by another process (`PRAGMA data_version`), another learner day, a reload
        of the course or of the settings; otherwise the last build is returned (a copy).
        """
        today = self.today()
        key = self._change_key(today)
        if self._queue is not None and self._queue[0] == key:
            return list(self._queue[1])
        new_room, review_room = rooms(self.limits, *reviews.done_today(self.conn, today))
        queue = build_queue(
            reviews.due_plan_rows(self.conn, today),
            reviews.due_card_keys(self.conn, today, review_room),
            reviews.new_card_rows(self.conn, today, new_room),
            functools.partial(reviews.card_texts, self.conn),
            self._titles_map(), self._context, new_room, review_room, self._known_items(key))
        self._queue = (key, tuple(queue))
        return queue

    def _known_items(self, key: tuple[Any, ...]) -> dict[str, DueItem]:
        """The items of earlier builds (see `build_queue`), kept while the cards' texts,
        the titles and the lessons cannot have changed: this connection changes them only
        in `load_results` (a new generation); another process's commit (a new
        `data_version`) drops them too. Pruned when it outgrows a few queues."""
        stamp = (key[2], key[3])  # data_version, generation
        if self._known is None or self._known[0] != stamp or len(self._known[1]) > 5000:
            self._known = (stamp, {})
        return self._known[1]

    def _change_key(self, today: date) -> tuple[Any, ...]:
        """What the queue and the statistics depend on: the learner day, this connection's
        writes, other processes' commits, the course and settings loaded."""
        return (today, *reviews.change_counter(self.conn), self._generation)

    def _context(self, lesson_id: str, kind: str, prompt: str = "") -> str | None:
        """The part of the lesson that answers an item without a reference answer.

        For a quiz question: the lesson passages (list items, paragraphs) that share the
        most words with it, under their section headings; else the recap or overview.
        """
        lesson = self._lessons.get(lesson_id)
        if lesson is None:
            return None
        if kind == "quiz" and prompt:
            from studyapp.course.passages import relevant_passages  # imports the parser

            found = relevant_passages(lesson, prompt)
            if found:
                return found
        from studyapp.course.model import SectionKind

        order = ((SectionKind.KEY_CONCEPTS,) if kind == "concept"
                 else (SectionKind.RECAP, SectionKind.OVERVIEW, SectionKind.KEY_CONCEPTS,
                       SectionKind.QUIZ))
        for k in order:
            section = lesson.section(k)
            if section is not None and section.markdown.strip():
                return section.markdown
        return None

    @_locked
    def next_review_date(self, queue: Sequence[DueItem] | None = None) -> date | None:
        """Today when something is due; else the first day something falls due (None:
        nothing). `queue`: today's queue when the caller has built it already."""
        queue = self.due() if queue is None else queue
        return first_review_date(queue, self.today(), *reviews.first_due_days(self.conn))

    # -- statistics --------------------------------------------------------------------------------

    @_locked
    def stats(self, queue: Sequence[DueItem] | None = None) -> Stats:
        """Due today, the 30-day forecast, reviews done, true retention, streak, lessons.

        `queue`: today's queue when the caller has built it already (home builds it once
        per refresh and hands it to `stats` and `next_review_date`)."""
        today = self.today()
        queue = self.due() if queue is None else queue
        key = self._change_key(today)
        if self._stats is not None and self._stats[0] == key and \
                self._stats[1].due_today == len(queue):
            return self._stats[1]
        forecast = study_stats.forecast(
            today, len(queue), reviews.plan_due_counts(self.conn),
            reviews.card_due_counts(self.conn, today + timedelta(
                days=study_stats.FORECAST_DAYS)))
        answered, passed = reviews.review_retention(self.conn)
        stats = Stats(len(queue), forecast, reviews.review_count(self.conn),
                     passed / answered if answered else None,
                     study_stats.streak(
                         today, functools.partial(reviews.answered_on, self.conn)), self.lessons())
        self._stats = (key, stats)
        return stats

    @_locked
    def stats_series(self, queue: Sequence[DueItem] | None = None,
                     days: int = 90) -> study_stats.Series:
        """The plotted series (see `study.stats`): reviews per day over the last `days`
        learner days, true retention per week over the last year, cards by state, and
        the 30-day forecast (today: the queue)."""
        today = self.today()
        queue = self.due() if queue is None else queue
        per_day = reviews.reviews_per_day(self.conn, today - timedelta(days=days - 1))
        retention = reviews.retention_per_day(self.conn, today - timedelta(days=364))
        counts = card_store.counts_by_state(self.conn, today)
        forecast = study_stats.forecast(
            today, len(queue), reviews.plan_due_counts(self.conn),
            reviews.card_due_counts(self.conn, today + timedelta(
                days=study_stats.FORECAST_DAYS)))
        return study_stats.Series(
            tuple(study_stats.daily(today, per_day, days)),
            tuple(study_stats.weekly_retention(retention)),
            tuple((k, counts[k]) for k in study_stats.CARD_STATES), tuple(forecast),
            tuple(card_store.counts_by_kind(self.conn).items()))

    # -- the card browser --------------------------------------------------------------------------

    @_locked
    def card_counts(self) -> dict[str, int]:
        """How many live cards are in each browser state (new, learning, review, ...)."""
        return card_store.counts_by_state(self.conn, self.today())

    @_locked
    def cards(self, *, lesson: str | None = None, state: str | None = None,
              search: str | None = None) -> list[card_store.CardRow]:
        """Live cards in course order, filtered (see `store.cards.list_cards`)."""
        return card_store.list_cards(self.conn, self.today(), lesson=lesson, state=state,
                                     search=search)

    def _card(self, c: sqlite3.Connection, item_id: str) -> str:
        card_id = reviews.resolve_card(c, item_id)
        if card_id is None:
            raise KeyError(f"no card with id {item_id!r}")
        return card_id

    @_locked
    def suspend(self, item_id: str, suspended: bool = True) -> str:
        """Keep a card out of every queue (or let it back in); returns its id."""
        with write_transaction(self.conn) as c:
            card_id = self._card(c, item_id)
            card_store.set_suspended(c, card_id, suspended)
        return card_id

    @_locked
    def bury(self, item_id: str) -> date:
        """Hide a card until the next learner day (the day start hour applies); returns it."""
        until = self.today() + timedelta(days=1)
        with write_transaction(self.conn) as c:
            card_store.set_buried_until(c, self._card(c, item_id), until)
        return until

    @_locked
    def reset(self, item_id: str) -> str:
        """Make a card new again: its schedule is dropped, its review log kept, and the
        reset logged (rating 0, source "reset": not an answer; `undo_last` takes it back)."""
        now = self.now()
        with write_transaction(self.conn) as c:
            card_id = self._card(c, item_id)
            before = reviews.card_state(c, card_id)
            if before is None:
                return card_id  # new already
            reviews.drop_card_state(c, card_id)
            reviews.add_log(c, stamp=utc_text(now), day=self.day_of(now), item_id=card_id,
                            kind="card", rating=0, seconds=None, answer=None, source="reset",
                            prev_state=None, before=before.to_dict(), after=None)
        return card_id

    # -- FSRS fitted to the learner ----------------------------------------------------------------

    @_locked
    def optimize(self, apply: bool = False) -> OptimizeReport:
        """Fit FSRS parameters to this learner's review log (py-fsrs's optimizer; torch
        loads here) and compare them with the defaults on the same log. With `apply`, the
        fitted ones are kept in the database and used from now on, but only when there
        were `MIN_REVIEWS` answers to learn from and they predict the log better (lower log
        loss) than the defaults and than the parameters in use."""
        from studyapp.study import optimize as fsrs_fit

        cards = fsrs_fit.histories(reviews.card_log_for_fsrs(self.conn))
        default = fsrs_fit.evaluate(cards, None)
        current = fsrs_fit.evaluate(cards, self.weights) if self.weights else None
        if default.reviews < fsrs_fit.MIN_REVIEWS:
            return OptimizeReport(default.reviews, fsrs_fit.MIN_REVIEWS, default, current,
                                  None, None, False,
                                  f"{default.reviews} of the {fsrs_fit.MIN_REVIEWS} answers "
                                  "needed (answers on a later day than the card's previous "
                                  "one); the parameters in use stay")
        weights = fsrs_fit.fit(cards)
        fitted = fsrs_fit.evaluate(cards, weights)
        best_before = min(e.log_loss for e in (default, current) if e and e.log_loss is not None)
        better = fitted.log_loss is not None and fitted.log_loss < best_before
        applied = False
        if not better:
            note = "the fitted parameters predict the log no better; the parameters in use stay"
        elif not apply:
            note = "the fitted parameters predict the log better: `studyapp optimize --apply` " \
                   "uses them"
        else:
            with write_transaction(self.conn) as c:
                fsrs_params.apply_fit(c, utc_text(self.now()), weights, fitted.reviews,
                                      (default.log_loss or 0.0, fitted.log_loss or 0.0),
                                      (default.rmse or 0.0, fitted.rmse or 0.0))
            self._load_study_settings()
            applied = True
            note = "the fitted parameters are in use from now on"
        return OptimizeReport(default.reviews, fsrs_fit.MIN_REVIEWS, default, current, fitted,
                              weights, applied, note)

    @_locked
    def fsrs_parameters(self) -> tuple[tuple[float, ...], str]:
        """The FSRS parameters in use and where they come from."""
        fit = fsrs_params.current_fit(self.conn)
        if fit is None:
            return srs.DEFAULT_WEIGHTS, "default"
        return fit.parameters, f"fitted {fit.applied_at[:10]} on {fit.reviews} answers"

    # -- exercises feed the scheduler ---------------------------------------------------------------

    @_locked
    def bring_forward(self, lesson_id: str, kinds: tuple[str, ...] = ("concept",),
                      keys: tuple[str, ...] = ()) -> list[str]:
        """Make the lesson's scheduled cards of these kinds (these keys, when given) due
        tomorrow if they fall due later; new cards stay new. Returns the ids moved."""
        tomorrow = self.today() + timedelta(days=1)
        due = utc_text(day_start(tomorrow, self.tz, self.start_hour))
        with write_transaction(self.conn) as c:
            ids = card_store.lesson_card_ids(c, lesson_id, kinds, keys)
            return card_store.bring_forward(c, ids, tomorrow, due)

    @_locked
    def save_prediction(self, row: PredictionRow) -> None:
        from studyapp.store import predictions

        with write_transaction(self.conn) as c:
            predictions.put_prediction(c, row)

    @_locked
    def graded_typed_answers(self) -> list[GradedAnswer]:
        """The learner's latest grades of typed answers (calibrates suggested grades)."""
        from studyapp.store.typed_answers import graded_typed_answers

        return graded_typed_answers(self.conn)

    # -- a card's history ---------------------------------------------------------------------------

    @_locked
    def card_history(self, card_id: str) -> list[dict[str, Any]]:
        """The review log rows of a card (oldest first), as dicts."""
        cid = reviews.resolve_card(self.conn, card_id) or card_id
        return [r.to_dict() for r in reviews.item_log(self.conn, cid)]
