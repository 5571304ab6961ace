"""The DEFAULT variants of the memory, sweep and export exercises, run as `studyapp exercise
run ID` runs them (the worker in a child process, offline, the reference solution on the
real MiniLM), finish and pass all of their checks, and show what their lessons are about.

These are slow tests (a minute or two each on a quiet 2-core CPU). Skip them while
developing with `-m "not default_variant"`; run only them with `-m default_variant`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studyapp.config import Settings

pytestmark = [pytest.mark.default_variant, pytest.mark.real_model]


@pytest.fixture(scope="session")
def model_cache(request, tmp_path_factory) -> Path:
    """One model cache for the session (and later ones, through pytest's cache)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("studyapp-model-cache"))
    return tmp_path_factory.mktemp("studyapp-model-cache")


def _memory(m: dict[str, Any]) -> None:
    assert m["model"] == "minilm"
    # accumulation: the same curve from a quarter of the activations at a time
    assert m["accumulation_curve_gap"] < 1e-3
    assert m["accumulation_activation_mb"] < 0.4 * m["batch_activation_mb"]
    # checkpointing keeps only the blocks' inputs, and costs time
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
    "memory": _memory, "sweep": _sweep, "export": _export}


@pytest.mark.parametrize("exercise_id", sorted(OUTCOMES))
def test_default_variant_passes_offline(exercise_id, tmp_path, model_cache):
    from studyapp.services.exercises import ExerciseService

    svc = ExerciseService(Settings.from_env(db=tmp_path / "db.sqlite"), cache_dir=model_cache,
                          data_dir=tmp_path / "data")
    ex = svc.exercise(exercise_id)
    handle = svc.start_run(exercise_id)          # the default variant, the reference solution
    result = handle.wait()
    assert result.status == "finished", (result.error, handle.stderr_tail())
    assert result.variant == ex.default_variant
    failed = [f"{c['name']}: {c['message']}" for c in result.checks if not c["passed"]]
    assert result.checks and result.passed is True, "checks failed:\n" + "\n".join(failed)
    OUTCOMES[exercise_id](result.metrics)
    assert svc.run(result.run_id).status == "finished"
