"""Storage faults on the screen: one line, the app goes on, nothing claimed as saved.

`@reports_storage_faults` wraps a screen's handler that writes (a grade, an undo, finishing
a lesson): a lock held past the busy timeout, a read-only or full disk, a damaged file
becomes one error notification (store/faults.py says what and what to do) and the handler
stops where it was, so the screen never moves on as if the write had been made. (Textual
ends the app on any exception that leaves a handler.)
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def report(widget: Any, error: BaseException) -> None:
    from studyapp.store.backups import mark_damaged
    from studyapp.store.db import StoreError
    from studyapp.store.faults import describe

    path = getattr(getattr(getattr(widget.app, "service", None), "settings", None),
                   "db_path", None)
    if isinstance(error, StoreError):
        line = str(error)
    else:
        line = describe(error, path if isinstance(error, sqlite3.Error) else None)
    if isinstance(error, sqlite3.DatabaseError) and "malformed" in str(error) and path:
        mark_damaged(path, str(error))
    widget.app.notify(line, title="Not saved", severity="error", timeout=15, markup=False)


def reports_storage_faults(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from studyapp.store.db import StoreError
        from studyapp.store.faults import StorageFault

        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, StoreError, StorageFault, OSError) as error:
            report(self, error)
            return None

    return wrapper  # type: ignore[return-value]
