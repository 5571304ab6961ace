"""The parent side of a run: start the worker process, read its events, cancel, record.

No torch here (the TUI imports this). A run is a child process,
`python -m studyapp.training.worker`, with its own stdin/stdout/stderr pipes (not
multiprocessing: under Textual, which replaces stderr, a `spawn` child's resource tracker
fails with "bad value(s) in fds_to_keep"). Events arrive as JSON lines (events.py).

    handle = RunHandle(spec, recorder=SqliteRecorder(db_path)).start()
    for event in handle.events():        # blocks; one thread iterates
        ...                              # Step, Evaluation, Log, ..., then a terminal event
    result = handle.result               # RunResult: status, metrics, checks, losses, error

Read `events()` to its end (or call `wait()`): a reader that stops early (breaks out of the
loop, so the generator is closed) stops the run, recorded as cancelled.
`handle.cancel()` may be called from any thread (a key handler, a SIGINT handler): the
worker gets SIGINT (CTRL_BREAK on Windows), stops at its next step and reports `Cancelled`
with what it measured; if it has not exited after `grace_s` seconds it is killed, and the
run is still recorded as cancelled. Whatever the child does (crash, out-of-memory kill,
garbage on stdout), `events()` ends with exactly one terminal event and the parent and the
database are fine. The recorder's writes happen in the iterating thread, and a failing
recorder never stops the run.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self

from studyapp.config import PROJECT_ROOT
from studyapp.training import procgroup
from studyapp.training.events import (
    Cancelled,
    Evaluation,
    Event,
    EventError,
    Failed,
    Finished,
    Started,
    Step,
    Trial,
    parse_line,
)
from studyapp.training.runtime import RunSpec

GRACE_S = 10.0
EXIT_AFTER_END_S = 2.0       # how long a worker may take to exit after its terminal event


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass
class RunResult:
    """What a run came to; filled in as events arrive, final once `status` is not running."""

    run_id: str
    exercise: str
    variant: str
    settings: dict[str, Any]
    status: str = "starting"            # starting | running | finished | failed | cancelled
    device: str | None = None
    total_steps: int | None = None
    step: int = 0
    losses: dict[str, list[list[float]]] = field(
        default_factory=lambda: {"train": [], "val": []})
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # a search's trials (sweep), as they ended: trial, name, status, settings, metrics
    trials: list[dict[str, Any]] = field(default_factory=list)
    processes: int = 1
    code: str = "solution"              # whose code ran: solution | learner | mine

    @property
    def passed(self) -> bool | None:
        if self.status != "finished" or not self.checks:
            return None
        return all(c.get("passed") for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The `exercise run --json` object."""
        return {
            "run_id": self.run_id,
            "exercise": self.exercise,
            "variant": self.variant,
            "status": self.status,
            "passed": self.passed,
            "device": self.device,
            "settings": self.settings,
            "metrics": self.metrics,
            "checks": self.checks,
            "error": self.error,
            "steps": self.step,
            "total_steps": self.total_steps,
            "processes": self.processes,
            "code": self.code,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "losses": self.losses,
            **({"trials": self.trials} if self.trials else {}),
        }


class RunRecorder(Protocol):
    """Where a run is recorded (the database; tests may pass their own). `trial` is
    optional: a recorder without it does not record a search's trials."""

    def started(self, result: RunResult) -> None: ...
    def progress(self, result: RunResult) -> None: ...
    def ended(self, result: RunResult) -> None: ...


