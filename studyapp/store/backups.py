"""Backup copies of the database, taken with SQLite's online backup API.

Two kinds live in `backups/` next to the database file:

- daily: `<stem>-YYYYMMDD-HHMMSS.db`, at most one per (UTC) day, taken when the database is
  opened; the newest `KEEP_DAILY` are kept (Anki keeps rotating backups the same way);
- every copy is checked (`quick_check`) before it is kept, so a damaged database never
  rotates a good backup out; a failed check marks the database damaged (`<name>.damaged`
  beside it) and writes are refused until `studyapp doctor` restores a good backup;
- before a migration: `<stem>-premigrate-vA-to-vB-YYYYMMDD-HHMMSS.db`; the newest
  `KEEP_PREMIGRATE` are kept.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from studyapp.atomic import atomic_path, fsync_folder, write_atomic

KEEP_DAILY = 5
KEEP_PREMIGRATE = 3

_DAILY = re.compile(r"^(?P<stem>.+)-(?P<date>\d{8})-(?P<time>\d{6})(?:-\d+)?\.db$")


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    kind: str  # daily | premigrate
    taken_at: datetime | None


def backups_dir(db_path: Path) -> Path:
    return Path(db_path).parent / "backups"


class BackupRefused(Exception):
    """The copy failed its check: the database itself is damaged. The message says how."""


def check_file(path: Path, *, quick: bool = True) -> str | None:
    """None when the SQLite file at `path` passes `quick_check` (or `integrity_check`),
    else what SQLite found (its first lines) or the error it raised."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}").fetchmany(20)]
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return None if rows == ["ok"] else "; ".join(rows[:5])


