"""Exercise commands: list, run, runs, check.

Thin faces over `services.exercises.ExerciseService`. A run trains in a child process;
this process only shows its events (a rich progress bar, then a plotext plot of the losses
and the metrics and checks). Ctrl-C cancels the run and keeps what was measured; a second
Ctrl-C stops the training process at once. `--json` prints one JSON object and nothing
else on stdout.

Exit status of `exercise run`: 0 finished with every check passed, 1 finished with a
check failed or the run failed, 2 a setting (`--set`, `--device`) the task does not allow
(refused before anything starts, nothing recorded), 130 cancelled.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from typing import Any

import click

from studyapp.config import Settings
from studyapp.jsonsafe import finite
from studyapp.textsafe import escape_markup, safe_text

EXIT_CANCELLED = 130
EXIT_BAD_SETTING = 2


def _dump(obj: Any) -> None:
    click.echo(json.dumps(finite(obj), ensure_ascii=False, indent=2))


def _service(settings: Settings):  # -> ExerciseService
    from studyapp.services.exercises import ExerciseService

    return ExerciseService(settings)


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    if value is None:
        return "-"
    return str(value)


def register(main: click.Group) -> None:
    main.add_command(exercise)


@click.group()
def exercise() -> None:
    """Hands-on exercises: fine-tune real models and check the outcome."""


# -- list -------------------------------------------------------------------------------------

@exercise.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def list_cmd(settings: Settings, as_json: bool) -> None:
    """List the exercises, their lesson, variants and progress."""
    from studyapp.store.db import StoreError

    svc = _service(settings)
    try:
        entries = svc.exercises()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    _, problems = svc.load()
    if as_json:
        _dump([e.to_dict() for e in entries])
    else:
        from rich import box
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # 80 columns hold it: ids and statuses whole, the rest folds
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("id", no_wrap=True)
        table.add_column("title", overflow="fold", ratio=3)
        table.add_column("lesson", overflow="fold", ratio=2)
        table.add_column("variants", overflow="fold", ratio=2)
        table.add_column("status", no_wrap=True)
        for e in entries:
            ex = e.exercise
            variants = Text()
            for i, v in enumerate(ex.variants):
                variants.append((", " if i else "") + v, style="bold" if v == ex.default_variant
                                else "")
            table.add_row(Text(ex.id), Text(ex.title), Text(ex.lesson or ""), variants,
                          Text(e.status))
        Console().print(table)
        if not entries:
            click.echo(f"no exercises in {settings.exercises_dir}")
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


# -- run --------------------------------------------------------------------------------------

@exercise.command("run")
@click.argument("exercise_id", metavar="ID")
@click.option("--variant", "-v", help="Which variant (default: the exercise's own).")
@click.option("--device", "-d", help="cuda, cuda:N, mps or cpu (default: the best there is).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Change a setting, e.g. --set lr=1e-4 --set epochs=3. Repeatable.")
@click.option("--code", metavar="PATH",
              help="Whose code: 'mine' (your copy, see `exercise edit`) or a file path, "
                   "'learner' (the bundled file) or 'solution' (the reference solution, "
                   "the default: a reference run, which never counts as your progress).")
@click.option("--predict", "predict", metavar="VALUE",
              help="Your prediction of the run's headline outcome (spam: test accuracy, "
                   "overfitting: the epoch of the lowest validation loss, lora: the share "
                   "of parameters LoRA trains), kept with the run and compared at the end.")
@click.option("--processes", "-p", type=int, default=1, show_default=True, metavar="N",
              help="Data-parallel processes (torchrun underneath; gloo on CPU, NCCL on "
                   "GPUs, one GPU each); batch_size stays the global batch.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@click.pass_obj
def run_cmd(settings: Settings, exercise_id: str, variant: str | None, device: str | None,
            sets: tuple[str, ...], code: str | None, predict: str | None, processes: int,
            as_json: bool) -> None:
    """Run exercise ID: train, evaluate, check. Ctrl-C cancels and keeps what was measured."""
    from studyapp.training.catalog import ExerciseError, parse_overrides
    from studyapp.training.settings import SettingsError

    svc = _service(settings)
    try:
        predicted = _prediction(svc, exercise_id, predict)
        handle = svc.start_run(exercise_id, variant=variant, device=device,
                               overrides=parse_overrides(sets), code=code,
                               processes=processes)
    except SettingsError as exc:
        # a value the task's settings do not allow: one line, nothing recorded, status 2
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_BAD_SETTING)
    except ExerciseError as exc:
        raise click.ClickException(str(exc)) from exc

    interrupts = {"n": 0}

    def on_sigint(signum: int, frame: Any) -> None:
        interrupts["n"] += 1
        if interrupts["n"] == 1:
            handle.cancel()
            if not as_json:
                click.echo("\ncancelling (Ctrl-C again to stop at once)...", err=True)
        else:
            handle.kill()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        if as_json:
            result = handle.wait()
        else:
            result = _run_with_progress(handle)
    finally:
        signal.signal(signal.SIGINT, previous)
        handle.kill()

    for err in handle.recorder_errors:
        click.echo(f"warning: the run could not be recorded: {err}", err=True)
    settled = None
    if predicted is not None:
        settled = _settle(settings, svc.exercise(exercise_id), result, predicted)
    fed = _feed_scheduler(settings, svc.exercise(exercise_id), handle.spec, result)
    if as_json:
        out = result.to_dict()
        if settled is not None:
            out["prediction"] = settled.to_dict()
        if fed:
            out["cards"] = fed
        out.pop("losses", None)
        out["losses"] = {"train_points": len(result.losses["train"]),
                         "val": result.losses["val"]}
        if result.status == "failed" and result.traceback:
            out["traceback"] = result.traceback
        _dump(out)
    else:
        _print_result(result)
        if settled is not None:
            from studyapp.services.predictions import describe, prediction_for

            spec = prediction_for(svc.exercise(exercise_id))
            assert spec is not None
            from studyapp.textsafe import safe_text

            click.echo(safe_text(f"Prediction: {describe(spec, settled)}"))
        for line in _fed_lines(fed):
            click.echo(line)
    if result.status == "cancelled":
        sys.exit(EXIT_CANCELLED)
    if result.status != "finished" or result.passed is False:
        sys.exit(1)


def _prediction(svc: Any, exercise_id: str, text: str | None) -> float | None:
    """The --predict value, checked before anything starts (bad: exit 2, one line)."""
    if text is None:
        return None
    from studyapp.services.predictions import prediction_for
    from studyapp.training.prediction import PredictionError

    try:
        spec = prediction_for(svc.exercise(exercise_id))
        if spec is None:
            raise PredictionError(f"exercise {exercise_id!r} asks for no prediction")
        return spec.parse(text)
    except PredictionError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_BAD_SETTING)


def _settle(settings: Settings, ex: Any, result: Any, predicted: float) -> Any:
    """Keep the prediction with the run; a far-off one brings the concept cards forward."""
    from studyapp.services.predictions import settle
    from studyapp.services.study import StudyService
    from studyapp.store.db import StoreError

    try:
        with StudyService.open(settings, sync=False) as study:
            return settle(study, ex, result.run_id, predicted, result.metrics)
    except (StoreError, OSError) as exc:
        click.echo(f"warning: the prediction could not be recorded: {exc}", err=True)
        return None


def _feed_scheduler(settings: Settings, ex: Any, spec: Any, result: Any) -> dict[str, Any]:
    """A run of the learner's own code feeds the scheduler (services.code_cards)."""
    from studyapp.services.code_cards import after_run
    from studyapp.services.study import StudyService
    from studyapp.store.db import StoreError

    if getattr(spec, "code", "solution") != "mine":
        return {}
    try:
        with StudyService.open(settings) as study:
            fed = after_run(study, ex, spec.code, result.status, result.passed, result.error)
    except (StoreError, OSError) as exc:
        click.echo(f"warning: the cards could not be updated: {exc}", err=True)
        return {}
    return {k: v for k, v in fed.items() if v}


