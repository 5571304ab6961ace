"""The lesson parser against the real seed lesson and a named table of small inputs."""

from __future__ import annotations

import pytest

from studyapp.course.loader import load_lessons
from studyapp.course.model import SectionKind, Severity
from studyapp.course.parser import parse_lesson
from tests.conftest import SEEDS


def test_seed_000_is_understood_completely(seed_000):
    result = parse_lesson(seed_000.read_text(encoding="utf-8"), str(seed_000))
    lesson = result.lesson
    assert lesson is not None and not result.errors
    assert [s.kind for s in lesson.sections] == [
        SectionKind.PRIOR_KNOWLEDGE, SectionKind.OVERVIEW, SectionKind.KEY_CONCEPTS,
        SectionKind.LEARNING_PATH, SectionKind.EXAMPLES, SectionKind.PITFALLS,
        SectionKind.QUIZ, SectionKind.RECAP, SectionKind.REVIEW_PLAN]
    assert [s.line for s in lesson.sections] == [3, 8, 15, 23, 49, 117, 124, 133, 142]
    assert len(lesson.prior_knowledge) == 3
    assert len(lesson.concepts) == 6
    assert lesson.concepts[0].term == "Supervised Learning (Обучение с учител)"
    assert lesson.concepts[0].explanation.startswith("метод, при който моделът")
    assert len(lesson.steps) == 5
    assert lesson.steps[0].focus.startswith("Прегледайте концепциите")
    assert lesson.steps[0].task.startswith("Намерете пример")
    assert lesson.steps[4].questions.startswith("Защо е важно")
    assert len(lesson.examples) == 2
    for example in lesson.examples:
        assert [c.language for c in example.code] == ["python"]
        assert "from transformers import" in example.code[0].text
    assert lesson.examples[0].title == "Пример 1: Fine-tuning на BERT за класификация на текст"
    assert len(lesson.pitfalls) == 5
    assert all(p.solution for p in lesson.pitfalls)
    assert lesson.pitfalls[1].title == "Прекалено голям learning rate"
    assert lesson.pitfalls[1].solution.startswith("започнете с по-нисък learning rate")
    assert "Решение" not in lesson.pitfalls[1].explanation
    assert len(lesson.quiz) == 7
    assert lesson.quiz[0].question == "Какво представлява supervised fine-tuning?"
    assert all(q.answer is None for q in lesson.quiz)
    assert len(lesson.recap) == 7
    assert [r.days for r in lesson.review_plan] == [1, 3, 7, 30]
    assert [r.prompt for r in lesson.review_plan] == [
        "Какво е supervised fine-tuning и защо е важен?",
        "Обяснете ролята на функцията на загуба и overfitting.",
        "Опишете стъпките за практическо fine-tuning на модел.",
        "Прегледайте типични грешки и как да ги избегнете.",
    ]
    assert not lesson.plan_is_default
    # the seed has no quiz answers: one warning per question, with its line
    assert [d.line for d in result.warnings] == list(range(125, 132))


@pytest.mark.parametrize("name", ["001_bf9355302f32159d.txt", "002_85e5d3d43fa38304.txt",
                                  "003_8bd290f9e909072a.txt"])
def test_free_form_seeds_load_as_lessons_with_warnings(name):
    path = SEEDS / name
    if not path.exists():
        pytest.skip("seeds not present")
    result = parse_lesson(path.read_text(encoding="utf-8"), str(path))
    assert result.lesson is not None
    assert not result.errors
    assert any(d.code == "missing-section" for d in result.warnings)
    headings = [s.heading for s in result.lesson.sections]
    h2 = [ln[3:].strip() for ln in path.read_text(encoding="utf-8").splitlines()
          if ln.startswith("## ")]
    assert [h for h in headings if h != "Introduction"] == h2
    assert result.lesson.plan_is_default and len(result.lesson.review_plan) == 4


def test_all_seeds_load_from_folder():
    if not SEEDS.exists():
        pytest.skip("seeds not present")
    results = load_lessons(SEEDS)
    assert len(results) == 4  # README.md is not a lesson
    assert all(r.lesson is not None for r in results)


