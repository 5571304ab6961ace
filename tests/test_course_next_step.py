"""Next steps and the course at a glance (issue 12): after a finished lesson or a passed
exercise the app offers what comes next in course order; home shows the progress."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from studyapp.config import Settings
from studyapp.services.progress import (
    ExerciseItem,
    LessonItem,
    NextStep,
    course_progress,
    next_step,
)
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.widgets.lesson_list import LessonList
from tests.conftest import BG_LESSON

LESSONS = [LessonItem("a", "A", "done"), LessonItem("b", "B", "new"),
           LessonItem("c", "C", "in_progress")]
EXERCISES = [ExerciseItem("x", "X", "a", "attempted"), ExerciseItem("y", "Y", "a", "passed"),
             ExerciseItem("z", "Z", "b", "not_started")]


def test_next_step_in_course_order() -> None:
    assert next_step(LESSONS, EXERCISES, after_lesson="a") == NextStep("exercise", "x", "X")
    assert next_step(LESSONS, EXERCISES, after_exercise="x") == NextStep("lesson", "b", "B")
    assert next_step(LESSONS, EXERCISES, after_lesson="b") == NextStep("exercise", "z", "Z")
    done = [LessonItem(e.id, e.title, "done") for e in LESSONS]
    passed = [ExerciseItem(e.id, e.title, e.lesson, "passed") for e in EXERCISES]
    assert next_step(done, passed, after_lesson="c") is None


def test_course_progress_line() -> None:
    line = course_progress(LESSONS, EXERCISES, {"review": 2, "new": 1, "learning": 1}).line()
    assert line == "1/3 lessons · 1/3 exercises passed · 2/4 cards learned"


async def test_finishing_a_lesson_offers_the_next_one_and_home_shows_progress(
        tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "a.md").write_text("---\nid: a\ntitle: First\n---\n# First\n\n## Quiz\n"
                                  "1. Q?\n   Answer: A\n", encoding="utf-8")
    shutil.copy(BG_LESSON, lessons / "b.txt")
    settings = Settings(db_path=tmp_path / "db", lessons_dir=lessons,
                        exercises_dir=tmp_path / "ex",
                        fixed_now=datetime(2026, 11, 23, 9, tzinfo=UTC))
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#lessons", LessonList)
        assert table.border_subtitle == "0/2 lessons · 0/0 exercises passed · 0/10 cards learned"
        await pilot.press("enter")
        assert isinstance(app.screen, LessonScreen)
        await pilot.press("escape", "f", "f")             # to the plan, then finish
        await pilot.pause()
        assert any("Next in the course: lesson “Learning_rate_and_warmup”, press N"
                   in str(n.message) for n in app._notifications)
        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.lesson.title == "Learning_rate_and_warmup"
        await pilot.press("escape", "escape")
        await pilot.pause()
        table = app.screen.query_one("#lessons", LessonList)
        assert table.border_subtitle.startswith("1/2 lessons")
