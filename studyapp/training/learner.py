"""The learner's code: a copy to edit, fast checks, hints, the solution, reset, progress.

The rustlings/nbgrader workflow over the exercises in `exercises/<id>/`:

- `edit`: the bundled learner file is copied, once, into the learner's workspace
  (`<data dir>/exercises/<id>/`, or a folder the learner chooses, remembered); the bundled
  originals are never written to. The learner edits the copy.
- `check`: the exercise's fast checks (tiny tensors, seconds) run against the copy in a
  child process (so a hang, a crash or a stray `sys.exit` in the learner's code cannot take
  the app down), with "expected ..., found ..." messages. Each check records progress.
- `hint`: the exercise's hints, one more each time (the count is kept).
- `solution`: the reference solution, only once the exercise has passed, or on request
  (`force`).
- `reset`: the copy goes back to the bundled original (the old copy is kept beside it as
  `<name>.bak`).
- progress: `not_started` / `attempted` / `passed`, with dates, in the `exercise_progress`
  table (store/runs.py).
- `watch`: re-run the checks each time the copy is saved (its mtime or size changes).

No torch here (the TUI imports this module): the checks import torch in their own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from studyapp import config
from studyapp.atomic import copy_atomic, write_atomic
from studyapp.config import Settings
from studyapp.training.catalog import Exercise, ExerciseError, find_exercise, load_exercises
from studyapp.training.procgroup import run_owned

CHECK_TIMEOUT_S = 120.0
STATE_FILE = "state.json"


class LearnerError(ExerciseError):
    """A request the learner's workspace cannot honour; the message says why."""


# --- check results -----------------------------------------------------------------------

@dataclass(frozen=True)
class CheckReport:
    """The fast checks of one file: each check's name, passed, message."""

    exercise: str
    path: Path
    results: tuple[dict[str, Any], ...]
    seconds: float
    error: str | None = None          # the checks could not run at all (timeout, crash)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(
            r["passed"] for r in self.results)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["passed"]]

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "code": str(self.path), "passed": self.passed,
                "checks": list(self.results), "error": self.error,
                "seconds": round(self.seconds, 3)}

    def lines(self) -> list[str]:
        """Plain text: one line per check, the message under each failure."""
        if self.error:
            return [f"ERROR {self.error}"]
        out = []
        for r in self.results:
            out.append(f"{'PASS' if r['passed'] else 'FAIL'} {r['name']}")
            if not r["passed"]:
                out.extend(f"     {line}" for line in str(r["message"]).splitlines())
        n = sum(1 for r in self.results if r["passed"])
        out.append(f"{n} of {len(self.results)} checks passed ({self.seconds:.1f} s)")
        return out


def run_checks(code_path: Path, checks_path: Path, *, exercise: str = "",
               timeout_s: float = CHECK_TIMEOUT_S, python: str | None = None) -> CheckReport:
    """Run `checks_path`'s checks against `code_path` in a child process."""
    env = dict(os.environ)
    root = str(config.PROJECT_ROOT)
    path = env.get("PYTHONPATH", "")
    if root not in path.split(os.pathsep):
        env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    # tiny tensors: one thread is fastest, and kind to a busy machine
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    cmd = [python or sys.executable, "-m", "studyapp.training.learner", str(code_path),
           str(checks_path)]
    t0 = time.perf_counter()
    try:
        # its own process group: what the learner's code forks ends with the checks
        returncode, stdout, stderr = run_owned(
            cmd, timeout=timeout_s, env=env, cwd=str(Path(code_path).parent),
            stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return CheckReport(exercise, Path(code_path), (), time.perf_counter() - t0,
                           f"the checks did not finish in {timeout_s:.0f} s: does your code "
                           "loop forever?")
    seconds = time.perf_counter() - t0
    for line in reversed(stdout.strip().splitlines()):
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(payload, dict) and "checks" in payload:
            return CheckReport(exercise, Path(code_path), tuple(payload["checks"]), seconds)
    tail = "\n".join((stderr or stdout).strip().splitlines()[-8:])
    return CheckReport(exercise, Path(code_path), (), seconds,
                       f"the checks stopped with exit status {returncode}"
                       + (f":\n{tail}" if tail else ""))


def _child_main(argv: list[str]) -> int:
    """`python -m studyapp.training.learner CODE CHECKS`: one JSON line on stdout."""
    if len(argv) != 2:
        print("usage: python -m studyapp.training.learner CODE.py CHECKS.py", file=sys.stderr)
        return 2
    from studyapp.training.procgroup import start_guardian

    start_guardian()     # the checks end with whoever started them (procgroup.py)
    out = sys.stdout
    sys.stdout = sys.stderr            # the learner's prints must not spoil the JSON line
    from studyapp.training.codecheck import check_file

    try:
        import torch  # the checks use it anyway: keep it to one thread

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    results = check_file(Path(argv[0]), Path(argv[1]))
    out.write(json.dumps({"checks": [r.to_dict() for r in results]}) + "\n")
    out.flush()
    return 0


# --- the workspace -----------------------------------------------------------------------

@dataclass
class _State:
    folders: dict[str, str] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)


