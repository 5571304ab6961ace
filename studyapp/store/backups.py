"""Backup copies of the database, taken with SQLite's online backup API.

Two kinds live in `backups/` next to the database file:

- daily: `<stem>-YYYYMMDD-HHMMSS.db`, at most one per (UTC) day, taken when the database is
  opened; the newest `KEEP_DAILY` are kept (Anki keeps rotating backups the same way);
- before a migration: `<stem>-premigrate-vA-to-vB-YYYYMMDD-HHMMSS.db`; the newest
  `KEEP_PREMIGRATE` are kept.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def copy_database(source: sqlite3.Connection, target: Path) -> Path:
    """Copy an open database into `target` (a consistent snapshot, WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    if tmp.exists():
        tmp.unlink()
    dest = sqlite3.connect(str(tmp))
    try:
        source.backup(dest)
    finally:
        dest.close()
    tmp.replace(target)
    return target


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
    copy_database(conn, target)
    _prune(daily_backups(db_path), KEEP_DAILY)
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
