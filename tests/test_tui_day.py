"""A whole study day driven through the Textual app with Pilot.

Open with a temporary database and a lessons folder, walk every section of a lesson,
answer the quiz, finish, see the four reviews dated; the next day, review and undo.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from textual.widgets import Checkbox, Input, Markdown, Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.format import short_date
from studyapp.tui.screens.diagnostics import DiagnosticsScreen
from studyapp.tui.screens.help import HelpScreen
from studyapp.tui.screens.home import HomeScreen
from studyapp.tui.screens.lesson import LessonScreen
from studyapp.tui.screens.review import ReviewScreen
from studyapp.tui.widgets.concept_cards import ConceptCards
from studyapp.tui.widgets.lesson_list import LessonList
from studyapp.tui.widgets.quiz import QuizView
from studyapp.tui.widgets.review_plan import ReviewPlanView
from tests.conftest import BG_LESSON, BG_TITLE, SR_FREEFORM

DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SIZE = (100, 30)

LESSON = """\
---
id: epochs-101
title: Epochs and early stopping
language: en
---
# Epochs and early stopping

## 1. Activate Prior Knowledge
- What happens to training loss as you train longer?
- What is a validation set for?

## 2. Overview
Training longer is not always better. This lesson shows when to stop.

## 3. Key Concepts
- **Epoch** – one full pass over the training set.
- **Early stopping** – stop when validation loss has not improved for a while.

## 4. Step-by-step Learning Path
1. **Watch both curves**
   - Focus: training vs validation loss.
   - Task: plot both after every epoch.
2. **Add patience**
   - Task: stop after two epochs without improvement.

## 5. Examples
### Example 1: A patience rule
```python
best, waited = float("inf"), 0
for val_loss in [0.9, 0.7, 0.72, 0.75]:
    waited = 0 if val_loss < best else waited + 1
    best = min(best, val_loss)
```

## 6. Common Pitfalls
- **Watching only training loss** – it keeps falling while the model memorises. Solution: track validation loss.

