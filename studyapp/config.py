"""Where things live and what time it is: resolved once at the edge, passed inward.

Nothing below the CLI/TUI reads the environment or the clock; they take a `Settings`
or a `now` argument instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

APP_NAME = "studyapp"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The user's data directory (platformdirs), or STUDYAPP_DATA_DIR when set."""
    env = os.environ.get("STUDYAPP_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def cache_dir() -> Path:
    env = os.environ.get("STUDYAPP_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_cache_path(APP_NAME)


def default_db_path() -> Path:
    env = os.environ.get("STUDYAPP_DB")
    return Path(env) if env else data_dir() / "studyapp.db"


def bundled_lessons_dir() -> Path:
    env = os.environ.get("STUDYAPP_LESSONS")
    return Path(env) if env else PROJECT_ROOT / "lessons"


def bundled_exercises_dir() -> Path:
    env = os.environ.get("STUDYAPP_EXERCISES")
    return Path(env) if env else PROJECT_ROOT / "exercises"


NOW_MIN_YEAR, NOW_MAX_YEAR = 1970, 9000   # room for a year of schedules after it


def parse_now(value: str) -> datetime:
    """Parse an ISO datetime for `--now`/STUDYAPP_NOW; naive values are taken as local time."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"cannot read {value!r} as a date and time; use ISO form like 2026-11-24T09:00"
        ) from exc
    try:
        if dt.tzinfo is None:
            dt = dt.astimezone()  # local time zone
        dt = dt.astimezone(UTC)
    except (OverflowError, OSError, ValueError):
        dt = None  # type: ignore[assignment]
    if dt is None or not NOW_MIN_YEAR <= dt.year <= NOW_MAX_YEAR:
        raise ValueError(f"{value!r} is out of range: --now takes a time between the years "
                         f"{NOW_MIN_YEAR} and {NOW_MAX_YEAR}")
    return dt


@dataclass(frozen=True)
class Settings:
    """What a command or the TUI runs against. `now` is None for the real clock."""

    db_path: Path
    lessons_dir: Path
    exercises_dir: Path
    fixed_now: datetime | None = None

    def now(self) -> datetime:
        """The current time in UTC (or the fixed time this run travels to)."""
        return self.fixed_now if self.fixed_now is not None else datetime.now(UTC)

    @classmethod
    def from_env(
        cls,
        db: str | Path | None = None,
        lessons: str | Path | None = None,
        now: str | None = None,
        exercises: str | Path | None = None,
    ) -> Settings:
        now = now or os.environ.get("STUDYAPP_NOW")
        return cls(
            db_path=Path(db) if db else default_db_path(),
            lessons_dir=Path(lessons) if lessons else bundled_lessons_dir(),
            exercises_dir=Path(exercises) if exercises else bundled_exercises_dir(),
            fixed_now=parse_now(now) if now else None,
        )
