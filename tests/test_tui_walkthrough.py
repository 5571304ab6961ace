"""The walk-through's findings (issue 12), each driven through the app with Pilot.

Keys mean the same everywhere (u and the grade keys right after a grade), answers compared
in full, footers that fit 80 columns, the lesson quiz (the section for a question without an
answer, undo, what a grade did), code that wraps, step boxes that read at a glance, and no
blank page between sections. Lessons are ours: tests/fixtures/lessons and the one below.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from textual.widgets import Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.screens.review import ReviewScreen
from studyapp.tui.widgets.answer_card import AnswerCard
from studyapp.tui.widgets.quiz import QuizView
from tests.conftest import BG_LESSON

DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

LONG_ANSWER = ("one full pass over every training example, after which the validation loss "
               "is measured again and compared with the best value seen so far, zzqfinal")
LESSON = """\
---
id: epochs-101
title: Epochs and early stopping
---
# Epochs and early stopping

## Key Concepts
- **Epoch** – one full pass over the training set.

## Short Retrieval Quiz
1. What is an epoch?
   Answer: One full pass over the training set, every example seen once, in some order.
2. When does early stopping stop?
   Answer: When validation loss has not improved for a while.
"""


def make_app(tmp_path: Path, now: datetime, *, done: bool = False) -> StudyApp:
    lessons = tmp_path / "lessons"
    if not lessons.exists():
        lessons.mkdir(parents=True)
        (lessons / "a-epochs.md").write_text(LESSON, encoding="utf-8")
        shutil.copy(BG_LESSON, lessons / "b-learning-rate.txt")
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                        exercises_dir=tmp_path / "ex", fixed_now=now)
    if done:
        with StudyService.open(Settings(settings.db_path, lessons, tmp_path / "ex",
                                        fixed_now=DAY1)) as service:
            service.complete_lesson("epochs-101")
    return StudyApp(StudyService.open(settings), cursor_blink=False)


def screen_text(app: StudyApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def footer_line(app: StudyApp) -> str:
    return screen_text(app).splitlines()[-1].strip()


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*["space" if ch == " " else ch for ch in text])


def words_on(screen: str) -> list[str]:
    return " ".join(line.strip(" │▏▕") for line in screen.splitlines()).split()


async def test_u_and_grade_keys_right_after_a_grade(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY2, done=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        review = app.screen
        assert isinstance(review, ReviewScreen)
        await type_text(pilot, "a pass")
        await pilot.press("enter")
        assert review.card.revealed and app.focused is review.card  # focus left the field
        await pilot.press("tab")               # focus on a grade button: 3 still grades
        await pilot.press("3")
        await pilot.pause()
        assert review.index == 1
        assert app.focused is review.card      # the next card, not its answer field
        await pilot.press("u")                 # undoes, types nothing
        await pilot.pause()
        assert review.index == 0 and review.card.typed == ""
        assert any("Undid Good" in str(n.message) for n in app._notifications)
        await pilot.press("u")                 # nothing of this session left: says so
        await pilot.pause()
        await type_text(pilot, "used twice")   # tab was not needed: u starts only at once
        assert review.card.typed == "sed twice" or review.card.typed == "used twice"


async def test_a_long_typed_answer_is_shown_whole_above_the_reference(tmp_path: Path) -> None:
    for size in ((80, 24), (120, 40)):
        app = make_app(tmp_path / f"{size[0]}", DAY2, done=True)
        async with app.run_test(size=size) as pilot:
            await pilot.press("r")
            review = app.screen
            assert isinstance(review, ReviewScreen)
            while review.queue[review.index].card_kind != "quiz":  # the first quiz card
                await pilot.press("enter", "3")
                await pilot.pause()
            await type_text(pilot, LONG_ANSWER)
            await pilot.press("enter")
            await pilot.pause()
            shown = words_on(screen_text(app))
            text = " ".join(shown)
            assert LONG_ANSWER in text, text
            assert "Your answer" in text and "Reference answer" in text
            assert "every example seen once, in some order." in text


async def test_every_footer_fits_80_columns(tmp_path: Path) -> None:
    """Each screen's footer at 80 columns is the same as at 200: nothing is cut."""
    async def footers(width: int) -> list[str]:
        app = make_app(tmp_path / f"w{width}", DAY2, done=True)
        seen = []
        async with app.run_test(size=(width, 30)) as pilot:
            await pilot.pause()
            seen.append(footer_line(app))                        # home
            await pilot.press("r")
            await pilot.pause()
            seen.append(footer_line(app))                        # review, a new card
            await pilot.press("enter")
            seen.append(footer_line(app))                        # review, answer shown
            await pilot.press("3")
            await pilot.pause()
            seen.append(footer_line(app))                        # review after a grade
            await pilot.press("escape", "escape")
            await pilot.pause()
            await pilot.press("down", "enter")
            await pilot.pause()
            assert isinstance(app.screen, LessonScreen)
            for _ in range(app.screen.pages.__len__()):
                seen.append(footer_line(app))                    # every section
                await pilot.press("escape", "ctrl+n")
                await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            await pilot.press("x")
            await pilot.pause()
            seen.append(footer_line(app))                        # the exercise list
        return seen

    wide, narrow = await footers(200), await footers(80)
    assert len(wide) == len(narrow)
    for w, n in zip(wide, narrow, strict=True):
        assert n == w, f"cut at 80 columns: {n!r} (at 200: {w!r})"
        assert "? Help" in n or "f1 Help" in n