def _fed_lines(fed: dict[str, Any]) -> list[str]:
    out = []
    if fed.get("code_cards"):
        out.append(f"{len(fed['code_cards'])} code cards made: practise these functions from "
                   "memory in your reviews, from tomorrow")
    if fed.get("brought_forward"):
        out.append(f"{len(fed['brought_forward'])} cards of the lesson are due tomorrow")
    if fed.get("reviewed"):
        out.append(f"passing now counts as a review of {len(fed['reviewed'])} cards")
    return out


def _run_with_progress(handle, console=None, on_event=None):  # -> RunResult
    """Show a run's events as a rich progress bar on `console` (stderr) until it ends."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from studyapp.training.events import Evaluation, Log, Started, Step

    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
        TimeRemainingColumn(compact=True), console=console, transient=False,
    )
    task = progress.add_task("starting", total=None, info="")
    val_text = ""
    with progress:
        for event in handle.events():
            if on_event is not None:
                on_event(event)
            if isinstance(event, Started):
                progress.update(task, description=escape_markup(f"{event.exercise}/"
                                                                f"{event.variant}"),
                                total=event.total_steps)
                progress.console.print(f"device: {escape_markup(event.device)}   "
                                       f"model: {escape_markup(event.model)}   "
                                       f"training examples: {event.train_examples}")
            elif isinstance(event, Log):
                progress.console.print(f"[dim]{escape_markup(event.message)}")
            elif isinstance(event, Evaluation):
                acc = event.metrics.get("val_accuracy")
                val_text = f"val {event.val_loss:.3f}" + (
                    f" acc {acc:.2f}" if isinstance(acc, float) else "")
                progress.update(task, info=f"{val_text}")
            elif isinstance(event, Step):
                sps = event.step / event.elapsed if event.elapsed > 0 else 0.0
                progress.update(task, completed=event.step,
                                info=f"loss {event.loss:.3f} {val_text} {sps:.3g} st/s")
    return handle.result


def _downsample(points: list[list[float]], limit: int = 300) -> tuple[list[float], list[float]]:
    """At most `limit` points, each the mean of a run of neighbours (keeps the plot light)."""
    if not points:
        return [], []
    if len(points) <= limit:
        return [p[0] for p in points], [p[1] for p in points]
    size = math.ceil(len(points) / limit)
    xs, ys = [], []
    for i in range(0, len(points), size):
        chunk = [p for p in points[i:i + size] if isinstance(p[1], int | float)]
        if chunk:
            xs.append(sum(p[0] for p in chunk) / len(chunk))
            ys.append(sum(p[1] for p in chunk) / len(chunk))
    return xs, ys


def loss_plot(losses: dict[str, list[list[float]]], width: int = 80, height: int = 16) -> str:
    """The train and validation losses as a plotext plot (a string with ANSI colours)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    tx, ty = _downsample([p for p in losses.get("train", []) if finite(p[1]) is not None])
    vx, vy = _downsample([p for p in losses.get("val", []) if finite(p[1]) is not None])
    if tx:
        plt.plot(tx, ty, label="train loss", marker="braille")
    if vx:
        plt.plot(vx, vy, label="val loss", marker="braille")
    plt.xlabel("step")
    plt.title("loss")
    return plt.build()


