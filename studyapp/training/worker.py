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

Several processes (`RunSpec.processes` > 1, `studyapp exercise run ID --processes N`): the
worker writes the spec to `<output_dir>/spec.json` and replaces itself (same pid, same
process group) with torchrun, `python -m torch.distributed.run --standalone
--nproc-per-node N -m studyapp.training.worker --spec FILE`, which starts N ranks of this
module. Accelerate sets up the process group from torchrun's environment (gloo on the CPU,
NCCL on GPUs). Rank 0 alone writes events to stdout; every rank stops at the same step on
a cancel (SIGINT to the run's process group; the engine agrees on it each step). A rank
that fails writes one line `studyapp-rank-failed {"rank", "error", "secondary"}` to stderr
(`secondary`: it only saw another rank go away), which the runner reports as the run's
error; torchrun then stops the other ranks (SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

# imports stay light until the spec is read: the hub switch must be set before
# huggingface_hub is imported
from studyapp.training.events import Cancelled, Failed, Finished
from studyapp.training.runtime import (
    RANK_FAILED,
    SECONDARY_PREFIX,
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


class RankStopped(Exception):
    """torchrun stopped this rank (SIGTERM): another rank failed."""


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def main(argv: list[str] | None = None) -> int:
    # first, before any thread: the guardian that ends this run's process group when the
    # parent goes away (procgroup.py)
    from studyapp.training.procgroup import start_guardian

    start_guardian()
    argv = sys.argv[1:] if argv is None else argv
    rank, multi = _rank(), _world() > 1
    # keep the event stream for ourselves: fd 1 becomes a copy of stderr
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if rank == 0:
        events = os.fdopen(events_fd, "w", encoding="utf-8", buffering=1 << 16)
    else:                                    # rank 0 alone speaks for the run
        os.close(events_fd)
        events = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long
    emit = Emitter(events)

    cancelled = {"flag": False}

    def on_signal(signum: int, frame: Any) -> None:
        if multi and signum == getattr(signal, "SIGTERM", None):
            raise RankStopped("another training process failed")
        cancelled["flag"] = True

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    parent = os.getppid()

    def cancel_requested() -> bool:
        return cancelled["flag"] or emit.broken or os.getppid() != parent

    try:
        if argv[:1] == ["--spec"] and len(argv) == 2:
            raw = Path(argv[1]).read_text(encoding="utf-8")
        else:
            raw = sys.stdin.read()
        spec = RunSpec.from_dict(json.loads(raw))
    except Exception as exc:  # noqa: BLE001 - anything unreadable is a bad spec
        emit(Failed(f"the worker could not read its run spec: {exc}", traceback.format_exc()))
        emit.flush()
        return 2

    if spec.processes > 1 and not multi:
        events.flush()
        os.dup2(events_fd, 1)                 # torchrun's ranks inherit the event stream
        _launch(spec)                         # does not return
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
        error = _one_line(exc)
        if multi:
            secondary = isinstance(exc, RankStopped) or _lost_peer(exc)
            if secondary and rank == 0:
                error = f"{SECONDARY_PREFIX} ({error})"
            print(RANK_FAILED + json.dumps({"rank": rank, "error": error,
                                            "secondary": secondary}), file=sys.stderr,
                  flush=True)
        emit(Failed(error, traceback.format_exc()))
        status = 1
    emit.flush()
    if multi:
        _leave_process_group()
    return status


def _lost_peer(exc: BaseException) -> bool:
    """An error that only says another rank went away (gloo / NCCL)."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(w in text for w in ("connection closed", "connection reset", "gloo",
                                   "nccl", "distbackenderror", "broken pipe", "timed out"))


def _launch(spec: RunSpec) -> None:
    """Become torchrun for `spec.processes` ranks of this module (same pid and group)."""
    folder = Path(spec.output_dir) if spec.output_dir else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.json"
    from studyapp.atomic import write_atomic

    write_atomic(path, json.dumps(spec.to_dict()))
    os.execv(sys.executable, launch_command(spec.processes, path))


def launch_command(processes: int, spec_path: Path) -> list[str]:
    """torchrun with this interpreter (not a `torchrun` script on PATH)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "--max-restarts=0", "-m",
            "studyapp.training.worker", "--spec", str(spec_path)]


def _leave_process_group() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_initialized():
        with contextlib.suppress(Exception):       # exiting anyway
            torch.distributed.destroy_process_group()


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
