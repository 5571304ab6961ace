"""The exercise application functions: list exercises, start a run, list and get runs.

Consumed by the CLI and the TUI; no textual, no torch (a run trains in a child process,
see training/runner.py). Runs are recorded in the database at `settings.db_path`.

    svc = ExerciseService(settings)
    svc.exercises()                                  # [ExerciseEntry], sorted by id
    handle = svc.start_run("spam", variant="encoder", overrides={"epochs": "2"})
    for event in handle.events(): ...                # Started, Step, Evaluation, ..., end
    handle.result                                    # RunResult (also in the database)
    svc.runs("spam")                                 # [RunRecord], newest first
    svc.run(handle.run_id)                           # RunRecord | None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from studyapp import config
from studyapp.config import Settings
from studyapp.training.catalog import (
    Exercise,
    ExerciseError,
    ExerciseProblem,
    find_exercise,
    load_exercises,
    resolve_settings,
)
from studyapp.training.runner import RunHandle, SqliteRecorder, new_run_id
from studyapp.training.runtime import RunSpec

__all__ = ["ExerciseEntry", "ExerciseError", "ExerciseService"]


@dataclass(frozen=True)
class ExerciseEntry:
    exercise: Exercise
    status: str                      # not_started | attempted | passed
    last_attempt_at: datetime | None
    passed_at: datetime | None

    @property
    def id(self) -> str:
        return self.exercise.id

    def to_dict(self) -> dict[str, Any]:
        return {**self.exercise.summary_dict(), "status": self.status,
                "last_attempt_at": self.last_attempt_at.isoformat()
                if self.last_attempt_at else None,
                "passed_at": self.passed_at.isoformat() if self.passed_at else None}


class ExerciseService:
    """Exercises in `settings.exercises_dir`, runs in `settings.db_path`."""

    def __init__(self, settings: Settings, *, cache_dir: Path | None = None,
                 data_dir: Path | None = None, db: Any = None,
                 python: str | None = None) -> None:
        self.settings = settings
        self.cache_dir = Path(cache_dir) if cache_dir else config.cache_dir()
        self.data_dir = Path(data_dir) if data_dir else config.data_dir()
        self._db = db                     # an open Database (single thread), or None: by path
        self._python = python

    # --- the catalogue ------------------------------------------------------------------
    def load(self) -> tuple[list[Exercise], list[ExerciseProblem]]:
        return load_exercises(self.settings.exercises_dir)

    def exercise(self, exercise_id: str) -> Exercise:
        """The exercise with this id; `ExerciseError` (with the known ids) if none."""
        return find_exercise(self.settings.exercises_dir, exercise_id)

    def exercises(self) -> list[ExerciseEntry]:
        exercises, _ = self.load()
        progress = self._read(lambda db: _runs().all_progress(db), {})
        out = []
        for ex in exercises:
            p = progress.get(ex.id)
            out.append(ExerciseEntry(ex, p.status if p else "not_started",
                                     p.last_attempt_at if p else None,
                                     p.passed_at if p else None))
        return out

    # --- runs ---------------------------------------------------------------------------
    def build_spec(self, exercise_id: str, *, variant: str | None = None,
                   device: str | None = None, overrides: dict[str, Any] | None = None,
                   code: str | Path | None = None, run_id: str | None = None,
                   processes: int = 1) -> RunSpec:
        """Everything a worker needs for one run (raises ExerciseError on a bad request).

        `code` picks whose code runs (training/learner.py `resolve_code`, the one
        resolver): None or "solution" the reference solution (a reference run: it never
        counts as the learner's progress), "learner" the bundled learner file, "mine" the
        learner's own copy, or a path (the learner's own file). The spec carries which.
        """
        from studyapp.training.learner import DEFAULT_RUN_CODE, Workspace, resolve_code
        from studyapp.training.settings import check_device, check_processes

        ex = self.exercise(exercise_id)
        var = ex.variant(variant)
        check_device(device)
        check_processes(processes)
        settings = resolve_settings(var, overrides, ex.task)
        run_id = run_id or new_run_id()
        resolved = resolve_code(ex, code or DEFAULT_RUN_CODE,
                                Workspace(self.data_dir / "exercises"))
        data = None
        if ex.data is not None:
            data = {k: (str(v) if isinstance(v, Path) else v)
                    for k, v in asdict(ex.data).items()}
            data["labels"] = list(ex.data.labels)
            for key in ("train", "val"):
                if not Path(data[key]).is_file():
                    raise ExerciseError(f"exercise {ex.id!r}: its {key} data "
                                        f"{data[key]} does not exist")
            if data.get("test") and not Path(data["test"]).is_file():
                raise ExerciseError(f"exercise {ex.id!r}: its test data {data['test']} "
                                    "does not exist")
        return RunSpec(
            run_id=run_id, exercise=ex.id, variant=var.name, task=ex.task,
            settings=settings, device=device, data=data,
            checks=[asdict(c) for c in ex.checks],
            code_path=str(resolved.path), code=resolved.kind,
            code_checks_path=str(ex.code_checks_file) if ex.code_checks_file else None,
            cache_dir=str(self.cache_dir),
            output_dir=str(self.data_dir / "runs" / run_id),
            processes=processes,
        )

    def start_run(self, exercise_id: str, *, variant: str | None = None,
                  device: str | None = None, overrides: dict[str, Any] | None = None,
                  code: str | Path | None = None, record: bool = True,
                  grace_s: float | None = None, processes: int = 1) -> RunHandle:
        """Start a run in a child process and record it; iterate `handle.events()`.
        `processes` > 1: that many data-parallel processes (torchrun, worker.py)."""
        spec = self.build_spec(exercise_id, variant=variant, device=device,
                               overrides=overrides, code=code, processes=processes)
        return self.start_spec(spec, record=record, grace_s=grace_s)

    def start_spec(self, spec: RunSpec, *, record: bool = True,
                   grace_s: float | None = None) -> RunHandle:
        recorder = SqliteRecorder(self._db if self._db is not None else self.settings.db_path,
                                  now=self.settings.now) if record else None
        kwargs: dict[str, Any] = {"recorder": recorder, "python": self._python,
                                  "now": self.settings.now}
        if grace_s is not None:
            kwargs["grace_s"] = grace_s
        return RunHandle(spec, **kwargs).start()

    def runs(self, exercise_id: str | None = None, *, limit: int | None = 50) -> list[Any]:
        """Recorded runs (store.runs.RunRecord), newest first."""
        def read(db: Any) -> Any:
            _runs().abandon_stale_runs(db, self.settings.now())
            return _runs().list_runs(db, exercise_id, limit=limit)

        return self._read(read, [])

    def run(self, run_id: str) -> Any:
        """One recorded run (store.runs.RunRecord), or None."""
        return self._read(lambda db: _runs().get_run(db, run_id), None)

    def trials(self, run_id: str) -> list[Any]:
        """The trials of a search's run (store.runs.RunRecord each), in the order they ran;
        empty for a run that searched nothing."""
        return self._read(lambda db: _runs().trials_of(db, run_id), [])

    def predictions(self, run_ids: list[str]) -> dict[str, Any]:
        """The learner's predictions of these runs (store.predictions.PredictionRow)."""
        from studyapp.store.predictions import predictions_for

        return self._read(lambda db: predictions_for(db.conn, run_ids), {})

    def _read(self, fn: Callable[[Any], Any], default: Any) -> Any:
        if self._db is not None:
            return fn(self._db)
        from studyapp.store.db import use_database

        return use_database(self.settings.db_path, fn, default)


def _runs() -> Any:
    from studyapp.store import runs

    return runs


def resolve_code_path(ex: Exercise, code: str | Path | None) -> Path | None:
    """The file `code` names (training/learner.py `resolve_code`, the one resolver;
    None: the run default, the reference solution)."""
    from studyapp.training.learner import DEFAULT_RUN_CODE, resolve_code

    return resolve_code(ex, code or DEFAULT_RUN_CODE).path