def _print_result(result) -> None:  # result: RunResult
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if result.losses["train"] or result.losses["val"]:
        width = max(40, min(console.width, 100))
        console.print(Text.from_ansi(loss_plot(result.losses, width=width)))
    m = result.metrics
    table = Table("metric", "value", title=f"run {result.run_id[:8]}: {result.status}")
    rows = [
        ("device", m.get("device") or result.device), ("model", m.get("model")),
        ("test accuracy before", m.get("accuracy_before")), ("test accuracy", m.get("accuracy")),
        ("test F1", m.get("f1")), ("precision", m.get("precision")),
        ("recall", m.get("recall")), ("val loss first", m.get("val_loss_first")),
        ("val loss", m.get("val_loss")), ("val accuracy", m.get("val_accuracy")),
        ("trainable params", m.get("trainable_params")),
        ("trainable share", m.get("trainable_share")), ("steps", m.get("steps")),
        ("train time (s)", m.get("train_time_s")), ("total time (s)", m.get("time_s")),
        ("peak memory (MB)", m.get("peak_memory_mb")),
    ]
    for name, value in rows:
        if value is not None:
            table.add_row(name, f"{value:,}" if isinstance(value, int) else _fmt(value))
    console.print(table)
    for check in result.checks:
        mark = "[green]PASS[/green]" if check.get("passed") else "[red]FAIL[/red]"
        console.print(f"{mark} {escape_markup(check.get('message'))}")
    if result.status == "failed":
        console.print(f"[red]failed:[/red] {escape_markup(result.error)}")
        if result.traceback:
            console.print(Text(safe_text(result.traceback.strip().splitlines()[-1])
                               if result.traceback.strip() else "", style="dim"))
    elif result.status == "cancelled":
        console.print(f"[yellow]cancelled[/yellow] after {result.step} steps; "
                      "the losses so far are kept with the run")
    elif result.passed and result.code == "mine":
        console.print("[green]exercise passed[/green]")
    elif result.passed:
        whose = {"solution": "the reference solution", "learner": "the bundled learner file"}
        console.print(f"[yellow]a reference run:[/yellow] {whose.get(result.code, 'this code')}"
                      " passed the checks; it does not count as your progress (run your "
                      "own code: --code mine)")
    console.print(f"[dim]run id {result.run_id}")


