"""The study loop's parts: the typed card state, a pinned FSRS history, passages from
markdown-it tokens, plan prompts that honour the grade, and one queue build per refresh."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.course.model import Lesson, Section, SectionKind
from studyapp.course.passages import blocks, relevant_passages
from studyapp.study import srs
from studyapp.study.day import learner_day
from tests.study_support import at, make_lesson, service

NOON = datetime(2022, 11, 29, 12, 30, tzinfo=UTC)


def utc_day(moment: datetime) -> date:
    return learner_day(moment, UTC, 4)


def test_fsrs_interval_history_is_pinned_at_fixed_times():
    """As py-fsrs's tests/test_basic.py: each review at the moment the card fell due, no
    fuzz; the whole history of intervals (days) and learner due days is literal."""
    ratings = (3, 3, 3, 3, 3, 3, 1, 1, 3, 3, 3, 3, 3)
    state, moment = None, NOON
    intervals, due_days = [], []
    for rating in ratings:
        state = srs.review("epochs:quiz:abc", state, rating, moment, utc_day, 0.9, False)
        intervals.append((state.due - state.last_review).days)
        due_days.append(state.due_day.isoformat())
        moment = state.due
    assert intervals == [0, 2, 11, 46, 163, 498, 0, 0, 2, 4, 7, 12, 21]
    assert due_days == [
        "2022-11-29", "2022-12-01", "2022-12-12", "2023-01-27", "2023-07-09", "2024-11-18",
        "2024-11-18", "2024-11-18", "2024-11-20", "2024-11-24", "2024-12-01", "2024-12-13",
        "2025-01-03"]
    assert (state.reps, state.lapses, state.state) == (13, 1, 2)
    assert state.first_review_day == date(2022, 11, 29)


def test_next_intervals_of_a_new_card_are_literal():
    got = srs.next_intervals("c", None, NOON, utc_day)
    assert got == {1: timedelta(minutes=1), 2: timedelta(minutes=5, seconds=30),
                   3: timedelta(minutes=10), 4: timedelta(days=8)}


def test_card_state_round_trips_through_its_dict():
    state = srs.review("c", None, 3, NOON, utc_day, 0.9, False)
    state = srs.review("c", state, 3, state.due, utc_day, 0.9, False)
    d = state.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert srs.CardState.from_dict(d) == state
    assert d["due_day"] == "2022-12-01" and d["state"] == 2 and d["reps"] == 2


def test_card_state_reads_an_older_log_row_without_due_day():
    old = {"due": "2026-11-24T09:00:00.000000+00:00", "state": 2, "step": None,
           "stability": 3.1, "difficulty": 5.0, "last_review": "2026-11-21T09:00:00+00:00",
           "reps": 2, "lapses": 0}
    state = srs.CardState.from_dict(old)
    assert state.due_day == date(2026, 11, 24) and state.first_review_day is None


SECTION = """Intro paragraph about the learning rate,
on two lines.

- **Warm-up**: raise the learning rate slowly.
  A continuation line of the item.
- Cosine decay lowers it again.

```python
lr = 3e-4

# a blank line inside the fence stays in the block
```

1. Numbered item one.
2. Numbered item two.
"""


def test_blocks_come_from_the_tokens_with_the_authors_markdown():
    assert blocks(SECTION) == [
        "Intro paragraph about the learning rate,\non two lines.",
        "- **Warm-up**: raise the learning rate slowly.\n  A continuation line of the item.",
        "- Cosine decay lowers it again.",
        "```python\nlr = 3e-4\n\n# a blank line inside the fence stays in the block\n```",
        "1. Numbered item one.",
        "2. Numbered item two.",
    ]


def test_relevant_passages_pick_the_blocks_sharing_words():
    lesson = Lesson(id="lr", title="LR", language="en", source="lr.md", sections=(
        Section(SectionKind.KEY_CONCEPTS, "Key Concepts", 3, 20, SECTION),
        Section(SectionKind.QUIZ, "Quiz", 21, 30, "1. What does warm-up do?"),
    ))
    found = relevant_passages(lesson, "What does the warm-up do to the learning rate?")
    assert found is not None
    assert found.startswith("**Key Concepts**")
    assert "raise the learning rate slowly" in found
    assert "Quiz" not in found
    assert relevant_passages(lesson, "zzz qqq") is None


# -- plan prompts honour the grade ---------------------------------------------------------------

def test_plan_again_stays_due_today_and_tomorrow_without_moving_the_ladder(tmp_path):
    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    plan = svc.complete_lesson("epochs")
    one_day = plan[0].id
    day1 = at(svc, day0 + timedelta(days=1))
    assert [i.id for i in day1.due() if i.kind == "plan"] == [one_day]
    result = day1.grade(one_day, 1)
    assert result.next_due == date(2026, 11, 24)
    assert one_day in {i.id for i in day1.due()}  # asked again later in the session
    day2 = at(svc, day0 + timedelta(days=2))
    assert one_day in {i.id for i in day2.due()}
    after = {p.id: p for p in day2.plan_reviews("epochs")}
    assert [p.due for p in day2.plan_reviews("epochs")] == [p.due for p in plan]
    assert not after[one_day].done
    day2.grade(one_day, 2)  # Hard completes it
    assert one_day not in {i.id for i in day2.due()}
    assert {p.id: p.done for p in day2.plan_reviews("epochs")}[one_day]


def test_undo_of_plan_grades_restores_exactly(tmp_path):
    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    pid = svc.complete_lesson("epochs")[0].id
    day1 = at(svc, day0 + timedelta(days=1))

    def row():
        return day1.conn.execute("SELECT done, done_at, rating, due_day FROM plan_reviews "
                                 "WHERE id=?", (pid,)).fetchone()

    fresh = row()
    day1.grade(pid, 1)
    after_again = row()
    assert after_again[2] == 1 and after_again[0] == 0
    day1.grade(pid, 3)
    assert row()[0] == 1
    assert day1.undo_last() == pid
    assert row() == after_again
    assert day1.undo_last() == pid
    assert row() == fresh


LESSON = """---
id: epochs-101
title: Epochs
---
# Epochs

