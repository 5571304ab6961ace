"""The exercise-set tasks (sft, lora, pretraining, overfitting) train through the one engine:
only training/engine.py steps an optimizer, each task's settings are one typed dataclass
checked before a run, a run with several trainings is one stream of events (one Started,
steps counted across its fits), and the batches come in the order a seed gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.training.settings import SettingsError
from studyapp.training.tasks import TASKS

ROOT = Path(__file__).resolve().parent.parent
PORTED = ("sft", "lora", "pretraining", "overfitting")


def test_only_the_engine_calls_backward_or_steps_an_optimizer():
    pattern = re.compile(r"\.backward\(|optimizer\.step\(")
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "studyapp").rglob("*.py")
                   if pattern.search(p.read_text(encoding="utf-8")))
    assert found == ["studyapp/training/engine.py"]
    assert "from accelerate import Accelerator" in (ROOT / found[0]).read_text()


@pytest.mark.parametrize("task", PORTED)
def test_each_task_has_one_typed_settings_class_that_knows_every_toml_setting(tmp_path, task):
    cls = TASKS[task].settings
    assert cls is not None
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    ex = next(e for e in svc.load()[0] if e.task == task)
    for variant in ex.variants.values():        # exercise.toml only overrides the defaults
        assert set(variant.settings) <= set(cls.fields()), variant.name
        cls.build(variant.settings)


@pytest.mark.parametrize("exercise_id, key, value, allowed", [
    ("overfitting", "epochs", "-1", "an integer >= 1"),
    ("lora", "rank", "0", "an integer >= 1"),
    ("lora", "qlora", "maybe", "true or false"),
    ("pretraining", "mask_prob", "1.5", "a number > 0 and < 1"),
    ("sft", "batch_size", "0", "an integer >= 1"),
    ("sft", "precision", "xyz", "one of auto, fp32, bf16, fp16"),
])
def test_a_bad_setting_is_refused_before_the_run_in_one_line(tmp_path, exercise_id, key,
                                                            value, allowed):
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    with pytest.raises(SettingsError) as info:
        svc.start_run(exercise_id, variant="tiny", overrides={key: value})
    message = str(info.value)
    assert "\n" not in message and f"{key}={value}" in message and allowed in message
    assert svc.runs() == []                               # nothing recorded


def test_seeded_order_shuffles_every_pass_the_same_way_for_a_seed():
    torch = pytest.importorskip("torch")
    from studyapp.training.tasks.common import SeededOrder

    a, b = SeededOrder(10, 3), SeededOrder(10, 3)
    first, second = list(a), list(a)
    assert sorted(first) == list(range(10)) and first != second       # a new order per pass
    assert [first, second] == [list(b), list(b)]                     # the same for the seed
    loader = torch.utils.data.DataLoader(list(range(10)), batch_size=4, sampler=SeededOrder(10, 3),
                                         generator=torch.Generator())
    assert [len(x) for x in loader] == [4, 4, 2]


def test_a_run_of_several_fits_is_one_event_stream(tmp_path):
    """lora trains three times (LoRA, a second adapter, full): one Started with the steps
    of all three, steps counted across them, an evaluation before the first step."""
    import importlib

    from studyapp.training.events import Evaluation, Started, Step
    from studyapp.training.runtime import RunContext
    from studyapp.training.tasks import module_for

    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    spec = svc.build_spec("lora", variant="tiny")
    events: list = []
    result = importlib.import_module(module_for("lora")).run(
        RunContext(spec=spec, emit=events.append))
    started = [e for e in events if isinstance(e, Started)]
    steps = [e.step for e in events if isinstance(e, Step)]
    assert len(started) == 1 and started[0].total_steps == len(steps)
    assert steps == list(range(1, len(steps) + 1))
    evaluations = [e.step for e in events if isinstance(e, Evaluation)]
    assert evaluations[0] == 0 and evaluations[-1] == steps[-1]
    m = result["metrics"]
    assert m["steps"] == len(steps) == 2 * m["lora_steps"] + spec.settings["second_adapter_steps"]
    assert m["processes"] == 1 and m["precision"] == "fp32"


@pytest.mark.parametrize("exercise_id", ["overfitting", "pretraining"])
def test_a_task_of_several_fits_runs_on_two_processes(tmp_path, exercise_id):
    """Every rank trains every fit; the main process's evaluations reach the others (the
    early-stopping epoch and the curves are computed on each), and rank 0 reports."""
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    handle = svc.start_run(exercise_id, variant="tiny", processes=2, overrides={"threads": "1"})
    result = handle.wait()
    assert result.status == "finished", (result.error, handle.stderr_tail())
    assert result.metrics["processes"] == 2
    assert result.step == result.metrics["steps"] > 0
