"""Opening the database: pragmas, migrations, backups.

`open_database(path)` is the one door to the SQLite file (`open_connection(path)` the same
door for a caller that wants the plain `sqlite3` connection: the app's start does not
import sqlite-utils):

- creates the parent folders; `":memory:"` gives a private in-memory database (tests);
- refuses a file whose schema version is newer than this code knows (`StoreError` naming
  both versions) before writing anything, so such a file is left byte-for-byte unchanged;
- copies a non-empty database into `backups/` before migrating it, then applies each
  pending migration in its own `BEGIN IMMEDIATE` transaction and records it;
- sets WAL, `foreign_keys=ON` and a busy timeout, so several processes can share the file:
  writers wait for each other instead of failing or losing writes;
- takes at most one rotating daily backup per day (see `store.backups`).

`write_transaction(db)` is the way to write: `BEGIN IMMEDIATE` (the write lock is taken up
front, so read-modify-write sequences cannot interleave with another process), commit on
success, roll back on any exception.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from studyapp.store import backups
from studyapp.store.schema import MIGRATIONS

_SQLITE_UTILS_LOCK = threading.Lock()


def _import_sqlite_utils() -> ModuleType:
    """sqlite-utils imports pandas and numpy when they are installed (torch brings numpy),
    to map their scalar types to columns; we never store such values, and numpy alone is a
    good part of the TUI's start-up (`python -X importtime`). They are hidden while it loads
    (an import of them fails then, which sqlite-utils expects); later imports are unchanged.
    """
    with _SQLITE_UTILS_LOCK:     # two threads may ask at once (home's counts, the app)
        if "sqlite_utils" in sys.modules:
            import sqlite_utils  # a finished import (the lock held the other thread's)

            return sqlite_utils
        hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        try:
            import sqlite_utils
        finally:
            for name in hidden:
                if sys.modules.get(name, False) is None:
                    del sys.modules[name]
        return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000


class StoreError(Exception):
    """A database that cannot be used as it is (too new, corrupt, ...). The message says why."""


def latest_version() -> int:
    return len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
    ).fetchone()
    return bool(row[0])


def _utc_now_text() -> str:
    return datetime.now(UTC).isoformat()


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _check_not_newer(conn: sqlite3.Connection, path: str) -> int:
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        from studyapp.store.faults import describe

        text = str(exc).lower()
        if path != ":memory:" and ("malformed" in text or "not a database" in text):
            backups.mark_damaged(Path(path), str(exc))
        raise StoreError(describe(exc, path)) from exc
    if version > latest_version():
        raise StoreError(
            f"{path} was written by a newer version of studyapp (schema version {version}; "
            f"this version knows schema version {latest_version()} at most). Upgrade "
            f"studyapp to open it; the file was left unchanged."
        )
    return version


def apply_migrations(
    conn: sqlite3.Connection,
    db_path: Path | None = None,
    upto: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Apply pending migrations up to `upto` (default: all); returns the versions applied.

    Each migration runs in its own BEGIN IMMEDIATE transaction; the version is re-read inside
    it, so two processes opening an old database at once apply each migration once. A file
    database that already holds tables is copied to `backups/` first.
    """
    target = latest_version() if upto is None else upto
    version = _check_not_newer(conn, str(db_path or ":memory:"))
    if version >= target:
        return []
    if db_path is not None and _has_tables(conn):
        backups.backup_before_migration(conn, db_path, version, target, now)
    applied = []
    for number in range(version + 1, target + 1):
        migration = MIGRATIONS[number - 1]
        if conn.in_transaction:
            conn.commit()
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)
            if current >= number:
                conn.execute("COMMIT")
                continue
            if current != number - 1:
                raise StoreError(f"schema version {current} found while applying {number}")
            migration(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, migration.__name__, _utc_now_text()),
            )
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def open_database(path: str | Path, **options: Any) -> sqlite_utils.Database:
    """`open_connection(path, **options)` wrapped in a `sqlite_utils.Database`."""
    return as_database(open_connection(path, **options))


def as_database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """An open connection as a `sqlite_utils.Database` (imports sqlite-utils)."""
    return _import_sqlite_utils().Database(conn)


