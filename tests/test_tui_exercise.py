"""The exercise screen: opened from a lesson's example, a run streamed into the plot and log.

The training engine is replaced by a fake that yields the engine's own event types, so the
test takes a second and needs no model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from textual.widgets import RichLog, Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.training.events import Evaluation, Finished, Started, Step
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.widgets.loss_plot import LossPlot

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
        assert str(tmp_path / "my_spam.py") in log and "FAIL loss" in log
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