class SqliteRecorder:
    """Records runs through store/runs.py.

    Given a path, it opens a short-lived connection for each write, so it works from
    whichever thread iterates the events (the TUI uses a worker thread). Given an open
    `sqlite_utils.Database`, it uses that (the caller keeps to one thread).
    """

    def __init__(self, db: Any, now: Callable[[], datetime] | None = None):
        self._db = db
        self._now = now or (lambda: datetime.now(UTC))

    def _with_db(self, fn: Callable[[Any], None]) -> None:
        from studyapp.store.db import open_database

        if isinstance(self._db, str | Path):
            db = open_database(self._db, daily_backup=False)
            try:
                fn(db)
            finally:
                db.conn.close()
        else:
            fn(self._db)

    def now(self) -> datetime:
        return self._now()

    def started(self, result: RunResult) -> None:
        from studyapp.store import runs

        self._with_db(lambda db: runs.create_run(
            db, run_id=result.run_id, exercise=result.exercise, variant=result.variant,
            settings=result.settings, device=result.device,
            started_at=result.started_at or self._now(), code=result.code))

    def progress(self, result: RunResult) -> None:
        from studyapp.store import runs

        self._with_db(lambda db: runs.update_run(db, result.run_id, device=result.device,
                                                 losses=result.losses))

    def trial(self, result: RunResult, trial: Trial) -> None:
        """One trial of a search, as a run of its own under `result`'s run."""
        from datetime import timedelta

        from studyapp.store import runs

        finished = self._now()
        took = trial.metrics.get("time_s")
        started = finished - timedelta(seconds=float(took)) if isinstance(
            took, int | float) and took >= 0 else finished
        self._with_db(lambda db: runs.record_trial(
            db, parent_id=result.run_id, run_id=new_run_id(), exercise=result.exercise,
            variant=result.variant, settings=trial.settings, device=result.device,
            started_at=started, finished_at=finished, status=trial.status,
            losses=trial.losses, metrics=trial.metrics))

    def ended(self, result: RunResult) -> None:
        from studyapp.store import runs

        self._with_db(lambda db: runs.end_run(
            db, result.run_id, status=result.status,
            finished_at=result.finished_at or self._now(), losses=result.losses,
            metrics=result.metrics, checks=result.checks, error=result.error,
            device=result.device))


