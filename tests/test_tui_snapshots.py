"""Snapshots of home, a lesson section, the quiz and the review at 80x24 and 120x40.

Our Bulgarian lesson (tests/fixtures/lessons, Cyrillic) is among them; the clock is fixed and the cursor
does not blink, so the pictures are stable. Update with `pytest --snapshot-update` and
look at the SVGs (snapshot_report.html) before committing.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from tests.conftest import BG_LESSON

DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

SMALL = """\
---
id: epochs-101
title: Epochs and early stopping
---
# Epochs and early stopping

## Overview
Training longer is not always better.

## Key Concepts
- **Epoch** – one full pass over the training set.

## Short Retrieval Quiz
1. What is an epoch?
   Answer: One full pass over the training set.
"""

def make_app(tmp_path: Path, now: datetime, *, finished: bool = False) -> StudyApp:
    lessons = tmp_path / "lessons"
    if not lessons.exists():
        lessons.mkdir()
        shutil.copy(BG_LESSON, lessons / "000_learning_rate.txt")
        (lessons / "010_epochs.md").write_text(SMALL, encoding="utf-8")
        (lessons / "020_broken.md").write_bytes(b"\xff\xfe not utf-8")
    db = tmp_path / "study.db"
    if finished:
        day1 = Settings(db_path=db, lessons_dir=lessons, exercises_dir=tmp_path / "ex",
                        fixed_now=DAY1)
        with StudyService.open(day1) as service:
            sft = next(e.id for e in service.lessons() if e.title.startswith("Learning_rate"))
            service.complete_lesson(sft)
            service.save_position("epochs-101", 1)
    settings = Settings(db_path=db, lessons_dir=lessons, exercises_dir=tmp_path / "ex",
                        fixed_now=now)
    return StudyApp(StudyService.open(settings), cursor_blink=False)


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        assert field.cursor_blink is False or not field.has_focus
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path, DAY2, finished=True)
    assert snap_compare(app, terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_key_concepts_cyrillic(snap_compare, tmp_path: Path,
                                      size: tuple[int, int]) -> None:
    app = make_app(tmp_path, DAY1)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("enter", "escape", "n", "n", "space")  # open the Bulgarian lesson, go to concepts, flip
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_quiz_revealed(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path, DAY1)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("down", "enter", "G", "p")  # epochs lesson: last page, back to quiz
        await pilot.pause()
        for ch in "a full pass":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_lesson_examples_code(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """A long line of code wraps at the pane's width."""
    app = make_app(tmp_path, DAY1)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("enter", "escape", "n", "n", "n", "n")  # Bulgarian lesson: Examples
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """A long typed answer, revealed: shown whole above the reference."""
    app = make_app(tmp_path, DAY2, finished=True)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        for ch in ("the step size of every optimizer update, scaled by warm-up at the start "
                   "and by decay towards the end of training"):
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_home_light_theme(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY2, finished=True)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("ctrl+t")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("f1")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_exercise_after_a_run(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """The exercise screen with its recorded runs: the latest on the plot, the runs table."""
    from studyapp.tui.screens.exercise import ExerciseScreen
    from tests.test_tui_exercise import FakeLearner
    from tests.test_tui_exercise_monitor import RUNS, RecordedExercises

    app = make_app(tmp_path, DAY1)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        pilot.app.push_screen(ExerciseScreen(pilot.app.service, "spam",
                                             exercises=RecordedExercises(RUNS),
                                             learner=FakeLearner(tmp_path / "mine.py")))
        await pilot.pause()
        await pilot.press("h")
        await _settle(pilot)
        pilot.app.clear_notifications()
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_card_browser(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """The card browser (c on home) over the finished Bulgarian lesson's cards."""
    app = make_app(tmp_path, DAY2, finished=True)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.press("c")
        await _settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
