"""The instructors' findings of the walk-through (issue 12), each as an instructor meets it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.course.intervals import parse_interval
from studyapp.course.parser import parse_lesson
from tests.conftest import SR_FREEFORM

PLAN = """\
# Lernrate

## Short Retrieval Quiz
1. Was ist eine Epoche?
   Lösung: Ein Durchlauf über alle Trainingsbeispiele.

## Spaced Review Plan
| Nach    | Frage                      |
|---------|----------------------------|
| Day 1   | Was ist die Lernrate?      |
| 3 Tage  |
| Week 1  | Wie wirkt das Aufwärmen?   |
| Month 1 | Welche Fehler gibt es?     |
"""


def lint(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["lint", *args])


def test_a_plan_row_with_a_missing_cell_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(PLAN, encoding="utf-8")
    result = lint("--no-warnings", str(path))
    assert result.exit_code == 1
    assert f"{path}:11: error: review-plan row '3 Tage' has no prompt" in result.output
    lesson = parse_lesson(PLAN, str(path)).lesson
    assert all(step.prompt for step in lesson.review_plan)       # no empty review prompt


def test_number_last_intervals_read_as_an_instructor_means_them() -> None:
    assert [parse_interval(t) for t in ("Day 1", "Week 1", "Month 1", "day 3", "Week 2")] \
        == [1, 7, 30, 3, 14]
    lesson = parse_lesson(PLAN, "plan.md").lesson
    assert not lesson.plan_is_default
    assert [s.days for s in lesson.review_plan] == [1, 7, 30]


def test_losung_under_a_quiz_question_is_its_answer() -> None:
    quiz = parse_lesson(PLAN, "plan.md").lesson.quiz
    assert quiz[0].question == "Was ist eine Epoche?"
    assert quiz[0].answer == "Ein Durchlauf über alle Trainingsbeispiele."


def test_bold_example_paragraphs_are_separate_examples() -> None:
    text = ("# T\n\n## Examples\n**Example 1: a warm-up schedule**\nLinear, then flat.\n\n"
            "```python\nlr = min(1, step / 100) * peak\n```\n\n"
            "**Example 2: a cosine decay**\nSlower at the end.\n")
    examples = parse_lesson(text, "e.md").lesson.examples
    assert [e.title for e in examples] == ["Example 1: a warm-up schedule",
                                          "Example 2: a cosine decay"]
    assert len(examples[0].code) == 1 and examples[1].prose == "Slower at the end."


def test_lint_db_works_after_the_command_too(tmp_path: Path) -> None:
    path = tmp_path / "ok.md"
    path.write_text("# T\n\n## Quiz\n1. Q?\n   Answer: A\n", encoding="utf-8")
    before = CliRunner().invoke(main, ["--db", str(tmp_path / "a.db"), "lint", str(path)])
    after = lint("--db", str(tmp_path / "a.db"), str(path))
    assert after.exit_code == before.exit_code == 0, after.output
    assert after.output == before.output


def test_a_free_form_documents_default_plan_names_no_missing_recap() -> None:
    lesson = parse_lesson(SR_FREEFORM.read_text(encoding="utf-8"), str(SR_FREEFORM)).lesson
    assert lesson.plan_is_default
    prompt = lesson.review_plan[0].prompt
    assert "recap" not in prompt and "key concepts" not in prompt
    assert "3.2. Rano zaustavljanje" in prompt
