"""The TUI's pure display helpers."""

from __future__ import annotations

from datetime import date

import pytest

from studyapp.tui.format import lesson_state_label, plural, short_date, sparkline
from studyapp.tui.keys import key_label

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 11, 23), "today"),
    (date(2026, 11, 24), "tomorrow"),
    (date(2026, 11, 22), "yesterday"),
    (date(2026, 11, 30), "Mon 30 Nov"),
    (date(2027, 1, 5), "Tue 5 Jan 2027"),
])
def test_short_date(day: date, expected: str) -> None:
    assert short_date(day, TODAY) == expected


def test_sparkline_scales_to_the_busiest_day_and_dots_empty_days() -> None:
    assert sparkline([0, 1, 2, 4]) == "·▃▅█"
    assert sparkline([0, 0]) == "··"
    assert sparkline([]) == ""


@pytest.mark.parametrize(("args", "expected"), [
    (("new", 0, 9, None), "not started"),
    (("in_progress", 2, 9, None), "in progress · 3/9"),
    (("in_progress", 20, 9, None), "in progress · 9/9"),
    (("done", 8, 9, date(2026, 11, 24)), "done · review tomorrow"),
    (("done", 8, 9, None), "done"),
    (("broken", 0, 0, None), "BROKEN"),
])
def test_lesson_state_label(args: tuple, expected: str) -> None:
    assert lesson_state_label(*args, today=TODAY) == expected


def test_plural_and_key_labels() -> None:
    assert plural(1, "card") == "1 card" and plural(2, "card") == "2 cards"
    assert [key_label(k) for k in ("question_mark", "ctrl+r", "pagedown", "R", "escape")] == [
        "?", "ctrl+r", "pgdn", "R", "esc"]
