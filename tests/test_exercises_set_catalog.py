"""The exercise set is in the catalogue: `studyapp exercise list --json` lists it, each
exercise linked to a bundled lesson."""

from __future__ import annotations

import json

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import PROJECT_ROOT
from studyapp.training.catalog import load_exercises
from studyapp.training.tasks import TASKS, module_for

LESSONS = {
    "overfitting": "supervised-fine-tuning",
    "spam": "gpt-classification",
    "lora": "peft-lora",
    "sft": "sft-workflow",
    "pretraining": "pretraining-objectives",
}


def test_exercise_list_json_has_the_five_exercises(tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "db.sqlite"), "exercise", "list",
                                       "--json"])
    assert result.exit_code == 0, result.output
    listed = {e["id"]: e for e in json.loads(result.output)}
    for ex_id, lesson in LESSONS.items():
        assert ex_id in listed, f"{ex_id} is not listed"
        entry = listed[ex_id]
        assert entry["title"] and entry["lesson"] == lesson


def test_every_lesson_link_points_at_a_bundled_lesson():
    lesson_ids = set()
    for path in (PROJECT_ROOT / "lessons").glob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines()[:10]:
            if line.startswith("id:"):
                lesson_ids.add(line.split(":", 1)[1].strip())
    exercises, problems = load_exercises(PROJECT_ROOT / "exercises")
    assert not problems
    for ex in exercises:
        if ex.id in LESSONS:
            assert ex.lesson in lesson_ids, f"{ex.id}: lesson {ex.lesson!r} is not bundled"


def test_each_new_exercise_names_a_task_with_a_module():
    exercises = {e.id: e for e in load_exercises(PROJECT_ROOT / "exercises")[0]}
    for ex_id in ("sft", "lora", "pretraining", "overfitting"):
        ex = exercises[ex_id]
        assert module_for(ex.task) == TASKS[ex_id].module
        assert "tiny" in ex.variants, f"{ex_id} needs a tiny variant for tests"
        assert ex.checks, f"{ex_id} has no pass condition"
