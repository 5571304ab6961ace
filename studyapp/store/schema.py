"""The database schema, as numbered migrations.

Each migration is a function `(conn) -> None` that runs inside its own transaction (the
caller opens and commits it). `MIGRATIONS[n - 1]` takes the schema from version n - 1 to
version n; the version reached is kept in `PRAGMA user_version` and in `schema_migrations`.

Times are stored as UTC ISO 8601 text (`2026-11-24T09:00:00.000000+00:00`, always the same
width so text order is time order); learner days as ISO dates (`2026-11-24`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

SCHEMA_V1 = """
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- the course as last synced: one row per lesson id ever seen
CREATE TABLE lessons (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source_path TEXT,
    content_hash TEXT,
    present INTEGER NOT NULL DEFAULT 1,     -- 0: its file is gone (progress kept)
    first_seen_at TEXT NOT NULL,
    synced_at TEXT NOT NULL
);

CREATE TABLE lesson_progress (
    lesson_id TEXT PRIMARY KEY REFERENCES lessons(id),
    started_at TEXT,
    position INTEGER NOT NULL DEFAULT 0,
    completed_at TEXT,
    completed_day TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE prior_answers (
    lesson_id TEXT NOT NULL REFERENCES lessons(id),
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (lesson_id, idx)
);

CREATE TABLE steps_done (
    lesson_id TEXT NOT NULL REFERENCES lessons(id),
    idx INTEGER NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (lesson_id, idx)
);

-- one row per step of a lesson's spaced review plan, made when the lesson is completed
CREATE TABLE plan_reviews (
    id TEXT PRIMARY KEY,                    -- <lesson_id>:plan:<step>
    lesson_id TEXT NOT NULL REFERENCES lessons(id),
    step INTEGER NOT NULL,
    days INTEGER NOT NULL,
    due_day TEXT NOT NULL,
    prompt TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    rating INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (lesson_id, step)
);
CREATE INDEX plan_reviews_due ON plan_reviews (done, due_day);

-- review cards derived from lessons; never deleted, retired when they leave the lesson
CREATE TABLE cards (
    id TEXT PRIMARY KEY,                    -- <lesson_id>:<kind>:<key>
    lesson_id TEXT NOT NULL REFERENCES lessons(id),
    kind TEXT NOT NULL,                     -- quiz | concept
    key TEXT NOT NULL,                      -- the key it is known under now
    front TEXT NOT NULL,
    back TEXT,
    norm TEXT NOT NULL,                     -- normalised front, for matching edits
    position INTEGER NOT NULL DEFAULT 0,
    retired INTEGER NOT NULL DEFAULT 0,
    scheduled INTEGER NOT NULL DEFAULT 0,   -- 1 once it has a card_state row (not new)
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX cards_lesson ON cards (lesson_id, kind);
CREATE INDEX cards_new ON cards (lesson_id, kind DESC, position)
    WHERE scheduled = 0 AND retired = 0;

-- every id a card has been known under (its own included) -> the card
CREATE TABLE card_aliases (
    alias TEXT PRIMARY KEY,
    card_id TEXT NOT NULL REFERENCES cards(id)
);
CREATE INDEX card_aliases_card ON card_aliases (card_id);

-- FSRS scheduling state; a card without a row here is new
CREATE TABLE card_state (
    card_id TEXT PRIMARY KEY REFERENCES cards(id),
    due TEXT NOT NULL,                      -- UTC ISO, as FSRS computed it
    due_day TEXT NOT NULL,                  -- learner day it falls due (DST-proof)
    state INTEGER NOT NULL,                 -- fsrs.State: 1 learning, 2 review, 3 relearning
    step INTEGER,
    stability REAL,
    difficulty REAL,
    last_review TEXT,
    reps INTEGER NOT NULL DEFAULT 0,
    lapses INTEGER NOT NULL DEFAULT 0,
    first_review_day TEXT                   -- learner day of its first answer
);
CREATE INDEX card_state_due ON card_state (due_day, due, card_id);

-- append-only log of every answer; rows are only removed by an explicit undo
CREATE TABLE review_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,                     -- UTC ISO
    day TEXT NOT NULL,                      -- learner day
    item_id TEXT NOT NULL,
    item_kind TEXT NOT NULL,                -- card | plan
    rating INTEGER NOT NULL,
    seconds REAL,
    answer TEXT,
    source TEXT NOT NULL DEFAULT 'review',  -- review | quiz | cli
    prev_state INTEGER,                     -- FSRS state before (NULL: new card, or plan)
    state_before TEXT,                      -- JSON
    state_after TEXT                        -- JSON
);
CREATE INDEX review_log_item ON review_log (item_id, id);
CREATE INDEX review_log_day ON review_log (day);
CREATE INDEX review_log_retention ON review_log (prev_state, item_kind, rating);

-- training runs and exercise progress (queries in store/runs.py)
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    exercise TEXT NOT NULL,
    variant TEXT,
    settings TEXT,
    device TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    losses TEXT,
    metrics TEXT,
    checks TEXT,
    error TEXT
);
CREATE INDEX runs_exercise ON runs (exercise, started_at);

