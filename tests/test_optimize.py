"""`studyapp optimize`: FSRS fitted to the learner's own review log (py-fsrs's optimizer).

A synthetic learner whose memory follows FSRS with parameters far from the defaults
answers a few hundred cards; the fitted parameters predict that log better than the
defaults, `--apply` keeps them in the database, `settings` shows them, grading uses them."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from fsrs import Card, Rating, Scheduler
from fsrs.scheduler import DEFAULT_PARAMETERS

from studyapp.cli import main
from studyapp.store.db import open_database, write_transaction
from studyapp.store.reviews import add_log
from studyapp.study import optimize
from studyapp.study.day import utc_text

LESSON = """---
id: mem
title: Memory
---
# Memory

## Short Retrieval Quiz
1. What is recall? {#recall}
   Answer: Remembering.
"""


def synthetic_log(n_cards: int, n_reviews: int = 9, seed: int = 3) -> list[tuple]:
    """(card id, UTC time, rating, seconds) of a learner whose memory is FSRS with much
    larger initial stabilities and a flatter forgetting curve than the defaults."""
    true = list(DEFAULT_PARAMETERS)
    true[0:4] = [2.0, 6.0, 12.0, 30.0]
    true[20] = 0.5
    memory = Scheduler(parameters=true, enable_fuzzing=False)
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    log = []
    for c in range(n_cards):
        t = start + timedelta(hours=rng.randint(0, 500))
        card = Card(card_id=c + 1, due=t)
        for i in range(n_reviews):
            recalled = i == 0 or rng.random() < memory.get_card_retrievability(card, t)
            rating = rng.choice([2, 3, 3, 3, 4]) if recalled else 1
            log.append((f"mem:quiz:{c}", utc_text(t), rating, 4.0))
            card, _ = memory.review_card(card, Rating(rating), t)
            t += timedelta(days=max(1, round(rng.uniform(0.3, 2.5) * card.stability)),
                           hours=rng.randint(0, 5))
    return log


def test_histories_split_at_a_reset_and_skip_other_rows():
    log = [("a", "2026-01-01T09:00:00+00:00", 3, None), ("a", "2026-01-03T09:00:00+00:00", 1, None),
           ("a", "2026-01-04T09:00:00+00:00", 0, None), ("a", "2026-01-05T09:00:00+00:00", 4, None)]
    h = optimize.histories(log)
    assert [len(v) for v in h.values()] == [2, 1]
    assert optimize.evaluate(h).reviews == 1


def _env(tmp_path, log):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "mem.md").write_text(LESSON, encoding="utf-8")
    db_path = tmp_path / "study.db"
    db = open_database(db_path)
    with write_transaction(db.conn) as c:
        for card_id, time, rating, seconds in log:
            add_log(c, stamp=time, day=datetime.fromisoformat(time).date(), item_id=card_id,
                    kind="card", rating=rating, seconds=seconds, answer=None, source="review",
                    prev_state=2, before={}, after={})
    db.close()
    return {"STUDYAPP_DB": str(db_path), "STUDYAPP_LESSONS": str(lessons),
            "STUDYAPP_NOW": "2026-06-01T10:00:00+00:00"}


def cli(env, *args):
    r = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_too_few_answers_says_how_many_are_needed(tmp_path):
    env = _env(tmp_path, synthetic_log(10))
    report = json.loads(cli(env, "optimize", "--apply", "--json"))
    assert report["reviews"] == 80 and report["needed"] == optimize.MIN_REVIEWS == 512
    assert report["fitted"] is None and not report["applied"]
    assert "80 of the 512 answers needed" in cli(env, "optimize")
    assert json.loads(cli(env, "settings", "--json"))["fsrs_parameters"]["source"] == "default"


def test_fitted_parameters_predict_a_synthetic_log_better_and_apply(tmp_path):
    env = _env(tmp_path, synthetic_log(70))
    report = json.loads(cli(env, "optimize", "--apply", "--json"))
    assert report["reviews"] == 560
    assert report["fitted"]["reviews"] == report["default"]["reviews"] == 560
    assert report["fitted"]["log_loss"] < report["default"]["log_loss"]
    assert report["fitted"]["rmse"] < report["default"]["rmse"]
    assert report["applied"] and len(report["parameters"]) == 21
    shown = json.loads(cli(env, "settings", "--json"))["fsrs_parameters"]
    assert shown["parameters"] == report["parameters"]
    assert shown["source"] == "fitted 2026-06-01 on 560 answers"
    assert "fsrs_parameters = " in cli(env, "settings")
    # the service schedules with them
    from studyapp.config import Settings
    from studyapp.services.study import StudyService
    from studyapp.study import srs

    svc = StudyService.open(Settings.from_env(db=env["STUDYAPP_DB"],
                                              lessons=env["STUDYAPP_LESSONS"],
                                              now=env["STUDYAPP_NOW"]))
    try:
        assert svc.weights == tuple(report["parameters"])
        state = svc.grade("mem:quiz:recall", 3)
        assert state.next_due is not None
        got = svc.intervals("mem:quiz:recall")
        cid = "mem:quiz:recall"
        from studyapp.store.reviews import card_state

        assert got == srs.next_intervals(cid, card_state(svc.conn, cid), svc.now(), svc.day_of,
                                         0.9, tuple(report["parameters"]))
        moment = datetime(2026, 6, 1, 10, tzinfo=UTC)
        stability = {
            name: Scheduler(parameters=w, enable_fuzzing=False).review_card(
                Card(card_id=1, due=moment), Rating.Good, moment)[0].stability
            for name, w in (("fitted", report["parameters"]), ("default", DEFAULT_PARAMETERS))}
        assert card_state(svc.conn, cid).stability == stability["fitted"] != stability["default"]
    finally:
        svc.close()
