"""A hands-on exercise: what to do, a run of the training engine, its loss curve and checks.

The run is a child process (training/runner.py); a thread worker iterates its events and
hands each to the screen with `call_from_thread`. Nothing here imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, RichLog, Static

from studyapp.tui.widgets.loss_plot import LossPlot

if TYPE_CHECKING:
    from studyapp.services.exercises import ExerciseService
    from studyapp.services.study import StudyService
    from studyapp.training.learner import LearnerService


BUSY = frozenset({"starting", "running", "cancelling", "checking"})


class ExerciseScreen(Screen[None]):
    """Start, watch and cancel a training run of one exercise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit my code"),
        Binding("k", "check", "Check my code"),
        Binding("m", "start('mine')", "Run my code"),
        Binding("s", "start('solution')", "Run reference"),
        Binding("c", "cancel", "Cancel run"),
        Binding("v", "variant", "Variant"),
        Binding("h", "hint", "Hint"),
        Binding("escape,q", "leave", "Back"),
    ]

    def __init__(self, service: StudyService, exercise_id: str, *,
                 exercises: ExerciseService | None = None,
                 learner: LearnerService | None = None) -> None:
        super().__init__()
        self.service = service
        self.exercise_id = exercise_id
        if exercises is None:
            from studyapp.services.exercises import ExerciseService

            exercises = ExerciseService(service.settings)
        if learner is None:
            from studyapp.training.learner import LearnerService

            learner = LearnerService(service.settings)
        self.exercises = exercises
        self.learner = learner
        self.exercise: Any = None
        self.variant: str | None = None
        self.hints_shown = 0
        self.handle: Any = None
        self.status = "idle"

    def compose(self) -> ComposeResult:
        with Horizontal(classes="topbar topbar-row"):
            yield Static(self.exercise_id, id="exercise-title", classes="title")
            yield Static("", id="exercise-status", classes="progress-label")
        with Horizontal(id="exercise-main"):
            with VerticalScroll(id="exercise-info", classes="panel"):
                yield Markdown("", id="exercise-text", open_links=False)
                yield Static("", id="exercise-hints", classes="hint")
            with Vertical(id="exercise-run"):
                yield LossPlot(id="loss-plot")
                yield RichLog(id="run-log", wrap=True, markup=False, max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        from studyapp.training.catalog import ExerciseError

        try:
            self.exercise = self.exercises.exercise(self.exercise_id)
        except ExerciseError as exc:
            self.query_one("#exercise-text", Markdown).update(f"**{exc}**")
            self._set_status("not found")
            return
        self.variant = self.exercise.default_variant
        self.query_one("#exercise-title", Static).update(self.exercise.title)
        self.query_one("#exercise-info").border_title = "What to do"
        self._show_info()
        self._show_hints(self.learner.hints(self.exercise_id))
        self._set_status("idle")
        self._show_past_runs()

    # --- display ------------------------------------------------------------------------
    def _show_info(self) -> None:
        ex = self.exercise
        lines = [ex.summary.strip(), "", "**Variants** (v switches)"]
        for name, var in ex.variants.items():
            mark = "▸" if name == self.variant else "·"
            lines.append(f"- {mark} `{name}` {var.description}")
        if ex.checks:
            lines += ["", "**Checks**"]
            for check in ex.checks:
                target = f"{check.value:g}" if check.value is not None else check.ref
                lines.append(f"- {check.name}: {check.metric} {check.op} {target}")
        if ex.learner_file is not None:
            lines += ["", ("**Your code**: `e` makes your own copy of "
                          f"`{ex.learner_file.name}` (and opens $EDITOR when set), `k` runs its "
                          "fast checks, `m` trains with it; `s` trains the reference solution.")]
        self.query_one("#exercise-text", Markdown).update("\n".join(lines))

    def _set_status(self, status: str) -> None:
        self.status = status
        label = status if self.variant is None else f"{self.variant} · {status}"
        self.query_one("#exercise-status", Static).update(label)
        self.refresh_bindings()

    def _show_past_runs(self) -> None:
        log = self.query_one("#run-log", RichLog)
        runs = self.exercises.runs(self.exercise_id, limit=3)
        if not runs:
            log.write(Text("No runs yet. Press s to start one.", style="dim"))
            return
        log.write(Text("Recent runs:", style="bold"))
        for run in runs:
            numbers = {k: v for k, v in (run.metrics or {}).items() if isinstance(v, int | float)}
            key = [k for k in ("accuracy", "val_loss", "test_accuracy") if k in numbers]
            metrics = ", ".join(f"{k} {numbers[k]:.3g}" for k in (key or list(numbers)[:2]))
            log.write(f"  {run.started_at:%Y-%m-%d %H:%M} {run.variant} {run.status} {metrics}")

    # --- actions ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        busy = self.status in BUSY
        if self.exercise is None:
            return action == "leave"
        if action in {"start", "variant", "check"}:
            if action in {"check"} and self.exercise.code_checks_file is None:
                return False
            if parameters == ("mine",) and self.exercise.learner_file is None:
                return False
            return not busy
        if action == "edit":
            return self.exercise.learner_file is not None
        if action == "cancel":
            return self.status == "running"
        if action == "hint":
            return self.hints_shown < len(self.exercise.hints)
        return True

    def action_variant(self) -> None:
        names = list(self.exercise.variants)
        self.variant = names[(names.index(self.variant) + 1) % len(names)]
        self._show_info()
        self._set_status(self.status)

    def _show_hints(self, hints: list[str]) -> None:
        self.hints_shown = len(hints)
        text = "\n\n".join(f"Hint {i + 1}: {h}" for i, h in enumerate(hints))
        self.query_one("#exercise-hints", Static).update(text)
        self.refresh_bindings()

    def action_hint(self) -> None:
        """One more hint (the count is kept with the learner's workspace)."""
        if self.learner.hint(self.exercise_id) is not None:
            self._show_hints(self.learner.hints(self.exercise_id))

    def action_edit(self) -> None:
        """Make (once) and show the learner's copy; open it in $EDITOR when one is set."""
        import os
        import shlex
        import subprocess

        path = self.learner.edit(self.exercise_id)
        log = self.query_one("#run-log", RichLog)
        log.write(f"Your copy: {path}")
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor and not self.app.is_headless:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
            log.write("Back from the editor: press k to check your code.")
        else:
            self.notify(f"Edit {path}, then press k to check it.", timeout=8)

    def action_check(self) -> None:
        if self.status in {"starting", "running", "cancelling", "checking"}:
            return
        self._set_status("checking")
        self._check()

    @work(thread=True, exclusive=True, group="check")
    def _check(self) -> None:
        try:
            report = self.learner.check(self.exercise_id)
        except Exception as exc:  # noqa: BLE001 - LearnerError and the like: shown
            self.app.call_from_thread(self._checked, None, str(exc))
            return
        self.app.call_from_thread(self._checked, report, None)

    def _checked(self, report: Any, error: str | None) -> None:
        log = self.query_one("#run-log", RichLog)
        if report is None:
            log.write(Text(f"Could not check: {error}", style="bold red"))
            self._set_status("idle")
            return
        for line in report.lines():
            style = "green" if line.startswith("PASS") else "red" if line.startswith(
                ("FAIL", "ERROR")) else ""
            log.write(Text(line, style=style))
        self._set_status("checks pass" if report.passed else "checks fail")

    def action_start(self, code: str = "solution") -> None:
        """Train: `code` is "solution" (the reference) or "mine" (the learner's copy)."""
        if self.exercise is None or self.status in BUSY:
            return
        path = None
        if code == "mine":
            path = str(self.learner.code_path(self.exercise_id))
        self.query_one(LossPlot).clear_points()
        log = self.query_one("#run-log", RichLog)
        log.clear()
        log.write(f"Training with {'your code: ' + path if path else 'the reference solution'}")
        self._set_status("starting")
        self._run(self.variant, path or "solution")

    def action_cancel(self) -> None:
        if self.handle is not None and self.status == "running":
            self._set_status("cancelling")
            self.handle.cancel()

    def action_leave(self) -> None:
        if self.handle is not None and self.status in {"running", "starting", "cancelling"}:
            self.handle.cancel(grace_s=2.0)
            self.notify("The run was cancelled.")
        self.dismiss(None)

    # --- the run (a thread worker) ------------------------------------------------------
    @work(thread=True, exclusive=True, group="run")
    def _run(self, variant: str | None, code: str) -> None:
        try:
            handle = self.exercises.start_run(self.exercise_id, variant=variant, code=code)
        except Exception as exc:  # noqa: BLE001 - any start failure is shown, never raised
            self.app.call_from_thread(self._failed_to_start, str(exc))
            return
        self.handle = handle
        self.app.call_from_thread(self._set_status, "running")
        for event in handle.events():
            self.app.call_from_thread(self._on_event, event)

    def _failed_to_start(self, message: str) -> None:
        self.query_one("#run-log", RichLog).write(Text(f"Could not start: {message}",
                                                       style="bold red"))
        self._set_status("failed")

    def _on_event(self, event: Any) -> None:
        log = self.query_one("#run-log", RichLog)
        plot = self.query_one(LossPlot)
        kind = getattr(event, "type", "")
        if kind == "started":
            log.write(f"Started on {event.device}: {event.total_steps} steps, "
                      f"{event.train_examples} training examples")
        elif kind == "step":
            plot.add_train(event.step, event.loss)
            self.query_one("#exercise-status", Static).update(
                f"{self.variant} · step {event.step} · loss {event.loss:.3f}")
        elif kind == "evaluation":
            plot.add_val(event.step, event.val_loss)
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in event.metrics.items())
            log.write(f"step {event.step}: val loss {event.val_loss:.3f} {metrics}")
        elif kind == "log":
            log.write(event.message)
        elif kind == "finished":
            for check in event.checks:
                ok = check.get("passed")
                text = check.get("message") or check.get("name", "")
                log.write(Text(f"{'✓' if ok else '✗'} {text}", style="green" if ok else "red"))
            self._set_status("passed" if event.passed else "finished: checks failed")
        elif kind == "failed":
            log.write(Text(f"Failed: {event.error}", style="bold red"))
            self._set_status("failed")
        elif kind == "cancelled":
            log.write(Text(f"Cancelled after {event.step} steps.", style="yellow"))
            self._set_status("cancelled")
