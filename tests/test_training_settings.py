"""Typed task settings (training/settings.py, training/tasks/settings.py) and the check
of every `--set` value before any training: one line, exit status 2, nothing recorded."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.training.catalog import find_exercise, resolve_settings
from studyapp.training.settings import SettingsError, check_device
from studyapp.training.tasks import TASKS
from studyapp.training.tasks.settings import ClassificationSettings
from tests.test_training_run import ROOT


def test_the_dataclass_is_the_single_source_of_defaults_and_toml_only_overrides():
    s = ClassificationSettings.build({"lr": 1e-4, "head": "sequence"}, {"epochs": "2"})
    assert s.lr == 1e-4 and s.head == "sequence" and s.epochs == 2
    assert s.batch_size == ClassificationSettings().batch_size        # untouched: the default
    with pytest.raises(FrozenInstanceError):
        s.lr = 1.0  # type: ignore[misc]
    assert ClassificationSettings.from_dict(s.to_dict()) == s         # what the worker gets


def test_the_spam_variants_resolve_to_typed_settings():
    spam = find_exercise(ROOT / "exercises", "spam")
    assert TASKS[spam.task].settings is ClassificationSettings
    for name in spam.variants:
        s = resolve_settings(spam.variant(name), None, spam.task)
        assert ClassificationSettings.from_dict(s).model == spam.variant(name).settings["model"]


@pytest.mark.parametrize("pair, expected", [
    ("batch_size=0", "--set batch_size=0: batch_size must be an integer >= 1 and <= 4096"),
    ("epochs=-1", "--set epochs=-1: epochs must be an integer >= 1 and <= 1000"),
    ("max_length=1000000000",
     "--set max_length=1000000000: max_length must be an integer >= 1 and <= 8192"),
    ("precision=xyz", "--set precision=xyz: precision must be one of auto, fp32, bf16, fp16"),
    ("threads=1000", "--set threads=1000: threads must be an integer >= 0 and <= "),
    ("lr=fast", "--set lr=fast: lr must be a number > 0 and <= 1"),
    ("epochs=1.5", "--set epochs=1.5: epochs must be an integer"),
    ("checkpoint=maybe", "--set checkpoint=maybe: checkpoint must be true or false"),
    ("bogus=1", "--set bogus=1: unknown setting; known: batch_size, checkpoint"),
])
def test_a_bad_set_is_refused_in_one_line_exit_2_nothing_recorded(tmp_path, pair, expected):
    db = tmp_path / "study.db"
    out = CliRunner().invoke(main, ["--db", str(db), "exercise", "run", "spam", "-v", "tiny",
                                    "--set", pair, "--json"])
    assert out.exit_code == 2, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], out.output
    assert not db.exists()                      # nothing recorded, not even a database


def test_an_unknown_device_is_refused_the_same_way(tmp_path):
    db = tmp_path / "study.db"
    out = CliRunner().invoke(main, ["--db", str(db), "exercise", "run", "spam", "-v", "tiny",
                                    "--device", "tpu9", "--json"])
    assert out.exit_code == 2 and "--device tpu9: not a device; allowed: auto, cpu" in out.output
    assert not db.exists()
    for ok in ("auto", "cpu", "cuda", "cuda:1", "mps", None):
        check_device(ok)
    with pytest.raises(SettingsError):
        check_device("cuda:x")


def test_a_bad_value_in_exercise_toml_names_the_file():
    with pytest.raises(SettingsError, match="exercise.toml batch_size=0: batch_size must be"):
        ClassificationSettings.build({"batch_size": 0})
