"""Exercises as content: read `exercises/<id>/exercise.toml` into plain values.

Pure: no torch, no UI, no database. The format is documented in docs/exercises.md.
An exercise folder holds its metadata (exercise.toml), the learner's file, the reference
solution, fast checks of the learner's code, and points at its data. Loading never raises
for one broken exercise: `load_exercises` reports it as an `ExerciseProblem` and goes on.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studyapp.textsafe import safe_text

OPS = (">=", ">", "<=", "<", "==")


class ExerciseError(ValueError):
    """An exercise folder, variant or setting that cannot be used; the message says why."""


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    settings: dict[str, Any]          # the exercise's defaults merged with the variant's own


@dataclass(frozen=True)
class CheckSpec:
    """A target the run's outcome must meet: `metric op value`, or `metric op ref-metric`."""

    name: str
    metric: str
    op: str
    value: float | None = None
    ref: str | None = None
    description: str = ""


@dataclass(frozen=True)
class DataSpec:
    format: str                        # jsonl | csv
    train: Path
    val: Path
    test: Path | None
    text_field: str = "text"
    label_field: str = "label"
    labels: tuple[str, ...] = ()       # index = class id; labels[-1] is the positive class


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    lesson: str
    task: str                          # the engine task that runs it, e.g. "classification"
    path: Path                         # the exercise folder
    summary: str
    default_variant: str
    variants: dict[str, Variant]
    data: DataSpec | None
    checks: tuple[CheckSpec, ...]
    hints: tuple[str, ...]
    learner_file: Path | None          # the file the learner edits (bundled original)
    solution_file: Path | None         # the reference solution
    code_checks_file: Path | None      # fast checks of the learner's code
    extra: dict[str, Any] = field(default_factory=dict)

    def variant(self, name: str | None) -> Variant:
        name = name or self.default_variant
        try:
            return self.variants[name]
        except KeyError:
            raise ExerciseError(
                f"exercise {self.id!r} has no variant {name!r}; "
                f"choose one of: {', '.join(self.variants)}"
            ) from None

    def summary_dict(self) -> dict[str, Any]:
        """What `exercise list --json` shows."""
        return {
            "id": self.id,
            "title": self.title,
            "lesson": self.lesson,
            "task": self.task,
            "summary": self.summary,
            "default_variant": self.default_variant,
            "variants": {
                v.name: {"description": v.description, "settings": v.settings}
                for v in self.variants.values()
            },
            "checks": [_check_text(c) for c in self.checks],
            "path": str(self.path),
        }


