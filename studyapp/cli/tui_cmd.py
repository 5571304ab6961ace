"""`studyapp` with no command: open the Textual app.

Imports neither torch nor transformers; the database opens before the first paint so one
that cannot be opened is reported on the terminal, not inside the app. Home paints from
the database (`StudyService.open_for_app`); the app reads the lessons folder and takes
today's backup right after.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

import click

from studyapp.config import Settings


def open_app(settings: Settings) -> int:
    """Build the app over `settings` and run it; the exit code for the shell."""
    from studyapp.services.study import StudyService
    from studyapp.store.db import StoreError

    try:
        service = StudyService.open_for_app(settings)
    except StoreError as exc:
        click.echo(f"studyapp: {exc}", err=True)
        return 2
    from studyapp.tui.app import StudyApp

    try:
        app = StudyApp(service)
        result = app.run()
    finally:
        service.close()
    if app.return_code not in (None, 0):
        return app.return_code
    return int(result or 0)


def end_process(code: int) -> NoReturn:
    """End the program after the app quit, without the interpreter's teardown.

    The database is closed by then and the terminal restored. What a normal exit does
    first still happens: the threads that are not daemons are waited for (a training
    run cancelled at quit is recorded by its thread), the atexit handlers run, the
    output is flushed. What is skipped is the interpreter freeing its modules one by one
    (more than 500 of them after a session, torch too once the grade suggester loaded):
    about 120 ms of a quit on this machine, more with torch.
    """
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
