"""The exercise screen: opened from a lesson's example, a run streamed into the plot and log.

The training engine is replaced by a fake that yields the engine's own event types, so the
test takes a second and needs no model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

from textual.widgets import RichLog, Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.training.events import Evaluation, Finished, Started, Step
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.widgets.loss_plot import LossPlot, downsample

LESSON = """\
# Spam

## Overview
Classify messages.

## Examples
### Example 1: the head
Exercise: spam

```python
head = Linear(768, 2)
```
"""


class FakeHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def events(self):  # type: ignore[no-untyped-def]
        yield Started(run_id="r1", exercise="spam", variant="tiny", device="cpu", settings={},
                      total_steps=3, train_examples=8)
        for step, loss in enumerate([0.9, 0.6, 0.4], start=1):
            yield Step(step=step, epoch=step / 3, loss=loss, lr=1e-3, tokens_per_s=1.0,
                       elapsed=0.1)
        yield Evaluation(step=3, val_loss=0.5, metrics={"accuracy": 0.9})
        yield Finished(metrics={"accuracy": 0.9},
                       checks=[{"name": "accuracy", "passed": True,
                                "message": "accuracy >= 0.8: measured 0.9"}])

    def cancel(self, grace_s: float | None = None) -> None:
        self.cancelled = True


class FakeExercises:
    def __init__(self) -> None:
        self.started: list[str | None] = []
        self.exercise_value = SimpleNamespace(
            id="spam", title="Spam or not", summary="Fine-tune a spam filter.",
            default_variant="tiny",
            variants={"tiny": SimpleNamespace(description="seconds"),
                      "encoder": SimpleNamespace(description="MiniLM")},
            checks=(SimpleNamespace(name="accuracy", metric="accuracy", op=">=", value=0.8,
                                    ref=None),),
            hints=("Use cross-entropy.", "Take the mean."), learner_file=Path("spam.py"),
            code_checks_file=Path("checks.py"))

    def exercise(self, exercise_id: str):  # type: ignore[no-untyped-def]
        return self.exercise_value

    def runs(self, exercise_id: str | None = None, *, limit: int | None = 50) -> list:
        return []

    def trials(self, run_id: str) -> list:
        return []

    def start_run(self, exercise_id: str, *, variant: str | None = None,
                  code: str | None = None) -> FakeHandle:
        self.started.append((variant, code))
        return FakeHandle()


class FakeLearner:
    """The learner's-code workflow (training/learner.py LearnerService), in memory."""

    def __init__(self, copy: Path) -> None:
        self.copy = copy
        self.shown = 0
        self.hint_texts = ["Use cross-entropy.", "Take the mean."]

    def hints(self, exercise_id: str) -> list[str]:
        return self.hint_texts[:self.shown]

    def hint(self, exercise_id: str) -> object:
        self.shown = min(self.shown + 1, len(self.hint_texts))
        return object()

    def edit(self, exercise_id: str) -> Path:
        self.copy.write_text("# my code\n")
        return self.copy

    def code_path(self, exercise_id: str, code: str | None = None) -> Path:
        return self.edit(exercise_id)

    def check(self, exercise_id: str) -> SimpleNamespace:
        return SimpleNamespace(passed=False, lines=lambda: [
            "PASS shapes", "FAIL loss", "     expected 0.69, found 0.0",
            "1 of 2 checks passed (0.1 s)"])


async def test_exercise_run_streams_into_plot_and_log(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "spam.md").write_text(LESSON, encoding="utf-8")
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                        exercises_dir=tmp_path / "ex",
                        fixed_now=datetime(2026, 11, 23, 9, tzinfo=UTC))
    fake = FakeExercises()
    learner = FakeLearner(tmp_path / "my_spam.py")
    original = ExerciseScreen.__init__

    def init(self, service, exercise_id, *, exercises=None, learner_=None):  # type: ignore[no-untyped-def]
        original(self, service, exercise_id, exercises=fake, learner=learner)

    monkeypatch.setattr(ExerciseScreen, "__init__", init)
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "n")
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.page.title == "Examples"
        await pilot.press("x")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ExerciseScreen)
        assert "Spam or not" in str(screen.query_one("#exercise-title", Static).render())
        await pilot.press("h")
        assert "cross-entropy" in str(screen.query_one("#exercise-hints", Static).render())
        await pilot.press("e")  # no $EDITOR in tests: the copy's path is shown
        await pilot.press("k")
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = "\n".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        flat = "".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert str(tmp_path / "my_spam.py") in flat and "FAIL loss" in log  # a long path wraps
        assert screen.status == "checks fail"
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fake.started == [("tiny", str(tmp_path / "my_spam.py"))]
        await pilot.press("v")
        assert screen.variant == "encoder"
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert fake.started[-1] == ("encoder", "solution")
        plot = screen.query_one(LossPlot)
        assert plot.train == [(1, 0.9), (2, 0.6), (3, 0.4)] and plot.val == [(3, 0.5)]
        assert screen.status == "passed"
        log = "\n".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert "Started on cpu" in log and "measured 0.9" in log
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)


