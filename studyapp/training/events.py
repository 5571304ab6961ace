"""What a training run tells the world: small frozen events, one JSON object each.

A run streams these from the worker process to the parent, one JSON object per line on the
worker's stdout. Every event has a `"type"` field naming it. A stream is:

    Started  (Step* Evaluation* Checkpoint* Trial*)*  then exactly one of  Finished | Failed | Cancelled

The first Evaluation comes before any training step (step 0: the untrained model), so a plot
of validation loss always starts at the beginning. Steps count optimizer updates, from 1.

The events are plain values (str, int, float, dicts and lists of those): no torch, no UI.
`to_dict()`/`event_from_dict()` round-trip them; `to_json()`/`parse_line()` are the wire form.
Unknown keys in a dict are ignored, so a newer worker can add fields without breaking an
older reader.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base class: every event knows its wire name."""

    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        # NaN/inf (a diverging loss) are written as NaN/Infinity, which json.loads reads back
        return json.dumps(self.to_dict(), separators=(",", ":"), default=_jsonable)

    @property
    def terminal(self) -> bool:
        """True for the event that ends a run (Finished, Failed, Cancelled)."""
        return False


@dataclass(frozen=True)
class Started(Event):
    """The worker has loaded the model and data and is about to train."""

    type: ClassVar[str] = "started"
    run_id: str
    exercise: str
    variant: str
    device: str
    settings: dict[str, Any]
    total_steps: int
    model: str = ""                 # the model asked for, e.g. "minilm" or "gpt2|smollm2"
    train_examples: int = 0


@dataclass(frozen=True)
class Step(Event):
    """One optimizer update. `elapsed` is seconds since training began (after loading)."""

    type: ClassVar[str] = "step"
    step: int
    epoch: float                    # fractional: 1.5 is halfway through the second epoch
    loss: float
    lr: float
    tokens_per_s: float
    elapsed: float
    memory_mb: float | None = None  # peak memory so far: GPU allocated, or the process's RSS


@dataclass(frozen=True)
class Evaluation(Event):
    """A pass over the validation set (step 0 is before training)."""

    type: ClassVar[str] = "evaluation"
    step: int
    val_loss: float
    metrics: dict[str, float] = field(default_factory=dict)   # e.g. {"accuracy": 0.93}


@dataclass(frozen=True)
class Checkpoint(Event):
    """Trained weights were written to `path`."""

    type: ClassVar[str] = "checkpoint"
    step: int
    path: str


@dataclass(frozen=True)
class Trial(Event):
    """One trial of a hyperparameter search has ended (the sweep exercise). The parent
    records it as a run of its own under this run: its settings, its losses (its own
    steps, from 1) and metrics. `status` is `finished`, or `pruned` when it was stopped
    early as hopeless."""

    type: ClassVar[str] = "trial"
    trial: int                      # 1, 2, ... in the order they ran
    name: str                       # e.g. "lr=0.001 rank=4"
    settings: dict[str, Any]        # the run's settings with this trial's values
    status: str                     # finished | pruned
    metrics: dict[str, Any] = field(default_factory=dict)
    losses: dict[str, list[list[float]]] = field(default_factory=dict)   # train, val


@dataclass(frozen=True)
class Log(Event):
    """A line worth showing the learner (loading the model, converting a file, ...)."""

    type: ClassVar[str] = "log"
    message: str
    data: dict[str, Any] = field(default_factory=dict)   # e.g. {"trainable_params": 7e6}


@dataclass(frozen=True)
class Finished(Event):
    """The run completed. `checks` are dicts: name, passed, expected, measured, message."""

    type: ClassVar[str] = "finished"
    metrics: dict[str, Any]
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return True

    @property
    def passed(self) -> bool:
        return all(c.get("passed") for c in self.checks)


@dataclass(frozen=True)
class Failed(Event):
    """The run stopped on an error. `error` is one readable line; `traceback` the details."""

    type: ClassVar[str] = "failed"
    error: str
    traceback: str = ""

    @property
    def terminal(self) -> bool:
        return True


@dataclass(frozen=True)
class Cancelled(Event):
    """The run was stopped on request after `step` updates; `metrics` holds what was known."""

    type: ClassVar[str] = "cancelled"
    step: int
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return True


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (Started, Step, Evaluation, Checkpoint, Trial, Log, Finished, Failed,
                Cancelled)
}


class EventError(ValueError):
    """A line or dict that is not a known event."""


def event_from_dict(data: dict[str, Any]) -> Event:
    """Build the event a dict describes (the inverse of `Event.to_dict`)."""
    if not isinstance(data, dict):
        raise EventError(f"an event is a JSON object, not {type(data).__name__}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise EventError(f"unknown event type {kind!r}")
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise EventError(f"bad {kind} event: {exc}") from exc


def parse_line(line: str | bytes) -> Event:
    """Parse one line of the wire form."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not a JSON event line: {line[:200]!r}") from exc
    return event_from_dict(data)


def _jsonable(value: Any) -> Any:
    """Numbers from numpy/torch (anything with .item() or __float__) become plain floats."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "__float__"):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
