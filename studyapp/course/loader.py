"""Reading lesson files: the only part of `course` that touches the file system.

`load_lessons(folder)` never raises for a bad file: an unreadable or broken lesson comes
back as a `ParseResult` carrying its diagnostics, so one bad file never stops the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from studyapp.course.model import Diagnostic, ParseResult, Severity
from studyapp.course.parser import parse_lesson
from studyapp.textsafe import control_chars, has_control, safe_text

LESSON_SUFFIXES = (".md", ".markdown", ".txt")
MAX_LESSON_BYTES = 2_000_000          # the longest bundled lesson is about 30 KB
MAX_CONTROL_WARNINGS = 5
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
    return [path for path, _ in _expand(paths)]


def _expand(paths: Iterable[Path]) -> list[tuple[Path, Path | None]]:
    """(file, the folder it was found in, or None for a file given by name)."""
    found: list[tuple[Path, Path | None]] = []
    for path in paths:
        if path.is_dir():
            found.extend((p, path) for p in lesson_files(path))
        else:
            found.append((path, None))
    return found


def read_lesson(path: Path, folder: Path | None = None) -> ParseResult:
    """Parse one file; unreadable files and unexpected parser failures become errors.

    Hostile files are bounded: a file found in `folder` that is a link leaving it is not
    followed; a file over MAX_LESSON_BYTES is not read; control characters (ESC, C1, NUL,
    ...) are replaced by visible escapes before parsing (textsafe.safe_text), so no part
    of a lesson can carry one to a terminal, and each line that had one gets a warning.
    """
    name = str(path)
    if folder is not None and path.is_symlink():
        try:
            target = path.resolve(strict=True)
            inside = target.is_relative_to(folder.resolve(strict=True))
        except (OSError, RuntimeError):
            return _failed(name, "is a link that cannot be resolved: not followed")
        if not inside:
            return _failed(name, f"is a link to {target}, outside the lessons folder "
                                 f"{folder}: not followed", "link-outside")
    try:
        size = path.stat().st_size
        if size > MAX_LESSON_BYTES:
            return _failed(name, f"is {size / 1e6:.1f} MB; a lesson may have at most "
                                 f"{MAX_LESSON_BYTES // 1_000_000} MB: not read", "too-large")
        with path.open("rb") as fh:
            raw = fh.read(MAX_LESSON_BYTES + 1)
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _failed(name, f"cannot read file: not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        return _failed(name, f"cannot read file: {exc.strerror or exc}")
    controls = control_chars(text)
    if controls:
        text = safe_text(text)
    try:
        result = parse_lesson(text, name)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the app: report it
        return _failed(name, f"internal error while parsing ({type(exc).__name__}: {exc}); "
                       "please report this lesson")
    extra = _control_warnings(name, controls)
    if has_control(path.name):
        extra.insert(0, Diagnostic(name, 1, Severity.WARNING,
                                   f"the file name has control characters: "
                                   f"{safe_text(path.name)}", "control-character"))
    if extra:
        result = ParseResult(result.path, result.lesson, (*result.diagnostics, *extra))
    return result


def _control_warnings(name: str, controls: list[tuple[int, str]]) -> list[Diagnostic]:
    by_line: dict[int, list[str]] = {}
    for line, shown in controls:
        by_line.setdefault(line, []).append(shown)
    out = []
    for line, shown in list(by_line.items())[:MAX_CONTROL_WARNINGS]:
        kinds = ", ".join(dict.fromkeys(shown))
        out.append(Diagnostic(name, line, Severity.WARNING,
                              f"control character{'s' if len(shown) > 1 else ''} {kinds}: "
                              "shown as written here, never sent to a terminal",
                              "control-character"))
    if len(by_line) > MAX_CONTROL_WARNINGS:
        out.append(Diagnostic(name, list(by_line)[MAX_CONTROL_WARNINGS], Severity.WARNING,
                              f"control characters on {len(by_line) - MAX_CONTROL_WARNINGS} "
                              "more lines", "control-character"))
    return out


def load_paths(paths: Iterable[Path]) -> list[ParseResult]:
    """Parse every lesson file; a second lesson with an id already seen is marked broken."""
    results: list[ParseResult] = []
    first_of: dict[str, str] = {}
    for path, folder in _expand(paths):
        result = read_lesson(path, folder)
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


def _failed(path: str, message: str, code: str = "unreadable") -> ParseResult:
    return ParseResult(path, None, (Diagnostic(path, 1, Severity.ERROR, message, code),))