class Workspace:
    """The learner's copies (`root/<id>/` unless a folder was chosen) and a small state
    file (`root/state.json`: chosen folders, hints shown)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else config.data_dir() / "exercises"

    # state
    def _read(self) -> _State:
        try:
            raw = json.loads((self.root / STATE_FILE).read_text(encoding="utf-8"))
            return _State(dict(raw.get("folders", {})), {k: int(v) for k, v in
                                                         raw.get("hints", {}).items()})
        except (OSError, ValueError, AttributeError, TypeError):
            return _State()

    def _write(self, state: _State) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.root / STATE_FILE,
                     json.dumps({"folders": state.folders, "hints": state.hints}, indent=2))

    # the copy
    def folder(self, ex: Exercise) -> Path:
        chosen = self._read().folders.get(ex.id)
        return Path(chosen) if chosen else self.root / ex.id

    def choose_folder(self, ex: Exercise, folder: Path) -> Path:
        folder = Path(folder).expanduser().resolve()
        if _inside(folder, ex.path):
            raise LearnerError(f"{folder} is the bundled exercise folder; choose a folder of "
                               "your own (the originals are never edited)")
        state = self._read()
        state.folders[ex.id] = str(folder)
        self._write(state)
        return folder

    def copy_path(self, ex: Exercise) -> Path:
        original = _learner_file(ex)
        return self.folder(ex) / original.name

    def ensure_copy(self, ex: Exercise) -> Path:
        """The learner's copy, made from the bundled original if it does not exist yet."""
        original = _learner_file(ex)
        target = self.copy_path(ex)
        if _same(target, original):
            raise LearnerError(f"the learner's copy would be the bundled original {original}")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_atomic(original, target)
        return target

    def reset(self, ex: Exercise) -> tuple[Path, Path | None]:
        """Put the original back; returns (the copy, the backup of the old copy or None)."""
        original = _learner_file(ex)
        target = self.copy_path(ex)
        if _same(target, original):
            raise LearnerError(f"refusing to touch the bundled original {original}")
        backup = None
        if target.exists():
            if target.read_bytes() == original.read_bytes():
                return target, None
            backup = target.with_name(target.name + ".bak")
            copy_atomic(target, backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_atomic(original, target)
        return target, backup

    def is_modified(self, ex: Exercise) -> bool | None:
        """Whether the copy differs from the original (None: no copy yet)."""
        target = self.copy_path(ex)
        if not target.exists():
            return None
        return target.read_bytes() != _learner_file(ex).read_bytes()

    # hints
    def hints_shown(self, ex: Exercise) -> int:
        return min(self._read().hints.get(ex.id, 0), len(ex.hints))

    def reveal_hint(self, ex: Exercise) -> int:
        """Count one more hint as shown; returns how many are shown now."""
        state = self._read()
        shown = min(state.hints.get(ex.id, 0) + 1, len(ex.hints))
        state.hints[ex.id] = shown
        self._write(state)
        return shown


# --- whose code: the one resolver ------------------------------------------------------------

CODE_KINDS = ("solution", "learner", "mine")
DEFAULT_RUN_CODE = "solution"     # `exercise run` without --code: a reference run
DEFAULT_CHECK_CODE = "mine"       # `check`, `watch`, the TUI's own-code run: your copy


@dataclass(frozen=True)
class ResolvedCode:
    """Which code a run or check uses: `kind` solution (the reference solution), learner
    (the bundled learner file, unedited by anyone) or mine (the learner's own copy, or a
    file of their own), and its path. Only "mine" counts towards progress."""

    kind: str
    path: Path


def resolve_code(ex: Exercise, code: str | Path, workspace: Workspace | None = None
                 ) -> ResolvedCode:
    """The one place that says whose code a run or a check uses.

    `code`: "solution", "learner", "mine" (the learner's copy in `workspace`, made from
    the bundled file on first use) or a path; a path to the bundled learner file or to
    the solution counts as that, any other path as the learner's own."""
    if code == "mine":
        return ResolvedCode("mine", (workspace or Workspace()).ensure_copy(ex))
    if code == "learner":
        return ResolvedCode("learner", _learner_file(ex))
    if code == "solution":
        if ex.solution_file is None or not ex.solution_file.is_file():
            raise LearnerError(f"exercise {ex.id!r} has no reference solution")
        return ResolvedCode("solution", ex.solution_file)
    path = Path(code).expanduser()
    if not path.is_file():
        raise LearnerError(f"code file {path} does not exist")
    path = path.resolve()
    for kind, known in (("solution", ex.solution_file), ("learner", ex.learner_file)):
        if known is not None and _same(path, known):
            return ResolvedCode(kind, path)
    return ResolvedCode("mine", path)


def _learner_file(ex: Exercise) -> Path:
    if ex.learner_file is None or not ex.learner_file.is_file():
        raise LearnerError(f"exercise {ex.id!r} has no learner file to copy"
                           + (f" ({ex.learner_file} is missing)" if ex.learner_file else ""))
    return ex.learner_file


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _inside(folder: Path, parent: Path) -> bool:
    try:
        folder.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


# --- the service -------------------------------------------------------------------------

@dataclass(frozen=True)
class Hint:
    number: int                # 1-based
    total: int
    text: str
    new: bool                  # False: every hint was already shown; this is the last one


@dataclass(frozen=True)
class ExerciseStatus:
    id: str
    title: str
    lesson: str
    status: str                # not_started | attempted | passed
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    passed_at: datetime | None
    hints_shown: int
    hints_total: int
    copy: Path | None          # the learner's copy, when there is one
    modified: bool | None      # the copy differs from the original (None: no copy)

    def to_dict(self) -> dict[str, Any]:
        def iso(dt: datetime | None) -> str | None:
            return dt.isoformat() if dt else None

        return {"id": self.id, "title": self.title, "lesson": self.lesson,
                "status": self.status, "first_attempt_at": iso(self.first_attempt_at),
                "last_attempt_at": iso(self.last_attempt_at), "passed_at": iso(self.passed_at),
                "hints_shown": self.hints_shown, "hints_total": self.hints_total,
                "copy": str(self.copy) if self.copy else None, "modified": self.modified}


class LearnerService:
    """The learner's-code workflow over `settings.exercises_dir` and `settings.db_path`."""

    def __init__(self, settings: Settings, *, workspace: Workspace | None = None,
                 db: Any = None, python: str | None = None,
                 check_timeout_s: float = CHECK_TIMEOUT_S):
        self.settings = settings
        self.workspace = workspace or Workspace()
        self._db = db
        self._python = python
        self.check_timeout_s = check_timeout_s

    def exercise(self, exercise_id: str) -> Exercise:
        return find_exercise(self.settings.exercises_dir, exercise_id)

    def exercises(self) -> list[Exercise]:
        return load_exercises(self.settings.exercises_dir)[0]

    # the copy
    def edit(self, exercise_id: str, folder: Path | None = None) -> Path:
        """The path of the learner's copy (made on first use; `folder` moves it there)."""
        ex = self.exercise(exercise_id)
        if folder is not None:
            self.workspace.choose_folder(ex, folder)
        return self.workspace.ensure_copy(ex)

    def reset(self, exercise_id: str) -> tuple[Path, Path | None]:
        return self.workspace.reset(self.exercise(exercise_id))

    # checks
    def code_path(self, exercise_id: str, code: str | Path | None = None) -> Path:
        """The file a check or run uses (`resolve_code`; None: the learner's copy)."""
        return resolve_code(self.exercise(exercise_id), code or DEFAULT_CHECK_CODE,
                            self.workspace).path

    def check(self, exercise_id: str, code: str | Path | None = None, *,
              record: bool = True) -> CheckReport:
        """Run the fast checks against the learner's copy (or `code`); records progress
        when it is the learner's own code."""
        ex = self.exercise(exercise_id)
        if ex.code_checks_file is None:
            raise LearnerError(f"exercise {ex.id!r} has no code checks")
        resolved = resolve_code(ex, code or DEFAULT_CHECK_CODE, self.workspace)
        report = run_checks(resolved.path, ex.code_checks_file, exercise=ex.id,
                            timeout_s=self.check_timeout_s, python=self._python)
        if record and resolved.kind == "mine":
            self._record(ex.id, report.passed)
        return report

    def watch(self, exercise_id: str, *, interval_s: float = 0.5,
              stop: Callable[[], bool] = lambda: False, max_checks: int | None = None
              ) -> Iterator[CheckReport]:
        """Check now, then again each time the learner's copy is saved. Polls the file's
        mtime and size every `interval_s`; ends when `stop()` is true or after
        `max_checks` reports."""
        path = self.code_path(exercise_id)
        last: tuple[float, int] | None = None
        done = 0
        while not stop():
            try:
                st = path.stat()
                stamp: tuple[float, int] | None = (st.st_mtime, st.st_size)
            except OSError:
                stamp = None              # mid-save (some editors replace the file)
            if stamp is not None and stamp != last:
                last = stamp
                yield self.check(exercise_id)
                done += 1
                if max_checks is not None and done >= max_checks:
                    return
                continue
            time.sleep(interval_s)

    # hints and the solution
    def hint(self, exercise_id: str) -> Hint | None:
        """The next hint (or the last one again once all are shown); None if it has none."""
        ex = self.exercise(exercise_id)
        if not ex.hints:
            return None
        before = self.workspace.hints_shown(ex)
        shown = self.workspace.reveal_hint(ex)
        return Hint(shown, len(ex.hints), ex.hints[shown - 1], new=shown > before)

    def hints(self, exercise_id: str) -> list[str]:
        """The hints shown so far."""
        ex = self.exercise(exercise_id)
        return list(ex.hints[:self.workspace.hints_shown(ex)])

    def solution(self, exercise_id: str, *, force: bool = False) -> tuple[Path, str]:
        """(path, text) of the reference solution: once passed, or with `force`."""
        ex = self.exercise(exercise_id)
        if ex.solution_file is None or not ex.solution_file.is_file():
            raise LearnerError(f"exercise {ex.id!r} has no reference solution")
        if not force and self.progress(ex.id)["status"] != "passed":
            raise LearnerError(
                f"the solution of {ex.id!r} is shown once your code passes its checks "
                f"(`studyapp exercise check {ex.id}`); to see it now anyway, use --force")
        return ex.solution_file, ex.solution_file.read_text(encoding="utf-8")

    # progress
    def progress(self, exercise_id: str) -> dict[str, Any]:
        p = self._with_db(lambda db: _runs().get_progress(db, exercise_id), None)
        if p is None:
            return {"status": "not_started", "first_attempt_at": None,
                    "last_attempt_at": None, "passed_at": None}
        return {"status": p.status, "first_attempt_at": p.first_attempt_at,
                "last_attempt_at": p.last_attempt_at, "passed_at": p.passed_at}

    def status(self) -> list[ExerciseStatus]:
        progress = self._with_db(lambda db: _runs().all_progress(db), {})
        out = []
        for ex in self.exercises():
            p = progress.get(ex.id)
            copy = None
            modified = None
            if ex.learner_file is not None and ex.learner_file.is_file():
                path = self.workspace.copy_path(ex)
                copy = path if path.exists() else None
                modified = self.workspace.is_modified(ex)
            out.append(ExerciseStatus(
                ex.id, ex.title, ex.lesson, p.status if p else "not_started",
                p.first_attempt_at if p else None, p.last_attempt_at if p else None,
                p.passed_at if p else None, self.workspace.hints_shown(ex), len(ex.hints),
                copy, modified))
        return out

    def _record(self, exercise_id: str, passed: bool) -> None:
        now = self.settings.now()
        self._with_db(lambda db: _runs().set_progress(db, exercise_id, now, passed=passed),
                      None, create=True)

    def _with_db(self, fn: Callable[[Any], Any], default: Any, *, create: bool = False) -> Any:
        if self._db is not None:
            return fn(self._db)
        from studyapp.store.db import use_database

        return use_database(self.settings.db_path, fn, default, create=create)


def _runs() -> Any:
    from studyapp.store import runs

    return runs


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