## 7. Short Retrieval Quiz
1. What is an epoch? {#epoch}
   Answer: One full pass over the training set.
2. When does early stopping stop?
   Answer: When validation loss has not improved for a while.

## 8. Quick Recap
- Stop when validation loss stops improving.

## 9. Spaced Review Plan
| After   | Review prompt                          |
|---------|----------------------------------------|
| 1 day   | Define an epoch in one sentence.        |
| 3 days  | Explain early stopping with patience.   |
| 1 week  | Sketch both loss curves of an overfit.  |
| 1 month | Which pitfall would you check first?    |
"""


def make_lessons(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a-epochs.md").write_text(LESSON, encoding="utf-8")
    shutil.copy(BG_LESSON, folder / "b-learning-rate.txt")
    (folder / "c-broken.md").write_bytes(b"\xff\xfe not utf-8 \x80")
    return folder


def make_app(tmp_path: Path, now: datetime) -> StudyApp:
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=make_lessons(tmp_path / "lessons"),
                        exercises_dir=tmp_path / "exercises", fixed_now=now)
    return StudyApp(StudyService.open(settings), cursor_blink=False)


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*["space" if ch == " " else ch for ch in text])


def static_text(widget: Static) -> str:
    return str(widget.render())


def screen_text(app: StudyApp) -> str:
    """What the terminal shows now, as plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def test_home_lists_lessons_states_and_broken(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        table = app.screen.query_one("#lessons", LessonList)
        rows = [[str(r.mark), str(r.title), str(r.state)]
                for r in map(table.row_at, range(table.row_count))]
        assert rows[0][1] == "Epochs and early stopping"
        assert rows[0][2] == "not started"
        assert rows[1][1] == BG_TITLE
        assert rows[2][2] == "BROKEN"
        assert "0 due" in static_text(app.screen.query_one("#due-count", Static))
        await pilot.press("down", "down")
        detail = static_text(app.screen.query_one("#lesson-detail", Static))
        assert "BROKEN" in detail and "not UTF-8" in detail
        await pilot.press("enter")  # a broken lesson does not open: its messages do
        assert isinstance(app.screen, DiagnosticsScreen)
        assert "not UTF-8" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_a_whole_day_then_review_tomorrow_with_undo(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    service = app.service
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        progress = screen.query_one("#lesson-progress", Static)
        assert static_text(progress) == "1/9 Activate Prior Knowledge"

        # 1. prior knowledge: typed and saved
        assert isinstance(app.focused, Input)
        await type_text(pilot, "it falls")
        await pilot.press("enter")
        await type_text(pilot, "tuning")
        await pilot.press("enter")
        assert service.prior_answers("epochs-101") == {0: "it falls", 1: "tuning"}
        assert app.focused is None  # the last answer leaves the field: n moves on
        await pilot.press("n")
        assert static_text(progress) == "2/9 Overview"
        await pilot.press("n")

        # 3. key concepts: flip cards
        assert static_text(progress) == "3/9 Key Concepts"
        cards = screen.query_one(ConceptCards)
        assert static_text(cards.query_one("#concept-term", Static)) == "Epoch"
        assert static_text(cards.query_one("#concept-explanation", Static)) == ""
        await pilot.press("space")
        assert "one full pass" in static_text(cards.query_one("#concept-explanation", Static))
        await pilot.press("j")
        assert static_text(cards.query_one("#concept-term", Static)) == "Early stopping"
        await pilot.press("n")

        # 4. learning path: checkable steps, saved
        assert static_text(progress) == "4/9 Step-by-step Learning Path"
        await pilot.press("space")
        assert service.steps_done("epochs-101") == {0}
        await pilot.click("#step-1")
        assert service.steps_done("epochs-101") == {0, 1}
        await pilot.click("#step-1")
        assert service.steps_done("epochs-101") == {0}
        assert screen.query_one("#step-0", Checkbox).value
        await pilot.press("n")

        assert static_text(progress) == "5/9 Examples"
        await pilot.press("n")
        assert static_text(progress) == "6/9 Common Pitfalls"
        await pilot.click("#next")  # the mouse works too
        await pilot.pause()

        # 7. quiz: type, reveal, grade
        assert static_text(progress) == "7/9 Short Retrieval Quiz"
        quiz = screen.query_one(QuizView)
        await type_text(pilot, "one pass")
        await pilot.press("enter")
        assert quiz.card.revealed
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("enter", "4")
        await pilot.pause()
        assert quiz.all_graded
        epoch_card = service.quiz_card_id("epochs-101", 0)
        rows = service.db.query(
            "SELECT item_id, rating, answer, source FROM review_log ORDER BY id")
        first = next(iter(rows))
        assert (first["item_id"], first["rating"], first["answer"], first["source"]) == (
            epoch_card, 3, "one pass", "quiz")
        await pilot.press("n")

        # 8. recap shows the prior answers again
        assert static_text(progress) == "8/9 Quick Recap"
        footer = screen.query_one(".section-footer", Markdown)
        assert "it falls" in footer.source and "tuning" in footer.source
        await pilot.press("n")

        # 9. review plan: finish and see four real dates
        assert static_text(progress) == "9/9 Spaced Review Plan"
        await pilot.press("f")
        await pilot.pause()
        plan = service.plan_reviews("epochs-101")
        assert [r.due for r in plan] == [date(2026, 11, 24), date(2026, 11, 26),
                                         date(2026, 11, 30), date(2026, 12, 23)]
        assert screen.query(ReviewPlanView)
        shown = screen_text(app)
        for review in plan:
            assert review.due.isoformat() in shown

        # leave: home shows the lesson done with its next review
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        table = app.screen.query_one("#lessons", LessonList)
        assert str(table.row_at(0).state) == "done · review tomorrow"

    # the next day: a new app over the same database
    app2 = make_app(tmp_path, DAY2)
    service2 = app2.service
    due = service2.due()
    assert due[0].kind == "plan" and due[0].prompt == "Define an epoch in one sentence."
    async with app2.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert f"{len(due)} due" in static_text(app2.screen.query_one("#due-count", Static))
        await pilot.press("r")
        review = app2.screen
        assert isinstance(review, ReviewScreen)
        assert static_text(review.query_one("#review-progress", Static)) == f"1/{len(due)}"
        await type_text(pilot, "a pass")
        await pilot.press("enter", "3")
        await pilot.pause()
        assert review.index == 1
        logged = service2.db.execute("SELECT count(*) FROM review_log").fetchone()[0]

        # u right after the grade undoes it (the next card has the focus, not its field):
        # back to the first item, its log row gone, and the note says which grade
        assert review.focused is review.card
        await pilot.press("u")
        await pilot.pause()
        assert review.index == 0
        assert review.card.typed == ""
        assert any("Undid Good" in str(n.message) for n in app2._notifications)
        assert service2.db.execute("SELECT count(*) FROM review_log").fetchone()[0] == logged - 1
        assert not service2.plan_reviews("epochs-101")[0].done

        # grade everything (Good): cards in short learning steps wait for their step (the
        # wait screen counts down); r takes the next one at once (Easy), then the summary
        for _ in range(len(due)):
            await pilot.press("enter", "3")
            await pilot.pause()
        assert review.waiting
        assert "come back today" in static_text(review.query_one("#wait-text", Static))
        for _ in range(20):
            if not review.waiting:
                break
            await pilot.press("r")
            await pilot.press("enter", "4")
            await pilot.pause()
        summary = static_text(review.query_one("#summary-text", Static))
        assert f"You reviewed {len(review.results)} items" in summary
        assert len(review.results) > len(due)
        next_day = service2.next_review_date()
        assert next_day is not None and next_day > date(2026, 11, 24)
        assert f"Next review: {short_date(next_day, date(2026, 11, 24))} ({next_day})" in summary
        assert service2.plan_reviews("epochs-101")[0].done
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app2.screen, HomeScreen)


async def test_leaving_a_lesson_remembers_the_section(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter", "escape", "n", "n", "n")  # escape leaves the answer field
        assert app.screen.position == 3
        await pilot.press("escape")
        await pilot.pause()
        table = app.screen.query_one("#lessons", LessonList)
        assert str(table.row_at(0).state) == "in progress · 4/9"
        await pilot.press("enter")
        assert isinstance(app.screen, LessonScreen)
        assert static_text(app.screen.query_one("#lesson-progress", Static)) == \
            "4/9 Step-by-step Learning Path"


async def test_free_form_sections_shown_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "lessons"
    folder.mkdir()
    shutil.copy(SR_FREEFORM, folder / "early-stopping.txt")
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=folder,
                        exercises_dir=tmp_path / "ex", fixed_now=DAY1)
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        titles = [p.title for p in screen.pages]
        assert titles[1:3] == ["Šta je", "Priprema validacionog skupa"]
        assert titles[-1] == "Spaced Review Plan"  # the default plan closes a free-form lesson
        await pilot.press("n")
        body = screen.query_one("#section-body Markdown", Markdown)
        assert "Rano zaustavljanje prekida" in body.source
        await pilot.press("n")
        body = screen.query_one("#section-body Markdown", Markdown)
        assert "Veličina validacionog skupa" in body.source
        await pilot.press("G", "f")
        await pilot.pause()
        assert len(app.service.plan_reviews(screen.lesson.id)) == 4


async def test_reload_key_picks_up_an_edited_lesson(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        path = tmp_path / "lessons" / "a-epochs.md"
        path.write_text(LESSON.replace("title: Epochs and early stopping",
                                       "title: Epochs, renamed"), encoding="utf-8")
        await pilot.press("ctrl+r")
        await pilot.pause()
        table = app.screen.query_one("#lessons", LessonList)
        assert str(table.row_at(0).title) == "Epochs, renamed"


async def test_theme_toggle_and_help(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        dark = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != dark and not app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.theme == dark
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_quiz_grades_are_remembered_when_the_lesson_is_reopened(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        screen.go(6)
        await pilot.pause()
        await pilot.press("enter", "2")
        await pilot.pause()
        await pilot.press("escape")  # leave the answer field of question 2
        await pilot.press("escape")  # leave the lesson
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        quiz = app.screen.query_one(QuizView)
        assert quiz.index == 1  # question 1 is graded: the quiz opens on question 2
        await pilot.press("escape", "k")
        assert "graded Hard" in static_text(quiz.card.query_one("#card-header", Static))


async def test_the_mouse_opens_a_lesson_and_walks_it(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#lessons", LessonList)
        await pilot.click(table, offset=(10, 2))  # a click highlights the second lesson
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and table.cursor_row == 1
        await pilot.click(table, offset=(10, 2))  # a click on the highlighted one opens it
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.lesson.title == BG_TITLE
        await pilot.click("#next")
        await pilot.pause()
        assert app.screen.position == 1
        await pilot.click("#prev")
        await pilot.pause()
        assert app.screen.position == 0
