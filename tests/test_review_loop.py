"""The review as Anki learners expect it: each grade button shows the interval it would
give, learning cards come back by themselves once their step is due (a wait screen with
a countdown when only they remain), a plan prompt graded Again is asked again at the end,
an overdue item says how overdue it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from textual.widgets import Button, Static

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.format import countdown, interval_label, lesson_state_label, overdue
from studyapp.tui.screens.review import ReviewScreen

LESSON = """---
id: epochs-101
title: Epochs
---
# Epochs

## Short Retrieval Quiz
1. What is an epoch? {#epoch}
   Answer: One full pass over the training set.

## Spaced Review Plan
| After | Prompt |
|---|---|
| 1 day | Define an epoch. |
| 3 days | Explain a patience rule. |
"""
DAY0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_labels():
    assert [interval_label(timedelta(seconds=s)) for s in (20, 60, 600, 3 * 3600)] == [
        "1m", "1m", "10m", "3h"]
    assert [interval_label(timedelta(days=d)) for d in (1, 3, 45, 400)] == [
        "1d", "3d", "1.5mo", "1.1y"]
    assert countdown(timedelta(minutes=9, seconds=58)) == "9:58"
    assert countdown(timedelta(hours=1, seconds=3)) == "1:00:03"
    today = date(2026, 11, 25)
    assert overdue(date(2026, 11, 24), today) == "1 day overdue"
    assert overdue(date(2026, 11, 22), today) == "3 days overdue"
    assert overdue(today, today) is None
    assert lesson_state_label("done", 0, 3, date(2026, 11, 24), today) == \
        "done · review 1 day overdue"


def make_service(tmp_path: Path, now: datetime) -> StudyService:
    lessons = tmp_path / "lessons"
    lessons.mkdir(exist_ok=True)
    (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
    svc = StudyService.open(Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                                     exercises_dir=tmp_path / "ex", fixed_now=now))
    svc.set_setting("timezone", "UTC")
    svc.set_setting("fuzz", "0")
    return svc


def buttons(screen) -> list[str]:
    return [str(screen.query_one(f"#grade-{n}", Button).label) for n in (1, 2, 3, 4)]


async def test_buttons_show_intervals_and_learning_cards_come_back(tmp_path):
    svc = make_service(tmp_path, DAY0)
    svc.complete_lesson("epochs-101")
    svc = StudyService.open(replace(svc.settings, fixed_now=DAY0 + timedelta(days=3)))
    app = StudyApp(svc, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        review = app.screen
        assert isinstance(review, ReviewScreen)
        assert [i.kind for i in review.queue] == ["plan", "plan", "card"]
        # the 1-day plan prompt, two days overdue; Again brings it back at the end
        header = str(review.query_one("#card-header", Static).render())
        assert "Lesson review · Epochs · 2 days overdue" in header
        await pilot.press("enter")
        await pilot.pause()
        assert buttons(review) == ["1 Again · again later", "2 Hard · done", "3 Good · done",
                                   "4 Easy · done"]
        await pilot.press("1")
        await pilot.pause()
        assert [i.id for i in review.queue[review.index:]] == [
            "epochs-101:plan:1", "epochs-101:quiz:epoch", "epochs-101:plan:0"]
        await pilot.press("enter", "3")  # the 3-day prompt: done
        await pilot.pause()
        # the new card: FSRS's intervals for a new card, on the buttons
        await pilot.press("enter")
        await pilot.pause()
        assert buttons(review) == ["1 Again · 1m", "2 Hard · 6m", "3 Good · 10m",
                                   "4 Easy · 8d"]
        await pilot.press("3")  # Good: its next learning step is due in 10 minutes
        await pilot.pause()
        assert review.queue[review.index].id == "epochs-101:plan:0"  # asked again
        await pilot.press("enter", "3")
        await pilot.pause()
        # only the learning card is left: the wait screen counts down
        assert review.waiting and review.query_one("#review-wait").display
        wait = str(review.query_one("#wait-text", Static).render())
        assert "1 card in learning steps come back today" in wait and "10:00" in wait
        # ten minutes later it comes back by itself
        svc.settings = replace(svc.settings, fixed_now=svc.now() + timedelta(minutes=10))
        review._tick()
        await pilot.pause()
        assert not review.waiting and review.card.display
        assert review.queue[review.index].id == "epochs-101:quiz:epoch"
        await pilot.press("enter", "4")
        await pilot.pause()
        assert review.query_one("#review-summary").display
        assert not any(i.kind == "plan" for i in svc.due())
