"""Fast checks of the learner's code, run before any training.

An exercise's checks file defines functions named `check_*`, each taking the learner's
module and raising `AssertionError` with a message that says what was expected and what
was found. A `NotImplementedError` from the learner's code means "not written yet". The
checks run on tiny tensors and take well under a second.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class CodeCheckResult:
    name: str
    passed: bool
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


class CodeError(RuntimeError):
    """The learner's file cannot be imported (a syntax error, a bad import, ...)."""


def load_module(path: Path, name: str | None = None) -> ModuleType:
    """Import a Python file under a fresh module name (so edits are always re-read)."""
    path = Path(path)
    name = name or f"studyapp_exercise_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        tb = traceback.format_exc(limit=-3)
        raise CodeError(f"{path.name} cannot be imported: {type(exc).__name__}: {exc}\n{tb}"
                        ) from exc
    return module


def run_code_checks(code: ModuleType, checks: ModuleType) -> list[CodeCheckResult]:
    """Run every `check_*` function of `checks` against `code`, in file order."""
    results = []
    funcs = [(name, fn) for name, fn in vars(checks).items()
             if name.startswith("check_") and callable(fn)]
    for name, fn in funcs:
        title = (fn.__doc__ or name).strip().splitlines()[0]
        try:
            fn(code)
        except NotImplementedError as exc:
            results.append(CodeCheckResult(title, False, f"not written yet: {exc or name}"))
        except AssertionError as exc:
            results.append(CodeCheckResult(title, False, str(exc) or "check failed"))
        except Exception as exc:  # noqa: BLE001 - the learner's code raised: say where
            where = traceback.extract_tb(exc.__traceback__)[-1]
            results.append(CodeCheckResult(
                title, False,
                f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"))
        else:
            results.append(CodeCheckResult(title, True, "ok"))
    return results


def check_file(code_path: Path, checks_path: Path) -> list[CodeCheckResult]:
    """Import the learner's file and run the checks; an import error is one failed check."""
    checks = load_module(checks_path)
    try:
        code = load_module(code_path)
    except CodeError as exc:
        return [CodeCheckResult("the file imports", False, str(exc))]
    return run_code_checks(code, checks)


# who wrote the code a run uses (RunSpec.code); see training/learner.py `resolve_code`
CODE_LABELS = {
    "mine": "your code",
    "learner": "the bundled learner file",
    "solution": "the reference solution",
}


def load_learner_code(ctx: Any) -> ModuleType:
    """The one loader of a run's code (the worker's `RunContext`): the module at
    `ctx.spec.code_path` (the exercise's `solution.py` when none is given), its fast
    checks passed. Raises `CodeChecksFailed` (no training starts) when a check fails.
    The log line names whose code it was: "your code" only for the learner's own copy."""
    from studyapp.training.runtime import CodeChecksFailed

    spec = ctx.spec
    if spec.code_path:
        path = Path(spec.code_path)
    else:
        folder = (Path(spec.code_checks_path).resolve().parent if spec.code_checks_path
                  else _bundled_exercise(spec.exercise))
        path = folder / "solution.py"
    code = load_module(path)
    if spec.code_checks_path:
        results = [r.to_dict() for r in run_code_checks(code, load_module(
            Path(spec.code_checks_path)))]
        if not all(r["passed"] for r in results):
            raise CodeChecksFailed(results)
        who = CODE_LABELS.get(getattr(spec, "code", "solution"), "the code")
        ctx.log(f"{who} passed its {len(results)} checks", code_checks=results,
                code=getattr(spec, "code", "solution"))
    return code


def _bundled_exercise(exercise: str) -> Path:
    from studyapp.config import bundled_exercises_dir

    return bundled_exercises_dir() / exercise
