"""The parsed course, cached on disk while no lesson file and no parser file changed.

`load_course(folder, cache_folder)` is `loader.load_lessons(folder)` with a pickle of the
results kept in `cache_folder` under a fingerprint of the lesson files (names, sizes,
mtimes) and of the parser's own source; any problem with the cache means a plain parse.
Opening a 50-lesson course then costs milliseconds instead of a parse.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

from studyapp.atomic import write_atomic
from studyapp.course.model import ParseResult


def fingerprint(folder: Path) -> str | None:
    """Names, sizes and mtimes of the lesson files plus the parser's own source."""
    from studyapp.course import loader

    parts = [str(folder.resolve())]
    try:
        for path in loader.lesson_files(folder):
            st = path.stat()
            parts.append(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}")
        for code in sorted(Path(loader.__file__).parent.glob("*.py")):
            parts.append(hashlib.sha1(code.read_bytes()).hexdigest())
    except OSError:
        return None
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()


def load_course(folder: Path, cache_folder: Path) -> list[ParseResult]:
    """See the module docstring."""
    from studyapp.course import loader

    key = fingerprint(folder)
    if key is None:
        return loader.load_lessons(folder)
    cache = cache_folder / f"{key}.pickle"
    cached = _read(cache)
    if cached is not None:
        return cached
    results = loader.load_lessons(folder)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("*.pickle"):
            old.unlink(missing_ok=True)
        write_atomic(cache, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
    return results


def _read(path: Path) -> list[ParseResult] | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
    except Exception:  # noqa: BLE001 - an unreadable cache means: parse again
        return None
    return cached if isinstance(cached, list) else None
