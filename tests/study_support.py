"""Helpers for the study/store tests: hand-built lessons, a service on a temp database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from studyapp.config import Settings
from studyapp.course.model import Concept, Lesson, ParseResult, QuizItem, ReviewStep
from studyapp.services.study import StudyService

SOFIA = ZoneInfo("Europe/Sofia")


def make_lesson(lesson_id: str = "epochs", quiz=None, concepts=None, plan=None,
                source: str | None = None, title: str = "Epochs") -> Lesson:
    quiz = quiz if quiz is not None else [
        ("What is an epoch?", "One full pass over the training set.", None),
        ("Why keep a validation set apart from the test set?", "It is used for decisions.",
         None),
    ]
    concepts = concepts if concepts is not None else [
        ("Epoch", "one full pass over the training set.", None),
        ("Early stopping", "stop when validation loss has not improved for a while.", None),
    ]
    plan = plan if plan is not None else [
        (1, "What is an epoch?"), (3, "Explain early stopping."), (7, "Walk through a run."),
        (30, "Pitfalls?")]
    return Lesson(
        id=lesson_id, title=title, language="en",
        source=source or f"/course/{lesson_id}.md",
        quiz=tuple(QuizItem(q, i + 10, a, qid) for i, (q, a, qid) in enumerate(quiz)),
        concepts=tuple(Concept(t, e, i + 3, cid) for i, (t, e, cid) in enumerate(concepts)),
        review_plan=tuple(ReviewStep(d, p, i + 40) for i, (d, p) in enumerate(plan)),
    )


def results(*lessons: Lesson) -> list[ParseResult]:
    return [ParseResult(lesson.source, lesson) for lesson in lessons]


def local(y, mo, d, h=12, mi=0, tz=SOFIA) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC)


def settings_at(tmp: Path, now: datetime | None, lessons_dir: Path | None = None) -> Settings:
    return Settings(db_path=tmp / "study.db", lessons_dir=lessons_dir or tmp / "lessons",
                    exercises_dir=tmp / "exercises", fixed_now=now)


def service(tmp: Path, now: datetime | None, *lessons: Lesson, tz: str = "Europe/Sofia",
            fuzz: bool = False, lessons_dir: Path | None = None) -> StudyService:
    """A service on tmp/study.db at `now`; hand-built lessons when given, else the folder."""
    svc = StudyService.open(settings_at(tmp, now, lessons_dir), sync=not lessons)
    if svc.study_settings.timezone != tz:
        svc.set_setting("timezone", tz)
    if svc.study_settings.fuzz != fuzz:
        svc.set_setting("fuzz", "1" if fuzz else "0")
    if lessons:
        svc.load_results(results(*lessons))
    return svc


def at(svc: StudyService, now: datetime) -> StudyService:
    """The same database and course, another moment (time travel)."""
    from dataclasses import replace

    new = StudyService(replace(svc.settings, fixed_now=now), svc.db)
    new.load_results(svc._results)
    return new
