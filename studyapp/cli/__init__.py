"""The `studyapp` command line: thin faces over the application functions.

Each group of commands lives in its own module and registers itself on `main`. Heavy
imports (textual, torch, transformers) happen inside the commands that need them, so
`studyapp --help` and the plain commands start fast.
"""

from __future__ import annotations

import sys

import click

from studyapp.config import Settings


class _Main(click.Group):
    """The command group: a storage fault anywhere ends in one line, never a traceback.

    The command modules are imported the first time a command is looked up or listed, so
    `studyapp` without a command (the app) imports none of them.
    """

    _loaded = False

    @property
    def commands(self) -> dict[str, click.Command]:  # type: ignore[override]
        if not self._loaded:
            self._loaded = True
            _register(self)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        import sqlite3

        from studyapp.store.db import StoreError
        from studyapp.store.faults import StorageFault, describe

        try:
            return super().invoke(ctx)
        except (sqlite3.Error, OSError, StorageFault, StoreError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            settings = ctx.obj
            path = getattr(settings, "db_path", None) if isinstance(exc, sqlite3.Error) \
                else None
            raise click.ClickException(describe(exc, path) if not isinstance(exc, StoreError)
                                       else str(exc)) from exc


@click.group(cls=_Main, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(dir_okay=False), envvar="STUDYAPP_DB",
              help="SQLite database (default: the user's data directory; env STUDYAPP_DB).")
@click.option("--lessons", type=click.Path(file_okay=False), envvar="STUDYAPP_LESSONS",
              help="Folder of lesson markdown files (default: the bundled course).")
@click.option("--now", "now", metavar="ISO-DATETIME", envvar="STUDYAPP_NOW",
              help="Pretend it is this time (travel in time; env STUDYAPP_NOW).")
@click.version_option(package_name="studyapp")
@click.pass_context
def main(ctx: click.Context, db: str | None, lessons: str | None, now: str | None) -> None:
    """Study the fine-tuning course in the terminal. Without a command, opens the app."""
    as_program = ctx.obj is PROGRAM
    if ctx.invoked_subcommand is not None:
        from studyapp.cli.output import install

        install()         # no control character of a lesson reaches the terminal
    try:
        ctx.obj = Settings.from_env(db=db, lessons=lessons, now=now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc
    if ctx.invoked_subcommand is None:
        from studyapp.cli.tui_cmd import end_process, open_app

        code = open_app(ctx.obj)
        if as_program:
            end_process(code)
        sys.exit(code)


PROGRAM = object()
"""`main`'s context object when it runs as the `studyapp` program (see `program`)."""


def program() -> None:
    """The `studyapp` executable and `python -m studyapp`: `main`, told that it is the
    program, so that quitting the app ends the process at once (`tui_cmd.end_process`).
    Tests invoke `main` itself and keep their interpreter."""
    main(obj=PROGRAM)


def _register(group: click.Group) -> None:
    from studyapp.cli import (
        cards_cmds,
        exercise_cmds,
        learner_cmds,
        lessons_cmds,
        study_cmds,
        suggest_cmds,
    )

    for module in (lessons_cmds, study_cmds, cards_cmds, exercise_cmds, learner_cmds,
                   suggest_cmds):
        module.register(group)
