"""The exercise list in the TUI: every bundled exercise, its lesson and the learner's progress;
enter opens one; a broken exercise folder is listed with its message, never a crash."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from textual.widgets import DataTable, Static

from studyapp.config import Settings, bundled_exercises_dir, bundled_lessons_dir
from studyapp.services.study import StudyService
from studyapp.store import runs
from studyapp.store.db import use_database
from studyapp.training.catalog import load_exercises
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen
from studyapp.tui.screens.exercises import ExercisesScreen
from studyapp.tui.screens.home import HomeScreen

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def row_texts(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_list_shows_every_exercise_with_progress_and_opens_one(tmp_path: Path) -> None:
    exercises = tmp_path / "exercises"
    shutil.copytree(bundled_exercises_dir(), exercises)
    (exercises / "broken").mkdir()
    (exercises / "broken" / "exercise.toml").write_text("title = [unclosed\n", encoding="utf-8")
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=bundled_lessons_dir(),
                        exercises_dir=exercises, fixed_now=NOW)
    service = StudyService.open(settings)
    use_database(settings.db_path, lambda db: runs.set_progress(db, "lora", NOW, passed=True),
                 None)
    use_database(settings.db_path,
                 lambda db: runs.set_progress(db, "overfitting", NOW, passed=False), None)

    app = StudyApp(service, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExercisesScreen)
        rows = row_texts(screen.query_one("#exercise-list", DataTable))
        bundled = len(load_exercises(bundled_exercises_dir())[0])
        assert bundled >= 8 and len(rows) == bundled
        spam = next(r for r in rows if r[1].startswith("Spam or not"))
        lora = next(r for r in rows if r[1].startswith("LoRA"))
        assert lora[0] == "●" and lora[3] == "passed today"
        over = next(r for r in rows if "early stopping" in r[1].lower())
        assert over[3] == "attempted today"
        assert sum(r[3] == "not started" for r in rows) == bundled - 2
        # the lesson column names the lesson by its title, not its id
        assert spam[2].startswith(
            next(e.title for e in service.lessons() if e.id == "gpt-classification")[:10])
        assert f"1/{bundled} passed" in str(
            screen.query_one("#exercises-count", Static).render())
        detail = str(screen.query_one("#exercise-detail", Static).render())
        assert "broken" in detail and "exercise.toml" in detail

        spam_row = rows.index(spam)
        screen.query_one("#exercise-list", DataTable).move_cursor(row=spam_row)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExerciseScreen)
        assert app.screen.exercise_id == "spam"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ExercisesScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    service.close()


def test_the_list_does_not_import_torch(tmp_path: Path) -> None:
    """Listing exercises reads metadata and the database only (the TUI must stay quick)."""
    import subprocess

    code = (
        "import sys, asyncio\n"
        "from studyapp.config import Settings, bundled_lessons_dir, bundled_exercises_dir\n"
        "from studyapp.services.study import StudyService\n"
        "from studyapp.tui.app import StudyApp\n"
        "from studyapp.tui.screens.exercises import ExercisesScreen\n"
        f"s = Settings(db_path=__import__('pathlib').Path({str(tmp_path / 'db')!r}),"
        " lessons_dir=bundled_lessons_dir(), exercises_dir=bundled_exercises_dir())\n"
        "async def main():\n"
        "    app = StudyApp(StudyService.open(s))\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.press('x'); await pilot.pause()\n"
        "        assert isinstance(app.screen, ExercisesScreen)\n"
        "        from studyapp.training.catalog import load_exercises\n"
        "        n = len(load_exercises(bundled_exercises_dir())[0])\n"
        "        assert app.screen.query_one('#exercise-list').row_count == n >= 8\n"
        "    print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"
