"""Training runs and exercise progress in SQLite: queries over `runs` and `exercise_progress`.

The tables are created by the store's migrations (store/schema.py). Every write here is one
short `BEGIN IMMEDIATE` transaction (`write_transaction`), so a run that dies half-way leaves
complete rows behind: a run is `running` from its start, and ends `finished`, `failed` or `cancelled` with what was
measured. JSON columns (settings, losses, metrics, checks) are read back as Python values.
Times are passed in (UTC datetimes) and stored as fixed-width UTC ISO text.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from studyapp.jsonsafe import finite
from studyapp.store.db import write_transaction

if TYPE_CHECKING:
    import sqlite_utils

RUN_STATUSES = ("running", "finished", "failed", "cancelled", "pruned")
TRIAL_STATUSES = ("finished", "pruned")    # a search's trial: trained to its end, or stopped
PROGRESS_STATUSES = ("not_started", "attempted", "passed")
CODE_KINDS = ("solution", "learner", "mine")


@dataclass(frozen=True)
class RunRecord:
    id: str
    exercise: str
    variant: str | None
    settings: dict[str, Any]
    device: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    losses: dict[str, list[list[float]]]     # {"train": [[step, loss], ...], "val": [...]}
    metrics: dict[str, Any]
    checks: list[dict[str, Any]]
    error: str | None
    parent_id: str | None = None    # the search this run is a trial of (sweep), else None
    code: str | None = None         # whose code: solution | learner | mine (None: not known)

    @property
    def passed(self) -> bool | None:
        """True/False once finished with checks; None when not finished or nothing checked."""
        if self.status != "finished" or not self.checks:
            return None
        return all(c.get("passed") for c in self.checks)

    @property
    def duration_s(self) -> float | None:
        """Seconds the run took: as measured (`wall_time_s`, right under a fixed clock such
        as `--now`), else from its start and finish times."""
        wall = self.metrics.get("wall_time_s")
        if isinstance(wall, int | float) and not isinstance(wall, bool) and wall >= 0:
            return float(wall)
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "exercise": self.exercise,
            "variant": self.variant,
            "settings": self.settings,
            "device": self.device,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "passed": self.passed,
            "losses": self.losses,
            "metrics": self.metrics,
            "checks": self.checks,
            "error": self.error,
            "parent_id": self.parent_id,
            "code": self.code,
        }


@dataclass(frozen=True)
class ExerciseProgress:
    exercise: str
    status: str = "not_started"
    first_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    passed_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _ts(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("store times must be timezone-aware (UTC)")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _dump(value: Any) -> str:
    return json.dumps(finite(value), separators=(",", ":"))


def _load(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


def create_run(db: sqlite_utils.Database, *, run_id: str, exercise: str, variant: str | None,
               settings: dict[str, Any], device: str | None, started_at: datetime,
               code: str = "mine") -> None:
    """Record a run that has just started (status `running`). `code` says whose code it
    runs; only the learner's own ("mine") counts as an attempt (and, passed, a pass)."""
    if code not in CODE_KINDS:
        raise ValueError(f"a run's code is one of {', '.join(CODE_KINDS)}, not {code!r}")
    with write_transaction(db):
        db.execute(
            "INSERT INTO runs (id, exercise, variant, settings, device, started_at, status,"
            " losses, metrics, checks, owner_pid, code)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, '{}', '[]', ?, ?)",
            [run_id, exercise, variant, _dump(settings), device, _ts(started_at),
             _dump({"train": [], "val": []}), os.getpid(), code],
        )
        if code == "mine":
            _touch_progress(db, exercise, started_at, passed=False)


def update_run(db: sqlite_utils.Database, run_id: str, *, device: str | None = None,
               settings: dict[str, Any] | None = None,
               losses: dict[str, list] | None = None) -> None:
    """Save what a running run has measured so far (the device once known, the losses)."""
    sets, args = [], []
    if device is not None:
        sets.append("device = ?")
        args.append(device)
    if settings is not None:
        sets.append("settings = ?")
        args.append(_dump(settings))
    if losses is not None:
        sets.append("losses = ?")
        args.append(_dump(losses))
    if not sets:
        return
    with write_transaction(db):
        db.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", [*args, run_id])


def end_run(db: sqlite_utils.Database, run_id: str, *, status: str, finished_at: datetime,
            losses: dict[str, list] | None = None, metrics: dict[str, Any] | None = None,
            checks: list[dict[str, Any]] | None = None, error: str | None = None,
            device: str | None = None) -> None:
    """Close a run as finished, failed or cancelled, and update the exercise's progress."""
    if status not in ("finished", "failed", "cancelled"):
        raise ValueError(f"a run ends finished, failed or cancelled, not {status!r}")
    passed = status == "finished" and bool(checks) and all(c.get("passed") for c in checks)
    with write_transaction(db):
        row = db.execute("SELECT exercise, code FROM runs WHERE id = ?", [run_id]).fetchone()
        if row is None:
            raise KeyError(run_id)
        db.execute(
            "UPDATE runs SET status = ?, finished_at = ?, losses = COALESCE(?, losses),"
            " metrics = COALESCE(?, metrics), checks = COALESCE(?, checks), error = ?,"
            " device = COALESCE(?, device) WHERE id = ?",
            [status, _ts(finished_at),
             _dump(losses) if losses is not None else None,
             _dump(metrics) if metrics is not None else None,
             _dump(checks) if checks is not None else None,
             error, device, run_id],
        )
        if passed and row[1] == "mine":    # only the learner's own code passes an exercise
            _touch_progress(db, row[0], finished_at, passed=True)


