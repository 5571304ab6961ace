"""Broken exercise folders: each is listed as broken with its message, the others stay
usable (`exercise list`, `exercise run`, `exercise hint`, the TUI's `x`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, Static

from studyapp.cli import main
from studyapp.config import Settings, bundled_exercises_dir, bundled_lessons_dir
from studyapp.services.study import StudyService
from studyapp.training.catalog import load_exercises
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercises import ExercisesScreen

GOOD = bundled_exercises_dir() / "spam"

BROKEN = {
    # name: (how to break it, what the message says)
    "toml-is-a-folder": (lambda f: (f / "exercise.toml").mkdir(), "is a folder"),
    "value-is-text": (lambda f: _check(f, 'value = "high"'), "'high' is not a finite number"),
    "value-is-bool": (lambda f: _check(f, "value = true"), "is not a finite number"),
    "value-is-nan": (lambda f: _check(f, "value = nan"), "is not a finite number"),
    "ref-is-number": (lambda f: _check(f, "ref = 3"), "ref must be a metric name"),
    "checks-not-a-list": (lambda f: _write(f, 'title = "t"\nlesson = "l"\nchecks = "x"\n'),
                          "`checks` must be a list"),
    "settings-not-a-table": (lambda f: _write(f, 'title = "t"\nlesson = "l"\nsettings = 3\n'),
                             "`settings` must be a table"),
    "files-not-names": (lambda f: _write(f, 'title = "t"\nlesson = "l"\n[files]\nlearner = 3\n'),
                        "files.learner must be a file name"),
    "not-utf8": (lambda f: (f / "exercise.toml").write_bytes(b'title = "\xff\xfe"\n'),
                 "is not valid TOML"),
    "nul-bytes": (lambda f: (f / "exercise.toml").write_bytes(b'title = "a\x00b"\n'),
                  "is not valid TOML"),
    "variant-not-a-table": (lambda f: _write(f, 'title = "t"\nlesson = "l"\nvariants = 1\n'),
                            "`variants` must be a table"),
    "default-variant-list": (lambda f: _write(
        f, 'title = "t"\nlesson = "l"\ndefault_variant = [1]\n[variants.a]\n'),
        "cannot be read"),
}


def _write(folder: Path, text: str) -> None:
    (folder / "exercise.toml").write_text(text, encoding="utf-8")


def _check(folder: Path, line: str) -> None:
    _write(folder, 'title = "t"\nlesson = "l"\n[[checks]]\nmetric = "accuracy"\n'
                   f'op = ">="\n{line}\n')


@pytest.fixture
def exercises(tmp_path: Path) -> Path:
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copytree(GOOD, root / "spam")
    for name, (breaker, _) in BROKEN.items():
        (root / name).mkdir()
        breaker(root / name)
    # a second folder that claims the id of the first
    shutil.copytree(GOOD, root / "zz-copy")
    toml = (root / "zz-copy" / "exercise.toml").read_text(encoding="utf-8")
    (root / "zz-copy" / "exercise.toml").write_text('id = "spam"\n' + toml, encoding="utf-8")
    return root


def test_each_broken_folder_is_a_problem_with_its_message(exercises):
    found, problems = load_exercises(exercises)
    assert [e.id for e in found] == ["spam"]
    by_folder = {p.path.parent.name: p.message for p in problems}
    for name, (_, message) in BROKEN.items():
        assert message in by_folder[name], (name, by_folder.get(name))
    assert "already used by" in by_folder["zz-copy"]


def invoke(*args: str, exercises: Path, tmp_path: Path):
    return CliRunner().invoke(main, ["--db", str(tmp_path / "db"), *args],
                              env={"STUDYAPP_EXERCISES": str(exercises)})


def test_the_cli_lists_the_good_one_and_warns_about_each_broken_one(exercises, tmp_path):
    out = invoke("exercise", "list", "--json", exercises=exercises, tmp_path=tmp_path)
    assert out.exit_code == 0 and out.exception is None, out.output
    assert "Traceback" not in out.output
    listed = json.loads(out.stdout)
    assert [e["id"] for e in listed] == ["spam"]
    assert out.output.count("warning:") == len(BROKEN) + 1

    out = invoke("exercise", "hint", "spam", exercises=exercises, tmp_path=tmp_path)
    assert out.exit_code == 0 and out.exception is None, out.output

    out = invoke("exercise", "run", "value-is-text", exercises=exercises, tmp_path=tmp_path)
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit | None)
    assert "'high' is not a finite number" in out.output
    assert "Traceback" not in out.output


async def test_the_tui_list_shows_the_broken_folders(exercises, tmp_path):
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=bundled_lessons_dir(),
                        exercises_dir=exercises)
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ExercisesScreen)
        table = app.screen.query_one("#exercise-list", DataTable)
        assert table.row_count >= 1
        detail = str(app.screen.query_one("#exercise-detail", Static).render())
        assert "is a folder" in detail and "'high' is not a finite number" in detail
    app.service.close()