# --- the throttle, the overlay, watch mode ---------------------------------------------------
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def past_run(run_id: str, minute: int, lr: float, train: list, val: list) -> SimpleNamespace:
    """A recorded run as ExerciseService.runs returns it (store.runs.RunRecord's fields)."""
    return SimpleNamespace(
        id=run_id, exercise="spam", variant="tiny", status="finished",
        settings={"lr": lr, "epochs": 1, "batch_size": 16},
        started_at=datetime(2026, 11, 23, 8, minute, tzinfo=UTC),
        losses={"train": train, "val": val}, metrics={"accuracy": 0.9})


def make_settings(tmp_path: Path) -> Settings:
    lessons = tmp_path / "lessons"
    lessons.mkdir(exist_ok=True)
    (lessons / "spam.md").write_text(LESSON, encoding="utf-8")
    return Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                    exercises_dir=tmp_path / "ex", fixed_now=NOW)


def test_downsample_keeps_first_and_last_and_spreads_evenly() -> None:
    points = [(i, float(i)) for i in range(1, 5001)]
    shown = downsample(points, 300)
    assert len(shown) == 300
    assert shown[0] == (1, 1.0) and shown[-1] == (5000, 5000.0)
    gaps = {b[0] - a[0] for a, b in pairwise(shown)}
    assert gaps <= {16, 17}                       # 4999 / 299 ≈ 16.7: even spacing
    assert downsample(points[:10], 300) == points[:10]


async def test_plot_draws_on_its_timer_not_per_point(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    learner = FakeLearner(tmp_path / "my_spam.py")
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=FakeExercises(), learner=learner)
        await app.push_screen(screen)
        await pilot.pause()
        plot = screen.query_one(LossPlot)
        before = plot.draws
        for step in range(1, 5001):
            plot.add_train(step, 1.0 / step)
        assert plot.draws == before                # adding points draws nothing
        plot.flush()
        assert plot.draws == before + 1
        plot.flush()                               # nothing new: no redraw
        assert plot.draws == before + 1
        plot.add_val(5000, 0.1)
        await pilot.pause(0.7)                     # the 2 Hz timer draws it
        assert plot.draws == before + 2
        assert len(plot.train) == 5000             # every point kept


async def test_overlay_cycles_through_past_runs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    fake = FakeExercises()
    runs = [past_run("r3", 30, 2e-3, [[1, 0.7], [2, 0.5]], [[2, 0.6]]),
            past_run("r2", 20, 1e-3, [[1, 0.9], [2, 0.8]], [[2, 0.85]]),
            past_run("r1", 10, 2e-3, [[1, 0.8], [2, 0.6]], [[2, 0.7]])]
    fake.runs = lambda exercise_id=None, limit=50: runs  # type: ignore[method-assign]
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=fake,
                                learner=FakeLearner(tmp_path / "my_spam.py"))
        await app.push_screen(screen)
        await pilot.pause()
        plot = screen.query_one(LossPlot)
        await pilot.press("o")                     # idle: the latest run, plus r2 overlaid
        assert plot.train == [(1, 0.7), (2, 0.5)] and plot.val == [(2, 0.6)]
        assert plot.overlay is not None
        assert plot.overlay.train == ((1, 0.9), (2, 0.8)) and plot.overlay.val == ((2, 0.85),)
        assert plot.overlay.label == "tiny 08:20 lr=0.001"
        await pilot.press("o")
        assert plot.overlay is not None and plot.overlay.label == "tiny 08:10 same settings"
        await pilot.press("o")                     # past the last: cleared
        assert plot.overlay is None
        log = "\n".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert "Overlay 1/2: tiny 2026-11-23 08:20 lr=0.001 (finished)" in log
        assert "Overlay cleared." in log
        await pilot.press("o")                     # and round again; then a live run keeps it
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert plot.overlay is not None and plot.overlay.label.startswith("tiny 08:20")
        assert plot.train == [(1, 0.9), (2, 0.6), (3, 0.4)]


async def test_watch_mode_rechecks_when_the_copy_is_saved(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ExerciseScreen, "WATCH_INTERVAL_S", 0.1)
    settings = make_settings(tmp_path)
    learner = FakeLearner(tmp_path / "my_spam.py")
    calls: list[str] = []
    check = learner.check

    def counting_check(exercise_id: str) -> SimpleNamespace:
        calls.append(learner.copy.read_text())
        return check(exercise_id)

    learner.check = counting_check  # type: ignore[method-assign]
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=FakeExercises(), learner=learner)
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("w")
        status = screen.query_one("#exercise-status", Static)
        assert "watching" in str(status.render())
        await pilot.pause(0.4)
        assert calls == []                         # nothing saved yet: nothing checked
        learner.copy.write_text("# my code, now with a loss\n")
        for _ in range(50):
            await pilot.pause(0.1)
            if calls and screen.status == "checks fail":
                break
        assert calls == ["# my code, now with a loss\n"]
        assert "checks fail · watching" in str(status.render())
        log = "\n".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert "my_spam.py changed: checking" in log and "FAIL loss" in log
        await pilot.press("w")
        assert "watching" not in str(status.render())
        learner.copy.write_text("# changed again, not watched\n")
        await pilot.pause(0.4)
        assert len(calls) == 1
