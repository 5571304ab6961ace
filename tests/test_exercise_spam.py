"""The spam exercise's learner file, reference solution and fast checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studyapp.training.codecheck import check_file

SPAM = Path(__file__).resolve().parent.parent / "exercises" / "spam"
torch = pytest.importorskip("torch")


def test_the_original_learner_file_fails_every_check_saying_what_is_missing():
    results = check_file(SPAM / "spam.py", SPAM / "checks.py")
    assert len(results) == 4 and not any(r.passed for r in results)
    assert all(r.message.startswith("not written yet") for r in results)


def test_the_reference_solution_passes_them_quickly():
    t0 = time.perf_counter()
    results = check_file(SPAM / "solution.py", SPAM / "checks.py")
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert time.perf_counter() - t0 < 5


def _solution_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (SPAM / "solution.py").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "attempt.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, expected", [
    # the classic bug: the very last position, which may be padding
    ("    return logits[rows, last]", "    return logits[:, -1, :]",
     "last real token is at position 1, but your function picked position 3 (padding)"),
    # right padding only: wrong for left-padded rows
    ("    last = (positions * attention_mask).argmax(dim=1)",
     "    last = attention_mask.sum(dim=1) - 1",
     "row 2 has attention_mask [0, 0, 1, 1]"),
    ("    return F.cross_entropy(logits, labels)",
     "    return F.cross_entropy(logits, labels, reduction='sum')",
     "the mean cross-entropy is"),
    ("    return (logits.argmax(dim=-1) == labels).float().mean().item()",
     "    return (logits.argmax(dim=-1) == labels).sum().item()",
     "so 0.5 expected; your function gave 2"),
    ("    keep += [m for m in (final_norm, *head) if m is not None]", "",
     "with trainable_blocks=1 these should train: ['blocks.2', 'head', 'norm']"),
])
def test_a_wrong_answer_gets_a_message_that_says_what_was_expected(tmp_path, old, new,
                                                                     expected):
    results = check_file(_solution_with(tmp_path, old, new), SPAM / "checks.py")
    messages = " | ".join(r.message for r in results if not r.passed)
    assert expected in messages


def test_a_file_that_does_not_import_is_one_clear_failure(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def last_token_logits(:\n", encoding="utf-8")
    results = check_file(path, SPAM / "checks.py")
    assert len(results) == 1 and not results[0].passed
    assert "cannot be imported" in results[0].message and "SyntaxError" in results[0].message
