"""Exercise metadata (exercise.toml), settings from --set, and checks that say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from studyapp.training.catalog import (
    CheckSpec,
    ExerciseError,
    evaluate_checks,
    find_exercise,
    load_exercises,
    parse_overrides,
    resolve_settings,
)

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"


def test_the_bundled_spam_exercise_loads():
    exercises, problems = load_exercises(EXERCISES)
    assert problems == []
    spam = next(e for e in exercises if e.id == "spam")
    assert spam.lesson == "gpt-classification"
    assert spam.default_variant == "encoder"
    assert {"encoder", "decoder", "tiny"} <= set(spam.variants)
    assert spam.variant("encoder").settings["model"] == "minilm"
    assert spam.variant("decoder").settings["head"] == "last_token"
    assert spam.variant("decoder").settings["trainable_blocks"] == 1
    assert spam.learner_file.is_file() and spam.solution_file.is_file()
    assert spam.code_checks_file.is_file()
    assert spam.data.labels == ("ham", "spam")
    assert [c.metric for c in spam.checks] == ["accuracy", "val_loss"]
    assert len(spam.hints) >= 3


def test_the_spam_lesson_exists_and_links_back():
    lesson = (ROOT / "lessons" / "02-gpt-classification.md").read_text(encoding="utf-8")
    assert "id: gpt-classification" in lesson
    assert "spam" in lesson.split("---")[1]


def test_unknown_variant_names_the_known_ones():
    spam = find_exercise(EXERCISES, "spam")
    with pytest.raises(ExerciseError, match="encoder, decoder"):
        spam.variant("transformer-xl")


def test_unknown_exercise_names_the_known_ones(tmp_path):
    with pytest.raises(ExerciseError, match="known: .*spam"):
        find_exercise(EXERCISES, "nope")


def test_settings_are_read_as_their_defaults_type():
    spam = find_exercise(EXERCISES, "spam")
    s = resolve_settings(spam.variant("encoder"), parse_overrides(
        ["lr=3e-4", "epochs=3", "checkpoint=yes", "model=bert-base-uncased"]), spam.task)
    assert s["lr"] == 3e-4 and s["epochs"] == 3 and s["checkpoint"] is True
    assert s["model"] == "bert-base-uncased"
    assert isinstance(s["epochs"], int)


@pytest.mark.parametrize("pairs, message", [
    (["epochs=two"], "--set epochs=two: epochs must be an integer"),
    (["learning_rate=1"], "--set learning_rate=1: unknown setting; known: .*lr"),
    (["lr"], "--set wants key=value"),
    (["checkpoint=maybe"], "checkpoint must be true or false"),
])
def test_bad_settings_say_why(pairs, message):
    spam = find_exercise(EXERCISES, "spam")
    with pytest.raises(ExerciseError, match=message):
        resolve_settings(spam.variant("encoder"), parse_overrides(pairs), spam.task)


def test_checks_say_expected_and_measured():
    checks = [CheckSpec("test accuracy", "accuracy", ">=", value=0.9),
              CheckSpec("validation loss fell", "val_loss", "<", ref="val_loss_first"),
              CheckSpec("f1", "f1", ">=", value=0.5)]
    results = evaluate_checks(checks, {"accuracy": 0.85, "val_loss": 0.2,
                                       "val_loss_first": 0.7})
    assert [r["passed"] for r in results] == [False, True, False]
    assert results[0]["expected"] == "accuracy >= 0.9"
    assert results[0]["measured"] == 0.85
    assert "expected accuracy >= 0.9, measured 0.85" in results[0]["message"]
    assert "FAILED" in results[0]["message"]
    assert "val_loss_first (0.7)" in results[1]["expected"]
    assert "was not measured" in results[2]["message"]


def test_a_broken_exercise_is_reported_and_the_others_still_load(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "exercise.toml").write_text("title = [unclosed\n")
    (tmp_path / "untitled").mkdir()
    (tmp_path / "untitled" / "exercise.toml").write_text('lesson = "x"\n')
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "exercise.toml").write_text('title = "Good"\nlesson = "x"\n')
    exercises, problems = load_exercises(tmp_path)
    assert [e.id for e in exercises] == ["good"]
    assert len(problems) == 2
    assert any("not valid TOML" in p.message for p in problems)
    assert any("`title`" in p.message for p in problems)
    with pytest.raises(ExerciseError, match="not valid TOML"):
        find_exercise(tmp_path, "bad")
