"""The exercise set's learner files: the bundled originals fail their fast checks with a
helpful message, the reference solutions pass, and typical mistakes are named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from studyapp.config import PROJECT_ROOT
from studyapp.training.catalog import load_exercises
from studyapp.training.codecheck import check_file

EXERCISES = PROJECT_ROOT / "exercises"
MINE = ("sft", "lora", "pretraining", "overfitting")
ALL = (*MINE, "spam")


def _exercise(ex_id: str):
    exercises, problems = load_exercises(EXERCISES)
    assert not problems, problems
    return {e.id: e for e in exercises}[ex_id]


@pytest.mark.parametrize("ex_id", ALL)
def test_original_learner_file_fails_with_a_helpful_message(ex_id):
    ex = _exercise(ex_id)
    results = check_file(ex.learner_file, ex.code_checks_file)
    assert results and not any(r.passed for r in results)
    for r in results:
        assert r.message and ("not written yet" in r.message or "expected" in r.message), r


@pytest.mark.parametrize("ex_id", ALL)
def test_reference_solution_passes(ex_id):
    ex = _exercise(ex_id)
    results = check_file(ex.solution_file, ex.code_checks_file)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


@pytest.mark.parametrize("ex_id", MINE)
def test_learner_file_marks_the_part_to_write(ex_id):
    ex = _exercise(ex_id)
    assert "TODO(learner)" in ex.learner_file.read_text(encoding="utf-8")
    assert ex.hints and ex.solution_file.is_file()


def _patched(tmp_path: Path, ex_id: str, old: str, new: str) -> Path:
    """The reference solution with one deliberate mistake."""
    ex = _exercise(ex_id)
    text = ex.solution_file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {ex.solution_file}"
    path = tmp_path / f"{ex_id}_mistake.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _failures(ex_id: str, path: Path) -> str:
    results = check_file(path, _exercise(ex_id).code_checks_file)
    failed = [r for r in results if not r.passed]
    assert failed, "the mistake was not caught"
    return "\n".join(r.message for r in failed)


@pytest.mark.parametrize("ex_id,old,new,expected", [
    ("sft", "shifted_logits = logits[:, :-1, :]\n    shifted_labels = labels[:, 1:]",
     "shifted_logits = logits\n    shifted_labels = labels", "WITHOUT the shift"),
    ("sft", "labels = [IGNORE] * len(prompt_ids) + list(response_ids)",
     "labels = list(prompt_ids) + list(response_ids)", "prompt is not masked"),
    ("overfitting", "{k: v.detach().clone() for k, v in model.state_dict().items()}",
     "model.state_dict()", "store copies"),
    ("lora", "return (x @ lora_A.T @ lora_B.T) * (alpha / r)",
     "return x @ lora_A.T @ lora_B.T", "multiply by alpha / r"),
    ("lora", "total = sum(p.numel() for p in model.parameters())",
     "total = len(list(model.parameters()))", "numel"),
    ("pretraining", "to_mask = picked & (roll < 0.8)", "to_mask = picked & (roll < 0.5)",
     "80%"),
    ("pretraining", "picked &= ~special_mask.bool()", "pass", "special positions"),
])
def test_a_typical_mistake_is_named(tmp_path, ex_id, old, new, expected):
    assert expected in _failures(ex_id, _patched(tmp_path, ex_id, old, new))


def test_a_file_that_does_not_import_is_one_clear_failure(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(textwrap.dedent("""
        def mask_tokens(input_ids:
    """), encoding="utf-8")
    results = check_file(path, _exercise("pretraining").code_checks_file)
    assert len(results) == 1 and not results[0].passed
    assert "SyntaxError" in results[0].message
