"""Code cards and exercises that feed the scheduler.

- `add_code_cards(study, exercise)`: once the learner passed an exercise with their own
  code, each function they wrote there (`training.codecards.learner_functions`) becomes a
  card of kind `code` in the exercise's lesson, due the next learner day, then scheduled
  by FSRS like any card. Idempotent.
- `CodeAttempt`: reviewing one: a fresh copy of just that function (signature and
  docstring) in a file under the data folder for the learner's editor (or the TUI's
  TextArea); `check(text)` splices what they wrote into the reference solution and runs
  only that function's fast checks in a child process (`training.learner.run_checks`,
  the same clear messages); `suggested()` is the grade the attempts suggest.
- `own_run_finished(study, exercise, passed)`: a run of the learner's own code that fails
  a check brings the lesson's concept and quiz cards forward (due tomorrow); passing it
  after a failure counts as a successful review (Good, source "exercise") of the cards
  that failure brought forward.

Which code a run used ("mine", the learner's own copy, or the solution / bundled file) is
the run's `RunSpec.code`; callers pass `passed` only for runs of the learner's own code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from studyapp import config
from studyapp.services.study import StudyService
from studyapp.store import cards as card_store
from studyapp.store import feedback
from studyapp.store.db import write_transaction
from studyapp.study.day import day_start, utc_text
from studyapp.training.catalog import Exercise
from studyapp.training.codecards import (
    CodeCardError,
    CodeFunction,
    checks_module,
    learner_functions,
    splice,
    suggested_rating,
)

KIND = "code"


def exercise_functions(exercise: Exercise) -> list[CodeFunction]:
    """The functions the learner writes in this exercise (empty without the files)."""
    if exercise.learner_file is None or exercise.code_checks_file is None:
        return []
    solution = (exercise.solution_file.read_text(encoding="utf-8")
                if exercise.solution_file else None)
    return learner_functions(exercise.id, exercise.learner_file.read_text(encoding="utf-8"),
                             exercise.code_checks_file.read_text(encoding="utf-8"), solution)


def card_id(exercise: Exercise, fn: CodeFunction) -> str:
    return f"{exercise.lesson}:{KIND}:{fn.key}"


def add_code_cards(study: StudyService, exercise: Exercise) -> list[str]:
    """Make the exercise's code cards (due tomorrow); returns the ids added now."""
    fns = exercise_functions(exercise)
    if not fns:
        return []
    now = study.now()
    tomorrow = study.today() + timedelta(days=1)
    state = {"due": utc_text(day_start(tomorrow, study.tz, study.start_hour)),
             "due_day": tomorrow.isoformat(), "state": 1, "step": 0, "stability": None,
             "difficulty": None, "last_review": None, "reps": 0, "lapses": 0,
             "first_review_day": None}   # a fresh FSRS card (learning, step 0), due tomorrow
    added = []
    with study._lock, write_transaction(study.conn) as c:
        if not feedback.lesson_known(c, exercise.lesson):
            return []  # the lesson was never synced: nothing to hang the cards on
        for fn in fns:
            front = f"Write `{fn.name}` again from memory ({exercise.title})"
            if card_store.add_code_card(c, card_id(exercise, fn), exercise.lesson, fn.key,
                                        front, fn.solution, utc_text(now), state):
                added.append(card_id(exercise, fn))
    return added


def code_function(exercise: Exercise, key: str) -> CodeFunction:
    """The function of a code card's key (`spam.last_token_logits`)."""
    name = key.split(".", 1)[1] if "." in key else key
    for fn in exercise_functions(exercise):
        if fn.name == name:
            return fn
    raise CodeCardError(f"exercise {exercise.id!r} has no function {name!r} to practise")


def card_key(card_id: str) -> tuple[str, str]:
    """(exercise id, function name) of a code card's id."""
    key = card_id.split(f":{KIND}:", 1)[1]
    exercise, _, name = key.partition(".")
    return exercise, name


