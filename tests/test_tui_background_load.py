"""The app paints home from the database, then reads the lessons folder and takes today's
backup in a thread (`StudyService.load_in_background`), as `studyapp` opens it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from studyapp.config import Settings
from studyapp.course.model import Severity
from studyapp.services.study import StudyService
from studyapp.store.backups import daily_backups
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.home import HomeScreen
from studyapp.tui.widgets.lesson_list import LessonList

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _lesson(lesson_id: str, title: str) -> str:
    return (f"---\nid: {lesson_id}\ntitle: {title}\n---\n# {title}\n\n## Overview\nТекст.\n\n"
            "## Short Retrieval Quiz\n1. Защо?\n   Answer: Защото.\n")


def _course(tmp_path: Path) -> Settings:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "01-a.md").write_text(_lesson("a", "Първи урок"), encoding="utf-8")
    (lessons / "02-b.md").write_text(_lesson("b", "Second lesson"), encoding="utf-8")
    return Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                    exercises_dir=tmp_path / "ex", fixed_now=NOW)


def test_home_before_the_course_is_read_comes_from_the_database(tmp_path: Path) -> None:
    settings = _course(tmp_path)
    StudyService.open(settings, daily_backup=False).close()        # synced once, before
    (settings.lessons_dir / "03-new.md").write_text(_lesson("c", "Third"), encoding="utf-8")
    service = StudyService.open(settings, sync=False, daily_backup=False)
    try:
        assert not service.course_loaded and service.start_work_pending
        early = service.lessons()
        assert [(e.id, e.title, e.state) for e in early] == [
            ("a", "Първи урок", "new"), ("b", "Second lesson", "new")]
        assert service.due() == []
    finally:
        service.close()


async def test_the_app_reads_the_course_and_takes_the_backup_after_the_first_paint(
        tmp_path: Path) -> None:
    settings = _course(tmp_path)
    StudyService.open(settings, daily_backup=False).close()
    (settings.lessons_dir / "03-broken.md").write_text("---\nid: [\n---\n# Broken\n",
                                                       encoding="utf-8")
    assert daily_backups(settings.db_path) == []
    service = StudyService.open(settings, sync=False, daily_backup=False)
    app = StudyApp(service, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if service.course_loaded and not service.start_work_pending:
                break
        await pilot.pause()
        home = app.screen
        assert isinstance(home, HomeScreen)
        ids = [e.id for e in home.entries]
        assert ids[:2] == ["a", "b"] and len(ids) == 3        # the broken file shows now
        assert any(d.severity is Severity.ERROR for d in home.entries[2].diagnostics)
        assert home.query_one("#lessons", LessonList).row_count == 3
        assert service.lesson("a").title == "Първи урок"
    service.close()
    assert len(daily_backups(settings.db_path)) == 1


def test_closing_while_the_course_loads_loses_nothing_and_raises_nothing(
        tmp_path: Path) -> None:
    settings = _course(tmp_path)
    service = StudyService.open(settings, sync=False, daily_backup=False)
    told: list[str | None] = []
    service.load_in_background(told.append)
    service.close()                       # at once: the load stops quietly or finishes
    if service._loader is not None:
        service._loader.join(timeout=30)
    assert told in ([], [None])
    again = StudyService.open(settings, daily_backup=False)
    try:
        assert [e.id for e in again.lessons()] == ["a", "b"]
    finally:
        again.close()
