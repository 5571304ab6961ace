"""A tiny-model run of each exercise of the set completes in seconds, streams events and
reports its metrics and checks; the CUDA path runs where a GPU is."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
import torch

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.training.events import Evaluation, Event, Log, Started, Step
from studyapp.training.runtime import CodeChecksFailed, RunContext
from studyapp.training.tasks import module_for

# what each task must measure (beyond its checks)
METRICS = {
    "sft": ("response_loss_before", "response_loss", "style_share_before", "style_share"),
    "lora": ("lora_trainable_params", "lora_trainable_share", "full_trainable_params",
             "lora_peak_memory_mb", "full_peak_memory_mb", "lora_time_per_step_s",
             "full_time_per_step_s", "lora_accuracy", "full_accuracy", "reload_error",
             "swap_error", "lora_delta_error"),
    "pretraining": ("clm_perplexity", "mlm_perplexity", "mlm_high_perplexity",
                    "clm_params", "mlm_params"),
    "overfitting": ("overfit_best_val_loss", "overfit_final_val_loss", "early_stop_epoch",
                    "restore_error", "high_lr_loss_ratio"),
}


def _spec(tmp_path, ex_id, code=None, device=None, overrides=None):
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    return svc.build_spec(ex_id, variant="tiny", code=code, device=device,
                          overrides=overrides)


def _run(spec) -> tuple[dict, list[Event]]:
    events: list[Event] = []
    module = importlib.import_module(module_for(spec.task))
    result = module.run(RunContext(spec=spec, emit=events.append))
    return result, events


@pytest.mark.parametrize("ex_id", sorted(METRICS))
def test_tiny_run_completes(tmp_path, ex_id):
    spec = _spec(tmp_path, ex_id)
    result, events = _run(spec)
    assert isinstance(events[0], Log | Started)
    assert any(isinstance(e, Started) for e in events)
    steps = [e for e in events if isinstance(e, Step)]
    assert steps and all(math.isfinite(e.loss) or ex_id == "overfitting" for e in steps)
    assert any(isinstance(e, Evaluation) and e.step == 0 for e in events)
    for name in METRICS[ex_id]:
        assert name in result["metrics"], f"{ex_id} did not measure {name}"
    assert len(result["checks"]) == len(spec.checks)
    for check in result["checks"]:
        assert set(check) >= {"name", "passed", "expected", "measured", "message"}
    json.dumps(result["metrics"], allow_nan=True)     # the worker sends it as JSON
    assert result["losses"]["train"]


@pytest.mark.parametrize("ex_id", sorted(METRICS))
def test_the_original_learner_file_stops_the_run_before_training(tmp_path, ex_id):
    spec = _spec(tmp_path, ex_id, code="learner")
    with pytest.raises(CodeChecksFailed) as info:
        _run(spec)
    assert "not written yet" in str(info.value)


def test_lora_saves_an_adapter_and_two_adapters_swap(tmp_path):
    result, _ = _run(_spec(tmp_path, "lora"))
    m = result["metrics"]
    assert m["lora_trainable_params"] < m["full_trainable_params"]
    assert m["lora_training_state_mb"] < m["full_training_state_mb"]
    assert m["reload_error"] < 1e-5 and m["swap_error"] < 1e-6
    assert m["lora_delta_error"] < 1e-4
    assert m["adapter_kb"] > 0


def test_qlora_without_cuda_says_it_needs_a_gpu(tmp_path):
    from studyapp.training.tasks.lora import qlora_unavailable_reason

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    reason = qlora_unavailable_reason()
    assert reason and "CUDA GPU" in reason
    result, events = _run(_spec(tmp_path, "lora", overrides={"qlora": "true"}))
    assert "CUDA GPU" in result["metrics"]["qlora"]
    assert any(isinstance(e, Log) and "CUDA GPU" in e.message for e in events)


def test_overfitting_writes_one_plot_of_the_three_runs(tmp_path):
    result, _ = _run(_spec(tmp_path, "overfitting"))
    plot = result["metrics"]["plot_file"]
    text = Path(plot).read_text(encoding="utf-8")
    for name in ("overfit (val)", "early_stop (val)", "high_lr (val)"):
        assert name in text


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.cuda
@pytest.mark.parametrize("ex_id", sorted(METRICS))
def test_tiny_run_on_cuda_uses_bf16(tmp_path, ex_id):
    result, events = _run(_spec(tmp_path, ex_id, device="cuda"))
    started = next(e for e in events if isinstance(e, Started))
    assert started.device.startswith("cuda")
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert result["metrics"]["precision"] == expected


@cuda
@pytest.mark.cuda
def test_qlora_runs_on_cuda_with_bitsandbytes(tmp_path):
    pytest.importorskip("bitsandbytes")
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    spec = svc.build_spec("lora", variant="qlora", device="cuda",
                          overrides={"max_train_examples": "32", "max_eval_examples": "32",
                                     "second_adapter_steps": "1"})
    result, _ = _run(spec)
    assert "qlora" not in result["metrics"]          # no "needs a GPU" message
    assert result["metrics"]["lora_trainable_share"] < 0.05


def test_a_run_through_the_worker(tmp_path):
    from studyapp.training import worker

    assert worker.task_module("pretraining") == "studyapp.training.tasks.pretraining"
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"))
    handle = svc.start_run("pretraining", variant="tiny")
    result = handle.wait()
    assert result.status == "finished", (result.error, handle.stderr_tail())
    assert "clm_perplexity" in result.metrics
    assert svc.run(handle.run_id).status == "finished"


@pytest.mark.real_model
def test_sft_default_model_smollm2_trains_and_answers(tmp_path, request):
    """The default SFT model, on a budget of two pairs (the SmolLM2 conversion is cached in
    pytest's cache folder, as in test_training_models.py)."""
    cache = Path(request.config.cache.mkdir("studyapp-model-cache"))
    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"), cache_dir=cache)
    spec = svc.build_spec("sft", overrides={
        "max_train_examples": "2", "max_eval_examples": "2", "max_new_tokens": "4",
        "batch_size": "2", "max_length": "64"})
    result, _ = _run(spec)
    m = result["metrics"]
    assert m["model"] == "smollm2" and m["steps"] == 1
    assert math.isfinite(m["response_loss"]) and m["response_loss_before"] < 10
    answers = json.loads(Path(m["answers_file"]).read_text(encoding="utf-8"))
    assert len(answers) == 2 and all(a["before"] for a in answers)