def copy_database(source: sqlite3.Connection, target: Path, *, verify: bool = True) -> Path:
    """Copy an open database into `target` (a consistent snapshot, WAL included).

    The copy is written to `target.part`, checked with `quick_check` (`verify`), fsynced
    and only then renamed to `target`; a copy that fails its check is deleted and
    `BackupRefused` raised, so a damaged database never replaces a good backup.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(target.parent)
    tmp = target.with_suffix(target.suffix + ".part")
    if tmp.exists():
        tmp.unlink()
    try:
        dest = sqlite3.connect(str(tmp))
        try:
            source.backup(dest)
            # one self-contained file: a WAL copy left `.part-wal`/`.part-shm` behind it
            # (the read-only check below cannot remove them, the rename does not take them)
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
        problem = check_file(tmp) if verify else None
        if problem is not None:
            raise BackupRefused(problem)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)
    return target


PARTIAL_STALE_S = 600.0


def partials(folder: Path) -> list[Path]:
    """Copies that never finished (`*.part`: a backup killed mid-copy)."""
    return sorted(folder.glob("*.part")) if folder.is_dir() else []


def clean_partials(folder: Path, older_than_s: float = PARTIAL_STALE_S) -> list[Path]:
    """Remove `.part` files older than `older_than_s` (not one being written now)."""
    removed = []
    now = time.time()
    for p in partials(folder):
        try:
            if now - p.stat().st_mtime >= older_than_s:
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


# --- a database that failed its check ----------------------------------------------------

def damaged_marker(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + ".damaged")


def mark_damaged(db_path: Path, reason: str, now: datetime | None = None) -> None:
    """Remember that the database failed a check: writes are refused until `doctor`."""
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    try:
        write_atomic(damaged_marker(db_path), f"{when} {reason}\n")
    except OSError:
        pass


def damaged_reason(db_path: Path) -> str | None:
    try:
        return damaged_marker(db_path).read_text(encoding="utf-8").strip() or "damaged"
    except OSError:
        return None


def clear_damaged(db_path: Path) -> None:
    damaged_marker(db_path).unlink(missing_ok=True)


def good_backups(db_path: Path) -> list[tuple[BackupInfo, str | None]]:
    """Every backup, newest first, with what its `integrity_check` found (None: good)."""
    return [(b, check_file(b.path, quick=False)) for b in list_backups(db_path)]


def restore_backup(db_path: Path, backup: Path, now: datetime | None = None) -> Path:
    """Put `backup` in place of the database; the damaged file (and its -wal/-shm) is
    kept beside it as `<name>.damaged-<stamp>`. Returns where the damaged file went."""
    db_path = Path(db_path)
    problem = check_file(backup, quick=False)
    if problem is not None:
        raise BackupRefused(f"{backup} fails its check too: {problem}")
    stamp = _stamp(now or datetime.now(UTC))
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    with atomic_path(db_path.with_name(db_path.name + ".restoring")) as tmp:
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dest = sqlite3.connect(str(tmp))
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
        for suffix in ("", "-wal", "-shm"):
            current = db_path.with_name(db_path.name + suffix)
            if current.exists():
                os.replace(current, aside.with_name(aside.name + suffix))
    os.replace(db_path.with_name(db_path.name + ".restoring"), db_path)
    fsync_folder(db_path.parent)
    clear_damaged(db_path)
    return aside


def _unique(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def backup_before_migration(
    conn: sqlite3.Connection, db_path: Path, old: int, new: int, now: datetime | None = None
) -> Path:
    now = now or datetime.now(UTC)
    folder = backups_dir(db_path)
    stem = Path(db_path).stem
    target = _unique(folder / f"{stem}-premigrate-v{old}-to-v{new}-{_stamp(now)}.db")
    copy_database(conn, target)
    _prune(sorted(folder.glob(f"{stem}-premigrate-*.db")), KEEP_PREMIGRATE)
    return target


def daily_backups(db_path: Path) -> list[Path]:
    """The daily backups of this database, oldest first."""
    folder = backups_dir(db_path)
    stem = Path(db_path).stem
    if not folder.is_dir():
        return []
    found = []
    for p in folder.glob(f"{stem}-*.db"):
        m = _DAILY.match(p.name)
        if m and m.group("stem") == stem:
            found.append(p)
    return sorted(found)


def maybe_daily_backup(
    conn: sqlite3.Connection, db_path: Path, now: datetime | None = None
) -> Path | None:
    """Take today's backup unless one was already taken today; prune old ones."""
    now = now or datetime.now(UTC)
    existing = daily_backups(db_path)
    today = now.astimezone(UTC).strftime("%Y%m%d")
    if any(_DAILY.match(p.name).group("date") == today for p in existing):  # type: ignore[union-attr]
        return None
    stem = Path(db_path).stem
    target = _unique(backups_dir(db_path) / f"{stem}-{_stamp(now)}.db")
    try:
        copy_database(conn, target)
    except BackupRefused as exc:
        # the database is damaged: keep every good backup, refuse writes until doctor
        mark_damaged(db_path, f"the daily backup's check failed: {exc}", now)
        raise
    _prune(daily_backups(db_path), KEEP_DAILY)     # only checked copies are ever kept
    return target


def _prune(paths: list[Path], keep: int) -> None:
    for p in paths[: max(0, len(paths) - keep)]:
        try:
            p.unlink()
        except OSError:
            pass


def list_backups(db_path: Path) -> list[BackupInfo]:
    """Every backup of this database, newest first."""
    folder = backups_dir(db_path)
    if not folder.is_dir():
        return []
    stem = Path(db_path).stem
    out = []
    for p in folder.glob(f"{stem}-*.db"):
        kind = "premigrate" if "-premigrate-" in p.name else "daily"
        m = re.search(r"(\d{8})-(\d{6})", p.name)
        taken = (
            datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            if m
            else None
        )
        out.append(BackupInfo(path=p, size=p.stat().st_size, kind=kind, taken_at=taken))
    return sorted(out, key=lambda b: (b.taken_at or datetime.min.replace(tzinfo=UTC)),
                  reverse=True)
