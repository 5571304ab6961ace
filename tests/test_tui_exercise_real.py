"""The exercise screen driving the REAL engine: the bundled `spam` exercise, variant `tiny`.

A 2-block GPT-2 built in code trains in a child process for a few seconds; the screen must
plot its train and validation losses, fill the progress bar, show the check results and the
final status, and the run must be recorded as finished in the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import RichLog, Static

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen
from studyapp.tui.widgets.loss_plot import LossPlot
from studyapp.tui.widgets.run_progress import RunProgress

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"epochs": "2", "eval_every": "4", "max_train_examples": "64",
         "max_eval_examples": "32"}


class SmallRuns(ExerciseService):
    """The real service, with settings small enough for a test (as `--set` would give)."""

    def start_run(self, exercise_id: str, **kwargs: Any) -> Any:
        kwargs["overrides"] = {**SMALL, **(kwargs.get("overrides") or {})}
        return super().start_run(exercise_id, **kwargs)


async def test_tiny_spam_run_in_the_exercise_screen(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                        exercises_dir=ROOT / "exercises")
    exercises = SmallRuns(settings, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=exercises)
        await app.push_screen(screen)
        await pilot.pause()
        while screen.variant != "tiny":
            await pilot.press("v")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")                  # the prediction dialog: run without one
        for _ in range(450):                        # up to ~90 s on a loaded 2-core machine
            await pilot.pause(0.2)
            if screen.status not in {"starting", "running", "cancelling"}:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = "\n".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert screen.status in {"passed", "finished: checks failed"}, log
        plot = screen.query_one(LossPlot)
        assert len(plot.train) >= 4 and plot.val, (plot.train, plot.val)
        assert plot.draws >= 2
        progress = screen.query_one(RunProgress)
        assert progress.total is not None and progress.total == plot.train[-1][0]
        assert progress.bar.progress == progress.bar.total == progress.total
        label = str(progress.label.render())
        assert label.startswith(screen.status) and "accuracy" in label, label
        assert "Started on " in log
        assert "test accuracy" in log and ("✓" in log or "✗" in log), log
        assert screen.status in str(screen.query_one("#exercise-status", Static).render())
        runs = exercises.runs("spam")
        assert len(runs) == 1 and runs[0].status == "finished" and runs[0].variant == "tiny"
        assert runs[0].losses["train"] and runs[0].losses["val"]
