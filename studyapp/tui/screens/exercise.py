"""A hands-on exercise: what to do, a run of the training engine, its loss curve and checks.

The run is a child process (training/runner.py); a thread worker iterates its events into
a queue and asks the screen to drain it (`call_from_thread`) for every event that is not a
step, and for steps at most every `DRAIN_S` seconds, so the UI never paces the training.
The plot and the progress line draw on their own 2 Hz timers. `o` overlays a past run of
this exercise to compare; `w` watches the learner's copy and re-runs its fast checks when it
is saved. Nothing here imports torch.

A training monitor a learner can read: the latest run's curves (and its final metrics, test
loss and confusion matrix beside them) are on the plot when the screen opens; `l` switches a
log loss axis, `[`/`]` smooth the training curve, `a` counts the x axis in steps or epochs.
The runs table lists this exercise's runs with the settings that differ between them, the
outcome, the time and whose code ran: enter puts a run on the plot, space overlays a second
one. Hints appear in a panel at the top, where the learner is looking.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Markdown, RichLog, Static

from studyapp.textsafe import escape_markup, safe_rich_text, safe_text
from studyapp.tui.widgets.keybar import KeyBar
from studyapp.tui.widgets.loss_plot import SMOOTHING_STEPS, LossPlot, Overlay
from studyapp.tui.widgets.run_progress import RunProgress, format_duration, format_metrics
from studyapp.tui.widgets.trials import TrialRow, TrialsTable

if TYPE_CHECKING:
    from studyapp.services.exercises import ExerciseService
    from studyapp.services.study import StudyService
    from studyapp.training.learner import LearnerService


BUSY = frozenset({"starting", "running", "cancelling", "checking"})
ENDS = frozenset({"finished", "failed", "cancelled"})


def settings_diff(settings: dict[str, Any], base: dict[str, Any]) -> str:
    """The settings that differ from `base`, as `lr=0.001 epochs=3` ("" when none)."""
    def show(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    keys = [k for k in settings if k in base and settings[k] != base[k]]
    keys += [k for k in settings if k not in base]
    return " ".join(f"{k}={show(settings[k])}" for k in keys)


def run_label(run: Any, base_settings: dict[str, Any] | None, *, short: bool = False) -> str:
    """A past run: variant, start time (just the time when `short`, for the legend), and
    the settings it changed."""
    when = f"{run.started_at:%H:%M}" if short else f"{run.started_at:%Y-%m-%d %H:%M}"
    label = f"{run.variant or ''} {when}".strip()
    if base_settings is not None:
        diff = settings_diff(run.settings or {}, base_settings)
        label += f" {diff}" if diff else " same settings"
    return label


def differing_keys(settings: list[dict[str, Any]]) -> list[str]:
    """The settings keys whose values are not the same in every one of `settings`."""
    keys: dict[str, None] = {}
    for s in settings:
        keys.update(dict.fromkeys(s))
    return [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]


def _show_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else "-" if value is None else str(value)


# whose code a run used (store.runs.RunRecord.code), as the run history shows it
CODE_NAMES = {"solution": "reference solution", "learner": "bundled learner file",
              "mine": "your code"}


def run_outcome(run: Any) -> str:
    """`passed · acc 0.97`, `checks failed · acc 0.61`, `failed`, `cancelled`; a run of
    the reference solution or the bundled file is marked `(ref)` / `(file)`."""
    if run.status == "finished":
        head = {True: "passed", False: "checks failed", None: "finished"}[
            getattr(run, "passed", None)]
    else:
        head = run.status
    head += {"solution": " (ref)", "learner": " (file)"}.get(getattr(run, "code", None)
                                                            or "", "")
    m = run.metrics or {}
    for key, short in (("accuracy", "acc"), ("val_loss", "val"), ("perplexity", "ppl")):
        value = m.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{head} · {short} {value:.3g}"
    return head


def metrics_panel(metrics: dict[str, Any]) -> Text:
    """Beside the final metrics (the progress line shows them): the test set's numbers,
    test loss first, and the confusion matrix when there is one."""
    text = Text()
    tests = {k: v for k, v in metrics.items() if "test" in k and isinstance(v, int | float)
             and not isinstance(v, bool)}
    if tests:
        text.append("test: ", style="bold")
        text.append(" · ".join(f"{k.replace('test_', '').replace('_', ' ')} {v:.4g}"
                               for k, v in sorted(tests.items(), key=lambda kv: kv[0] != "test_loss")))
    cm = metrics.get("confusion")
    if isinstance(cm, dict) and all(isinstance(cm.get(k), int) for k in ("tp", "fp", "fn", "tn")):
        width = max(len(str(cm[k])) for k in ("tp", "fp", "fn", "tn"))
        text.append("\nconfusion (test)   predicted +   predicted -\n", style="bold")
        text.append(f"  actually +       {cm['tp']:>{width}} ✓          {cm['fn']:>{width}} ✗\n")
        text.append(f"  actually -       {cm['fp']:>{width}} ✗          {cm['tn']:>{width}} ✓")
    return text


class ExerciseScreen(Screen[None]):
    """Start, watch and cancel a training run of one exercise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # the footer keeps to 80 columns: the most used keys, the rest under `?`
        Binding("escape,q", "leave", "Back"),
        Binding("e", "edit", "Edit"),
        Binding("k", "check", "Check"),
        Binding("m", "start('mine')", "Run mine"),
        Binding("s", "start('solution')", "Run solution"),
        Binding("c", "cancel", "Cancel run"),
        Binding("h", "hint", "Hint"),
        Binding("v", "variant", "Variant", show=False),
        Binding("o", "overlay", "Overlay a past run", show=False),
        Binding("w", "watch", "Watch my code", show=False),
        Binding("l", "log_scale", "Log loss axis", show=False),
        Binding("left_square_bracket", "smooth(-1)", "Less smoothing", show=False),
        Binding("right_square_bracket", "smooth(1)", "More smoothing", show=False),
        Binding("a", "axis", "Steps or epochs", show=False),
        Binding("N", "next_step", "Next step", show=False),
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
        self.watching = False
        self.base_run_id: str | None = None            # the run on the plot (live or latest)
        self.base_settings: dict[str, Any] | None = None
        self.overlay_run: Any = None                   # the past run overlaid, or None
        self._runs: dict[str, Any] = {}                # the runs table's runs, by id
        self._next: Any = None                         # offered once the exercise passed
        self._events: deque[Any] = deque()
        self._events_lock = threading.Lock()
        self._watch_path: Any = None
        self._watch_stamp: tuple[int, int] | None = None
        self._watch_timer: Any = None
        self.prediction: float | None = None           # the learner's, for the run started
        self._predicted_run: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="topbar topbar-row"):
            yield Static(self.exercise_id, id="exercise-title", classes="title")
            yield Static("", id="exercise-status", classes="progress-label")
        yield Static("", id="exercise-hints", classes="panel")   # where the learner looks
        with Horizontal(id="exercise-main"):
            with Vertical(id="exercise-left"):
                with VerticalScroll(id="exercise-info", classes="panel"):
                    yield Markdown("", id="exercise-text", open_links=False)
                yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=False)
            with Vertical(id="exercise-run"):
                yield LossPlot(id="loss-plot")
                yield TrialsTable(id="run-trials")    # a search's trials (sweep) only
                yield RunProgress(id="run-progress")
                yield Static("", id="run-metrics")
                yield RichLog(id="run-log", wrap=True, markup=False, max_lines=500,
                              min_width=20)   # the default 78 clips lines in a narrow log
        yield KeyBar()

    def on_mount(self) -> None:
        from studyapp.training.catalog import ExerciseError

        try:
            self.exercise = self.exercises.exercise(self.exercise_id)
        except ExerciseError as exc:
            self.query_one("#exercise-text", Markdown).update(f"**{exc}**")
            self._set_status("not found")
            return
        self.variant = self.exercise.default_variant
        self.query_one("#exercise-title", Static).update(safe_rich_text(self.exercise.title))
        self.query_one("#exercise-info").border_title = "What to do"
        self.query_one("#exercise-hints").border_title = "Hints"
        self._show_info()
        self._show_hints(self.learner.hints(self.exercise_id))
        self._set_status("idle")
        table = self.query_one("#runs-table", DataTable)
        table.border_title = "Runs (enter plots · space overlays)"
        self._show_past_runs()
        self._show_latest_trials()

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
        if self.watching:
            label += " · watching"
        self.query_one("#exercise-status", Static).update(safe_rich_text(label))
        self.refresh_bindings()

    def _show_past_runs(self) -> None:
        """The runs table, and the latest run's curves and metrics on the plot."""
        runs = self.exercises.runs(self.exercise_id, limit=20)
        self._fill_runs_table(runs)
        if not runs:
            self.query_one("#run-log", RichLog).write(
                Text("No runs yet. Press s to start one.", style="dim"))
            return
        latest = runs[0]
        if self.status not in BUSY:
            self._plot_run(latest, caption=f"latest: {run_label(latest, None, short=True)}")

    def _fill_runs_table(self, runs: list[Any]) -> None:
        table = self.query_one("#runs-table", DataTable)
        self._runs = {r.id: r for r in runs}
        table.clear(columns=True)
        table.display = bool(runs)
        if not runs:
            return
        differ = differing_keys([dict(r.settings or {}) for r in runs])[:3]
        # the most telling first: a narrow pane scrolls sideways to the rest
        table.add_columns("when", "outcome", "code", *differ, "time", "variant")
        for r in runs:
            took = getattr(r, "duration_s", None)
            table.add_row(
                safe_rich_text(f"{r.started_at:%m-%d %H:%M}"), safe_rich_text(run_outcome(r)),
                safe_rich_text(str(getattr(r, "code", None) or "-")),
                *(safe_rich_text(_show_value((r.settings or {}).get(k))) for k in differ),
                safe_rich_text(format_duration(took) if took is not None else "-"),
                safe_rich_text(r.variant or "-"), key=r.id)

    def _plot_run(self, run: Any, caption: str) -> None:
        """Put a recorded run on the plot (its curves) and its final metrics beside it."""
        plot = self.query_one(LossPlot)
        self.base_run_id, self.base_settings = run.id, dict(run.settings or {})
        train = run.losses.get("train", [])
        plot.set_points(train, run.losses.get("val", []), caption=caption)
        plot.set_view(steps_per_epoch=self._steps_per_epoch(
            self.base_settings, max((int(s) for s, _ in train), default=0)))
        self.query_one("#run-metrics", Static).update(metrics_panel(dict(run.metrics or {})))
        if self.overlay_run is not None and self.overlay_run.id == run.id:
            self.overlay_run = None
        self._show_overlay()

    @staticmethod
    def _steps_per_epoch(settings: dict[str, Any], total_steps: int | None) -> float:
        epochs = settings.get("epochs")
        if isinstance(epochs, int | float) and epochs > 0 and total_steps:
            return total_steps / epochs
        return 0.0

    @on(DataTable.RowSelected, "#runs-table")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        run = self._runs.get(str(event.row_key.value))
        if run is not None and self.status not in BUSY:
            self._plot_run(run, caption=run_label(run, None, short=True))

    def on_key(self, event: Any) -> None:
        table = self.query_one("#runs-table", DataTable)
        if event.key == "space" and table.has_focus and table.row_count:
            event.stop()
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            run = self._runs.get(str(key))
            if run is None or run.id == self.base_run_id:
                self.notify("That run is the one on the plot: pick another to overlay.")
                return
            same = self.overlay_run is not None and self.overlay_run.id == run.id
            self.overlay_run = None if same else run
            self._show_overlay()

    def _offer_next_step(self) -> None:
        from studyapp.tui.next_step import step_after

        self._next = step_after(self.service, exercise=self.exercise_id)
        text = (f"Passed. Next in the course: {self._next.describe()}, press N."
                if self._next else "Passed. That was the course's last step.")
        self.query_one("#run-log", RichLog).write(safe_rich_text(text, style="bold green"))
        self.notify(safe_text(text), timeout=12, markup=False)

    def action_next_step(self) -> None:
        if self._next is not None:
            from studyapp.tui.next_step import open_step

            open_step(self.app, self.service, self._next)

    # --- reading the plot -----------------------------------------------------------------
    def action_log_scale(self) -> None:
        plot = self.query_one(LossPlot)
        plot.set_view(log_y=not plot.log_y)

    def action_smooth(self, direction: int) -> None:
        plot = self.query_one(LossPlot)
        steps = SMOOTHING_STEPS
        now = min(range(len(steps)), key=lambda i: abs(steps[i] - plot.smoothing))
        plot.set_view(smoothing=steps[max(0, min(len(steps) - 1, now + direction))])

    def action_axis(self) -> None:
        plot = self.query_one(LossPlot)
        if plot.steps_per_epoch is None:
            self.notify("This run's settings say nothing of epochs: the axis stays in steps.")
            return
        plot.set_view(x_axis="step" if plot.x_axis == "epoch" else "epoch")

    def _show_latest_trials(self) -> None:
        """A search's trials (sweep): the latest run's, as a table and overlaid curves."""
        runs = self.exercises.runs(self.exercise_id, limit=1)
        if not runs:
            return
        trials = [TrialRow.from_record(t) for t in self.exercises.trials(runs[0].id)]
        if trials:
            chosen = (runs[0].metrics or {}).get("chosen_trial")
            self._show_trials(trials, chosen if isinstance(chosen, int) else None)

    def _show_trials(self, rows: list[TrialRow], chosen: int | None = None) -> None:
        self.query_one(TrialsTable).set_rows(rows, chosen)
        self.query_one(LossPlot).set_trials([(f"{r.trial} {r.name}", r.val) for r in rows])

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
        if action == "watch":
            return (self.exercise.learner_file is not None
                    and self.exercise.code_checks_file is not None)
        return True

    def action_variant(self) -> None:
        names = list(self.exercise.variants)
        self.variant = names[(names.index(self.variant) + 1) % len(names)]
        self._show_info()
        self._set_status(self.status)

    def _show_hints(self, hints: list[str]) -> None:
        self.hints_shown = len(hints)
        panel = self.query_one("#exercise-hints", Static)
        panel.update(safe_rich_text("\n".join(f"Hint {i + 1}: {h}" for i, h in enumerate(hints))))
        panel.display = bool(hints)
        if self.exercise is not None:
            panel.border_title = f"Hints {len(hints)}/{len(self.exercise.hints)}"
        self.refresh_bindings()

    def action_hint(self) -> None:
        """One more hint (the count is kept with the learner's workspace)."""
        if self.learner.hint(self.exercise_id) is not None:
            hints = self.learner.hints(self.exercise_id)
            self._show_hints(hints)
            if hints:
                self.notify(safe_text(hints[-1]), title=f"Hint {len(hints)}", timeout=20,
                            markup=False)

    def action_edit(self) -> None:
        """Make (once) and show the learner's copy; open it in $EDITOR when one is set."""
        import os
        import shlex
        import subprocess

        path = self.learner.edit(self.exercise_id)
        log = self.query_one("#run-log", RichLog)
        log.write(safe_rich_text(f"Your copy: {path}"))
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor and not self.app.is_headless:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
            log.write("Back from the editor: press k to check your code.")
        else:
            self.notify(escape_markup(f"Edit {path}, then press k to check it."), timeout=8)

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
            log.write(safe_rich_text(f"Could not check: {error}", style="bold red"))
            self._set_status("idle")
            return
        for line in report.lines():
            style = "green" if line.startswith("PASS") else "red" if line.startswith(
                ("FAIL", "ERROR")) else ""
            log.write(safe_rich_text(line, style=style))
        self._set_status("checks pass" if report.passed else "checks fail")

    def action_start(self, code: str = "solution") -> None:
        """Train: `code` is "solution" (the reference) or "mine" (the learner's copy).
        An exercise with a headline outcome asks for a prediction first."""
        if self.exercise is None or self.status in BUSY:
            return
        from studyapp.services.predictions import prediction_for
        from studyapp.training.prediction import PredictionError

        try:
            spec = prediction_for(self.exercise)
        except PredictionError as exc:
            self.notify(safe_text(exc), severity="error", markup=False)
            spec = None
        if spec is None:
            self._start(code, None)
            return
        from studyapp.tui.screens.predict import Predicted, PredictScreen

        def chosen(answer: Predicted | None) -> None:
            if answer is not None:
                self._start(code, answer.value)

        self.app.push_screen(PredictScreen(spec), chosen)

    def _start(self, code: str, prediction: float | None) -> None:
        if self.exercise is None or self.status in BUSY:
            return
        self.prediction, self._predicted_run = prediction, None
        path = None
        if code == "mine":
            path = str(self.learner.code_path(self.exercise_id))
        self.query_one(LossPlot).clear_points()
        self.query_one("#run-metrics", Static).update("")
        self.query_one(RunProgress).reset("starting…")
        self.base_run_id = None
        log = self.query_one("#run-log", RichLog)
        log.clear()
        log.write(safe_rich_text(
            f"Training with {'your code: ' + path if path else 'the reference solution'}"))
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

    QUIT_GRACE_S: ClassVar[float] = 1.0

    def on_unmount(self) -> None:
        """The screen goes (the app quits, ctrl+q): a run still in flight is cancelled and
        killed after QUIT_GRACE_S with its whole process group; the run thread records it
        as cancelled before the process exits."""
        handle = self.handle
        if handle is not None and not getattr(handle, "done", self.status not in BUSY):
            handle.cancel(grace_s=self.QUIT_GRACE_S)

    # --- comparing runs ------------------------------------------------------------------
    def action_overlay(self) -> None:
        """Overlay the next recorded run of this exercise; past the last one, clear it."""
        plot = self.query_one(LossPlot)
        runs = self.exercises.runs(self.exercise_id, limit=50)
        live = self.status in BUSY or self.base_run_id is not None
        if not live and runs and not plot.train and not plot.val:
            latest = runs[0]                # nothing on the plot: show the latest run first
            self.base_run_id, self.base_settings = latest.id, dict(latest.settings or {})
            plot.set_points(latest.losses.get("train", []), latest.losses.get("val", []),
                            caption=f"latest: {run_label(latest, None, short=True)}")
        candidates = [r for r in runs if r.id != self.base_run_id]
        if not candidates:
            self.notify("No other recorded run of this exercise to compare with.")
            return
        ids = [r.id for r in candidates]
        current = self.overlay_run.id if self.overlay_run is not None else None
        index = ids.index(current) + 1 if current in ids else 0
        self.overlay_run = candidates[index] if index < len(candidates) else None
        self._show_overlay()
        log = self.query_one("#run-log", RichLog)
        if self.overlay_run is None:
            log.write(safe_rich_text("Overlay cleared.", style="dim"))
        else:
            log.write(safe_rich_text(f"Overlay {index + 1}/{len(candidates)}: "
                           f"{run_label(self.overlay_run, self.base_settings)} "
                           f"({self.overlay_run.status})", style="dim"))

    def _show_overlay(self) -> None:
        run = self.overlay_run
        overlay = None
        if run is not None:
            overlay = Overlay(run_label(run, self.base_settings, short=True),
                              tuple((int(s), float(v)) for s, v in run.losses.get("train", [])),
                              tuple((int(s), float(v)) for s, v in run.losses.get("val", [])))
        self.query_one(LossPlot).set_overlay(overlay)

    # --- watching the learner's copy ------------------------------------------------------
    WATCH_INTERVAL_S: ClassVar[float] = 1.0

    def action_watch(self) -> None:
        """Toggle watching the learner's copy: saved changes re-run the fast checks."""
        log = self.query_one("#run-log", RichLog)
        if self.watching:
            self.watching = False
            if self._watch_timer is not None:
                self._watch_timer.stop()
                self._watch_timer = None
            log.write(safe_rich_text("Stopped watching your code.", style="dim"))
            self._set_status(self.status)
            return
        try:
            self._watch_path = self.learner.code_path(self.exercise_id)
        except Exception as exc:  # noqa: BLE001 - LearnerError and the like: shown
            log.write(safe_rich_text(f"Cannot watch: {exc}", style="bold red"))
            return
        self._watch_stamp = self._stamp()
        self.watching = True
        self._watch_timer = self.set_interval(self.WATCH_INTERVAL_S, self._poll_watch)
        log.write(safe_rich_text(
            f"Watching {self._watch_path}: each save re-runs the checks (w stops)."))
        self._set_status(self.status)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self._watch_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _poll_watch(self) -> None:
        stamp = self._stamp()
        if stamp is None or stamp == self._watch_stamp or self.status in BUSY:
            return                     # unchanged, or busy: the next tick tries again
        self._watch_stamp = stamp
        self.query_one("#run-log", RichLog).write(
            Text(f"{self._watch_path.name} changed: checking…", style="dim"))
        self.action_check()

    # --- the run (a thread worker) ------------------------------------------------------
    DRAIN_S: ClassVar[float] = 0.25

    @work(thread=True, exclusive=True, group="run")
    def _run(self, variant: str | None, code: str) -> None:
        try:
            handle = self.exercises.start_run(self.exercise_id, variant=variant, code=code)
        except Exception as exc:  # noqa: BLE001 - any start failure is shown, never raised
            self.app.call_from_thread(self._failed_to_start, str(exc))
            return
        self.handle = handle
        if not self.is_mounted:            # the app quit while the run was starting
            handle.cancel(grace_s=self.QUIT_GRACE_S)
        self._to_ui(self._set_status, "running")
        last = 0.0
        for event in handle.events():
            with self._events_lock:
                self._events.append(event)
            now = time.monotonic()
            if getattr(event, "type", "") != "step" or now - last >= self.DRAIN_S:
                last = now
                self._to_ui(self._drain)
        self._to_ui(self._drain)

    def _to_ui(self, fn: Any, *args: Any) -> None:
        """Call `fn` on the UI thread; once the app has gone, the run is read to its end
        (and recorded) without a screen to show it."""
        try:
            self.app.call_from_thread(fn, *args)
        except Exception:  # noqa: BLE001, S110 - no app, no screen: nothing to show it on
            pass

    def _drain(self) -> None:
        """Handle the queued events, in order (on the UI thread)."""
        with self._events_lock:
            events = list(self._events)
            self._events.clear()
        for event in events:
            self._on_event(event)

    def _feed_scheduler(self, kind: str, event: Any) -> None:
        """A run of the learner's own code: code cards once it passes; a failed check
        brings the lesson's cards forward (services.code_cards.after_run)."""
        code = getattr(getattr(self.handle, "spec", None), "code", None)
        if code != "mine" or self.exercise is None:
            return
        from studyapp.services.code_cards import after_run

        try:
            fed = after_run(self.service, self.exercise, code, kind,
                            getattr(event, "passed", None), getattr(event, "error", None))
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            self.query_one("#run-log", RichLog).write(
                safe_rich_text(f"Could not update your cards: {exc}", style="red"))
            return
        log = self.query_one("#run-log", RichLog)
        if fed["code_cards"]:
            log.write(safe_rich_text(
                f"{len(fed['code_cards'])} code cards made: you will write these functions "
                "again from memory in your reviews, from tomorrow", style="bold green"))
        if fed["brought_forward"]:
            log.write(safe_rich_text(f"{len(fed['brought_forward'])} cards of the lesson are "
                                     "due tomorrow", style="yellow"))
        if fed["reviewed"]:
            log.write(safe_rich_text(f"Passing now counts as a review of "
                                     f"{len(fed['reviewed'])} cards", style="green"))

    def _settle_prediction(self, metrics: dict[str, Any] | None) -> None:
        """Prediction against outcome, kept with the run; far off: concept cards due."""
        run_id, predicted = self._predicted_run, self.prediction
        self.prediction = self._predicted_run = None
        if run_id is None or predicted is None:
            return
        from studyapp.services.predictions import describe, prediction_for, settle

        try:
            row = settle(self.service, self.exercise, run_id, predicted, metrics)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            self.query_one("#run-log", RichLog).write(
                safe_rich_text(f"Could not keep the prediction: {exc}", style="red"))
            return
        spec = prediction_for(self.exercise)
        assert spec is not None
        text = f"Prediction: {describe(spec, row)}"
        self.query_one("#run-log", RichLog).write(
            safe_rich_text(text, style="bold yellow" if row.far else "bold green"))
        self.notify(safe_text(text), timeout=15, markup=False)

    def _failed_to_start(self, message: str) -> None:
        self.query_one("#run-log", RichLog).write(safe_rich_text(f"Could not start: {message}",
                                                       style="bold red"))
        self.query_one(RunProgress).reset("")
        self._set_status("failed")

    def _on_event(self, event: Any) -> None:
        log = self.query_one("#run-log", RichLog)
        plot = self.query_one(LossPlot)
        progress = self.query_one(RunProgress)
        kind = getattr(event, "type", "")
        if kind == "step":
            plot.add_train(event.step, event.loss)
            progress.step(event.step, event.elapsed, getattr(event, "memory_mb", None))
        elif kind == "trial":
            row = TrialRow.from_event(event)
            self.query_one(TrialsTable).add(row)
            plot.add_trial(f"{row.trial} {row.name}", row.val)
            loss = "-" if row.val_loss is None else f"{row.val_loss:.4f}"
            log.write(safe_rich_text(
                f"trial {row.trial} {row.name}: {event.status}, val loss {loss}"))
        elif kind == "started":
            if event.run_id != self.base_run_id:
                self.query_one(TrialsTable).clear()
                plot.set_trials([])
            self.base_run_id, self.base_settings = event.run_id, dict(event.settings or {})
            if self.prediction is not None:
                self._predicted_run = event.run_id
            plot.set_view(steps_per_epoch=self._steps_per_epoch(self.base_settings,
                                                                event.total_steps))
            progress.start(event.total_steps, event.device)
            if self.overlay_run is not None:
                self._show_overlay()          # its label now compares with this run
            log.write(f"Started on {event.device}: {event.total_steps} steps, "
                      f"{event.train_examples} training examples")
        elif kind == "evaluation":
            plot.add_val(event.step, event.val_loss)
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in event.metrics.items())
            log.write(safe_rich_text(f"step {event.step}: val loss {event.val_loss:.3f} {metrics}"))
        elif kind == "log":
            log.write(safe_rich_text(event.message))
        elif kind == "finished":
            for check in event.checks:
                ok = check.get("passed")
                text = check.get("message") or check.get("name", "")
                log.write(safe_rich_text(
                    f"{'✓' if ok else '✗'} {text}", style="green" if ok else "red"))
            shown = format_metrics(event.metrics)
            if shown:
                log.write(safe_rich_text(f"Final: {shown}"))
            status = "passed" if event.passed else "finished: checks failed"
            code = getattr(getattr(self.handle, "spec", None), "code", "mine")
            if code != "mine":
                log.write(Text(f"A reference run ({CODE_NAMES.get(code, code)}): it does "
                               "not count as your progress; only your own code passes the "
                               "exercise.", style="yellow"))
            chosen = event.metrics.get("chosen_trial")
            if isinstance(chosen, int):
                self.query_one(TrialsTable).choose(chosen)
            if event.passed:
                self._offer_next_step()
            progress.finish(status, event.metrics, complete=True)
            self.query_one("#run-metrics", Static).update(metrics_panel(dict(event.metrics)))
            self._set_status(status)
        elif kind == "failed":
            log.write(safe_rich_text(f"Failed: {event.error}", style="bold red"))
            progress.finish("failed")
            self._set_status("failed")
        elif kind == "cancelled":
            log.write(safe_rich_text(f"Cancelled after {event.step} steps.", style="yellow"))
            progress.finish("cancelled", event.metrics)
            self._set_status("cancelled")
        if kind in ENDS:
            plot.flush()
            self._settle_prediction(getattr(event, "metrics", None))
            self._feed_scheduler(kind, event)
            self._fill_runs_table(self.exercises.runs(self.exercise_id, limit=20))
