"""`studyapp lint` warns when an edit would make a reviewed card start afresh."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import Settings
from studyapp.services.study import StudyService

LESSON = """---
id: cards
---
# Cards

## Quiz
1. What does the learning rate control in gradient descent?
   Answer: The size of each update step.
2. Why do we keep a validation set apart?
   Answer: To see overfitting on data the model did not train on.
"""


def _study(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "cards.md").write_text(LESSON, encoding="utf-8")
    db = tmp_path / "study.db"
    settings = Settings(db, lessons, tmp_path / "ex", datetime(2026, 11, 23, 10, tzinfo=UTC))
    service = StudyService.open(settings)
    service.grade(service.quiz_card_id("cards", 0), 3)
    service.close()
    return lessons / "cards.md", db


def lint(db, path):
    return CliRunner().invoke(main, ["--db", str(db), "lint", str(path)],
                              catch_exceptions=False)


def test_typo_fix_keeps_the_card_and_lint_is_quiet(tmp_path):
    path, db = _study(tmp_path)
    path.write_text(LESSON.replace("learning rate control", "learning rate controll"),
                    encoding="utf-8")
    result = lint(db, path)
    assert "changed too much" not in result.output and "is gone" not in result.output


def test_rewritten_question_warns_with_file_and_line(tmp_path):
    path, db = _study(tmp_path)
    path.write_text(LESSON.replace("What does the learning rate control in gradient descent?",
                                   "Name two symptoms of a learning rate set far too high."),
                    encoding="utf-8")
    before = db.read_bytes()
    result = lint(db, path)
    assert f"{path}:7: warning: quiz card 'What does the learning rate control in gradient " \
           "descent?' changed too much" in result.output
    assert db.read_bytes() == before  # lint never writes the learner's database


def test_unreviewed_cards_do_not_warn(tmp_path):
    path, db = _study(tmp_path)
    path.write_text(LESSON.replace("Why do we keep a validation set apart?",
                                   "Which split is touched only once, at the very end?"),
                    encoding="utf-8")
    output = lint(db, path).output
    assert "changed too much" not in output and "is gone" not in output