def worker_command(python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", "studyapp.training.worker"]


class RunHandle:
    """One training run in a child process. See the module docstring."""

    def __init__(self, spec: RunSpec, *, recorder: RunRecorder | None = None,
                 env: dict[str, str] | None = None, python: str | None = None,
                 grace_s: float = GRACE_S, now: Callable[[], datetime] | None = None):
        self.spec = spec
        self.recorder = recorder
        self.grace_s = grace_s
        self._env = env
        self._python = python
        self._now = now or (lambda: datetime.now(UTC))
        self.result = RunResult(run_id=spec.run_id, exercise=spec.exercise,
                                variant=spec.variant, settings=dict(spec.settings),
                                processes=spec.processes, code=spec.code)
        self.recorder_errors: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._stderr_thread: threading.Thread | None = None
        self._cancel_requested = threading.Event()
        self._kill_timer: threading.Timer | None = None
        self._done = False
        self._iterating = False
        self._start_failure: Event | None = None
        self._lifeline: int | None = None       # write end of the lifeline pipe (POSIX)

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.spec.run_id

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def done(self) -> bool:
        return self._done

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    def start(self) -> RunHandle:
        """Start the worker and record the run as running. Returns self."""
        if self._proc is not None:
            raise RuntimeError("this run has already been started")
        env = dict(os.environ if self._env is None else self._env)
        # the worker must import this very studyapp, installed or not
        root = str(PROJECT_ROOT)
        path = env.get("PYTHONPATH", "")
        if root not in path.split(os.pathsep):
            env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
        env["PYTHONUNBUFFERED"] = "1"
        kwargs: dict[str, Any] = {}
        lifeline = None
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            # its own session: a Ctrl-C in the terminal reaches the parent only, which
            # cancels the run on purpose (and the TUI's keys never reach the child); the
            # worker leads a process group that the run owns (procgroup.py)
            kwargs["start_new_session"] = True
            lifeline = procgroup.make_lifeline()
            if lifeline is not None:
                env[procgroup.LIFELINE_ENV] = str(lifeline[0])
                kwargs["pass_fds"] = (lifeline[0],)
        self.result.started_at = self._now()
        self._started_monotonic = time.monotonic()   # the duration, whatever the clock says
        self.result.status = "running"
        self._record("started")
        import json

        try:
            self._proc = subprocess.Popen(
                worker_command(self._python), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, cwd=str(PROJECT_ROOT), **kwargs)
        except OSError as exc:
            if lifeline is not None:
                os.close(lifeline[0])
                os.close(lifeline[1])
            self._start_failure = Failed(f"cannot start the training worker: {exc}")
            self._finish(self._start_failure)
            return self
        if lifeline is not None:
            os.close(lifeline[0])
            self._lifeline = lifeline[1]
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True,
                                               name=f"run-{self.run_id[:8]}-stderr")
        self._stderr_thread.start()
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(self.spec.to_dict()).encode())
            self._proc.stdin.close()
        except OSError:
            pass  # the worker died at once; events() reports it
        return self

    def _drain_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr_tail.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def stderr_tail(self, lines: int = 30) -> str:
        return "\n".join(list(self._stderr_tail)[-lines:])

    def cancel(self, grace_s: float | None = None) -> None:
        """Ask the run to stop; kill it if it has not stopped after `grace_s` seconds."""
        if self._done or self._cancel_requested.is_set():
            return
        self._cancel_requested.set()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if os.name == "nt":
                proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            elif self.spec.processes > 1:
                # every rank (and torchrun) of the run's process group: they agree on
                # the step to stop at (engine.py)
                os.killpg(proc.pid, signal.SIGINT)
            else:
                proc.send_signal(signal.SIGINT)
        except OSError:
            pass
        grace = self.grace_s if grace_s is None else grace_s
        self._kill_timer = threading.Timer(grace, self.kill)
        self._kill_timer.daemon = True
        self._kill_timer.start()

    def kill(self) -> None:
        """Stop the worker and every process of its group now (no chance to report)."""
        proc = self._proc
        if proc is None:
            return
        if os.name == "posix":
            if proc.returncode is None:       # not reaped: the pid is still this run's
                procgroup.kill_group(proc.pid)
            self._cut_lifeline()
            return
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass

    def _cut_lifeline(self) -> None:
        """Close the lifeline: the run's guardian then kills whatever is left of the run."""
        fd, self._lifeline = self._lifeline, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.cancel(grace_s=2.0)
            try:
                for _ in self.events():
                    pass
            finally:
                self.kill()

    # --- events --------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Yield events until the run ends; the last one is Finished, Failed or Cancelled."""
        if self._start_failure is not None:
            failure, self._start_failure = self._start_failure, None
            yield failure
            return
        if self._done:
            return
        if self._proc is None:
            raise RuntimeError("start() the run first")
        if self._iterating:
            raise RuntimeError("events() is already being read")
        self._iterating = True
        assert self._proc.stdout is not None
        terminal: Event | None = None
        try:
            for raw in self._proc.stdout:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    event = parse_line(line)
                except EventError:
                    self._stderr_tail.append(line)  # not an event: keep it for the error
                    continue
                self._apply(event)
                if event.terminal:
                    terminal = event
                    break  # the worker exits right after; record before yielding it
                yield event
        except GeneratorExit:
            # the reader stopped early: stop the run too, and record it as cancelled
            self._cancel_requested.set()
            self.kill()
            self._wait_exit()
            self._finish(Cancelled(step=self.result.step, metrics=self._partial_metrics()))
            raise
        # after its terminal event the worker has nothing left to say: what keeps it from
        # exiting (a child it waits for at exit) is killed with the group
        returncode = self._wait_exit(EXIT_AFTER_END_S if terminal is not None else None)
        if terminal is None:
            terminal = self._synthesise_end(returncode)
        self._finish(terminal)
        yield terminal

    def wait(self) -> RunResult:
        """Read the remaining events (discarding them) and return the result."""
        for _ in self.events():
            pass
        return self.result

    def _wait_exit(self, timeout: float | None = None) -> int:
        assert self._proc is not None
        try:
            returncode = self._proc.wait(
                timeout=max(self.grace_s, 5.0) if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self._proc.wait()
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        # whatever the worker left running (a child learner code forked) goes with it
        procgroup.kill_group(self._proc.pid)
        self._cut_lifeline()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2.0)
        for pipe in (self._proc.stdout, self._proc.stderr):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        return returncode

    def _synthesise_end(self, returncode: int) -> Event:
        """The worker ended without saying how: say it for it."""
        if self._cancel_requested.is_set():
            return Cancelled(step=self.result.step, metrics=self._partial_metrics())
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            why = f"the training process was killed ({name})"
            if -returncode == getattr(signal, "SIGKILL", 9):
                why += " - possibly out of memory: try a smaller batch_size or max_length"
        else:
            why = f"the training process exited with status {returncode} without a result"
        tail = self.stderr_tail(15)
        return Failed(why, tail)

    def _rank_error(self, error: str) -> str:
        """With several processes: the error of the rank that failed first, rather than
        what rank 0 saw of it (a lost connection, a stop from torchrun)."""
        if self.spec.processes <= 1:
            return error
        import json

        from studyapp.training.runtime import RANK_FAILED, SECONDARY_PREFIX

        primary = []
        for line in self._stderr_tail:
            at = line.find(RANK_FAILED)
            if at < 0:
                continue
            try:
                item = json.loads(line[at + len(RANK_FAILED):])
            except ValueError:
                continue
            if isinstance(item, dict) and not item.get("secondary"):
                primary.append(item)
        if primary and (error.startswith(SECONDARY_PREFIX) or "exited with status" in error
                        or "was killed" in error):
            first = primary[0]
            return (f"training process {first.get('rank')} of {self.spec.processes} "
                    f"failed: {first.get('error')}")
        return error

    def _partial_metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {"steps": self.result.step}
        if self.result.losses["train"]:
            m["train_loss"] = self.result.losses["train"][-1][1]
        if self.result.losses["val"]:
            m["val_loss"] = self.result.losses["val"][-1][1]
        return m

    def _apply(self, event: Event) -> None:
        r = self.result
        if isinstance(event, Started):
            r.device = event.device
            r.total_steps = event.total_steps
            self._record("progress")
        elif isinstance(event, Step):
            r.step = event.step
            r.losses["train"].append([event.step, event.loss])
        elif isinstance(event, Evaluation):
            r.losses["val"].append([event.step, event.val_loss])
            self._record("progress")
        elif isinstance(event, Trial):
            r.trials.append({"trial": event.trial, "name": event.name, "status": event.status,
                             "settings": event.settings, "metrics": event.metrics})
            if hasattr(self.recorder, "trial"):
                self._record("trial", event)

    def _finish(self, event: Event) -> None:
        r = self.result
        r.finished_at = self._now()
        if isinstance(event, Finished):
            r.status = "finished"
            r.metrics = dict(event.metrics)
            r.checks = list(event.checks)
        elif isinstance(event, Cancelled):
            r.status = "cancelled"
            r.metrics = {**self._partial_metrics(), **event.metrics}
            r.step = max(r.step, event.step)
        elif isinstance(event, Failed):
            r.status = "failed"
            r.error = self._rank_error(event.error)
            r.traceback = event.traceback or self.stderr_tail(15)
        started = getattr(self, "_started_monotonic", None)
        r.metrics.setdefault("wall_time_s", round(time.monotonic() - started, 3)
                             if started is not None else None)
        self._done = True
        self._record("ended")

    def _record(self, what: str, *args: Any) -> None:
        if self.recorder is None:
            return
        try:
            getattr(self.recorder, what)(self.result, *args)
        except Exception as exc:  # noqa: BLE001 - the run goes on without its record
            self.recorder_errors.append(f"{what}: {type(exc).__name__}: {exc}")


def run_to_end(handle: RunHandle, on_event: Callable[[Event], None] | None = None,
               poll_s: float = 0.0) -> RunResult:
    """Start (if needed) and read a run to its end, passing each event to `on_event`."""
    if handle.pid is None and not handle.done:
        handle.start()
    for event in handle.events():
        if on_event is not None:
            on_event(event)
        if poll_s:
            time.sleep(poll_s)
    return handle.result