@dataclass(frozen=True)
class ExerciseProblem:
    """An exercise folder that could not be read."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_exercises(root: Path) -> tuple[list[Exercise], list[ExerciseProblem]]:
    """Every `*/exercise.toml` under `root`, sorted by id, and the folders that failed."""
    exercises: list[Exercise] = []
    problems: list[ExerciseProblem] = []
    root = Path(root)
    if not root.is_dir():
        return exercises, problems
    seen: dict[str, Path] = {}
    for meta in sorted(root.glob("*/exercise.toml")):
        try:
            ex = load_exercise(meta.parent)
        except ExerciseError as exc:
            problems.append(ExerciseProblem(meta, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken folder never hides the rest
            problems.append(ExerciseProblem(meta, f"cannot be read: "
                                                  f"{type(exc).__name__}: {exc}"))
            continue
        if ex.id in seen:
            problems.append(ExerciseProblem(
                meta, f"id {ex.id!r} is already used by {seen[ex.id]}"))
            continue
        seen[ex.id] = meta
        exercises.append(ex)
    exercises.sort(key=lambda e: e.id)
    return exercises, problems


def find_exercise(root: Path, exercise_id: str) -> Exercise:
    exercises, problems = load_exercises(root)
    for ex in exercises:
        if ex.id == exercise_id:
            return ex
    for problem in problems:
        if problem.path.parent.name == exercise_id:
            raise ExerciseError(str(problem))
    known = ", ".join(e.id for e in exercises) or "none"
    raise ExerciseError(f"no exercise {exercise_id!r} in {root} (known: {known})")


def load_exercise(folder: Path) -> Exercise:
    folder = Path(folder)
    meta_path = folder / "exercise.toml"
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExerciseError(f"{meta_path} is missing") from None
    except IsADirectoryError:
        raise ExerciseError(f"{meta_path} is a folder, not a file") from None
    except OSError as exc:
        raise ExerciseError(f"{meta_path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExerciseError(f"{meta_path} is not valid TOML: {exc}") from None
    meta = _safe(meta)       # TOML can spell control characters ("\u001b"): never shown raw

    def need(key: str) -> str:
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ExerciseError(f"{meta_path}: `{key}` (a non-empty string) is required")
        return value

    ex_id = meta.get("id") or folder.name
    if not isinstance(ex_id, str) or not ex_id.strip():
        raise ExerciseError(f"{meta_path}: `id` must be a non-empty string")
    base_settings = _table(meta, "settings", meta_path)
    for key in ("hints", "checks"):
        if not isinstance(meta.get(key) or [], list):
            raise ExerciseError(f"{meta_path}: `{key}` must be a list")
    raw_variants = meta.get("variants") or {"default": {}}
    if not isinstance(raw_variants, dict):
        raise ExerciseError(f"{meta_path}: `variants` must be a table of tables")
    variants: dict[str, Variant] = {}
    for name, spec in raw_variants.items():
        if not isinstance(spec, dict):
            raise ExerciseError(f"{meta_path}: variant {name!r} must be a table")
        merged = dict(base_settings)
        if "model" in spec:
            merged["model"] = spec["model"]
        merged.update(_table(spec, "settings", meta_path, f"variant {name!r}: "))
        variants[name] = Variant(name, str(spec.get("description", "")), merged)
    default_variant = meta.get("default_variant") or next(iter(variants))
    if default_variant not in variants:
        raise ExerciseError(f"{meta_path}: default_variant {default_variant!r} is not a variant")

    files = _table(meta, "files", meta_path)

    def file(key: str) -> Path | None:
        name = files.get(key)
        if name is not None and not isinstance(name, str):
            raise ExerciseError(f"{meta_path}: files.{key} must be a file name")
        return (folder / name).resolve() if name else None

    return Exercise(
        id=str(ex_id),
        title=need("title"),
        lesson=need("lesson"),
        task=str(meta.get("task", "classification")),
        path=folder.resolve(),
        summary=str(meta.get("summary", "")).strip(),
        default_variant=default_variant,
        variants=variants,
        data=_data_spec(meta.get("data"), folder, meta_path),
        checks=tuple(_check_spec(c, meta_path) for c in meta.get("checks") or []),
        hints=tuple(str(h).strip() for h in meta.get("hints") or []),
        learner_file=file("learner"),
        solution_file=file("solution"),
        code_checks_file=file("checks"),
        extra={k: v for k, v in meta.items() if k not in _KNOWN_KEYS},
    )


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def _table(raw: dict[str, Any], key: str, meta_path: Path, where: str = "") -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ExerciseError(f"{meta_path}: {where}`{key}` must be a table")
    return dict(value)


_KNOWN_KEYS = {
    "id", "title", "lesson", "task", "summary", "default_variant", "variants", "settings",
    "data", "checks", "hints", "files",
}


def _data_spec(raw: Any, folder: Path, meta_path: Path) -> DataSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "train" not in raw or "val" not in raw:
        raise ExerciseError(f"{meta_path}: [data] needs at least `train` and `val` paths")

    def path(key: str) -> Path | None:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ExerciseError(f"{meta_path}: data.{key} must be a file name")
        return (folder / value).resolve() if value else None

    train, val = path("train"), path("val")
    assert train is not None and val is not None
    fmt = raw.get("format") or train.suffix.lstrip(".") or "jsonl"
    if fmt not in ("jsonl", "csv"):
        raise ExerciseError(f"{meta_path}: data format {fmt!r} is not jsonl or csv")
    return DataSpec(
        format=fmt,
        train=train,
        val=val,
        test=path("test"),
        text_field=str(raw.get("text_field", "text")),
        label_field=str(raw.get("label_field", "label")),
        labels=tuple(str(x) for x in raw.get("labels", ())),
    )


def _check_spec(raw: Any, meta_path: Path) -> CheckSpec:
    if not isinstance(raw, dict) or "metric" not in raw:
        raise ExerciseError(f"{meta_path}: each [[checks]] needs a `metric`")
    op = raw.get("op", ">=")
    if op not in OPS:
        raise ExerciseError(f"{meta_path}: check op {op!r} is not one of {' '.join(OPS)}")
    metric = raw["metric"]
    if not isinstance(metric, str) or not metric:
        raise ExerciseError(f"{meta_path}: a check's `metric` must be a metric name")
    if ("value" in raw) == ("ref" in raw):
        raise ExerciseError(f"{meta_path}: check {metric!r} needs `value` or `ref`")
    value = raw.get("value")
    if "value" in raw and (isinstance(value, bool) or not isinstance(value, int | float)
                           or not math.isfinite(value)):
        raise ExerciseError(f"{meta_path}: check {metric!r}: value {value!r} "
                            "is not a finite number")
    if "ref" in raw and (not isinstance(raw["ref"], str) or not raw["ref"]):
        raise ExerciseError(f"{meta_path}: check {metric!r}: ref must be a metric name")
    return CheckSpec(
        name=str(raw.get("name", metric)),
        metric=metric,
        op=op,
        value=float(value) if "value" in raw else None,
        ref=str(raw["ref"]) if "ref" in raw else None,
        description=str(raw.get("description", "")),
    )


# --- settings ----------------------------------------------------------------------------

def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`["lr=1e-4", "epochs=2"]` -> `{"lr": "1e-4", "epochs": "2"}` (values still text)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ExerciseError(f"--set wants key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def resolve_settings(variant: Variant, overrides: dict[str, Any] | None,
                     task: str) -> dict[str, Any]:
    """The variant's settings with `overrides` applied: the task's typed settings class
    (training/tasks: `TASKS[task].settings`, the single source of defaults, types and
    ranges), then the variant's values, then `overrides`, each checked against the class
    (`SettingsError`, one line, on a bad value); the result is its `to_dict()`."""
    from studyapp.training.tasks import TASKS

    found = TASKS.get(task)
    if found is None:
        raise ExerciseError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    return found.settings.build(variant.settings, overrides).to_dict()


# --- checks ------------------------------------------------------------------------------

def _compare(measured: float, op: str, target: float) -> bool:
    return {
        ">=": measured >= target,
        ">": measured > target,
        "<=": measured <= target,
        "<": measured < target,
        "==": measured == target,
    }[op]


def _check_text(check: CheckSpec) -> str:
    target = f"{check.value:g}" if check.value is not None else check.ref
    return f"{check.metric} {check.op} {target}"


def evaluate_checks(checks: tuple[CheckSpec, ...] | list[CheckSpec],
                    metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Each check as {name, passed, expected, measured, message}; never raises."""
    results = []
    for check in checks:
        measured = metrics.get(check.metric)
        if check.ref is not None:
            target = metrics.get(check.ref)
            expected = f"{check.metric} {check.op} {check.ref}" + (
                f" ({_fmt(target)})" if isinstance(target, int | float) else "")
        else:
            target = check.value
            expected = f"{check.metric} {check.op} {_fmt(target)}"
        if not isinstance(measured, int | float):
            passed, message = False, f"{check.name}: {check.metric} was not measured"
        elif not isinstance(target, int | float):
            passed, message = False, f"{check.name}: {check.ref} was not measured"
        else:
            passed = _compare(float(measured), check.op, float(target))
            verdict = "passed" if passed else "FAILED"
            message = (f"{check.name}: {verdict} - expected {expected}, "
                       f"measured {_fmt(measured)}")
        results.append({
            "name": check.name,
            "passed": bool(passed),
            "expected": expected,
            "measured": measured if isinstance(measured, int | float) else None,
            "message": message,
        })
    return results


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