CREATE TABLE exercise_progress (
    exercise TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    first_attempt_at TEXT,
    last_attempt_at TEXT,
    passed_at TEXT
);
"""


def _statements(script: str) -> list[str]:
    """Split a schema script into statements, dropping `--` comments first."""
    lines = [ln.split("--", 1)[0].rstrip() for ln in script.splitlines()]
    text = "\n".join(ln for ln in lines if ln.strip())
    return [s.strip() for s in text.split(";") if s.strip()]


def migration_1_initial(conn: sqlite3.Connection) -> None:
    """The first schema: course, progress, cards, FSRS state, review log, settings, runs."""
    for stmt in _statements(SCHEMA_V1):
        conn.execute(stmt)


def migration_2_run_owner(conn: sqlite3.Connection) -> None:
    """Runs remember the process that records them, so a run whose app was killed can be
    told apart from one still going in another terminal."""
    conn.execute("ALTER TABLE runs ADD COLUMN owner_pid INTEGER")


SCHEMA_V3_INDEXES = """
-- the few cards not in the queue for a reason of their own: statistics count every
-- scheduled card through card_state's covering index and subtract these
CREATE INDEX cards_flagged ON cards (id)
    WHERE retired = 1 OR suspended = 1 OR buried_until IS NOT NULL;
"""


def migration_3_card_browser(conn: sqlite3.Connection) -> None:
    """Cards a learner suspended (never due until unsuspended) or buried (hidden until the
    learner day `buried_until`), and the FSRS parameters fitted to the learner's log
    (`studyapp optimize --apply`; the newest row is the one in use, none: the defaults)."""
    conn.execute("ALTER TABLE cards ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE cards ADD COLUMN buried_until TEXT")
    for stmt in _statements(SCHEMA_V3_INDEXES):
        conn.execute(stmt)
    conn.execute(
        "CREATE TABLE fsrs_parameters ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " applied_at TEXT NOT NULL,"
        " parameters TEXT NOT NULL,"          # JSON list of the 21 FSRS-6 weights
        " reviews INTEGER NOT NULL,"          # reviews the fit used
        " log_loss_default REAL, log_loss_fitted REAL,"
        " rmse_default REAL, rmse_fitted REAL)")


SCHEMA_V4_INDEXES = """
-- the trials of a search (the sweep exercise), found from their search's run
CREATE INDEX runs_parent ON runs (parent_id);
"""


def migration_4_run_parent(conn: sqlite3.Connection) -> None:
    """A run can belong to another: each trial of a hyperparameter search (the sweep
    exercise) is a run of its own, under the run that searched."""
    conn.execute("ALTER TABLE runs ADD COLUMN parent_id TEXT")
    for stmt in _statements(SCHEMA_V4_INDEXES):
        conn.execute(stmt)


def migration_5_run_predictions(conn: sqlite3.Connection) -> None:
    """Predict, then run: the learner's prediction of a run's headline outcome, kept with
    the outcome (NULL until the run ends with one) and whether it was far off."""
    conn.execute(
        "CREATE TABLE run_predictions ("
        " run_id TEXT PRIMARY KEY,"              # runs.id
        " exercise TEXT NOT NULL,"
        " metric TEXT NOT NULL,"                 # the metric predicted (accuracy, ...)
        " predicted REAL NOT NULL,"
        " outcome REAL,"
        " error REAL,"                           # |predicted - outcome| in the spec's scale
        " far INTEGER NOT NULL DEFAULT 0,"       # 1: far off (the concept cards came due)
        " cards_due TEXT,"                       # JSON list of the card ids brought forward
        " created_at TEXT NOT NULL)")


def migration_6_exercise_feedback(conn: sqlite3.Connection) -> None:
    """Exercises feed the scheduler: the cards a failed run of the learner's own code
    brought forward, until a passing run counts as their review. (Code cards are cards
    of kind 'code' in the cards table: no column needed.)"""
    conn.execute(
        "CREATE TABLE exercise_feedback ("
        " exercise TEXT PRIMARY KEY,"
        " failed_at TEXT NOT NULL,"
        " cards TEXT NOT NULL)")                 # JSON list of card ids


def migration_7_run_code(conn: sqlite3.Connection) -> None:
    """Whose code a run used: solution (the reference), learner (the bundled learner
    file) or mine (the learner's own copy). Only "mine" counts as the learner's progress;
    runs recorded before this column are NULL (not known)."""
    conn.execute("ALTER TABLE runs ADD COLUMN code TEXT")


MIGRATIONS: list[Migration] = [migration_1_initial, migration_2_run_owner,
                               migration_3_card_browser, migration_4_run_parent,
                               migration_5_run_predictions, migration_6_exercise_feedback,
                               migration_7_run_code]


def index_statements() -> list[str]:
    """Every CREATE INDEX of the latest schema, as IF NOT EXISTS (doctor re-creates them)."""
    return [
        s.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1)
        for s in (_statements(SCHEMA_V1) + _statements(SCHEMA_V3_INDEXES)
                  + _statements(SCHEMA_V4_INDEXES))
        if s.startswith("CREATE INDEX")
    ]
