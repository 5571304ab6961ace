"""A search's trials (the sweep exercise) are runs of their own, under the search's run:
recorded from `Trial` events, left out of the run list, grouped by `exercise runs`, and
shown on the exercise screen as a table with their validation curves overlaid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.store import runs
from studyapp.store.db import open_database
from studyapp.training.events import Evaluation, Finished, Started, Trial
from studyapp.training.runner import RunHandle, SqliteRecorder
from studyapp.training.runtime import RunSpec
from studyapp.tui.widgets.trials import TrialRow, trials_table

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _trial(n: int, status: str, val: float, pruned_at: int | None = None) -> Trial:
    return Trial(trial=n, name=f"lr={10.0 ** -n:g} rank=4", settings={"lr": 10.0 ** -n},
                 status=status,
                 metrics={"trial": n, "name": f"lr={10.0 ** -n:g} rank=4", "val_loss": val,
                          "pruned_at_step": pruned_at, "time_s": 2.0},
                 losses={"train": [[1, 0.7], [2, 0.6]], "val": [[0, 0.69], [2, val]]})


def test_trials_are_recorded_under_their_run_and_left_out_of_the_list(tmp_path: Path):
    db_path = tmp_path / "db.sqlite"
    spec = RunSpec(run_id="search1", exercise="sweep", variant="tiny", task="sweep",
                   settings={"ranks": "4"}, code="mine")   # the learner's own search
    handle = RunHandle(spec, recorder=SqliteRecorder(db_path, now=lambda: T0))
    handle.result.started_at = T0
    handle._record("started")
    for event in (Started(run_id="search1", exercise="sweep", variant="tiny", device="cpu",
                          settings={}, total_steps=6),
                  Evaluation(step=0, val_loss=0.69),
                  _trial(1, "finished", 0.41), _trial(2, "pruned", 3.5, pruned_at=2)):
        handle._apply(event)
    handle._finish(Finished(metrics={"val_loss": 0.41, "chosen_trial": 1}, checks=[]))

    assert [t["status"] for t in handle.result.trials] == ["finished", "pruned"]
    assert handle.result.to_dict()["trials"][1]["name"] == "lr=0.01 rank=4"
    db = open_database(db_path)
    listed = runs.list_runs(db, "sweep")
    assert [r.id for r in listed] == ["search1"], "trials are not runs of their own list"
    trials = runs.trials_of(db, "search1")
    assert [t.status for t in trials] == ["finished", "pruned"]
    assert all(t.parent_id == "search1" and t.exercise == "sweep" for t in trials)
    assert trials[1].losses["val"] == [[0, 0.69], [2, 3.5]]
    assert trials[0].settings == {"lr": 0.1}
    assert trials[0].duration_s == pytest.approx(2.0)
    assert runs.get_run(db, "search1").parent_id is None
    # a trial does not count as an attempt of its own, nor pass anything
    assert runs.get_progress(db, "sweep").status == "attempted"


def test_a_trial_ends_finished_or_pruned(tmp_path: Path):
    db = open_database(tmp_path / "db.sqlite")
    with pytest.raises(ValueError, match="finished or pruned"):
        runs.record_trial(db, parent_id="p", run_id="t", exercise="sweep", variant=None,
                          settings={}, device=None, started_at=T0, finished_at=T0,
                          status="running", losses={}, metrics={})


def _recorded_search(db_path: Path, exercise: str = "sweep") -> None:
    db = open_database(db_path)
    runs.create_run(db, run_id="search1", exercise=exercise, variant="tiny", settings={},
                    device="cpu", started_at=T0)
    for n, status, val in ((0, "finished", 0.6), (1, "finished", 0.4), (2, "pruned", 2.0)):
        runs.record_trial(db, parent_id="search1", run_id=f"t{n}", exercise=exercise,
                          variant="tiny", settings={"lr": 10.0 ** -n}, device="cpu",
                          started_at=T0 + timedelta(seconds=n),
                          finished_at=T0 + timedelta(seconds=n + 1), status=status,
                          losses={"train": [], "val": [[0, 0.69], [5, val]]},
                          metrics={"trial": n, "name": f"lr={10.0 ** -n:g} rank=4",
                                   "val_loss": val,
                                   "pruned_at_step": 5 if status == "pruned" else None})
    runs.end_run(db, "search1", status="finished", finished_at=T0 + timedelta(seconds=9),
                 metrics={"chosen_trial": 1, "val_loss": 0.4}, checks=[])
    db.close()


def test_exercise_runs_groups_the_trials_under_their_search(tmp_path: Path):
    db_path = tmp_path / "db.sqlite"
    _recorded_search(db_path)
    result = CliRunner().invoke(main, ["--db", str(db_path), "exercise", "runs", "sweep"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("search1")
    trial_lines = [ln for ln in lines if ln.lstrip().startswith("└")]
    assert len(trial_lines) == 3 and lines[2:5] == trial_lines, result.output
    assert "lr=0.1 rank=4" in trial_lines[1] and "<- chosen" in trial_lines[1]
    assert "pruned at 5" in trial_lines[2] and "chosen" not in trial_lines[2]
    assert all(len(ln) <= 80 for ln in lines), result.output
    data = json.loads(CliRunner().invoke(
        main, ["--db", str(db_path), "exercise", "runs", "sweep", "--json"]).output)
    assert len(data) == 1 and [t["id"] for t in data[0]["trials"]] == ["t0", "t1", "t2"]
    assert data[0]["trials"][2]["status"] == "pruned"


def test_trials_table_marks_the_chosen_and_the_pruned():
    rows = [TrialRow(1, "lr=0.001 rank=4", "finished", 0.41),
            TrialRow(2, "lr=0.03 rank=4", "pruned", float("nan"), pruned_at=5),
            TrialRow(3, "[bold]x[/]", "finished", None)]
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    console.print(trials_table(rows, chosen=1))
    text = console.export_text()
    assert "<- chosen" in text.splitlines()[1]
    assert "pruned at 5" in text and "nan" in text
    assert "[bold]x[/]" in text, "a trial's name is text, never markup"


async def test_the_exercise_screen_shows_the_latest_search_s_trials(tmp_path: Path):
    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService
    from studyapp.services.study import StudyService
    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.exercise import ExerciseScreen
    from studyapp.tui.widgets.loss_plot import LossPlot
    from studyapp.tui.widgets.trials import TrialsTable

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                        exercises_dir=Path(__file__).resolve().parent.parent / "exercises")
    _recorded_search(settings.db_path, "spam")     # any exercise's screen shows a search
    exercises = ExerciseService(settings, cache_dir=tmp_path / "cache",
                                data_dir=tmp_path / "data")
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 36)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=exercises)
        await app.push_screen(screen)
        await pilot.pause()
        table = screen.query_one(TrialsTable)
        assert [r.trial for r in table.rows] == [0, 1, 2] and table.chosen == 1
        assert table.display
        plot = screen.query_one(LossPlot)
        assert [label for label, _ in plot.trials] == ["0 lr=1 rank=4", "1 lr=0.1 rank=4",
                                                       "2 lr=0.01 rank=4"]
        assert plot.trials[2][1] == ((0, 0.69), (5, 2.0))
        from studyapp.tui.widgets.loss_plot import trials_ceiling

        assert trials_ceiling(plot.trials) == pytest.approx(1.5 * 0.69), (
            "a diverged trial runs along the top instead of squashing the others")


class _SearchHandle:
    """A search's run as the screen sees it: trials end one after another."""

    def events(self):  # type: ignore[no-untyped-def]
        yield Started(run_id="s1", exercise="spam", variant="tiny", device="cpu", settings={},
                      total_steps=4)
        for trial, val in ((1, 0.41), (2, 900.0)):
            yield Evaluation(step=0, val_loss=0.69)
            yield _trial(trial, "finished" if trial == 1 else "pruned", val,
                         pruned_at=None if trial == 1 else 2)
        yield Finished(metrics={"chosen_trial": 1, "val_loss": 0.41}, checks=[])

    def cancel(self, grace_s: float | None = None) -> None:
        pass


