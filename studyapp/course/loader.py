"""Reading lesson files: the only part of `course` that touches the file system.

`load_lessons(folder)` never raises for a bad file: an unreadable or broken lesson comes
back as a `ParseResult` carrying its diagnostics, so one bad file never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from studyapp.course.model import Diagnostic, ParseResult, Severity
from studyapp.course.parser import parse_lesson

LESSON_SUFFIXES = (".md", ".markdown", ".txt")
NOT_LESSONS = {"readme.md", "readme.txt", "readme", "license", "license.md", "changelog.md"}


def lesson_files(folder: Path) -> list[Path]:
    """Lesson files in a folder (not recursive), sorted by name; READMEs and hidden files skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in LESSON_SUFFIXES
        and p.name.lower() not in NOT_LESSONS and not p.name.startswith((".", "_"))
    )


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders replaced by their lesson files."""
    found: list[Path] = []
    for path in paths:
        found.extend(lesson_files(path) if path.is_dir() else [path])
    return found


def read_lesson(path: Path) -> ParseResult:
    """Parse one file; unreadable files and unexpected parser failures become errors."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return _failed(name, f"cannot read file: not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        return _failed(name, f"cannot read file: {exc.strerror or exc}")
    try:
        return parse_lesson(text, name)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the app: report it
        return _failed(name, f"internal error while parsing ({type(exc).__name__}: {exc}); "
                       "please report this lesson")


def load_paths(paths: Iterable[Path]) -> list[ParseResult]:
    """Parse every lesson file; a second lesson with an id already seen is marked broken."""
    results: list[ParseResult] = []
    first_of: dict[str, str] = {}
    for path in expand_paths(paths):
        result = read_lesson(path)
        lesson = result.lesson
        if lesson is not None and lesson.id in first_of:
            dup = Diagnostic(result.path, 1, Severity.ERROR,
                             f"duplicate lesson id '{lesson.id}' (already used by "
                             f"{first_of[lesson.id]}); set a different 'id' in the front matter",
                             "duplicate-lesson")
            result = ParseResult(result.path, None, (dup, *result.diagnostics))
        elif lesson is not None:
            first_of[lesson.id] = result.path
        results.append(result)
    return results


def load_lessons(folder: Path | str) -> list[ParseResult]:
    """All lessons of a course folder."""
    return load_paths([Path(folder)])


def _failed(path: str, message: str) -> ParseResult:
    return ParseResult(path, None, (Diagnostic(path, 1, Severity.ERROR, message, "unreadable"),))