def open_connection(
    path: str | Path,
    *,
    migrate: bool = True,
    daily_backup: bool = True,
    now: datetime | None = None,
    allow_damaged: bool = False,
) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at `path`; see the module docstring.

    `now` is only used to name and date backups (default: the real clock). A database that
    failed a check (the daily backup's `quick_check`, or SQLite calling it malformed) is
    refused with `StoreError` until `studyapp doctor` clears it (`allow_damaged` is for
    doctor itself). Storage faults (read-only, locked, full, missing folder) come back as
    `StoreError` with one line saying what to do (store/faults.py).
    """
    from studyapp.store.faults import describe

    memory = str(path) == ":memory:"
    if memory:
        conn = _connect(":memory:")
        db_path = None
    else:
        db_path = Path(path).expanduser()
        reason = backups.damaged_reason(db_path)
        if reason is not None and not allow_damaged:
            raise StoreError(f"{db_path} failed its check ({reason}); it is not used until "
                             "`studyapp doctor --restore` puts the newest good backup back")
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(str(db_path))
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(describe(exc, db_path)) from exc
    try:
        return _open(conn, db_path, memory, migrate, daily_backup, now, path)
    except (sqlite3.Error, OSError) as exc:
        conn.close()
        raise StoreError(describe(exc, db_path or path)) from exc
    except backups.BackupRefused as exc:
        conn.close()
        raise StoreError(_damaged_message(db_path or Path(path), exc)) from exc
    except BaseException:
        conn.close()
        raise


def _open(conn: sqlite3.Connection, db_path: Path | None, memory: bool, migrate: bool,
          daily_backup: bool, now: datetime | None, path: str | Path) -> sqlite3.Connection:
    _check_not_newer(conn, str(path))
    conn.execute("PRAGMA foreign_keys = ON")
    if not memory:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed grade survives a power cut too, not only a crash (NORMAL
        # would risk the last commits); grades come at human pace, so the fsync is cheap
        conn.execute("PRAGMA synchronous = FULL")
    if migrate:
        apply_migrations(conn, db_path, now=now)
    if db_path is not None and daily_backup:
        _daily_backup(conn, db_path, now)
    return conn


def _daily_backup(conn: sqlite3.Connection, db_path: Path, now: datetime | None) -> None:
    """Today's checked backup (`store.backups`), unless one exists; BackupRefused when the
    check fails (the database is then marked damaged)."""
    if not _has_tables(conn):
        return
    try:
        backups.maybe_daily_backup(conn, db_path, now)
    except (OSError, sqlite3.Error):
        pass  # a backup that cannot be written must not stop the learner


def daily_backup(path: str | Path, now: datetime | None = None) -> None:
    """Take today's backup of the database at `path` on a connection of its own (the app
    does it after its first paint, in a thread); StoreError when its check fails."""
    if str(path) == ":memory:":
        return
    db_path = Path(path).expanduser()
    conn = _connect(str(db_path))
    try:
        _daily_backup(conn, db_path, now)
    except backups.BackupRefused as exc:
        raise StoreError(_damaged_message(db_path, exc)) from exc
    finally:
        conn.close()


def _damaged_message(db_path: Path, exc: Exception) -> str:
    return (f"{db_path} is damaged: the check of today's backup failed ({exc}); the earlier "
            "backups were kept: run `studyapp doctor --restore` to put the newest good one "
            "back")


def use_database(path: str | Path, fn: Callable[[sqlite_utils.Database], T], default: T, *,
                 create: bool = False) -> T:
    """Open the database at `path` for one call of `fn(db)`, then close it.

    When the file does not exist and `create` is False, `default` comes back and no file
    is made: reading progress must not create a database as a side effect.
    """
    if not create and str(path) != ":memory:" and not Path(path).exists():
        return default
    db = open_database(path, daily_backup=False)
    try:
        return fn(db)
    finally:
        db.conn.close()


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database | sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). Yields the raw connection.

    Nested use joins the outer transaction through a savepoint.
    """
    conn = db if isinstance(db, sqlite3.Connection) else db.conn
    if conn.in_transaction:
        name = "sp_write"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
