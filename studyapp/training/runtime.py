"""What a task sees while it runs inside the worker: its spec, an event sink, a cancel flag.

No torch here: tasks import it themselves. A task is a function `run(ctx: RunContext) ->
dict` returning its final metrics; it emits Step/Evaluation/... through `ctx.emit`, calls
`ctx.check_cancelled(step)` often (each step, each evaluation batch), and raises on error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from studyapp.training.events import Event, Log, Step

# several processes (worker.py): the stderr line of a rank that failed, and how rank 0
# words an error that only says another rank went away
RANK_FAILED = "studyapp-rank-failed "
SECONDARY_PREFIX = "another training process stopped"


class RunCancelled(Exception):
    """Raised inside a task when a cancel was requested; carries what was measured."""

    def __init__(self, step: int, metrics: dict[str, Any] | None = None):
        super().__init__(f"cancelled at step {step}")
        self.step = step
        self.metrics = metrics or {}


class CodeChecksFailed(RuntimeError):
    """The learner's code did not pass its fast checks; no training was started."""

    def __init__(self, results: list[dict[str, Any]]):
        failed = [r for r in results if not r["passed"]]
        lines = [f"- {r['name']}: {r['message']}" for r in failed]
        super().__init__(f"{len(failed)} of {len(results)} code checks failed:\n"
                         + "\n".join(lines))
        self.results = results


@dataclass(frozen=True)
class RunSpec:
    """Everything the worker needs, resolved by the parent (JSON-able)."""

    run_id: str
    exercise: str
    variant: str
    task: str
    settings: dict[str, Any]
    device: str | None = None
    data: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)
    code_path: str | None = None
    code: str = "solution"          # whose code: solution | learner | mine (learner.resolve_code)
    code_checks_path: str | None = None
    cache_dir: str = ""
    output_dir: str = ""
    processes: int = 1              # data-parallel processes (torchrun); see worker.py

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        from dataclasses import fields

        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Emitter:
    """Writes events as JSON lines. Step events are flushed at most every `step_flush_s`
    seconds (so a fast loop is not slowed by the pipe); every other event at once."""

    def __init__(self, stream: IO[str], step_flush_s: float = 0.1):
        self._stream = stream
        self._flush_every = step_flush_s
        self._last_flush = 0.0
        self._lock = threading.Lock()
        self.broken = False

    def __call__(self, event: Event) -> None:
        line = event.to_json() + "\n"
        with self._lock:
            if self.broken:
                return
            try:
                self._stream.write(line)
                now = time.monotonic()
                if not isinstance(event, Step) or now - self._last_flush >= self._flush_every:
                    self._stream.flush()
                    self._last_flush = now
            except (BrokenPipeError, ValueError, OSError):
                # the parent is gone: nobody listens, stop the run at the next check
                self.broken = True

    def flush(self) -> None:
        with self._lock:
            if not self.broken:
                try:
                    self._stream.flush()
                except (BrokenPipeError, ValueError, OSError):
                    self.broken = True


@dataclass
class RunContext:
    spec: RunSpec
    emit: Callable[[Event], None]
    cancel_requested: Callable[[], bool] = lambda: False

    @property
    def settings(self) -> dict[str, Any]:
        return self.spec.settings

    @property
    def cache_dir(self) -> Path:
        return Path(self.spec.cache_dir)

    @property
    def output_dir(self) -> Path:
        return Path(self.spec.output_dir)

    def log(self, message: str, **data: Any) -> None:
        self.emit(Log(message, data) if data else Log(message))

    def check_cancelled(self, step: int, metrics: dict[str, Any] | None = None) -> None:
        if self.cancel_requested():
            raise RunCancelled(step, metrics)
