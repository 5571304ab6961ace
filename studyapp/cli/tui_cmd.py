"""`studyapp` with no command: open the Textual app.

Imports neither torch nor transformers; the service opens before the first paint so a
database that cannot be opened is reported on the terminal, not inside the app.
"""

from __future__ import annotations

import click

from studyapp.config import Settings


def open_app(settings: Settings) -> int:
    """Build the app over `settings` and run it; the exit code for the shell."""
    from studyapp.services.study import StudyService

    try:
        service = StudyService.open(settings)
    except Exception as exc:  # StoreError and friends: say what, not a traceback
        if type(exc).__name__ not in {"StoreError", "OSError", "PermissionError",
                                      "DatabaseError", "OperationalError"}:
            raise
        click.echo(f"studyapp: cannot open {settings.db_path}: {exc}", err=True)
        return 2
    from studyapp.tui.app import StudyApp

    app = StudyApp(service)
    result = app.run()
    return int(result or 0) if app.return_code is None else app.return_code
