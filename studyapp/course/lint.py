"""Checks beyond parsing: links from lessons to exercises.

The parser reports what it can see in one file; `link_diagnostics` adds what needs the
list of exercises that exist. Both stay free of the database and the UI.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from studyapp.course.model import Diagnostic, Lesson, Severity


def link_diagnostics(lesson: Lesson, text: str, exercise_ids: Collection[str]) -> list[Diagnostic]:
    """Errors for exercise ids, in front matter or `Exercise:` lines, that do not exist."""
    found: list[Diagnostic] = []
    fm_line = _front_matter_line(text, "exercises")
    known = ", ".join(sorted(exercise_ids)) or "none"
    for exercise in lesson.exercises:
        if exercise not in exercise_ids:
            found.append(Diagnostic(lesson.source, fm_line, Severity.ERROR,
                                    f"unknown exercise '{exercise}' in front matter "
                                    f"(known: {known})", "exercise-link"))
    for example in lesson.examples:
        if example.exercise and example.exercise not in exercise_ids:
            found.append(Diagnostic(lesson.source, example.line, Severity.ERROR,
                                    f"example '{example.title}' links unknown exercise "
                                    f"'{example.exercise}' (known: {known})", "exercise-link"))
    return found


def _front_matter_line(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines()[:200], start=1):
        if re.match(rf"^{re.escape(key)}\s*:", line):
            return number
    return 1
