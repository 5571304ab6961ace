"""`studyapp` with no command: open the Textual app.

Imports neither torch nor transformers; the database opens before the first paint so one
that cannot be opened is reported on the terminal, not inside the app. Home paints from
the database (`StudyService.open_for_app`); the app reads the lessons folder and takes
today's backup right after.
"""

from __future__ import annotations

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