# -- runs -------------------------------------------------------------------------------------

RUNS_WIDTH = 80
RUNS_OPTIONAL = ("F1", "acc", "val loss", "started UTC")
"""Columns of `exercise runs` given up, in this order, while the table is wider than
RUNS_WIDTH (`--json` has them all); a column no row has a value in goes first."""


def _fit_columns(head: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """The columns of the runs table that fit RUNS_WIDTH (see RUNS_OPTIONAL)."""
    keep = [i for i, name in enumerate(head)
            if name not in RUNS_OPTIONAL or any(row[i] not in ("", "-") for row in rows)]

    def width(cols: list[int]) -> int:
        return sum(max(len(head[i]), *(len(r[i]) for r in rows)) for i in cols) + \
            2 * (len(cols) - 1)

    for name in RUNS_OPTIONAL:
        if width(keep) <= RUNS_WIDTH:
            break
        keep = [i for i in keep if head[i] != name]
    return [head[i] for i in keep], [[row[i] for i in keep] for row in rows]


@exercise.command("runs")
@click.argument("exercise_id", metavar="ID", required=False)
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (with losses).")
@click.pass_obj
def runs_cmd(settings: Settings, exercise_id: str | None, limit: int, as_json: bool) -> None:
    """The run history of exercise ID (all exercises without ID)."""
    from studyapp.store.db import StoreError

    try:
        records = _service(settings).runs(exercise_id, limit=limit)
        trials = {r.id: _service(settings).trials(r.id) for r in records}
        predicted = _service(settings).predictions([r.id for r in records])
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _dump([{**r.to_dict(), **({"trials": [t.to_dict() for t in trials[r.id]]}
                                   if trials[r.id] else {}),
                 **({"prediction": predicted[r.id].to_dict()} if r.id in predicted else {})}
               for r in records])
        return
    # plain columns: readable in an 80-column terminal and through a pipe; a search's
    # trials (sweep) are grouped under its run, one line each
    head = ["run", "started UTC", *(["exercise"] if exercise_id is None else []),
            "variant", "code", "status", "acc", "F1", "val loss", "time s", "checks"]
    rows: list[list[str]] = []
    lines: dict[int, list[str]] = {}       # after row i: its trials, one free line each
    for r in records:
        m = r.metrics
        row = [r.id[:8], r.started_at.strftime("%m-%d %H:%M"),
               *([r.exercise] if exercise_id is None else []),
               r.variant or "", {"solution": "ref", "learner": "file", "mine": "mine"}.get(
                   r.code or "", "-"), r.status, _fmt(m.get("accuracy"), 3), _fmt(m.get("f1"), 3),
               _fmt(m.get("val_loss"), 3), _fmt(r.duration_s, 3),
               {True: "passed", False: "failed", None: ""}[r.passed]]
        rows.append(row)
        if trials[r.id]:
            lines[len(rows) - 1] = [_trial_line(t, m.get("chosen_trial"))
                                    for t in trials[r.id]]
        if r.id in predicted:
            lines.setdefault(len(rows) - 1, []).append(_prediction_line(predicted[r.id]))
    if records:
        head, rows = _fit_columns(head, rows)
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        click.echo("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
        for i, row in enumerate(rows):
            click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
                       .rstrip())
            for line in lines.get(i, []):
                click.echo(line)
    if not records:
        click.echo("no runs yet")


def _prediction_line(p: Any) -> str:  # p: store.predictions.PredictionRow
    """`  predicted accuracy 0.8, was 0.97 (far off)` under its run."""
    from studyapp.textsafe import safe_text

    if p.outcome is None:
        return safe_text(f"  predicted {p.metric} {_fmt(p.predicted, 3)}, no outcome")
    return safe_text(f"  predicted {p.metric} {_fmt(p.predicted, 3)}, was "
                     f"{_fmt(p.outcome, 3)} ({'far off' if p.far else 'close'})")


def _trial_line(t: Any, chosen: Any) -> str:  # t: a trial's RunRecord
    """One trial of a search under its run: `  └ 2 lr=0.001 rank=4  pruned at 5  ...`."""
    m = t.metrics
    status = (f"pruned at {m['pruned_at_step']}" if t.status == "pruned"
              and m.get("pruned_at_step") is not None
              else "the default" if m.get("default") else t.status)
    mark = "  <- chosen" if chosen is not None and m.get("trial") == chosen else ""
    return (f"  └ {m.get('trial', '?'):>2} {str(m.get('name', ''))[:20]:<20} {status:<14}"
            f" val loss {_fmt(m.get('val_loss'), 3):<6} {_fmt(t.duration_s, 3):>6} s{mark}"
            ).rstrip()


# -- check ------------------------------------------------------------------------------------

@exercise.command("check")
@click.argument("exercise_id", metavar="ID")
@click.option("--code", metavar="PATH", default="learner", show_default=True,
              help="The file to check: a path, 'learner' or 'solution'.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def check_cmd(settings: Settings, exercise_id: str, code: str, as_json: bool) -> None:
    """Run the fast checks of your code for exercise ID (no training)."""
    from studyapp.services.exercises import resolve_code_path
    from studyapp.training.catalog import ExerciseError
    from studyapp.training.codecheck import check_file

    svc = _service(settings)
    try:
        ex = svc.exercise(exercise_id)
        path = resolve_code_path(ex, code)
    except ExerciseError as exc:
        raise click.ClickException(str(exc)) from exc
    if path is None or ex.code_checks_file is None:
        raise click.ClickException(f"exercise {ex.id!r} has no code checks")
    results = check_file(path, ex.code_checks_file)
    if as_json:
        _dump({"exercise": ex.id, "code": str(path),
               "passed": all(r.passed for r in results),
               "checks": [r.to_dict() for r in results]})
    else:
        for r in results:
            mark = click.style("PASS", fg="green") if r.passed else click.style("FAIL", fg="red")
            click.echo(f"{mark} {r.name}" + ("" if r.passed else f"\n     {r.message}"))
    if not all(r.passed for r in results):
        sys.exit(1)