## Short Retrieval Quiz
1. What is an epoch?
   Answer: One full pass over the training set.

## Spaced Review Plan
| After | Prompt |
|---|---|
| 1 day | What is an epoch? |
| 3 days | Explain a patience rule. |
"""


def _cli(env, now, *args):
    r = CliRunner().invoke(main, list(args), env={**env, "STUDYAPP_NOW": now},
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_done_when_plan_again_on_day_1_is_due_on_day_2_good_is_not(tmp_path):
    for rating, expect_due in (("again", True), ("good", False)):
        lessons = tmp_path / rating / "lessons"
        lessons.mkdir(parents=True)
        (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
        env = {"STUDYAPP_DB": str(tmp_path / rating / "study.db"),
               "STUDYAPP_LESSONS": str(lessons)}
        _cli(env, "2026-11-23T10:00:00+00:00", "settings", "timezone", "UTC")
        _cli(env, "2026-11-23T10:00:00+00:00", "complete", "epochs-101")
        due1 = json.loads(_cli(env, "2026-11-24T10:00:00+00:00", "due", "--json"))
        assert "epochs-101:plan:0" in [i["id"] for i in due1]
        _cli(env, "2026-11-24T10:05:00+00:00", "grade", "epochs-101:plan:0", rating)
        due2 = json.loads(_cli(env, "2026-11-25T10:00:00+00:00", "due", "--json"))
        assert ("epochs-101:plan:0" in [i["id"] for i in due2]) is expect_due


# -- one queue build per refresh -----------------------------------------------------------------

def test_stats_and_next_review_reuse_the_queue_they_are_given(tmp_path, monkeypatch):
    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    svc.complete_lesson("epochs")
    queue = svc.due()
    import studyapp.services.study as module

    def no_second_build(*a, **k):
        raise AssertionError("the queue was built again")

    monkeypatch.setattr(module, "build_queue", no_second_build)
    stats = svc.stats(queue)
    assert stats.due_today == len(queue) == stats.forecast[0][1]
    assert svc.next_review_date(queue) == date(2026, 11, 23)


async def test_home_refresh_builds_the_queue_once(tmp_path, monkeypatch):
    from studyapp.config import Settings
    from studyapp.services.study import StudyService
    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.home import HomeScreen

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                        exercises_dir=tmp_path / "exercises",
                        fixed_now=datetime(2026, 11, 24, 9, tzinfo=UTC))
    svc = StudyService.open(settings)
    svc.complete_lesson("epochs-101")
    import studyapp.services.study as module

    calls = []
    real = module.build_queue
    monkeypatch.setattr(module, "build_queue", lambda *a, **k: calls.append(1) or real(*a, **k))
    app = StudyApp(svc, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        calls.clear()
        svc.save_position("epochs-101", 1)  # a write: the queue must be built again
        app.screen.refresh_data()
        assert len(calls) == 1
        app.screen.refresh_data()  # nothing changed: the last build serves
        assert len(calls) == 1


def test_queue_is_rebuilt_after_a_write_by_another_process(tmp_path):
    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    svc.complete_lesson("epochs")
    day1 = at(svc, day0 + timedelta(days=1))
    first = day1.due()
    import sqlite3

    other = sqlite3.connect(tmp_path / "study.db")
    other.execute("UPDATE plan_reviews SET done=1 WHERE id=?", (first[0].id,))
    other.commit()
    other.close()
    assert first[0].id not in {i.id for i in day1.due()}


def test_undo_takes_a_reset_back(tmp_path):
    from studyapp.store.reviews import card_state

    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    cid = svc.quiz_card_id("epochs", 0)
    svc.grade(cid, 3)
    before = card_state(svc.conn, cid)
    svc.reset(cid)
    assert card_state(svc.conn, cid) is None
    assert svc.undo_last() == cid
    assert card_state(svc.conn, cid) == before
    assert svc.conn.execute("SELECT scheduled FROM cards WHERE id=?", (cid,)).fetchone()[0] == 1


def test_stats_are_kept_while_nothing_changed(tmp_path, monkeypatch):
    day0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    svc = service(tmp_path, day0, make_lesson(), tz="UTC")
    svc.complete_lesson("epochs")
    first = svc.stats()
    import studyapp.store.reviews as store_reviews

    real = store_reviews.review_retention
    monkeypatch.setattr(store_reviews, "review_retention",
                        lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert svc.stats() is first
    monkeypatch.setattr(store_reviews, "review_retention", real)
    svc.grade(svc.quiz_card_id("epochs", 0), 3)
    again = svc.stats()
    assert again is not first and again.reviews_done == 1
