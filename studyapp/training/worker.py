"""The training worker: `python -m studyapp.training.worker`, one run per process.

Protocol (see runner.py for the parent side):
- stdin: one JSON object, a `RunSpec`; the worker reads it to EOF.
- stdout: events as JSON lines (events.py). Anything else that writes to stdout (a stray
  print in a library or in the learner's code) is sent to stderr instead, so the event
  stream stays clean.
- stderr: free text (warnings, tracebacks); the parent keeps its tail for error messages.
- SIGINT / SIGTERM (or, on Windows, CTRL_BREAK): cancel; the run stops at the next step or
  evaluation batch, emits `Cancelled` with what it measured, and exits 0.
- exit status: 0 finished or cancelled, 1 failed, 2 a bad spec.
The worker also stops when the parent goes away (its stdout pipe breaks), and its whole
process group (what learner code forked included) is killed then (procgroup.py).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

# imports stay light until the spec is read: the hub switch must be set before
# huggingface_hub is imported
from studyapp.training.events import Cancelled, Failed, Finished
from studyapp.training.runtime import (
    CodeChecksFailed,
    Emitter,
    RunCancelled,
    RunContext,
    RunSpec,
)


def task_module(task: str) -> str:
    """The worker module of `task`, from the one task registry (training/tasks)."""
    from studyapp.training.tasks import get_task

    return get_task(task).module


def _prepare_env(spec: RunSpec) -> None:
    from studyapp.training.models import needs_hub

    model = str(spec.settings.get("model", ""))
    if not (model and needs_hub(model)):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv: list[str] | None = None) -> int:
    # first, before any thread: the guardian that ends this run's process group when the
    # parent goes away (procgroup.py)
    from studyapp.training.procgroup import start_guardian

    start_guardian()
    # keep the event stream for ourselves: fd 1 becomes a copy of stderr
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    events = os.fdopen(events_fd, "w", encoding="utf-8", buffering=1 << 16)
    emit = Emitter(events)

    cancelled = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        cancelled["flag"] = True

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    parent = os.getppid()

    def cancel_requested() -> bool:
        return cancelled["flag"] or emit.broken or os.getppid() != parent

    try:
        spec = RunSpec.from_dict(json.loads(sys.stdin.read()))
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a bad spec
        emit(Failed(f"the worker could not read its run spec: {exc}", traceback.format_exc()))
        emit.flush()
        return 2

    _prepare_env(spec)
    ctx = RunContext(spec=spec, emit=emit, cancel_requested=cancel_requested)
    status = 0
    try:
        module_name = task_module(spec.task)
        try:
            module = __import__(module_name, fromlist=["run"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise ValueError(f"unknown task {spec.task!r}: no module {module_name}") from None
        result = module.run(ctx)
        emit(Finished(metrics=result["metrics"], checks=result.get("checks", [])))
    except RunCancelled as exc:
        emit(Cancelled(step=exc.step, metrics=exc.metrics))
    except CodeChecksFailed as exc:
        emit(Failed(str(exc), ""))
        status = 1
    except KeyboardInterrupt:
        emit(Cancelled(step=0))
    except BaseException as exc:  # noqa: BLE001 - report everything, then exit
        emit(Failed(_one_line(exc), traceback.format_exc()))
        status = 1
    emit.flush()
    return status


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError): try a smaller batch_size or max_length"
    if "out of memory" in text.lower():
        return f"out of memory: try a smaller batch_size or max_length ({name}: {text})"
    if name in ("ModelUnavailable", "DeviceError", "DataError", "ExerciseError",
                "CodeError"):
        return text
    return f"{name}: {text}" if text else name


if __name__ == "__main__":
    sys.exit(main())
