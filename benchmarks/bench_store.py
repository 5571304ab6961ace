"""Store benchmark: today's queue and one grade on a big database.

A database with 100,000 cards (100 completed lessons × 1,000 cards, 90% already scheduled
with due days spread over a year) and 1,000,000 review-log rows is built in one
transaction with executemany, its indexes in place as rows arrive, as in a learner's
database (where every answer adds its log row and moves its card's entry in the due index
one at a time). Indexes built after the load instead (CREATE INDEX) have full pages, so
every random insert splits pages: a grade then wrote 17 WAL frames, against 8 on a
database grown row by row. Then, in the same run and on the same file:

- `queue build`: `StudyService.due()` (plan prompts, due reviews, new cards, limits)
  right after a committed write, so it builds the queue afresh, beside a bare indexed
  query for the first 200 due cards; and `due()` again with nothing changed (the service
  keeps its last build while the database and the day are unchanged);
- `grade commit`: `StudyService.grade()` (read state, FSRS, log row, state update, one
  BEGIN IMMEDIATE transaction) beside a bare committed INSERT into the review log, and
  beside a bare committed transaction writing the same rows for cards not yet graded;
- `queue build, cold`: `due()` after a commit by another connection (no item of earlier
  builds is used again); the warm build also beside the bare SELECTs of the ids it lists.

Figures are medians; ratio = value / baseline (how many bare operations one costs).
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

N_LESSONS = 100
CARDS_PER_LESSON = 1_000
N_LOG = 1_000_000
REPEATS_QUEUE = 15
REPEATS_GRADE = 60
STATE_COLUMNS = ("due", "due_day", "state", "step", "stability", "difficulty", "last_review",
                 "reps", "lapses", "first_review_day")


def _median_ms(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def build(path: Path, now: datetime, rng: random.Random) -> dict[str, float]:
    from studyapp.store.db import open_database
    from studyapp.study.day import utc_text

    started = time.perf_counter()
    open_database(path, daily_backup=False).close()  # the schema
    db = sqlite_utils.Database(sqlite3.connect(path))
    conn = db.conn
    # bulk load without a journal; open_database() turns WAL back on afterwards
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -200000")
    stamp = utc_text(now)
    today = now.date()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO settings (key, value) VALUES ('timezone', 'UTC'), ('fuzz', '0')")
    lessons = [f"lesson-{i:03d}" for i in range(N_LESSONS)]
    conn.executemany(
        "INSERT INTO lessons (id, title, source_path, content_hash, present, first_seen_at, "
        "synced_at) VALUES (?, ?, ?, 'x', 1, ?, ?)",
        [(lid, f"Lesson {lid}", f"/course/{lid}.md", stamp, stamp) for lid in lessons])
    conn.executemany(
        "INSERT INTO lesson_progress (lesson_id, started_at, position, completed_at, "
        "completed_day, updated_at) VALUES (?, ?, 0, ?, ?, ?)",
        [(lid, stamp, stamp, (today - timedelta(days=400)).isoformat(), stamp)
         for lid in lessons])
    conn.executemany(
        "INSERT INTO plan_reviews (id, lesson_id, step, days, due_day, prompt, done, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(f"{lid}:plan:{s}", lid, s, d, (today - timedelta(days=400 - d)).isoformat(),
          f"Review {lid} step {s}", int(rng.random() < 0.9), stamp)
         for lid in lessons for s, d in enumerate((1, 3, 7, 30))])
    card_ids = []
    card_rows = []
    for lid in lessons:
        for j in range(CARDS_PER_LESSON):
            kind = "quiz" if j % 2 else "concept"
            cid = f"{lid}:{kind}:{j:010x}"
            card_ids.append(cid)
            card_rows.append((cid, lid, kind, f"{j:010x}", f"Front {j} of {lid}", f"Back {j}",
                              f"front {j} of {lid}", j, stamp, stamp))
    conn.executemany(
        "INSERT INTO cards (id, lesson_id, kind, key, front, back, norm, position, retired, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)", card_rows)
    conn.executemany("INSERT INTO card_aliases (alias, card_id) VALUES (?, ?)",
                     [(c, c) for c in card_ids])
    scheduled = card_ids[: int(len(card_ids) * 0.9)]
    state_rows = []
    for cid in scheduled:
        offset = rng.randint(-30, 365)
        due = now + timedelta(days=offset, minutes=rng.randint(0, 600))
        state_rows.append((cid, utc_text(due), (today + timedelta(days=offset)).isoformat(), 2,
                           None, rng.uniform(1, 300), rng.uniform(1, 10),
                           utc_text(now - timedelta(days=10)), 5, 0,
                           (today - timedelta(days=300)).isoformat()))
    conn.executemany(
        "INSERT INTO card_state (card_id, due, due_day, state, step, stability, difficulty, "
        "last_review, reps, lapses, first_review_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        state_rows)
    conn.execute("UPDATE cards SET scheduled=1 WHERE id IN (SELECT card_id FROM card_state)")
    state_json = json.dumps({"due": stamp, "state": 2, "step": None, "stability": 10.0,
                             "difficulty": 5.0, "last_review": stamp, "reps": 3, "lapses": 0})
    start = now - timedelta(days=400)

    def log_rows():
        for n in range(N_LOG):
            t = start + timedelta(seconds=n * 30)
            yield (utc_text(t), t.date().isoformat(), scheduled[n % len(scheduled)], "card",
                   1 + n % 4, 5.0, None, "review", 2, state_json, state_json)

    conn.executemany(
        "INSERT INTO review_log (time, day, item_id, item_kind, rating, seconds, answer, source, "
        "prev_state, state_before, state_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        log_rows())
    conn.execute("COMMIT")
    db.close()
    return {"build_s": time.perf_counter() - started,
            "size_mb": path.stat().st_size / 1e6, "cards": len(card_ids),
            "log": N_LOG}


def run() -> list[dict]:
    from studyapp.config import Settings
    from studyapp.services.study import StudyService
    from studyapp.store.db import open_database, write_transaction
    from studyapp.study.day import utc_text

    rng = random.Random(7)
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        info = build(path, now, rng)
        rows.append({"name": "store: build 100k cards + 1M log rows", "value": info["build_s"],
                     "unit": "s", "baseline": None, "ratio": None,
                     "note": f"{info['size_mb']:.0f} MB file, one transaction, executemany"})

        open_database(path, daily_backup=False).close()  # back to WAL after the bulk load
        t = time.perf_counter()
        db = open_database(path, daily_backup=False)
        open_ms = (time.perf_counter() - t) * 1000
        settings = Settings(db_path=path, lessons_dir=Path(tmp), exercises_dir=Path(tmp),
                            fixed_now=now)
        svc = StudyService(settings, db)  # the course is already in the tables
        conn = db.conn
        rows.append({"name": "store: open_database (big file)", "value": open_ms, "unit": "ms",
                     "baseline": None, "ratio": None, "note": "pragmas + version check"})

        queue = svc.due()
        today = svc.today().isoformat()

        def bare_query(_i: int) -> None:
            conn.execute("SELECT card_id FROM card_state WHERE due_day <= ? "
                         "ORDER BY due_day, due LIMIT 200", (today,)).fetchall()

        def rebuilt_ms() -> float:
            # a committed write first (not timed), so due() must build the queue again
            times = []
            for _i in range(REPEATS_QUEUE):
                with write_transaction(conn) as c:
                    c.execute("UPDATE settings SET value=value WHERE key='fuzz'")
                t = time.perf_counter()
                svc.due()
                times.append((time.perf_counter() - t) * 1000)
            return statistics.median(times)

        def bare_reads(_i: int) -> None:
            # the least a build reads: the ids and due days of the plan steps, the due
            # cards and the new cards it lists, through their indexes, no card text
            conn.execute("SELECT id, due_day FROM plan_reviews WHERE done=0 AND due_day<=?",
                         (today,)).fetchall()
            conn.execute("SELECT card_id, due_day FROM card_state WHERE due_day <= ? "
                         "ORDER BY due_day, due LIMIT ?", (today, n_due)).fetchall()
            conn.execute("SELECT id FROM cards INDEXED BY cards_new WHERE scheduled=0 AND "
                         "retired=0 LIMIT ?", (n_new,)).fetchall()

        def cold_ms() -> float:
            # a commit by another connection first: due() keeps no item of earlier builds
            times = []
            other = sqlite3.connect(path)
            for _i in range(REPEATS_QUEUE):
                # a REPLACE rewrites the row (a same-value UPDATE commits no page, and
                # leaves data_version as it was)
                other.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('fuzz', '0')")
                other.commit()
                t = time.perf_counter()
                svc.due()
                times.append((time.perf_counter() - t) * 1000)
            other.close()
            return statistics.median(times)

        n_due, n_new = svc.limits.reviews_per_day, svc.limits.new_per_day  # none done today
        q_ms = rebuilt_ms()
        b_ms = _median_ms(bare_query, REPEATS_QUEUE)
        r_ms = _median_ms(bare_reads, REPEATS_QUEUE)
        k_ms = cold_ms()
        rows.append({"name": "store: queue build (due())", "value": q_ms, "unit": "ms",
                     "baseline": b_ms, "ratio": q_ms / b_ms,
                     "note": f"{len(queue)} items, built after a write; baseline: bare "
                             "indexed SELECT of 200 due"})
        rows.append({"name": "store: queue build (due()), bare reads", "value": q_ms,
                     "unit": "ms", "baseline": r_ms, "ratio": q_ms / r_ms,
                     "note": "the same build; baseline: bare SELECTs of the ids and due days "
                             "it lists (plan steps, due cards, new cards), a fairer floor "
                             "than 200 ids for 261 items from 3 tables"})
        rows.append({"name": "store: queue build, cold (due())", "value": k_ms, "unit": "ms",
                     "baseline": b_ms, "ratio": k_ms / b_ms,
                     "note": "after another process's commit: every item built afresh "
                             "(card texts read); baseline: bare indexed SELECT of 200 due"})
        c_ms = _median_ms(lambda _i: svc.due(), REPEATS_QUEUE)
        rows.append({"name": "store: queue, nothing changed (due())", "value": c_ms,
                     "unit": "ms", "baseline": b_ms, "ratio": c_ms / b_ms,
                     "note": "the last build, checked against total_changes/data_version"})

        targets = [i.id for i in queue if i.kind == "card"]
        rng.shuffle(targets)

        def grade(i: int) -> None:
            svc.grade(targets[i % len(targets)], 1 + i % 4)

        def bare_insert(i: int) -> None:
            with write_transaction(conn) as c:
                c.execute("INSERT INTO review_log (time, day, item_id, item_kind, rating, "
                          "state_after) VALUES (?, ?, ?, 'card', 3, '{}')",
                          (utc_text(now), today, f"bare-{i}"))

        # the rows grades of other cards (due later, spread over the file like the graded
        # ones) would write, computed beforehand: the bare writes cost the same pages
        from studyapp.store.reviews import card_state
        from studyapp.study import srs

        st = svc.study_settings
        later = rng.sample([r[0] for r in conn.execute(
            "SELECT card_id FROM card_state WHERE due_day > ?", (today,))], REPEATS_GRADE)
        prepared = []
        for i, card in enumerate(later):
            before = card_state(conn, card)
            after = srs.review(card, before, 1 + i % 4, now, svc.day_of, st.desired_retention,
                               st.fuzz, svc.weights)
            d = after.to_dict()
            prepared.append((card, before.state, json.dumps(before.to_dict()), json.dumps(d),
                             1 + i % 4, tuple(d[k] for k in STATE_COLUMNS)))

        def bare_writes(i: int) -> None:
            card, prev, before, after, rating, state = prepared[i % len(prepared)]
            with write_transaction(conn) as c:
                c.execute("INSERT INTO review_log (time, day, item_id, item_kind, rating, "
                          "source, prev_state, state_before, state_after) "
                          "VALUES (?, ?, ?, 'card', ?, 'review', ?, ?, ?)",
                          (utc_text(now), today, card, rating, prev, before, after))
                c.execute("UPDATE card_state SET due=?, due_day=?, state=?, step=?, "
                          "stability=?, difficulty=?, last_review=?, reps=?, lapses=?, "
                          "first_review_day=? WHERE card_id=?", (*state, card))

        g_ms = _median_ms(grade, REPEATS_GRADE)
        i_ms = _median_ms(bare_insert, REPEATS_GRADE)
        w_ms = _median_ms(bare_writes, REPEATS_GRADE)
        rows.append({"name": "store: grade commit (grade())", "value": g_ms, "unit": "ms",
                     "baseline": i_ms, "ratio": g_ms / i_ms,
                     "note": "baseline: bare committed INSERT into review_log (WAL)"})
        rows.append({"name": "store: grade commit (grade()), bare writes", "value": g_ms,
                     "unit": "ms", "baseline": w_ms, "ratio": g_ms / w_ms,
                     "note": "the same grades; baseline: bare committed transactions of the "
                             "rows grades of other cards write (log row and state UPDATE, "
                             "computed beforehand): the bare INSERT above puts its 'bare-N' "
                             "ids on one hot index page, a grade on pages of its own card"})

        t = time.perf_counter()
        svc.stats()
        rows.append({"name": "store: stats()", "value": (time.perf_counter() - t) * 1000,
                     "unit": "ms", "baseline": None, "ratio": None,
                     "note": "30-day forecast, retention over 1M log rows, streak"})
        db.close()
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
