"""The queue rebuilt from the schedule: items of earlier builds are used again only while
they are still true, so a warm rebuild gives the queue a cold build gives."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from studyapp.store import reviews
from tests.study_support import at, make_lesson, service

DAY0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _lessons():
    return (make_lesson("epochs"),
            make_lesson("rates", quiz=[(f"Rate question {i}?", None if i % 2 else f"A{i}", None)
                                       for i in range(6)], title="Rates"))


def _studied(tmp_path):
    """Two completed lessons, their cards answered on day 0; the service on day 3."""
    svc = service(tmp_path, DAY0, *_lessons(), tz="UTC")
    for lesson in ("epochs", "rates"):
        svc.complete_lesson(lesson)
    for i, item in enumerate(i for i in svc.due() if i.kind == "card"):
        svc.grade(item.id, 1 + i % 4)
    return at(svc, DAY0 + timedelta(days=3))


def _cold(svc):
    """A fresh service on the same connection and course: it knows no earlier items."""
    return at(svc, svc.now())


def test_a_warm_rebuild_gives_what_a_cold_build_gives(tmp_path):
    svc = _studied(tmp_path)
    first = svc.due()
    assert any(i.kind == "plan" for i in first) and any(i.kind == "card" for i in first)
    assert first == _cold(svc).due()
    cards = [i.id for i in first if i.kind == "card"]
    steps = [
        lambda: svc.grade(cards[0], 3),  # leaves today's queue
        lambda: svc.grade(cards[1], 1),  # a learning step: due again later today
        lambda: svc.suspend(cards[2]),
        lambda: svc.bury(cards[3]),
        lambda: svc.suspend(cards[2], False),
        lambda: svc.reset(cards[4]),  # a new card again
        lambda: svc.grade(next(i.id for i in svc.due() if i.kind == "plan"), 1),
        lambda: svc.grade(next(i.id for i in svc.due() if i.kind == "plan"), 3),
        lambda: svc.set_setting("reviews_per_day", "3"),
        lambda: svc.undo_last(),
    ]
    for step in steps:
        step()
        assert svc.due() == _cold(svc).due()


def test_a_rebuild_after_a_grade_reads_only_the_texts_it_lacks(tmp_path, monkeypatch):
    svc = _studied(tmp_path)
    queue = svc.due()
    asked: list[list[str]] = []
    real = reviews.card_texts
    monkeypatch.setattr(reviews, "card_texts",
                        lambda conn, ids: asked.append(list(ids)) or real(conn, ids))
    card = next(i for i in queue if i.kind == "card")
    svc.grade(card.id, 4)  # Easy: due in days
    again = svc.due()
    assert card.id not in {i.id for i in again}
    assert asked == []  # every other due card was known
    assert [i for i in again if i.kind == "card"] == [
        i for i in queue if i.kind == "card" and i.id != card.id]


def test_a_card_text_changed_by_another_process_shows_at_once(tmp_path):
    svc = _studied(tmp_path)
    card = next(i for i in svc.due() if i.kind == "card")
    other = sqlite3.connect(tmp_path / "study.db")
    other.execute("UPDATE cards SET front='Edited elsewhere?' WHERE id=?", (card.id,))
    other.commit()
    other.close()
    assert next(i for i in svc.due() if i.id == card.id).prompt == "Edited elsewhere?"


def test_due_card_keys_leave_hidden_cards_out_before_the_limit(tmp_path):
    svc = _studied(tmp_path)
    conn = svc.conn
    today = svc.today()
    keys = reviews.due_card_keys(conn, today, 100)
    assert len(keys) >= 4 and all(d <= today for _c, d in keys)
    assert [c for c, _d in keys] == [r[0] for r in conn.execute(
        "SELECT card_id FROM card_state WHERE due_day <= ? ORDER BY due_day, due, card_id",
        (today.isoformat(),))]
    svc.suspend(keys[0][0])
    svc.bury(keys[1][0])
    assert reviews.due_card_keys(conn, today, 2) == keys[2:4]
    assert reviews.due_card_keys(conn, today, 0) == []
    tomorrow = today + timedelta(days=1)
    assert keys[1][0] in [c for c, _d in reviews.due_card_keys(conn, tomorrow, 100)]
    texts = reviews.card_texts(conn, [keys[2][0], "no-such-card"])
    assert list(texts) == [keys[2][0]] and texts[keys[2][0]].lesson_id in {"epochs", "rates"}
    many = [f"x{n}" for n in range(1200)] + [c for c, _d in keys]  # more than one query
    assert set(reviews.card_texts(conn, many)) == {c for c, _d in keys}


def test_a_grade_updates_the_state_row_in_place(tmp_path):
    svc = _studied(tmp_path)
    card = next(i for i in svc.due() if i.kind == "card")
    rowid, reps = svc.conn.execute("SELECT rowid, reps FROM card_state WHERE card_id=?",
                                   (card.id,)).fetchone()
    result = svc.grade(card.id, 3)
    row = svc.conn.execute("SELECT rowid, reps, due_day FROM card_state WHERE card_id=?",
                           (card.id,)).fetchone()
    assert row == (rowid, reps + 1, result.next_due.isoformat())
    assert reviews.card_state(svc.conn, card.id).due == result.due_at


def test_review_retention_counts_what_a_walk_of_the_log_counts(tmp_path):
    svc = _studied(tmp_path)
    conn = svc.conn
    rows = [(prev, kind, rating) for prev in (None, 1, 2, 3) for kind in ("card", "plan")
            for rating in (0, 1, 2, 3, 4)]
    for n, (prev, kind, rating) in enumerate(rows * 3):
        conn.execute("INSERT INTO review_log (time, day, item_id, item_kind, rating, source, "
                     "prev_state) VALUES ('t', '2026-11-26', ?, ?, ?, 'review', ?)",
                     (f"x{n}", kind, rating, prev))
    conn.commit()
    walked = conn.execute("SELECT count(*), coalesce(sum(rating > 1), 0) FROM review_log "
                          "WHERE item_kind='card' AND prev_state = 2").fetchone()
    assert reviews.review_retention(conn) == tuple(walked)
    assert walked[0] >= 15 and 0 < walked[1] < walked[0]