def _touch_progress(db: sqlite_utils.Database, exercise: str, when: datetime, *,
                    passed: bool) -> None:
    now = _ts(when)
    db.execute(
        "INSERT INTO exercise_progress (exercise, status, first_attempt_at, last_attempt_at,"
        " passed_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(exercise) DO UPDATE SET last_attempt_at = excluded.last_attempt_at,"
        " status = CASE WHEN exercise_progress.status = 'passed' OR excluded.status = 'passed'"
        "   THEN 'passed' ELSE 'attempted' END,"
        " passed_at = COALESCE(exercise_progress.passed_at, excluded.passed_at)",
        [exercise, "passed" if passed else "attempted", now, now, now if passed else None],
    )


def set_progress(db: sqlite_utils.Database, exercise: str, when: datetime, *,
                 passed: bool) -> None:
    """Record an attempt at an exercise outside a run (e.g. its code checks passing)."""
    with write_transaction(db):
        _touch_progress(db, exercise, when, passed=passed)


def get_progress(db: sqlite_utils.Database, exercise: str) -> ExerciseProgress:
    row = db.execute(
        "SELECT exercise, status, first_attempt_at, last_attempt_at, passed_at"
        " FROM exercise_progress WHERE exercise = ?", [exercise]).fetchone()
    if row is None:
        return ExerciseProgress(exercise)
    return ExerciseProgress(row[0], row[1], _dt(row[2]), _dt(row[3]), _dt(row[4]))


def all_progress(db: sqlite_utils.Database) -> dict[str, ExerciseProgress]:
    rows = db.execute(
        "SELECT exercise, status, first_attempt_at, last_attempt_at, passed_at"
        " FROM exercise_progress").fetchall()
    return {r[0]: ExerciseProgress(r[0], r[1], _dt(r[2]), _dt(r[3]), _dt(r[4])) for r in rows}


_COLUMNS = ("id, exercise, variant, settings, device, started_at, finished_at, status,"
            " losses, metrics, checks, error, parent_id, code")


def _record(row: tuple) -> RunRecord:
    return RunRecord(
        id=row[0], exercise=row[1], variant=row[2], settings=_load(row[3], {}), device=row[4],
        started_at=_dt(row[5]),  # type: ignore[arg-type]
        finished_at=_dt(row[6]), status=row[7],
        losses=_load(row[8], {"train": [], "val": []}), metrics=_load(row[9], {}),
        checks=_load(row[10], []), error=row[11], parent_id=row[12], code=row[13],
    )


def get_run(db: sqlite_utils.Database, run_id: str) -> RunRecord | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", [run_id]).fetchone()
    return _record(row) if row else None


def list_runs(db: sqlite_utils.Database, exercise: str | None = None, *,
              limit: int | None = 50) -> list[RunRecord]:
    """Runs, newest first; all exercises when `exercise` is None. The trials of a search
    are not among them: `trials_of(db, run_id)` lists those."""
    sql = f"SELECT {_COLUMNS} FROM runs WHERE parent_id IS NULL"
    args: list[Any] = []
    if exercise is not None:
        sql += " AND exercise = ?"
        args.append(exercise)
    sql += " ORDER BY started_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return [_record(r) for r in db.execute(sql, args).fetchall()]


def record_trial(db: sqlite_utils.Database, *, parent_id: str, run_id: str, exercise: str,
                 variant: str | None, settings: dict[str, Any], device: str | None,
                 started_at: datetime, finished_at: datetime, status: str,
                 losses: dict[str, list], metrics: dict[str, Any]) -> None:
    """Record one finished trial of a search as a run under the search's run (`parent_id`).
    A trial has no checks of its own (the search's run has them) and does not count as an
    attempt at the exercise."""
    if status not in TRIAL_STATUSES:
        raise ValueError(f"a trial ends {' or '.join(TRIAL_STATUSES)}, not {status!r}")
    with write_transaction(db):
        db.execute(
            "INSERT INTO runs (id, exercise, variant, settings, device, started_at, finished_at,"
            " status, losses, metrics, checks, parent_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)",
            [run_id, exercise, variant, _dump(settings), device, _ts(started_at),
             _ts(finished_at), status, _dump(losses), _dump(metrics), parent_id],
        )


def trials_of(db: sqlite_utils.Database, run_id: str) -> list[RunRecord]:
    """The trials recorded under a search's run, in the order they ran."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM runs WHERE parent_id = ?"
                      " ORDER BY started_at, rowid", [run_id]).fetchall()
    return [_record(r) for r in rows]


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def abandon_stale_runs(db: sqlite_utils.Database, now: datetime, *,
                       keep: set[str] | frozenset[str] = frozenset()) -> int:
    """Mark as failed the `running` runs whose recording process is gone (its app was
    killed mid-run). Runs still recorded by a live process, in this app or in another
    terminal, and the ids in `keep`, are left alone. Returns how many were marked.
    """
    with write_transaction(db):
        ids = [run_id for run_id, pid in
               db.execute("SELECT id, owner_pid FROM runs WHERE status = 'running'")
               if run_id not in keep and (pid is None or not _alive(pid))]
        for run_id in ids:
            db.execute(
                "UPDATE runs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                [_ts(now), ("the app stopped while this run was going; what it measured "
                            "until then is kept"), run_id])
    return len(ids)
