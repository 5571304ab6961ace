"""Predict, then run: the prediction spec, its value, the verdict, the record with the run,
concept cards brought forward when it was far off, the CLI's --predict and the screen."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from textual.widgets import Input, RichLog

from studyapp.cli import main
from studyapp.config import bundled_exercises_dir
from studyapp.course.loader import load_lessons
from studyapp.services.predictions import describe, prediction_for, settle
from studyapp.store.db import open_database
from studyapp.training.catalog import find_exercise, load_exercises
from studyapp.training.events import Finished, Started, Step
from studyapp.training.prediction import PredictionError, PredictionSpec
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen
from studyapp.tui.screens.predict import PredictScreen
from tests.study_support import at, local, make_lesson, service
from tests.test_training_run import make_exercise

ROOT = Path(__file__).resolve().parent.parent
ACCURACY = PredictionSpec("accuracy", "Test accuracy?", "fraction", 0.1)
EPOCH = PredictionSpec("overfit_best_epoch", "Which epoch?", "integer", 3)
SHARE = PredictionSpec("lora_trainable_share", "Share?", "fraction", 0.5, "log")


def test_values_are_read_as_the_learner_writes_them() -> None:
    assert ACCURACY.parse("0.85") == 0.85 and ACCURACY.parse(" 85% ") == pytest.approx(0.85)
    assert EPOCH.parse("6") == 6.0
    for spec, bad in ((ACCURACY, "1.5"), (ACCURACY, "abc"), (ACCURACY, "nan"), (EPOCH, "2.5"),
                      (EPOCH, "-1"), (SHARE, "0")):
        with pytest.raises(PredictionError, match=f"prediction '{bad}' for {spec.metric}: give"):
            spec.parse(bad)
    assert ACCURACY.show(0.97) == "97.0%" and SHARE.show(0.0068) == "0.68%"
    assert EPOCH.show(6.0) == "6"


def test_the_verdict_is_far_off_beyond_the_tolerance() -> None:
    assert not ACCURACY.judge(0.9, 0.97).far
    far = ACCURACY.judge(0.6, 0.97)
    assert far.far and far.error == pytest.approx(0.37) and far.outcome == 0.97
    assert EPOCH.judge(5, 8).far is False and EPOCH.judge(20, 6).far is True
    # a share on a log scale: 1% vs 0.68% is close, 30% vs 0.68% is far off
    assert not SHARE.judge(0.01, 0.0068).far and SHARE.judge(0.3, 0.0068).far
    none = ACCURACY.judge(0.9, None)
    assert none.outcome is None and not none.far


def test_a_malformed_prediction_table_says_what_is_wrong() -> None:
    with pytest.raises(PredictionError, match="needs 'question'"):
        PredictionSpec.from_toml({"metric": "accuracy"}, "exercise 'x'")
    with pytest.raises(PredictionError, match="kind 'percent'"):
        PredictionSpec.from_toml({"metric": "a", "question": "q", "kind": "percent"}, "x")
    with pytest.raises(PredictionError, match="tolerance must be above 0"):
        PredictionSpec.from_toml({"metric": "a", "question": "q", "tolerance": 0}, "x")


def test_bundled_exercises_ask_for_their_headline_outcome_and_link_real_concepts() -> None:
    exercises, problems = load_exercises(bundled_exercises_dir())
    assert problems == []
    by_id = {e.id: e for e in exercises}
    expected = {"spam": "accuracy", "overfitting": "overfit_best_epoch",
                "lora": "lora_trainable_share"}
    concepts = {r.lesson.id: {c.id for c in r.lesson.concepts}
                for r in load_lessons(ROOT / "lessons") if r.lesson}
    for exercise_id, metric in expected.items():
        spec = prediction_for(by_id[exercise_id])
        assert spec is not None and spec.metric == metric
        assert spec.concepts and set(spec.concepts) <= concepts[by_id[exercise_id].lesson]


# -- settled against the outcome: kept, and far off brings the concept cards forward ---------


def _exercise(lesson: str, concepts: list[str]):  # type: ignore[no-untyped-def]
    ex = find_exercise(bundled_exercises_dir(), "spam")
    table = {"metric": "accuracy", "question": "Test accuracy?", "tolerance": 0.1,
             "concepts": concepts}
    return dataclasses.replace(ex, lesson=lesson, extra={**ex.extra, "prediction": table})


def _learned(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A completed lesson whose cards were all answered Easy on day 0: due days later."""
    svc = service(tmp_path, local(2026, 11, 23), make_lesson(
        concepts=[("Epoch", "one full pass.", "epoch"),
                  ("Early stopping", "stop when validation loss stalls.", "early-stopping")]))
    svc.complete_lesson("epochs")
    for item in svc.due():
        if item.kind == "card":
            svc.grade(item.id, 4)
    return svc