@dataclass
class CodeAttempt:
    """One review of a code card: the file to write in, the tries, the suggested grade."""

    exercise: Exercise
    function: CodeFunction
    folder: Path
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    passed: bool = False
    last: Any = None          # the last training.learner.CheckReport

    @classmethod
    def open(cls, exercise: Exercise, function: CodeFunction,
             folder: Path | None = None) -> CodeAttempt:
        """A fresh copy of the function (signature + docstring) in `folder`/NAME.py."""
        folder = folder or config.data_dir() / "code-cards" / function.key
        folder.mkdir(parents=True, exist_ok=True)
        attempt = cls(exercise, function, folder)
        _atomic_write(attempt.path, function.skeleton)
        return attempt

    @property
    def path(self) -> Path:
        return self.folder / f"{self.function.name}.py"

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def check(self, written: str | None = None, *, python: str | None = None) -> Any:
        """Run the function's checks on what the learner wrote (the file, or `written`).
        Returns a CheckReport; an unusable text is one failed check saying why."""
        from studyapp.training.learner import CheckReport, run_checks

        text = self.path.read_text(encoding="utf-8") if written is None else written
        if written is not None:
            _atomic_write(self.path, written)
        self.attempts += 1
        base = (self.exercise.solution_file.read_text(encoding="utf-8")
                if self.exercise.solution_file else "")
        try:
            module = splice(base, self.function.name, text)
        except CodeCardError as exc:
            self.last = CheckReport(self.exercise.id, self.path, (
                {"name": f"{self.function.name} is written", "passed": False,
                 "message": str(exc)},), 0.0)
            self.passed = False
            return self.last
        module_path = self.folder / "_module.py"
        checks_path = self.folder / "_checks.py"
        _atomic_write(module_path, module)
        assert self.exercise.code_checks_file is not None
        _atomic_write(checks_path, checks_module(self.exercise.code_checks_file.resolve(),
                                                 self.function.checks))
        self.last = run_checks(module_path, checks_path, exercise=self.exercise.id,
                               python=python)
        self.passed = bool(self.last.passed)
        return self.last

    def suggested(self) -> int:
        return suggested_rating(self.attempts, self.passed, self.seconds)


def _atomic_write(path: Path, text: str) -> None:
    from studyapp.atomic import write_atomic

    write_atomic(path, text)


# -- exercises feed the scheduler --------------------------------------------------------------

FEEDBACK_KINDS = ("concept", "quiz")


def own_run_finished(study: StudyService, exercise: Exercise, passed: bool) -> dict[str, Any]:
    """A run of the learner's own code ended with its checks `passed` or not; see the
    module docstring. Returns {"brought_forward": [...], "reviewed": [...]}."""
    with study._lock:
        waiting = feedback.pending(study.conn, exercise.id)
    if not passed:
        moved = study.bring_forward(exercise.lesson, FEEDBACK_KINDS)
        with study._lock, write_transaction(study.conn) as c:
            feedback.put_pending(c, exercise.id, (waiting or []) + moved, utc_text(study.now()))
        return {"brought_forward": moved, "reviewed": []}
    reviewed = []
    if waiting is not None:
        for cid in waiting:   # brought forward by the failure: scheduled, so never new
            study.grade(cid, 3, source="exercise")
            reviewed.append(cid)
        with study._lock, write_transaction(study.conn) as c:
            feedback.clear_pending(c, exercise.id)
    return {"brought_forward": [], "reviewed": reviewed}


def after_run(study: StudyService, exercise: Exercise, code: str, status: str,
              passed: bool | None, error: str | None = None) -> dict[str, Any]:
    """What a finished run means for the learner's cards. Only runs of the learner's own
    code count (`code == "mine"`, `RunSpec.code`): passing makes the exercise's code cards
    and reviews what an earlier failure brought forward; failing a check (a run check, or
    the fast code checks that stop a run before it trains) brings the lesson's concept and
    quiz cards forward. A crash or a cancel means nothing here."""
    out: dict[str, Any] = {"code_cards": [], "brought_forward": [], "reviewed": []}
    if code != "mine":
        return out
    failed_check = (status == "finished" and passed is False) or (
        status == "failed" and "code checks failed" in (error or ""))
    if status == "finished" and passed:
        out["code_cards"] = add_code_cards(study, exercise)
        out.update(own_run_finished(study, exercise, True))
    elif failed_check:
        out.update(own_run_finished(study, exercise, False))
    return out