async def test_quiz_question_without_answer_shows_the_lessons_passages(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(6)
        await pilot.pause()
        quiz = screen.query_one(QuizView)
        await pilot.press("enter")                               # reveal without typing
        await pilot.pause()
        label = str(quiz.card.query_one("#card-reference-label", Static).render())
        assert label == "Compare with the lesson"
        reference = quiz.card.query_one("#card-reference").source  # type: ignore[attr-defined]
        assert "Скорост" in reference or "скорост" in reference  # the passages, not nothing


async def test_quiz_grades_in_the_lesson_say_what_they_did_and_undo(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    service = app.service
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(1)
        await pilot.pause()
        quiz = screen.query_one(QuizView)
        await type_text(pilot, "one pass")
        await pilot.press("enter", "3")
        await pilot.pause()
        status = str(quiz.card.query_one("#card-status", Static).render())
        assert "Question 1 graded Good" in status and "u undoes it" in status
        assert "u Undo grade" in footer_line(app)
        card = service.quiz_card_id("epochs-101", 0)
        assert len(service.card_history(card)) == 1
        await pilot.press("u")                                   # right after the grade
        await pilot.pause()
        assert quiz.index == 0 and not quiz.all_graded
        assert service.card_history(card) == []
        status = str(quiz.card.query_one("#card-status", Static).render())
        assert "Undid Good on question 1" in status
        await pilot.press("enter", "2")                          # changed: graded again
        await pilot.pause()
        assert [r["rating"] for r in service.card_history(card)] == [2]


async def test_code_in_examples_wraps_at_80_columns(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(4)
        await pilot.pause(0.2)
        text = " ".join(words_on(screen_text(app)))
        assert "warmup_fraction: float = 0.1) -> float:" in text


async def test_learning_path_boxes_read_open_and_done(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(3)
        await pilot.pause()
        await pilot.press("space")                               # check the first step
        await pilot.pause()
        text = screen_text(app)
        assert "▐X▌" not in text
        assert "[✓] 1." in text and "[ ] 2." in text


async def test_no_blank_page_on_a_section_change(tmp_path: Path) -> None:
    """Right after n the body shows a page (the old one until the new one is built)."""
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        await pilot.press("escape")
        for _ in range(len(screen.pages) - 1):
            screen.action_next_section()
            await pilot.pause(0)
            body = screen.query_one("#section-body")
            lines = [s.text.strip() for s in app.screen._compositor.render_strips()]
            region = lines[body.region.y: body.region.bottom]
            assert any(region), f"blank body on page {screen.position + 1}"
            await pilot.pause(0.1)


async def test_typing_starts_on_the_card_and_esc_gives_back_the_letter_keys(
        tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(1)
        await pilot.pause()
        quiz = screen.query_one(QuizView)
        assert app.focused is quiz.card and "^n Next" in footer_line(app)
        await type_text(pilot, "nope")                           # n types: no section change
        assert quiz.card.typed == "nope" and screen.position == 1
        await pilot.press("escape")                              # leaves the field
        assert isinstance(app.focused, AnswerCard)
        await pilot.press("j")                                   # the quiz's own keys work
        assert quiz.index == 1
