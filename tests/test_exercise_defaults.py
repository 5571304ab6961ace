"""Every bundled exercise's DEFAULT variant, run as `studyapp exercise run ID` runs it
(the worker in a child process, offline, the reference solution), finishes and passes all
of its checks, and shows the outcome its lesson is about.

These are the slow tests of `make test` (about a minute each on a 2-core CPU: real MiniLM
and SmolLM2, the pretraining objectives' 3 x 1200 steps). Skip them while developing with
`-m "not default_variant"`; run only them with `-m default_variant`.

The models come from one cache folder that outlives the test session (pytest's cache, the
folder test_training_models.py uses too), so SmolLM2's GGUF -> safetensors conversion
happens at most once per checkout, not once per test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studyapp.config import Settings, bundled_exercises_dir
from studyapp.training.catalog import load_exercises

pytestmark = [pytest.mark.default_variant, pytest.mark.real_model]


def _bundled_ids() -> list[str]:
    exercises, _ = load_exercises(bundled_exercises_dir())
    return [ex.id for ex in exercises]


@pytest.fixture(scope="session")
def model_cache(request, tmp_path_factory) -> Path:
    """One model cache for the whole session (and later sessions, via pytest's cache)."""
    cache = getattr(request.config, "cache", None)   # None under -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("studyapp-model-cache"))
    return tmp_path_factory.mktemp("studyapp-model-cache")


# --- what each default variant must show, beyond its exercise.toml checks ------------------

def _spam(m: dict[str, Any]) -> None:
    assert m["model"] == "minilm"
    assert m["accuracy"] >= 0.95, "the MiniLM encoder classifies about 97% of test messages"
    assert m["val_loss"] < m["val_loss_first"]


def _lora(m: dict[str, Any]) -> None:
    assert m["lora_accuracy"] >= m["full_accuracy"] - 0.01, (
        f"LoRA {m['lora_accuracy']:.3f} is not within 0.01 of full fine-tuning "
        f"{m['full_accuracy']:.3f}")
    assert m["lora_trainable_params"] < m["full_trainable_params"] / 20
    assert m["reload_accuracy"] == m["lora_accuracy"]
    assert m["flipped_adapter_accuracy"] < 0.5, "the label-flipped adapter is swapped in"


def _overfitting(m: dict[str, Any]) -> None:
    # the curves: without stopping the training loss falls far below the validation loss,
    # which passed its minimum and rose again
    assert m["overfit_final_train_loss"] < 0.1 * m["overfit_final_val_loss"]
    assert 0 < m["overfit_best_epoch"] < m["epochs"]
    assert m["overfit_final_val_loss"] > m["overfit_best_val_loss"]
    # early stopping: the learner's rule stops `patience` evaluations after the best one,
    # and the run keeps the best checkpoint
    patience = 3
    assert m["early_stop_epoch"] == m["early_stop_best_epoch"] + patience
    assert m["early_stop_saved_epochs"] > 0
    assert m["early_stop_test_loss"] < m["overfit_test_loss"]
    assert m["high_lr_loss_ratio"] >= 2.0


def _pretraining(m: dict[str, Any]) -> None:
    # both objectives learned far past byte frequencies (about 21); the ordering on held-out
    # text: the causal LM per next byte, then BERT's 15% masking per masked byte, then the
    # masked LM trained at 80% (evaluated at the same 15%)
    assert m["clm_perplexity"] < 8.0 and m["mlm_perplexity"] < 8.0
    assert m["clm_perplexity"] < m["mlm_perplexity"] < m["mlm_high_perplexity"]
    for phase in ("clm", "mlm", "mlm_high"):
        assert m[f"{phase}_perplexity"] < m[f"{phase}_perplexity_first"] / 10
    assert m["clm_params"] == pytest.approx(m["mlm_params"], rel=0.1), "the same tiny size"


def _sft(m: dict[str, Any]) -> None:
    assert m["model"] == "smollm2"
    assert m["response_loss"] < m["response_loss_before"]
    assert m["style_share"] >= 0.8 > m["style_share_before"], "the trained style is learned"
    assert m["masked_prompt_tokens"] > 0 and m["response_tokens"] > 0


def _memory(m: dict[str, Any]) -> None:
    assert m["model"] == "minilm"
    # accumulation: the same curve from a quarter of the activations at a time
    assert m["accumulation_curve_gap"] < 1e-3
    assert m["accumulation_activation_mb"] < 0.4 * m["batch_activation_mb"]
    # checkpointing keeps little more than the blocks' inputs
    assert m["checkpointing_activation_mb"] < 0.2 * m["batch_activation_mb"]
    # the same optimizer steps, as the learner's bookkeeping says
    assert m["accumulation_steps"] == m["batch_steps"] == m["optimizer_steps_yours"]
    assert m["micro_batches_per_step"] == 4 and m["effective_batch_size"] == 16


def _sweep(m: dict[str, Any]) -> None:
    assert m["model"] == "minilm"
    assert m["trials"] == 8 and 1 <= m["pruned_trials"] < m["trials"]
    assert m["chosen_test_loss"] < m["default_test_loss"]
    assert m["chosen_name"] != m["default_name"] and m["selection_error"] == 0


def _export(m: dict[str, Any]) -> None:
    assert m["model"] == "minilm"
    assert m["merged_layers"] == 12, "query and value of the 6 blocks"
    assert m["adapter_mb"] < 2 and 80 < m["merged_mb"] < 100
    assert m["onnx"] == "exported" and m["onnx_prediction_agreement"] == 1


OUTCOMES: dict[str, Callable[[dict[str, Any]], None]] = {
    "spam": _spam,
    "lora": _lora,
    "overfitting": _overfitting,
    "pretraining": _pretraining,
    "sft": _sft,
    "memory": _memory,
    "sweep": _sweep,
    "export": _export,
}


def test_the_outcome_checks_name_bundled_exercises():
    """The parametrisation below follows the catalogue (a new exercise gets its default
    test without an edit here); each outcome check above must still name an exercise."""
    assert set(OUTCOMES) <= set(_bundled_ids())


@pytest.mark.parametrize("exercise_id", _bundled_ids())
def test_default_variant_passes_offline(exercise_id, tmp_path, model_cache):
    from studyapp.services.exercises import ExerciseService

    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"), cache_dir=model_cache)
    ex = svc.exercise(exercise_id)
    handle = svc.start_run(exercise_id)          # the default variant, the reference solution
    result = handle.wait()
    assert result.status == "finished", (result.error, handle.stderr_tail())
    assert result.variant == ex.default_variant
    assert result.checks, "the default variant has checks"
    failed = [f"{c['name']}: {c['message']}" for c in result.checks if not c["passed"]]
    assert result.passed is True, "checks failed:\n" + "\n".join(failed)
    if exercise_id in OUTCOMES:
        OUTCOMES[exercise_id](result.metrics)
    assert svc.run(result.run_id).status == "finished"     # recorded like any run