SMALL = """---
id: tiny
title: Tiny lesson
language: en
exercises: [spam]
level: beginner
---
# Ignored title

## key concepts
- **Epoch** {#epoch} – one full pass.
- **Loss:** how wrong the model is.
- Batch — a few examples at once.

## 7) QUIZ
1. What is an epoch? {#q-epoch}
   Answer: One full pass over the data.
2. What is a batch?
   - **Отговор:** A few examples.
3. Why validate?

## Examples
- **Example A:** a loop
  ```python
  print(1)
  ```
- **Example B** – linked

  Exercise: `spam`

## Pitfalls
- **Too high LR** – diverges. **Solution:** lower it.
- **No val set**: cannot see overfitting. Fix: keep 10% apart.

## Review Plan
| when | what |
|---|---|
| 1d | first |
| 2 weeks | second |
| 1 Monat | third |
"""


def test_small_lesson_every_syntax():
    result = parse_lesson(SMALL, "lessons/tiny.md")
    lesson = result.lesson
    assert (lesson.id, lesson.title, lesson.language) == ("tiny", "Tiny lesson", "en")
    assert lesson.exercises == ("spam",)
    assert dict(lesson.meta) == {"level": "beginner"}
    assert [(c.term, c.id) for c in lesson.concepts] == [
        ("Epoch", "epoch"), ("Loss", None), ("Batch", None)]
    assert lesson.concepts[1].explanation == "how wrong the model is."
    assert [(q.question, q.answer, q.id) for q in lesson.quiz] == [
        ("What is an epoch?", "One full pass over the data.", "q-epoch"),
        ("What is a batch?", "A few examples.", None),
        ("Why validate?", None, None)]
    assert [e.title for e in lesson.examples] == ["Example A", "Example B"]
    assert lesson.examples[0].code[0].language == "python"
    assert lesson.examples[1].exercise == "spam"
    assert [(p.title, p.explanation, p.solution) for p in lesson.pitfalls] == [
        ("Too high LR", "diverges.", "lower it."),
        ("No val set", "cannot see overfitting.", "keep 10% apart.")]
    assert [r.days for r in lesson.review_plan] == [1, 14, 30]
    no_answer = [d for d in result.warnings if d.code == "quiz-no-answer"]
    assert [d.line for d in no_answer] == [SMALL.splitlines().index("3. Why validate?") + 1]


def test_id_and_title_fall_back_to_file_name_and_heading():
    lesson = parse_lesson("# Ли́чный урок\n\n## Overview\nText.\n", "x/my-lesson.md").lesson
    assert lesson.id == "my-lesson"
    assert lesson.title == "Ли́чный урок"


def test_other_sections_are_kept_in_place():
    text = "# T\n\n## Overview\nA\n\n## Further reading\nB\n\n## Recap\n- r\n"
    lesson = parse_lesson(text, "t.md").lesson
    assert [(s.heading, s.kind) for s in lesson.sections] == [
        ("Overview", SectionKind.OVERVIEW), ("Further reading", SectionKind.OTHER),
        ("Recap", SectionKind.RECAP)]
    assert lesson.sections[1].markdown == "B"


def test_duplicate_ids_and_empty_sections_warn():
    text = ("# T\n\n## Quiz\n1. A? {#x}\n   Answer: a\n2. B? {#x}\n   Answer: b\n"
            "3. C?\n   Answer: c\n4. c ?\n   Answer: c\n\n## Recap\n\n## Overview\nok\n")
    result = parse_lesson(text, "t.md")
    codes = [(d.code, d.line) for d in result.warnings]
    assert ("duplicate-id", 6) in codes  # same explicit id
    assert ("duplicate-id", 10) in codes  # same text as line 8 but for case and spacing
    assert ("empty-section", 13) in codes


def test_default_plan_when_missing():
    lesson = parse_lesson("# T\n\n## Overview\nx\n", "t.md").lesson
    assert lesson.plan_is_default
    assert [r.days for r in lesson.review_plan] == [1, 3, 7, 30]


def test_errors_do_not_lose_the_rest_of_the_lesson():
    text = ("---\nid: [unclosed\n---\n# T\n\n## Quiz\n1. Q?\n   Answer: A\n\n"
            "## Review plan\n| a | b |\n|---|---|\n| 1 fortnight | p |\n| 3 days | q |\n")
    result = parse_lesson(text, "t.md")
    assert [d.severity for d in result.errors] == [Severity.ERROR, Severity.ERROR]
    assert result.lesson.id == "t"
    assert len(result.lesson.quiz) == 1
    assert [r.days for r in result.lesson.review_plan] == [3]
