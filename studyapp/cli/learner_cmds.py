"""The learner's-code commands of `studyapp exercise`: check, watch, hint, solution, reset,
edit, status.

Thin faces over `training.learner.LearnerService` (no torch in this process: the checks run
in a child process). They are added to the `exercise` group that exercise_cmds.py
registers, so `register(main)` must run after it; `check` here replaces a plain `check`
the group may already have (it checks the learner's own copy by default, and still takes
`--code learner|solution|PATH`).

Exit status: `check` 0 when every check passes, 1 otherwise; the others 0, or 1 with a
message on a bad request.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from studyapp.config import Settings


def register(main: click.Group) -> None:
    group = main.commands.get("exercise")
    if not isinstance(group, click.Group):
        @click.group("exercise")
        def exercise() -> None:
            """Hands-on exercises."""

        main.add_command(exercise)
        group = exercise
    for command in (check_cmd, watch_cmd, hint_cmd, solution_cmd, reset_cmd, edit_cmd,
                    status_cmd):
        group.add_command(command)


def _service(settings: Settings):  # -> LearnerService
    from studyapp.training.learner import LearnerService

    return LearnerService(settings)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _echo_report(report: Any) -> None:
    from studyapp.textsafe import safe_text

    for line in map(safe_text, report.lines()):      # the learner's output is data
        if line.startswith("PASS "):
            click.echo(click.style("PASS", fg="green") + line[4:])
        elif line.startswith(("FAIL ", "ERROR ")):
            word = line.split(" ", 1)[0]
            click.echo(click.style(word, fg="red") + line[len(word):])
        else:
            click.echo(line)


@click.command("check")
@click.argument("exercise_id", metavar="ID")
@click.option("--code", metavar="PATH",
              help="Check this file instead of your copy: a path, 'learner' (the bundled "
                   "original) or 'solution' (the reference solution).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def check_cmd(settings: Settings, exercise_id: str, code: str | None, as_json: bool) -> None:
    """Run the fast checks of your code for exercise ID (seconds, no training)."""
    from studyapp.training.catalog import ExerciseError

    svc = _service(settings)
    try:
        report = svc.check(exercise_id, code)
    except ExerciseError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"checking {report.path}")
        _echo_report(report)
        if report.passed:
            click.echo(click.style("all checks pass", fg="green")
                       + f": train it with `studyapp exercise run {exercise_id} --code "
                         f"{report.path}`")
        elif code is None:
            click.echo(f"edit {report.path}, then check again "
                       f"(`studyapp exercise hint {exercise_id}` for a hint)")
    if not report.passed:
        sys.exit(1)


@click.command("watch")
@click.argument("exercise_id", metavar="ID")
@click.option("--interval", default=0.5, show_default=True, type=float,
              help="Seconds between looks at the file.")
@click.pass_obj
def watch_cmd(settings: Settings, exercise_id: str, interval: float) -> None:
    """Re-run the checks of exercise ID each time you save your copy (Ctrl-C stops)."""
    from studyapp.training.catalog import ExerciseError

    svc = _service(settings)
    try:
        path = svc.edit(exercise_id)
        click.echo(f"watching {path} (Ctrl-C stops)")
        for report in svc.watch(exercise_id, interval_s=interval):
            click.echo(f"\n-- {time.strftime('%H:%M:%S')} " + "-" * 40)
            _echo_report(report)
            if report.passed:
                click.echo(click.style("all checks pass", fg="green")
                           + f": `studyapp exercise run {exercise_id} --code {path}` trains it")
            click.echo("waiting for the next save...")
    except ExerciseError as exc:
        raise _fail(exc) from exc
    except KeyboardInterrupt:
        click.echo("\nstopped watching")


@click.command("hint")
@click.argument("exercise_id", metavar="ID")
@click.option("--all", "show_all", is_flag=True, help="Show the hints revealed so far.")
@click.pass_obj
def hint_cmd(settings: Settings, exercise_id: str, show_all: bool) -> None:
    """Reveal the next hint of exercise ID (one at a time)."""
    from studyapp.training.catalog import ExerciseError

    svc = _service(settings)
    try:
        if show_all:
            hints = svc.hints(exercise_id)
            total = len(svc.exercise(exercise_id).hints)
            for i, text in enumerate(hints, 1):
                click.echo(f"hint {i} of {total}: {text}")
            if not hints:
                click.echo("no hint revealed yet")
            return
        hint = svc.hint(exercise_id)
    except ExerciseError as exc:
        raise _fail(exc) from exc
    if hint is None:
        click.echo(f"exercise {exercise_id!r} has no hints")
        return
    click.echo(f"hint {hint.number} of {hint.total}: {hint.text}")
    if not hint.new:
        click.echo("(that was the last hint; `studyapp exercise solution "
                   f"{exercise_id} --force` shows the solution)")


@click.command("solution")
@click.argument("exercise_id", metavar="ID")
@click.option("--force", is_flag=True, help="Show it even though the exercise has not passed.")
@click.pass_obj
def solution_cmd(settings: Settings, exercise_id: str, force: bool) -> None:
    """Show the reference solution of exercise ID (after it passes, or with --force)."""
    from studyapp.training.catalog import ExerciseError

    try:
        path, text = _service(settings).solution(exercise_id, force=force)
    except ExerciseError as exc:
        raise _fail(exc) from exc
    click.echo(f"# {path}")
    click.echo(text.rstrip("\n"))


@click.command("reset")
@click.argument("exercise_id", metavar="ID")
@click.pass_obj
def reset_cmd(settings: Settings, exercise_id: str) -> None:
    """Put your copy of exercise ID back to the original (the old one is kept as .bak)."""
    from studyapp.training.catalog import ExerciseError

    try:
        path, backup = _service(settings).reset(exercise_id)
    except ExerciseError as exc:
        raise _fail(exc) from exc
    click.echo(f"reset {path}" + (f" (your previous version: {backup})" if backup else ""))


@click.command("edit")
@click.argument("exercise_id", metavar="ID")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Keep your copy in this folder from now on (copied there if new).")
@click.pass_obj
def edit_cmd(settings: Settings, exercise_id: str, folder: Path | None) -> None:
    """Print the path of your copy of exercise ID's code (made on first use)."""
    from studyapp.training.catalog import ExerciseError

    try:
        path = _service(settings).edit(exercise_id, folder)
    except ExerciseError as exc:
        raise _fail(exc) from exc
    click.echo(str(path))


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_obj
def status_cmd(settings: Settings, as_json: bool) -> None:
    """Your progress on each exercise: not started, attempted, passed, with dates."""
    from studyapp.store.db import StoreError

    try:
        rows = _service(settings).status()
    except StoreError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # 80 columns hold it: ids and statuses whole, dates without the year, the rest folds
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("lesson", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("last try UTC", no_wrap=True)
    table.add_column("passed", no_wrap=True)
    table.add_column("hints", no_wrap=True)
    table.add_column("your copy", overflow="fold")
    colour = {"passed": "green", "attempted": "yellow", "not_started": "dim"}
    for r in rows:
        copy = "-" if r.copy is None else (str(r.copy) + (" (edited)" if r.modified else ""))
        table.add_row(Text(r.id), Text(r.lesson), Text(r.status, style=colour.get(r.status, "")),
                      r.last_attempt_at.strftime("%m-%d %H:%M") if r.last_attempt_at else "-",
                      r.passed_at.strftime("%m-%d %H:%M") if r.passed_at else "-",
                      f"{r.hints_shown}/{r.hints_total}", Text(copy))
    Console().print(table)
