"""Storage faults in one clear line: what is wrong with which file, and what to do.

`describe(exc, path)` turns what SQLite and the operating system raise (read-only file or
folder, a lock held past the busy timeout, a full disk, a damaged file, a missing folder)
into one sentence for the learner; `StorageFault` carries it. The CLI and the TUI show that
line instead of a traceback. No UI here.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_S = 30.0          # store.db uses the same (BUSY_TIMEOUT_MS)


class StorageFault(Exception):
    """A read or write the storage refused; `str()` is the one line to show."""


def _why_not_writable(path: Path) -> str | None:
    folder = path.parent
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return (f"its folder {folder} is read-only (SQLite writes its -wal and -shm files "
                "beside the database): make the folder writable or use --db elsewhere")
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file is read-only: make it writable (chmod u+w {path}) or use --db"
    return None


def _disk_full(path: Path, margin: int = 1 << 20) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent if path.parent.exists() else ".").free < margin
    except OSError:
        return False


def describe(exc: BaseException, path: str | Path | None = None) -> str:
    """One line for `exc` raised while using the file at `path`."""
    where = str(path) if path is not None else "the database"
    if isinstance(exc, StorageFault):
        return str(exc)
    if isinstance(exc, OSError):
        name = str(path) if path is not None else (exc.filename or where)
        code = exc.errno
        if code == errno.ENOSPC or code == getattr(errno, "EDQUOT", -1):
            return f"the disk is full: cannot write {name}; free some space and try again " \
                   "(nothing was changed)"
        if code in (errno.EROFS,):
            return f"cannot write {name}: the file system is read-only"
        if code in (errno.EACCES, errno.EPERM):
            return f"cannot write {name}: permission denied"
        if code == errno.ENOENT:
            parent = Path(str(name)).parent
            if not parent.exists():
                return f"cannot write {name}: the folder {parent} does not exist"
            return f"{name} does not exist"
        if code == errno.EISDIR:
            return f"{name} is a folder, not a file"
        return f"cannot use {name}: {exc.strerror or exc}"
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        low = text.lower()
        if ("disk i/o" in low or "unable to open" in low) and path is not None \
                and _disk_full(Path(where)):
            low = "database or disk is full"     # SQLite says I/O error when -shm cannot grow
        if "locked" in low or "busy" in low:
            return (f"{where} is locked by another process (waited {BUSY_TIMEOUT_S:.0f} s): "
                    "close the other studyapp (or the program holding it) and try again; "
                    "nothing was changed")
        if "readonly" in low or "read-only" in low:
            why = _why_not_writable(Path(where)) if path is not None else None
            return f"cannot write {where}: " + (why or "it is read-only") + \
                "; nothing was changed"
        if "disk is full" in low or "database or disk is full" in low:
            return (f"the disk holding {where} is full: free some space and try again; "
                    "nothing was changed")
        if "unable to open" in low or "cannot open" in low:
            why = _why_not_writable(Path(where)) if path is not None else None
            return f"cannot open {where}: " + (why or text)
        if "malformed" in low or "not a database" in low or "corrupt" in low:
            return (f"{where} is damaged ({text}): run `studyapp doctor` to check it and "
                    "restore the newest good backup")
        if "disk i/o" in low:
            return f"reading or writing {where} failed (disk I/O error): check the disk; " \
                   "`studyapp doctor` checks the database"
        return f"{where}: {text}"
    return f"{type(exc).__name__}: {exc}"


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error | OSError | StorageFault)
