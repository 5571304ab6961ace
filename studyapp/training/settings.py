"""Typed task settings: one frozen dataclass per task, the single source of its settings.

Pure (no torch): the parent checks `--set` values against the dataclass before anything
starts, and the worker rebuilds the same dataclass from the spec it receives. Like
nanoGPT's `GPTConfig`, a task's settings class lists every setting once, with its type,
its default and the values it allows; `exercise.toml` ([settings] and each variant's
`settings`) and `--set key=value` only override it.

    @dataclass(frozen=True)
    class MySettings(TaskSettings):
        lr: float = setting(1e-4, gt=0, help="peak learning rate")
        epochs: int = setting(1, ge=1, le=1000)
        precision: str = setting("auto", choices=PRECISIONS)

    MySettings.build({"lr": 3e-4}, {"epochs": "2"})   # toml values, then --set text
    MySettings.from_dict(spec.settings)               # in the worker: the same object

A value of the wrong type or outside its range is refused with `SettingsError`, one line
naming the key, the value and what is allowed: `--set batch_size=0: batch_size must be an
integer >= 1`. Register a task's class in `studyapp.training.tasks.TASKS`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from studyapp.training.catalog import ExerciseError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MAX_THREADS = max(1, os.cpu_count() or 1)
DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class SettingsError(ExerciseError):
    """A setting value that the task does not allow; the message is one line."""


def setting(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None,
            choices: tuple[Any, ...] | None = None, help: str = "") -> Any:
    """A dataclass field with its allowed range (`ge`, `gt`, `le`, `lt`) or `choices`."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "help": help}
    return dataclasses.field(default=default, metadata=meta)


def check_device(value: str | None) -> None:
    """`--device`: auto, cpu, mps, cuda or cuda:N (whether it is there is the worker's to
    say)."""
    if value is not None and not DEVICE_RE.match(value):
        raise SettingsError(f"--device {value}: not a device; allowed: auto, cpu, cuda, "
                            "cuda:N, mps")


MAX_PROCESSES = 64


def check_processes(value: int) -> None:
    """`--processes N`: 1 to 64 data-parallel processes."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PROCESSES:
        raise SettingsError(f"--processes {value}: processes must be an integer >= 1 and "
                            f"<= {MAX_PROCESSES}")


@dataclass(frozen=True)
class TaskSettings:
    """Base class of a task's settings (see the module docstring)."""

    source: ClassVar[str] = "--set"

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field[Any]]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def build(cls, base: dict[str, Any] | None = None,
              overrides: dict[str, Any] | None = None, *,
              base_source: str = "exercise.toml") -> Self:
        """The defaults, then `base` (exercise.toml's values), then `overrides` (--set)."""
        values: dict[str, Any] = {}
        for source, given in ((base_source, base or {}), ("--set", overrides or {})):
            for key, raw in given.items():
                values[key] = cls._read(key, raw, source)
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The settings a spec carries (to_dict's output), checked again."""
        return cls.build(data, base_source="the run spec")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls, key: str) -> str:
        """What `key` allows, in words: "an integer >= 1", "one of auto, fp32, bf16"."""
        f = cls.fields()[key]
        kind = _kind(cls, f)
        meta = f.metadata
        if meta.get("choices"):
            return "one of " + ", ".join(str(c) for c in meta["choices"])
        words = {bool: "true or false", int: "an integer", float: "a number",
                 str: "a text"}.get(kind, kind.__name__)
        bounds = [f"{op} {meta[k]:g}" for k, op in (("ge", ">="), ("gt", ">"), ("le", "<="),
                                                     ("lt", "<")) if meta.get(k) is not None]
        return words + (" " + " and ".join(bounds) if bounds else "")

    @classmethod
    def _read(cls, key: str, raw: Any, source: str) -> Any:
        known = cls.fields()
        shown = f"{source} {key}={_text(raw)}"
        if key not in known:
            raise SettingsError(f"{shown}: unknown setting; known: {', '.join(sorted(known))}")
        f = known[key]
        kind = _kind(cls, f)
        allowed = cls.describe(key)
        value = _coerce(raw, kind)
        if value is _BAD:
            raise SettingsError(f"{shown}: {key} must be {allowed}")
        meta = f.metadata
        bad = False
        if meta.get("choices") and value not in meta["choices"]:
            bad = True
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isnan(value):
                bad = True
            for k, ok in (("ge", lambda v, b: v >= b), ("gt", lambda v, b: v > b),
                          ("le", lambda v, b: v <= b), ("lt", lambda v, b: v < b)):
                if meta.get(k) is not None and not ok(value, meta[k]):
                    bad = True
        if bad:
            raise SettingsError(f"{shown}: {key} must be {allowed}")
        return value


_BAD = object()


def _text(raw: Any) -> str:
    return raw if isinstance(raw, str) else repr(raw) if not isinstance(raw, bool) \
        else str(raw).lower()


def _kind(cls: type, f: dataclasses.Field[Any]) -> type:
    hints = typing.get_type_hints(cls)
    kind = hints.get(f.name, str)
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind if isinstance(kind, type) else str


def _coerce(raw: Any, kind: type) -> Any:
    """`raw` (a --set text or a TOML value) as `kind`, or _BAD."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        low = str(raw).strip().lower()
        return {"1": True, "true": True, "yes": True, "on": True, "0": False,
                "false": False, "no": False, "off": False}.get(low, _BAD)
    if kind is int:
        if isinstance(raw, bool):
            return _BAD
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float):
            return int(raw) if raw.is_integer() else _BAD
        try:
            text = str(raw).strip()
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text)
            number = float(text)            # 1e3 is an integer too
            return int(number) if number.is_integer() else _BAD
        except (ValueError, OverflowError):
            return _BAD
    if kind is float:
        if isinstance(raw, bool):
            return _BAD
        try:
            return float(raw)
        except (TypeError, ValueError):
            return _BAD
    if isinstance(raw, bool | int | float):
        return _BAD if kind is str else raw
    return str(raw)