def _due_days(svc) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(svc.conn.execute("SELECT card_id, due_day FROM card_state"))


def test_a_close_prediction_is_kept_and_changes_no_schedule(tmp_path) -> None:
    svc = _learned(tmp_path)
    before = _due_days(svc)
    row = settle(svc, _exercise("epochs", []), "run-1", 0.95, {"accuracy": 0.97})
    assert (row.predicted, row.outcome, row.far, row.cards_due) == (0.95, 0.97, False, ())
    assert _due_days(svc) == before
    spec = prediction_for(_exercise("epochs", []))
    assert describe(spec, row) == "you predicted 95.0%, the run gave 97.0% (close)"


def test_a_far_off_prediction_makes_the_linked_concept_cards_due_tomorrow(tmp_path) -> None:
    svc = _learned(tmp_path)
    tomorrow = (svc.today() + timedelta(days=1)).isoformat()
    before = _due_days(svc)
    assert all(day > tomorrow for day in before.values())
    row = settle(svc, _exercise("epochs", ["early-stopping"]), "run-2", 0.5, {"accuracy": 0.97})
    assert row.far and row.cards_due == ("epochs:concept:early-stopping",)
    after = _due_days(svc)
    assert after["epochs:concept:early-stopping"] == tomorrow
    assert {k: v for k, v in after.items() if k != "epochs:concept:early-stopping"} == \
        {k: v for k, v in before.items() if k != "epochs:concept:early-stopping"}
    assert "far off: 1 concept card of the lesson due tomorrow" in describe(
        prediction_for(_exercise("epochs", [])), row)
    # tomorrow the card is in the queue
    tomorrows = at(svc, local(2026, 11, 24))
    assert "epochs:concept:early-stopping" in {i.id for i in tomorrows.due()}
    # no concepts named: every concept card of the lesson
    row = settle(svc, _exercise("epochs", []), "run-3", 0.1, {"accuracy": 0.97})
    assert set(row.cards_due) == {"epochs:concept:epoch"}  # the other one is due already
    # a run without the outcome: kept, nothing moves
    row = settle(svc, _exercise("epochs", []), "run-4", 0.1, None)
    assert row.outcome is None and not row.far


def test_the_migration_makes_the_predictions_table(tmp_path) -> None:
    db = open_database(tmp_path / "m.db")
    cols = {r[1] for r in db.execute("PRAGMA table_info(run_predictions)")}
    assert cols == {"run_id", "exercise", "metric", "predicted", "outcome", "error", "far",
                    "cards_due", "created_at"}


# -- the command line ----------------------------------------------------------------------


