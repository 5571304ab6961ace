"""StudyService: time travel over the review plan, FSRS cards, undo, limits, course edits."""

import json
import shutil
import time
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fsrs import Card, Rating, Scheduler

from studyapp.store.reviews import card_state
from studyapp.study.identity import lesson_cards
from tests.conftest import BG_LESSON
from tests.study_support import at, local, make_lesson, service

BG_ID = BG_LESSON.stem


@pytest.fixture
def bg_dir(tmp_path):
    """Our Bulgarian nine-section lesson (no front matter: its id is the file name)."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    shutil.copy(BG_LESSON, folder / BG_LESSON.name)
    return folder


def plan_due(svc):
    return [i.id for i in svc.due() if i.kind == "plan"]


def test_time_travel_over_a_bulgarian_lessons_plan(tmp_path, bg_dir):
    day = local(2026, 11, 23, 10)
    svc = service(tmp_path, day, lessons_dir=bg_dir)
    assert svc.lesson(BG_ID).review_plan[0].interval == "1 ден"
    plan = svc.complete_lesson(BG_ID)
    assert [(p.days, p.due) for p in plan] == [
        (1, date(2026, 11, 24)), (3, date(2026, 11, 26)), (7, date(2026, 11, 30)),
        (30, date(2026, 12, 23))]
    ids = [p.id for p in plan]
    assert plan_due(svc) == []  # nothing of the plan on day D itself

    d1 = at(svc, day + timedelta(days=1))
    assert plan_due(d1) == [ids[0]]
    items = {i.id: i for i in d1.due()}
    assert items[ids[0]].prompt == plan[0].prompt
    assert items[ids[0]].context  # the lesson's recap
    d1.grade(ids[0], 3)
    assert plan_due(d1) == []

    d3 = at(svc, day + timedelta(days=3))
    assert plan_due(d3) == [ids[1]]  # step 1 only: step 0 is done
    # not reviewed on D+3: it stays due on D+7, with the 7-day step
    d7 = at(svc, day + timedelta(days=7))
    assert plan_due(d7) == [ids[1], ids[2]]
    d7.grade(ids[1], 4)
    d7.grade(ids[2], 2)
    assert plan_due(at(svc, day + timedelta(days=29))) == []
    d30 = at(svc, day + timedelta(days=30))
    assert plan_due(d30) == [ids[3]]
    assert plan_due(at(svc, day + timedelta(days=90))) == [ids[3]]  # overdue stays due
    done = {p.id: (p.done) for p in svc.plan_reviews(BG_ID)}
    assert done == {ids[0]: True, ids[1]: True, ids[2]: True, ids[3]: False}


def test_cards_come_from_quiz_and_concepts(tmp_path, bg_dir):
    svc = service(tmp_path, local(2026, 11, 23, 10), lessons_dir=bg_dir)
    lesson = svc.lesson(BG_ID)
    svc.complete_lesson(BG_ID)
    cards = [i for i in svc.due() if i.kind == "card"]
    assert len(cards) == len(lesson.quiz) + len(lesson.concepts) == 9
    quiz = [i for i in cards if i.card_kind == "quiz"]
    assert quiz[0].prompt == lesson.quiz[0].question
    assert quiz[0].answer is None and quiz[0].context  # no answer: the lesson's passage
    concept = next(i for i in cards if i.card_kind == "concept")
    assert concept.prompt == lesson.concepts[0].term
    assert concept.answer == lesson.concepts[0].explanation


def test_card_graded_good_gets_the_fsrs_due_date(tmp_path):
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, make_lesson())
    svc.complete_lesson("epochs")
    cid = svc.quiz_card_id("epochs", 0)
    scheduler = Scheduler(desired_retention=0.9, enable_fuzzing=False)
    card = Card(card_id=1, due=t0)
    moment = t0
    for _ in range(4):  # Good at each due time: learning steps, then days
        now_svc = at(svc, moment)
        result = now_svc.grade(cid, 3)
        card, _log = scheduler.review_card(card, Rating.Good, moment)
        state = card_state(now_svc.conn, cid)
        assert state.due == card.due
        assert state.stability == pytest.approx(card.stability)
        assert state.difficulty == pytest.approx(card.difficulty)
        assert result.next_due == now_svc.day_of(card.due)
        moment = card.due
    assert (card.due - t0).days >= 3  # it reached day intervals
    log = svc.card_history(cid)
    assert [r["rating"] for r in log] == [3, 3, 3, 3]
    assert log[0]["state_before"] is None
    assert log[1]["state_before"]["due"] == log[0]["state_after"]["due"]


def test_quiz_answer_in_the_lesson_starts_the_schedule(tmp_path):
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, make_lesson())
    cid = svc.quiz_card_id("epochs", 1)
    svc.grade(cid, 4, source="quiz")
    assert svc.due() == []  # lesson not completed: no new cards, the quiz card not yet due
    svc.complete_lesson("epochs")
    new_ids = [i.id for i in svc.due() if i.kind == "card"]
    assert cid not in new_ids and len(new_ids) == 3
    later = at(svc, t0 + timedelta(days=60))
    assert cid in [i.id for i in later.due()]


def test_completing_twice_is_idempotent(tmp_path):
    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson())
    first = svc.complete_lesson("epochs")
    svc.grade(first[0].id, 3)
    again = at(svc, local(2026, 12, 1, 10)).complete_lesson("epochs")
    assert [(p.id, p.due) for p in again] == [(p.id, p.due) for p in first]
    assert again[0].done
    assert svc.conn.execute("SELECT count(*) FROM plan_reviews").fetchone()[0] == 4


def test_undo_restores_state_and_removes_the_log_row(tmp_path):
    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson())
    plan = svc.complete_lesson("epochs")
    cid = svc.quiz_card_id("epochs", 0)
    svc.grade(cid, 3)
    before = card_state(svc.conn, cid)
    svc.grade(cid, 1)
    assert svc.undo_last() == cid
    assert card_state(svc.conn, cid) == before
    assert svc.undo_last() == cid
    assert card_state(svc.conn, cid) is None
    d1 = at(svc, local(2026, 11, 24, 10))
    d1.grade(plan[0].id, 2)
    assert d1.undo_last() == plan[0].id
    assert not d1.plan_reviews("epochs")[0].done
    assert d1.undo_last() is None
    assert svc.conn.execute("SELECT count(*) FROM review_log").fetchone()[0] == 0


def test_daily_limits_and_next_review_date(tmp_path):
    lessons = [make_lesson(f"l{i}", quiz=[(f"Question {i}-{j}?", "a", None) for j in range(5)],
                           concepts=[]) for i in range(2)]
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, *lessons)
    svc.set_setting("new_per_day", "3")
    svc.set_setting("reviews_per_day", "2")
    assert svc.next_review_date() is None
    svc.complete_lesson("l0")
    svc.complete_lesson("l1")
    cards = [i for i in svc.due() if i.kind == "card"]
    assert len(cards) == 3
    for item in cards:
        svc.grade(item.id, 4)  # Easy: into Review, due in days
    assert [i for i in svc.due() if i.kind == "card"] == []
    assert svc.next_review_date() == date(2026, 11, 24)  # plan step 1 day
    d1 = at(svc, t0 + timedelta(days=1))
    assert len([i for i in d1.due() if i.kind == "card"]) == 3
    far = at(svc, t0 + timedelta(days=40))
    kinds = [i.kind for i in far.due()]
    assert kinds.count("card") == 2 + 3  # 2 reviews (limit) + 3 new


def test_lesson_progress_fields(tmp_path):
    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson(), make_lesson("other"))
    assert [e.state for e in svc.lessons()] == ["new", "new"]
    svc.save_position("epochs", 4)
    svc.save_prior_answer("epochs", 0, "вход")
    svc.save_prior_answer("epochs", 0, "вход 2")
    svc.set_step_done("epochs", 1, True)
    svc.set_step_done("epochs", 2, True)
    svc.set_step_done("epochs", 2, False)
    entry = {e.id: e for e in svc.lessons()}
    assert (entry["epochs"].state, entry["epochs"].position) == ("in_progress", 4)
    assert svc.prior_answers("epochs") == {0: "вход 2"}
    assert svc.steps_done("epochs") == {1}
    svc.complete_lesson("epochs")
    entry = {e.id: e for e in svc.lessons()}
    assert entry["epochs"].state == "done"
    assert entry["epochs"].next_review == date(2026, 11, 24)
    with pytest.raises(KeyError):
        svc.save_position("nope", 1)
    with pytest.raises(KeyError):
        svc.grade("epochs:quiz:nope", 3)
    with pytest.raises(ValueError):
        svc.grade(svc.quiz_card_id("epochs", 0), 5)


def test_stats(tmp_path):
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, make_lesson())
    plan = svc.complete_lesson("epochs")
    cid = svc.quiz_card_id("epochs", 0)
    svc.grade(cid, 4)
    d1 = at(svc, t0 + timedelta(days=1))
    d1.grade(plan[0].id, 3)
    s = d1.stats()
    assert s.reviews_done == 2 and s.streak == 2
    assert s.retention is None
    assert len(s.forecast) == 30 and s.forecast[0][0] == date(2026, 11, 24)
    assert s.forecast[2] == (date(2026, 11, 26), 1)  # the 3-day step
    assert sum(n for _d, n in s.forecast) >= 4
    assert s.due_today == len(d1.due())
    later = at(svc, card_state(svc.conn, cid).due)
    later.grade(cid, 3)
    later.grade(later.quiz_card_id("epochs", 1), 1)  # a new card: not in retention
    assert later.stats().retention == 1.0
    assert json.dumps(later.stats().to_dict(), ensure_ascii=False)


# -- course edits keep history ------------------------------------------------------------


def _history(svc, cid):
    return [r["rating"] for r in svc.card_history(cid)]


def test_typo_fix_reorder_and_move_keep_history(tmp_path):
    t0 = local(2026, 11, 23, 10)
    original = make_lesson()
    svc = service(tmp_path, t0, original)
    svc.complete_lesson("epochs")
    ids = {c.front: svc.quiz_card_id("epochs", c.position) for c in lesson_cards(original)
           if c.kind == "quiz"}
    q0 = ids["What is an epoch?"]
    svc.grade(q0, 3)
    concept_ids = [i.id for i in svc.due() if i.card_kind == "concept"]
    for cid in concept_ids:
        svc.grade(cid, 4)

    edited = make_lesson(
        quiz=[("Why keep a validation set apart from the test set?", "It is used for decisions.",
               None),
              ("What is an epcoh?", "One full pass over the training set.", None)],  # typo
        concepts=[("Early stopping", "stop when validation loss has not improved for a while.",
                   None), ("Epoch", "one full pass over the training set.", None)],  # reordered
        source="/elsewhere/renamed.md")  # moved: the id comes from front matter
    report = svc.load_results([replace(r) for r in __import__(
        "tests.study_support", fromlist=["results"]).results(edited)])
    assert report.cards_retired == [] and report.cards_added == []
    assert len(report.cards_matched) == 1
    assert svc.quiz_card_id("epochs", 1) == q0
    assert _history(svc, q0) == [3]
    row = svc.conn.execute("SELECT front, retired FROM cards WHERE id=?", (q0,)).fetchone()
    assert row == ("What is an epcoh?", 0)
    assert svc.conn.execute("SELECT source_path FROM lessons WHERE id='epochs'").fetchone()[0] \
        == "/elsewhere/renamed.md"
    for cid in concept_ids:
        assert _history(svc, cid) == [4]
    assert svc.grade(svc.quiz_card_id("epochs", 1), 3).item_id == q0
    assert _history(svc, q0) == [3, 3]


def test_deleted_question_is_retired_with_its_log_and_comes_back(tmp_path):
    from tests.study_support import results

    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, make_lesson())
    svc.complete_lesson("epochs")
    gone = svc.quiz_card_id("epochs", 1)
    svc.grade(gone, 2)
    fewer = make_lesson(quiz=[("What is an epoch?", "One full pass over the training set.",
                               None)])
    report = svc.load_results(results(fewer))
    assert report.cards_retired == [gone]
    assert svc.conn.execute("SELECT retired FROM cards WHERE id=?", (gone,)).fetchone()[0] == 1
    assert _history(svc, gone) == [2]
    far = at(svc, t0 + timedelta(days=100))
    assert gone not in [i.id for i in far.due()]
    report = svc.load_results(results(make_lesson()))
    assert report.cards_revived == [gone]
    assert gone in [i.id for i in at(svc, t0 + timedelta(days=100)).due()]


def test_lesson_file_removed_then_back(tmp_path):
    from tests.study_support import results

    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson(), make_lesson("other"))
    plan = svc.complete_lesson("epochs")
    svc.load_results(results(make_lesson("other")))
    assert svc.conn.execute("SELECT present FROM lessons WHERE id='epochs'").fetchone()[0] == 0
    assert plan[0].id not in plan_due(at(svc, local(2026, 11, 25, 10)))
    svc.load_results(results(make_lesson(), make_lesson("other")))
    assert plan[0].id in plan_due(at(svc, local(2026, 11, 25, 10)))
    assert svc.conn.execute("SELECT count(*) FROM cards WHERE retired=1").fetchone()[0] == 0


def test_explicit_id_survives_rewording(tmp_path):
    from tests.study_support import results

    svc = service(tmp_path, local(2026, 11, 23, 10),
                  make_lesson(quiz=[("What is an epoch?", "a pass", "epoch")]))
    cid = svc.quiz_card_id("epochs", 0)
    assert cid == "epochs:quiz:epoch"
    svc.grade(cid, 3, source="quiz")
    svc.load_results(results(make_lesson(quiz=[("Define the word epoch in ML.", "a pass",
                                                "epoch")])))
    assert svc.quiz_card_id("epochs", 0) == cid and _history(svc, cid) == [3]


# -- speed ----------------------------------------------------------------------------------


def test_open_and_due_are_fast_with_50_lessons_and_10k_cards(tmp_path):
    from tests.study_support import results, settings_at

    lessons = [make_lesson(f"lesson-{i:02d}",
                           quiz=[(f"Question {i} number {j} about topic {j * 7 % 13}?",
                                  f"Answer {j}", None) for j in range(100)],
                           concepts=[(f"Term {i}-{j}", f"Explanation {j}", None)
                                     for j in range(100)]) for i in range(50)]
    t0 = local(2026, 11, 23, 10)
    svc = service(tmp_path, t0, *lessons)
    assert svc.conn.execute("SELECT count(*) FROM cards").fetchone()[0] == 10_000
    for lesson in lessons[:10]:
        svc.complete_lesson(lesson.id)
    for item in svc.due()[:20]:
        svc.grade(item.id, 3)
    svc.close()

    from studyapp.services.study import StudyService

    started = time.perf_counter()
    again = StudyService(settings_at(tmp_path, t0 + timedelta(days=2)),
                         __import__("studyapp.store.db", fromlist=["x"]).open_database(
                             tmp_path / "study.db"))
    report = again.load_results(results(*lessons))
    opened = time.perf_counter() - started
    assert report.lessons_unchanged == 50
    started = time.perf_counter()
    items = again.due()
    queued = time.perf_counter() - started
    assert len(items) > 20
    assert opened < 1.0, opened
    assert queued < 0.2, queued


def test_one_service_used_from_two_threads(tmp_path):
    import threading

    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson())
    ids = [svc.quiz_card_id("epochs", 0), svc.quiz_card_id("epochs", 1)]
    errors = []

    def work(cid):
        try:
            for n in range(100):
                svc.grade(cid, 1 + n % 4)
                svc.due()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert svc.conn.execute("SELECT count(*) FROM review_log").fetchone()[0] == 200


def test_parsed_course_is_cached_until_a_file_changes(tmp_path, monkeypatch):
    from studyapp.course import loader
    from studyapp.services.study import load_course

    folder = tmp_path / "lessons"
    folder.mkdir()
    lesson = folder / "a.md"
    lesson.write_text("# A\n\n## Quiz\n1. One?\n   Answer: yes\n", encoding="utf-8")
    first = load_course(folder)
    assert first[0].lesson.quiz[0].question == "One?"

    def no_parse(_folder):
        raise AssertionError("parsed again although nothing changed")

    monkeypatch.setattr(loader, "load_lessons", no_parse)
    assert load_course(folder) == first
    monkeypatch.undo()
    lesson.write_text("# A\n\n## Quiz\n1. One, edited?\n   Answer: yes\n", encoding="utf-8")
    assert load_course(folder)[0].lesson.quiz[0].question == "One, edited?"
    (folder / "b.md").write_text("# B\n", encoding="utf-8")
    assert len(load_course(folder)) == 2


def test_forecast_today_matches_the_queue(tmp_path):
    """Home shows the due count and the forecast side by side: they must agree."""
    from datetime import UTC

    from studyapp.config import Settings
    from studyapp.services.study import StudyService

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "l.md").write_text(
        "# L\n\n## Key Concepts\n- **A** – a\n- **B** – b\n\n## Quiz\n1. Q?\n   Answer: x\n",
        encoding="utf-8")
    settings = Settings(tmp_path / "db.sqlite", lessons, tmp_path,
                        datetime(2026, 11, 23, 12, tzinfo=UTC))
    with StudyService.open(settings) as service:
        service.grade(service.quiz_card_id("l", 0), 3, source="quiz")
        service.complete_lesson("l")
        stats = service.stats()
        assert stats.forecast[0][1] == stats.due_today == len(service.due())
        assert stats.due_today >= 2  # the two new concept cards at least
