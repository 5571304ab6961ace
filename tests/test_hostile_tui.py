"""The hostile course (tests/test_hostile_input.py) in the Textual app, driven by Pilot:
home with a plan prompt `[/]` due, the review with a `[/INST]` answer, every section of
the lesson, the diagnostics of the broken files. Nothing crashes, the markup shows
literally, and no raw control character is ever on the screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.home import HomeScreen
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.screens.review import ReviewScreen
from studyapp.tui.widgets.lesson_list import LessonList
from tests.test_hostile_input import build_course

DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def screen_text(app: StudyApp) -> str:
    text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
    bad = RAW_CONTROL.findall(text)
    assert not bad, (type(app.screen).__name__, bad[:5], text)
    return text


def settings_for(tmp_path: Path, now: datetime) -> Settings:
    lessons = tmp_path / "lessons"
    if not lessons.exists():
        build_course(lessons)
    return Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                    exercises_dir=tmp_path / "exercises", fixed_now=now)


async def test_the_hostile_course_in_the_app(tmp_path: Path) -> None:
    day1 = StudyService.open(settings_for(tmp_path, DAY1))
    day1.complete_lesson("evil")
    day1.close()

    app = StudyApp(StudyService.open(settings_for(tmp_path, DAY2)), cursor_blink=False)
    seen: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        home = screen_text(app)
        assert "Explain [/]" in home, home                  # the due plan prompt, literally

        # the review: every due item, the reference answers shown, graded Good
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        for _ in range(12):
            if not isinstance(app.screen, ReviewScreen):
                break
            await pilot.press("enter")
            await pilot.pause()
            seen.append(screen_text(app))
            await pilot.press("3")
            await pilot.pause()
        reviewed = "\n".join(seen)
        assert "[/INST]" in reviewed, reviewed
        await pilot.press("escape")
        await pilot.pause()

        # the lesson, section by section
        assert isinstance(app.screen, HomeScreen)
        table = app.screen.query_one("#lessons", LessonList)
        titles = [str(table.row_at(i).title) for i in range(table.row_count)]
        screen_text(app)
        table.move_cursor(row=next(i for i, t in enumerate(titles) if t.startswith("Evil")))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)
        pages = []
        for _ in range(len(app.screen.pages) + 1):
            pages.append(screen_text(app))
            await pilot.press("ctrl+n")      # the next section, even from an answer field
            await pilot.pause()
        lesson = "\n".join(pages)
        for literal in ("Chat [INST] template", "Explain [INST]hello[/INST]",
                        "What is \\x1b[2J a clear?", "Evil \\x1b]0;pwned\\x07 lesson"):
            assert literal in lesson, (literal, lesson)
        await pilot.press("escape")
        await pilot.pause()

        # every broken file opens its diagnostics, escapes and all
        for i, title in enumerate(titles):
            if not isinstance(app.screen, HomeScreen):
                await pilot.press("escape")
                await pilot.pause()
            app.screen.query_one("#lessons", LessonList).move_cursor(row=i)
            await pilot.pause()
            screen_text(app)
            await pilot.press("l")
            await pilot.pause()
            screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
    app.service.close()


async def test_a_lock_held_past_the_busy_timeout_is_one_line_and_the_app_goes_on(
        tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    from studyapp.store import db as store_db

    day1 = StudyService.open(settings_for(tmp_path, DAY1))
    day1.complete_lesson("evil")
    day1.close()
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 300)
    app = StudyApp(StudyService.open(settings_for(tmp_path, DAY2)), cursor_blink=False)
    logged = app.service.conn.execute("SELECT count(*) FROM review_log").fetchone()[0]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("enter")
        await pilot.pause()
        holder = sqlite3.connect(app.service.settings.db_path)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            await pilot.press("3")
            await pilot.pause(0.5)
        finally:
            holder.rollback()
            holder.close()
        assert app.is_running and isinstance(app.screen, ReviewScreen)
        messages = [str(n.message) for n in app._notifications]
        assert any("locked by another process (waited" in m for m in messages), messages
        screen_text(app)
    count = app.service.conn.execute("SELECT count(*) FROM review_log").fetchone()[0]
    assert count == logged                      # nothing was reported done that was not
    app.service.close()