async def test_a_live_search_fills_the_table_and_the_plot_as_trials_end(tmp_path: Path):
    from studyapp.services.study import StudyService
    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.exercise import ExerciseScreen
    from studyapp.tui.widgets.loss_plot import LossPlot, trials_ceiling
    from studyapp.tui.widgets.trials import TrialsTable
    from tests.test_tui_exercise import FakeExercises, FakeLearner, make_settings

    fake = FakeExercises()
    fake.start_run = lambda *a, **k: _SearchHandle()      # type: ignore[method-assign]
    app = StudyApp(StudyService.open(make_settings(tmp_path)), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = ExerciseScreen(app.service, "spam", exercises=fake,
                                learner=FakeLearner(tmp_path / "mine.py"))
        await app.push_screen(screen)
        await pilot.pause()
        assert not screen.query_one(TrialsTable).display, "hidden until a trial ends"
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one(TrialsTable)
        assert [r.trial for r in table.rows] == [1, 2] and table.chosen == 1
        assert table.display
        plot = screen.query_one(LossPlot)
        assert [label for label, _ in plot.trials] == ["1 lr=0.1 rank=4", "2 lr=0.01 rank=4"]
        assert trials_ceiling(plot.trials) == pytest.approx(1.5 * 0.69)
        log = "\n".join(line.text for line in screen.query_one("#run-log").lines)
        assert "trial 2 lr=0.01 rank=4: pruned" in log