def test_run_with_predict_keeps_prediction_and_outcome_in_the_history(tmp_path) -> None:
    env = {"STUDYAPP_EXERCISES": str(make_exercise(tmp_path))}
    db = str(tmp_path / "study.db")
    runner = CliRunner()
    bad = runner.invoke(main, ["--db", db, "exercise", "run", "spam", "-v", "tiny",
                               "--predict", "high"], env=env)
    assert bad.exit_code == 2
    assert "Error: prediction 'high' for accuracy: give a share from 0 to 1" in bad.output
    assert not Path(db).exists()  # refused before anything started or was recorded
    out = runner.invoke(main, ["--db", db, "exercise", "run", "spam", "-v", "tiny",
                               "--predict", "99%", "--json"], env=env)
    result = json.loads(out.output)
    assert result["status"] == "finished"
    accuracy = result["metrics"]["accuracy"]
    assert result["prediction"]["predicted"] == pytest.approx(0.99)
    assert result["prediction"]["outcome"] == pytest.approx(accuracy)
    assert result["prediction"]["far"] == (abs(0.99 - accuracy) > 0.1)
    runs = json.loads(runner.invoke(main, ["--db", db, "exercise", "runs", "spam", "--json"],
                                    env=env).output)
    assert runs[0]["prediction"]["predicted"] == pytest.approx(0.99)
    table = runner.invoke(main, ["--db", db, "exercise", "runs", "spam"], env=env).output
    assert "predicted accuracy 0.99, was" in table


# -- the exercise screen -------------------------------------------------------------------


class _Handle:
    def events(self):  # type: ignore[no-untyped-def]
        yield Started(run_id="r-pred", exercise="spam", variant="tiny", device="cpu",
                      settings={}, total_steps=1, train_examples=8)
        yield Step(step=1, epoch=1.0, loss=0.5, lr=1e-3, tokens_per_s=1.0, elapsed=0.1)
        yield Finished(metrics={"accuracy": 0.97}, checks=[])

    def cancel(self, grace_s: float | None = None) -> None:
        pass


class _Exercises:
    def __init__(self) -> None:
        self.started: list[tuple[str | None, str | None]] = []
        self.value = SimpleNamespace(
            id="spam", title="Spam or not", summary="Fine-tune a spam filter.",
            lesson="epochs", default_variant="tiny",
            variants={"tiny": SimpleNamespace(description="seconds")}, checks=(), hints=(),
            learner_file=Path("spam.py"), code_checks_file=None,
            extra={"prediction": {"metric": "accuracy", "question": "What test accuracy?",
                                  "tolerance": 0.1}})

    def exercise(self, exercise_id: str):  # type: ignore[no-untyped-def]
        return self.value

    def runs(self, exercise_id: str | None = None, *, limit: int | None = 50) -> list:
        return []

    def trials(self, run_id: str) -> list:
        return []

    def start_run(self, exercise_id: str, *, variant: str | None = None,
                  code: str | None = None) -> _Handle:
        self.started.append((variant, code))
        return _Handle()


async def test_the_exercise_screen_asks_first_then_shows_prediction_against_outcome(
        tmp_path) -> None:
    svc = _learned(tmp_path)
    fake = _Exercises()
    learner = SimpleNamespace(hints=lambda _id: [], code_path=lambda _id: tmp_path / "x.py")
    app = StudyApp(svc, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ExerciseScreen(svc, "spam", exercises=fake, learner=learner)  # type: ignore[arg-type]
        app.push_screen(screen)
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, PredictScreen) and fake.started == []
        await pilot.press("escape")  # escape: no run
        await pilot.pause()
        assert app.screen is screen and fake.started == []
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#predict-input", Input).value = "2"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PredictScreen)  # 2 is no share: asked again
        assert "give a share from 0 to 1" in str(app.screen.query_one("#predict-error").render())
        app.screen.query_one("#predict-input", Input).value = "50%"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen and fake.started == [("tiny", "solution")]
        log = "".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
        assert "Prediction: you predicted 50.0%, the run gave 97.0% (far off: 2 concept " \
               "cards of the lesson due tomorrow)" in log
    row = svc.conn.execute("SELECT run_id, predicted, outcome, far FROM run_predictions"
                           ).fetchone()
    assert tuple(row) == ("r-pred", 0.5, 0.97, 1)
