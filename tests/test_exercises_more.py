"""The memory, sweep and export exercises: listed and linked to their lessons; the bundled
learner files fail their fast checks saying what was expected, the reference solutions
pass, typical mistakes are named; each `tiny` variant trains to the end in seconds on the
engine (the sweep through the worker, its trials recorded under its run)."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import PROJECT_ROOT, Settings
from studyapp.services.exercises import ExerciseService
from studyapp.training.catalog import load_exercises
from studyapp.training.codecheck import check_file
from studyapp.training.events import Evaluation, Event, Started, Step, Trial
from studyapp.training.runtime import CodeChecksFailed, RunContext
from studyapp.training.tasks import TASKS, module_for

EXERCISES = PROJECT_ROOT / "exercises"
LESSONS = {"memory": "sft-workflow", "sweep": "peft-lora", "export": "peft-lora"}
# what each tiny run must measure, beyond its checks
METRICS = {
    "memory": ("batch_activation_mb", "accumulation_activation_mb",
               "checkpointing_activation_mb", "batch_peak_memory_mb",
               "batch_time_per_step_s", "accumulation_time_per_step_s",
               "accumulation_curve_gap", "accumulation_gradient_error",
               "optimizer_steps_error", "effective_batch_error", "batch_accuracy",
               "checkpointing_activation_share"),
    "export": ("adapter_mb", "merged_mb", "merge_error", "merged_output_error",
               "reload_output_error", "reload_prediction_agreement", "adapter_share",
               "safetensors", "onnx"),
}


def _exercise(ex_id: str):
    exercises, problems = load_exercises(EXERCISES)
    assert not problems, problems
    return {e.id: e for e in exercises}[ex_id]


def test_exercise_list_json_links_each_to_its_lesson(tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "db.sqlite"), "exercise", "list",
                                       "--json"])
    assert result.exit_code == 0, result.output
    listed = {e["id"]: e for e in json.loads(result.output)}
    lesson_ids = {}
    for path in (PROJECT_ROOT / "lessons").glob("*.md"):
        head = path.read_text(encoding="utf-8").split("\n---", 1)[0]
        ids = [ln.split(":", 1)[1].strip() for ln in head.splitlines() if ln.startswith("id:")]
        links = [ln for ln in head.splitlines() if ln.startswith("exercises:")]
        lesson_ids[ids[0]] = links[0] if links else ""
    for ex_id, lesson in LESSONS.items():
        assert listed[ex_id]["lesson"] == lesson and listed[ex_id]["title"]
        assert ex_id in lesson_ids[lesson], f"lesson {lesson} does not link {ex_id}"
        text = (PROJECT_ROOT / "lessons").glob("*.md")
        assert any(f"Exercise: {ex_id}\n" in p.read_text(encoding="utf-8") for p in text), (
            f"no example links {ex_id}")


def test_lint_of_the_bundled_lessons_stays_clean():
    result = CliRunner().invoke(main, ["lint", str(PROJECT_ROOT / "lessons")])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output, result.output


@pytest.mark.parametrize("ex_id", sorted(LESSONS))
def test_each_names_a_typed_task_with_a_tiny_variant(ex_id):
    ex = _exercise(ex_id)
    assert module_for(ex.task) == TASKS[ex_id].module
    settings = TASKS[ex_id].settings
    assert settings is not None, "a typed settings class"
    for variant in ex.variants.values():
        settings.build(variant.settings)            # every variant's values are allowed
    assert "tiny" in ex.variants and ex.checks and ex.hints
    assert "TODO(learner)" in ex.learner_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("ex_id", sorted(LESSONS))
def test_original_learner_file_fails_saying_what_was_expected(ex_id):
    ex = _exercise(ex_id)
    results = check_file(ex.learner_file, ex.code_checks_file)
    assert results and not any(r.passed for r in results)
    for r in results:
        assert "not written yet" in r.message and "expected" in r.message, r


@pytest.mark.parametrize("ex_id", sorted(LESSONS))
def test_reference_solution_passes(ex_id):
    ex = _exercise(ex_id)
    results = check_file(ex.solution_file, ex.code_checks_file)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def _patched(tmp_path: Path, ex_id: str, old: str, new: str) -> Path:
    text = _exercise(ex_id).solution_file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in the solution of {ex_id}"
    path = tmp_path / f"{ex_id}_mistake.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("ex_id,old,new,expected", [
    ("memory", "return loss / accumulation_steps", "return loss", "not scaled"),
    ("memory", "return loss / accumulation_steps", "return loss * accumulation_steps",
     "divide instead"),
    ("memory", "return loss / accumulation_steps", "return (loss / accumulation_steps).item()",
     "do not call .item()"),
    ("memory", "return math.ceil(micro_batches / accumulation_steps) * epochs",
     "return micro_batches // accumulation_steps * epochs", "rounded down"),
    ("sweep", "for lr in learning_rates for rank in ranks]",
     "for lr, rank in zip(learning_rates, ranks)]", "zip"),
    ("sweep", '"alpha": 2 * rank}', '"alpha": 16}', "a fixed alpha"),
    ("sweep", "and math.isfinite(t[\"val_loss\"])]", "]", "not finite"),
    ("sweep", 'candidates = [t for t in trials if not t["pruned"] and',
     'candidates = [t for t in trials if', "pruned"),
    ("export", "return weight + (delta.T if fan_in_fan_out else delta)",
     "return weight + delta.T", "transpose the update only when"),
    ("export", "return weight + (delta.T if fan_in_fan_out else delta)",
     "return weight + delta", "must be transposed"),
    ("export", "return weight + (delta.T if fan_in_fan_out else delta)",
     "weight += delta.T if fan_in_fan_out else delta\n    return weight", "in place"),
    ("export", "delta = (lora_B @ lora_A) * (alpha / r)", "delta = lora_B @ lora_A",
     "multiply B @ A by alpha / r"),
    ("export", "same = (logits_a.argmax(dim=-1) == logits_b.argmax(dim=-1)).float().mean()",
     "same = (logits_a == logits_b).all(dim=-1).float().mean()", "argmax"),
])
def test_a_typical_mistake_is_named(tmp_path, ex_id, old, new, expected):
    results = check_file(_patched(tmp_path, ex_id, old, new), _exercise(ex_id).code_checks_file)
    failed = "\n".join(r.message for r in results if not r.passed)
    assert failed, "the mistake was not caught"
    assert expected in failed, failed


# --- the tiny variants, on the engine --------------------------------------------------------

def _spec(tmp_path, ex_id, code=None):
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"),
                          cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    return svc.build_spec(ex_id, variant="tiny", code=code)


def _run(spec) -> tuple[dict, list[Event]]:
    events: list[Event] = []
    module = importlib.import_module(module_for(spec.task))
    result = module.run(RunContext(spec=spec, emit=events.append))
    return result, events


@pytest.mark.parametrize("ex_id", sorted(METRICS))
def test_tiny_run_completes(tmp_path, ex_id):
    spec = _spec(tmp_path, ex_id)
    result, events = _run(spec)
    started = [e for e in events if isinstance(e, Started)]
    assert len(started) == 1, "one Started for the whole run"
    steps = [e.step for e in events if isinstance(e, Step)]
    assert steps and steps == sorted(steps) and started[0].total_steps == steps[-1], (
        "one step axis over all the phases of the run")
    assert any(isinstance(e, Evaluation) and e.step == 0 for e in events)
    for name in METRICS[ex_id]:
        assert name in result["metrics"], f"{ex_id} did not measure {name}"
    assert len(result["checks"]) == len(spec.checks)
    json.dumps(result["metrics"], allow_nan=True)


def test_tiny_memory_accumulation_follows_the_batch(tmp_path):
    m, _ = _run(_spec(tmp_path, "memory"))
    assert m["metrics"]["accumulation_curve_gap"] < 1e-4
    assert m["metrics"]["accumulation_gradient_error"] < 1e-5
    assert m["metrics"]["optimizer_steps_error"] == 0
    assert (m["metrics"]["checkpointing_activation_mb"]
            < m["metrics"]["accumulation_activation_mb"]
            < m["metrics"]["batch_activation_mb"])


def test_tiny_export_merges_saves_and_reloads(tmp_path):
    spec = _spec(tmp_path, "export")
    result, _ = _run(spec)
    m = result["metrics"]
    assert m["merged_layers"] == 2, "both GPT-2 blocks' c_attn (Conv1D: fan_in_fan_out)"
    assert m["merge_error"] < 1e-6 and m["merged_output_error"] < 1e-5
    assert m["reload_output_error"] == 0 and m["reload_prediction_agreement"] == 1
    merged = Path(spec.output_dir) / "merged"
    assert (merged / "model.safetensors").is_file() and (merged / "config.json").is_file()
    assert (Path(spec.output_dir) / "adapter" / "adapter_config.json").is_file()
    assert 0 < m["adapter_mb"] < m["merged_mb"]
    assert m["onnx"].startswith("not exported: switched off")


@pytest.mark.parametrize("ex_id", sorted(LESSONS))
def test_the_original_learner_file_stops_the_run_before_training(tmp_path, ex_id):
    spec = _spec(tmp_path, ex_id, code="learner")
    with pytest.raises(CodeChecksFailed) as info:
        _run(spec)
    assert "not written yet" in str(info.value) and "expected" in str(info.value)


def test_tiny_sweep_through_the_worker_records_each_trial(tmp_path):
    db = tmp_path / "db.sqlite"
    svc = ExerciseService(Settings.from_env(db=db), cache_dir=tmp_path / "cache",
                          data_dir=tmp_path / "data")
    handle = svc.start_run("sweep", variant="tiny")
    events = list(handle.events())
    result = handle.result
    assert result.status == "finished", (result.error, handle.stderr_tail())
    trials = [e for e in events if isinstance(e, Trial)]
    assert [t.trial for t in trials] == [0, 1, 2], "the default, then the grid"
    assert {t.status for t in trials} <= {"finished", "pruned"}
    assert any(t.status == "pruned" for t in trials), "lr = 100 diverges and is pruned"
    m = result.metrics
    assert m["selection_error"] == 0 and m["chosen_trial"] in (1, 2)
    assert 0 <= m["default_test_accuracy"] <= 1          # what the learner predicts
    assert math.isfinite(m["chosen_test_loss"]) and math.isfinite(m["default_test_loss"])
    recorded = svc.trials(result.run_id)
    assert [r.metrics["trial"] for r in recorded] == [0, 1, 2]
    assert all(r.parent_id == result.run_id for r in recorded)
    assert [r.id for r in svc.runs("sweep")] == [result.run_id]
    out = CliRunner().invoke(main, ["--db", str(db), "exercise", "runs", "sweep"]).output
    assert out.count("└") == 3 and "<- chosen" in out, out


@pytest.mark.parametrize("ex_id,pair,said", [
    ("memory", "accumulation_steps=3", "batch_size must be a multiple of accumulation_steps"),
    ("memory", "modes=batch,fast", "modes must be comma-separated names"),
    ("sweep", "learning_rates=abc", "learning_rates must be comma-separated positive"),
    ("sweep", "ranks=0", "ranks must be comma-separated positive integers"),
    ("sweep", "learning_rates=1,2,3,4,5,6,7,8,9", "more than max_trials=16"),
    ("export", "rank=0", "rank must be an integer >= 1"),
])
def test_a_bad_setting_is_refused_before_any_run(tmp_path, ex_id, pair, said):
    db = tmp_path / "db.sqlite"
    result = CliRunner().invoke(main, ["--db", str(db), "exercise", "run", ex_id,
                                       "--set", pair])
    assert result.exit_code == 2, result.output
    assert said in result.output and len(result.output.strip().splitlines()) == 1
    assert not db.exists() or not ExerciseService(Settings.from_env(db=db)).runs(ex_id)


@pytest.mark.parametrize("ex_id", sorted(LESSONS))
def test_the_prediction_links_real_concept_cards_of_the_lesson(ex_id):
    from studyapp.course.loader import load_lessons
    from studyapp.services.predictions import prediction_for

    spec = prediction_for(_exercise(ex_id))
    assert spec is not None and spec.kind == "fraction"
    concepts = {r.lesson.id: {c.id for c in r.lesson.concepts}
                for r in load_lessons(PROJECT_ROOT / "lessons") if r.lesson}
    assert spec.concepts and set(spec.concepts) <= concepts[LESSONS[ex_id]]
