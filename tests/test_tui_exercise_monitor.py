"""The exercise screen as a training monitor (issue 12): what a learner reads on it.

Recorded runs (RunRecord, as the store returns them) stand behind a fake exercise service,
so no model trains: the latest run is on the plot at open, ticks are integers, `l`, `[`/`]`
and `a` change how the curves are read, the runs table shows the settings that differ and
picks two runs for the overlay, test loss and the confusion matrix sit beside the metrics,
and hints appear in a panel at the top.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from textual.widgets import DataTable, Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.store.runs import RunRecord
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen, differing_keys
from studyapp.tui.widgets.loss_plot import LossPlot, integer_ticks, smooth
from tests.test_tui_exercise import FakeExercises, FakeLearner


def record(run_id: str, minute: int, lr: float, losses: list[float], *, code: str = "mine",
           accuracy: float = 0.9) -> RunRecord:
    start = datetime(2026, 11, 23, 8, minute, tzinfo=UTC)
    train = [[i + 1, v] for i, v in enumerate(losses)]
    extra = {"code": code} if HAS_CODE else {}      # whose code ran, once runs record it
    return RunRecord(**extra,
        id=run_id, exercise="spam", variant="tiny",
        settings={"lr": lr, "epochs": 2, "batch_size": 16}, device="cpu", started_at=start,
        finished_at=start, status="finished",
        losses={"train": train, "val": [[0, losses[0]], [len(losses), losses[-1]]]},
        metrics={"accuracy": accuracy, "val_loss": losses[-1], "test_loss": 0.4321,
                 "wall_time_s": 12.5,
                 "confusion": {"tp": 40, "fp": 3, "fn": 5, "tn": 52}},
        checks=[{"name": "accuracy", "passed": accuracy >= 0.8}], error=None)


HAS_CODE = "code" in {f.name for f in dataclasses.fields(RunRecord)}


class RecordedExercises(FakeExercises):
    def __init__(self, runs: list[RunRecord]) -> None:
        super().__init__()
        self.recorded = runs

    def runs(self, exercise_id: str | None = None, *, limit: int | None = 50) -> list:
        return self.recorded[:limit]


RUNS = [record("r3", 30, 0.002, [0.9, 0.7, 0.5, 0.45, 0.4, 0.38, 0.37, 0.36, 0.35, 0.34, 0.33,
                                 0.32, 0.31, 0.3, 0.29, 0.28, 0.27, 0.26, 0.25]),
        record("r2", 20, 0.001, [0.95, 0.9, 0.85, 0.8], accuracy=0.6),
        record("r1", 10, 0.002, [0.92, 0.8, 0.7, 0.6])]


def make_app(tmp_path: Path) -> StudyApp:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                        exercises_dir=tmp_path / "ex",
                        fixed_now=datetime(2026, 11, 23, 9, tzinfo=UTC))
    return StudyApp(StudyService.open(settings), cursor_blink=False)


def screen_text(app: StudyApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_integer_ticks_and_smoothing() -> None:
    assert integer_ticks(1, 19) == [0, 5, 10, 15, 20] or integer_ticks(1, 19) == [5, 10, 15]
    assert all(isinstance(t, int) for t in integer_ticks(0, 9.5))
    assert integer_ticks(0, 38) == [0, 10, 20, 30]
    assert smooth([(1, 1.0), (2, 1.0)], 0.9) == [(1, 1.0), (2, 1.0)]   # debiased: no dip
    raw = [(i, float(i % 2)) for i in range(1, 21)]
    assert max(v for _, v in smooth(raw, 0.9)[10:]) < 0.8            # the zigzag flattens
    assert differing_keys([{"lr": 1, "e": 2}, {"lr": 2, "e": 2}, {"lr": 1, "e": 2, "x": 1}]) \
        == ["lr", "x"]


async def test_the_monitor_reads_the_latest_run_at_open(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    exercises = RecordedExercises(RUNS)
    learner = FakeLearner(tmp_path / "mine.py")
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(ExerciseScreen(app.service, "spam", exercises=exercises,
                                       learner=learner))
        await pilot.pause()
        screen = app.screen
        plot = screen.query_one(LossPlot)
        # the latest run is on the plot at once, with integer step ticks
        assert screen.base_run_id == "r3" and len(plot.train) == 19
        assert plot.xticks and all(isinstance(t, int) for t in plot.xticks)
        assert "latest" in plot.caption
        text = screen_text(app)
        assert "9.5" not in text.split("step")[0].splitlines()[-1]
        # test loss and the confusion matrix beside the metrics
        metrics = str(screen.query_one("#run-metrics", Static).render())
        assert "loss 0.4321" in metrics and "40" in metrics and "52" in metrics
        assert "predicted +" in metrics
        # the runs table: the setting that differs (lr), outcome, time, whose code
        table = screen.query_one("#runs-table", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["when", "outcome", "code", "lr", "time", "variant"]
        first = [str(c) for c in table.get_row_at(0)]
        assert first[1].startswith("passed") and first[2] == ("mine" if HAS_CODE else "-")
        assert first[3] == "0.002" and first[4] == "12s"
        assert [str(c) for c in table.get_row_at(1)][1].startswith("checks failed")
        # l: log axis; ]: smoothing; a: epochs (2 epochs over 19 steps)
        await pilot.press("l")
        assert plot.log_y
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert plot.smoothing == 0.8
        await pilot.press("left_square_bracket")
        assert plot.smoothing == 0.5
        await pilot.press("a")
        assert plot.by_epoch and plot.xticks == [0, 1, 2]
        assert "epoch" in screen_text(app)
        # pick two runs: enter plots the second row, space overlays the third
        table.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.base_run_id == "r2"
        await pilot.press("down", "space")
        await pilot.pause()
        assert screen.overlay_run is not None and screen.overlay_run.id == "r1"
        assert plot.overlay is not None
        await pilot.press("space")                       # again: the overlay goes
        assert screen.overlay_run is None


async def test_a_hint_shows_at_the_top(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ExerciseScreen(app.service, "spam", exercises=RecordedExercises([]),
                                       learner=FakeLearner(tmp_path / "mine.py")))
        await pilot.pause()
        panel = app.screen.query_one("#exercise-hints", Static)
        assert not panel.display
        await pilot.press("h")
        await pilot.pause()
        assert panel.display and panel.region.y <= 2       # right under the title bar
        assert "Hint 1: Use cross-entropy." in screen_text(app)


async def test_a_passed_run_offers_the_next_step(tmp_path: Path) -> None:
    """The fake run passes its checks: the log and a note say what comes next (here the
    only lesson, not started), and N opens it."""
    from studyapp.tui.screens.lesson import LessonScreen
    from tests.test_tui_exercise import FakeExercises

    app = make_app(tmp_path)
    (tmp_path / "lessons" / "next.md").write_text("# After spam\n\n## Overview\nNext.\n",
                                                  encoding="utf-8")
    app.service.reload()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(ExerciseScreen(app.service, "spam", exercises=FakeExercises(),
                                       learner=FakeLearner(tmp_path / "mine.py")))
        await pilot.pause()
        screen = app.screen
        screen._start("solution", None)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.status == "passed"
        assert any("Next in the course: lesson “After spam”, press N" in str(n.message)
                   for n in app._notifications)
        await pilot.press("N")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen) and app.screen.lesson.title == "After spam"
