"""The one training loop (training/engine.py), in this process on tiny models: schedule,
accumulation, clipping, evaluation, early stopping, cancel, checkpoints, precision."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from studyapp.training.engine import (
    Engine,
    Evaluated,
    LengthGroupedSampler,
    TrainConfig,
    count_tokens,
    lr_factor,
    pad_batch,
)
from studyapp.training.events import Checkpoint, Evaluation, Started, Step
from studyapp.training.runtime import RunCancelled, RunContext, RunSpec

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _ctx(tmp_path, cancel=lambda: False):
    events = []
    spec = RunSpec(run_id="r1", exercise="toy", variant="v", task="toy", settings={},
                   device="cpu", output_dir=str(tmp_path / "out"))
    return RunContext(spec=spec, emit=events.append, cancel_requested=cancel), events


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return [(x[i], y[i]) for i in range(n)]


def _collate(rows):
    return {"x": torch.stack([r[0] for r in rows]), "labels": torch.stack([r[1] for r in rows])}


def _loss(model, batch):
    return torch.nn.functional.cross_entropy(model(batch["x"]).float(), batch["labels"])


def _fit(tmp_path, config, **kwargs):
    ctx, events = _ctx(tmp_path, kwargs.pop("cancel", lambda: False))
    engine = Engine(ctx, config)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    loader = torch.utils.data.DataLoader(_data(), batch_size=8, shuffle=True,
                                         collate_fn=_collate,
                                         generator=torch.Generator().manual_seed(0))

    def evaluate(m):
        assert not m.training and not torch.is_grad_enabled()
        batch = engine.to_device(_collate(_data(32, seed=1)))
        return Evaluated(float(_loss(m, batch)), {"acc": 0.5})

    fit = engine.fit(model, loader, _loss, evaluate=evaluate, **kwargs)
    return engine, fit, events


def test_warm_up_then_linear_decay():
    assert [round(lr_factor(i, 10, 2), 3) for i in range(4)] == [0.333, 0.667, 1.0, 0.875]
    assert lr_factor(9, 10, 2) == pytest.approx(0.125)
    assert lr_factor(5, 10, 0, "constant") == 1.0
    assert lr_factor(10, 10, 0, "cosine") == pytest.approx(0.0)


def test_a_fit_emits_started_steps_and_evaluations_and_learns(tmp_path):
    engine, fit, events = _fit(tmp_path, TrainConfig(lr=0.1, epochs=3, eval_every=4,
                                                     warmup_ratio=0.1))
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and events[0].total_steps == 24
    assert isinstance(events[1], Evaluation) and events[1].step == 0   # before training
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.step for s in steps] == list(range(1, 25))
    assert all(s.tokens_per_s > 0 and s.elapsed > 0 and s.memory_mb for s in steps)
    assert steps[0].lr < steps[2].lr                                   # warm-up
    assert [e.step for e in events if isinstance(e, Evaluation)] == [0, 4, 8, 12, 16, 20, 24]
    assert fit.val_losses[-1][1] < fit.val_losses[0][1]
    summary = engine.summary()
    assert summary["steps"] == 24 and summary["processes"] == 1
    assert summary["autocast"] == "fp32" and summary["tokens_per_s"] > 0


def test_gradient_accumulation_counts_optimizer_steps(tmp_path):
    _, fit, events = _fit(tmp_path, TrainConfig(lr=0.1, epochs=1, grad_accum=4))
    assert fit.steps == 2 and events[0].total_steps == 2


def test_early_stopping_from_the_evaluation_hook(tmp_path):
    _, fit, _ = _fit(tmp_path, TrainConfig(lr=0.1, epochs=5, eval_every=2),
                     on_evaluation=lambda step, ev: step >= 4)
    assert fit.stopped_early and fit.steps == 4


def test_cancel_raises_with_what_was_measured(tmp_path):
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(RunCancelled) as info:
        _fit(tmp_path, TrainConfig(lr=0.1, epochs=5), cancel=cancel)
    assert info.value.step >= 1 and "train_loss" in info.value.metrics


def test_checkpoint_writes_the_trainable_weights(tmp_path):
    _, _, events = _fit(tmp_path, TrainConfig(lr=0.1, epochs=1, checkpoint=True))
    saved = [e for e in events if isinstance(e, Checkpoint)]
    assert len(saved) == 1 and saved[0].path.endswith("trainable.safetensors")
    from safetensors.torch import load_file

    assert set(load_file(saved[0].path)) == {"weight", "bias"}


def test_clipping_bounds_the_update(tmp_path):
    # a huge loss: with max_grad_norm the first update moves the weights by at most lr * ~1
    ctx, _ = _ctx(tmp_path)
    engine = Engine(ctx, TrainConfig(lr=0.01, epochs=1, max_grad_norm=1.0, eval_before=False))
    model = torch.nn.Linear(4, 2)
    before = model.weight.detach().clone()
    loader = torch.utils.data.DataLoader(_data(8), batch_size=8, collate_fn=_collate)
    fit = engine.fit(model, loader, lambda m, b: 1e6 * _loss(m, b))
    assert (fit.model.weight.detach() - before).abs().max() < 0.02


def test_bf16_autocast_on_the_cpu_through_accelerate(tmp_path):
    engine, fit, _ = _fit(tmp_path, TrainConfig(lr=0.1, epochs=1, precision="bf16"))
    assert engine.precision == "bf16" and engine.accelerator.mixed_precision == "bf16"
    # the matmul ran in bf16 (Accelerate hands the output back as fp32: bf16 values),
    # where the same layer in fp32 gives values bf16 cannot hold
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))
    with engine.inference(fit.model):
        out = fit.model(x)
    plain = torch.nn.functional.linear(x, fit.model.weight.detach(), fit.model.bias.detach())
    assert torch.equal(out, out.to(torch.bfloat16).float())
    assert not torch.equal(plain, plain.to(torch.bfloat16).float())
    assert fit.model.weight.dtype == torch.float32          # the weights stay fp32


def test_fp16_on_the_cpu_is_refused_with_the_reason(tmp_path):
    # Accelerate 1.15 creates fp16's GradScaler only on an accelerator (accelerator.py:
    # native_amp needs device.type != "cpu"), so the fp16 scaler path cannot run here
    ctx, _ = _ctx(tmp_path)
    with pytest.raises(ValueError, match="precision fp16 needs a GPU"):
        Engine(ctx, TrainConfig(lr=0.1, precision="fp16"))


@cuda
def test_fp16_on_cuda_uses_accelerates_grad_scaler(tmp_path):
    ctx, _ = _ctx(tmp_path)
    ctx.spec = RunSpec(**{**ctx.spec.to_dict(), "device": "cuda"})
    engine = Engine(ctx, TrainConfig(lr=0.1, precision="fp16"))
    assert engine.accelerator.scaler is not None


@cuda
def test_auto_precision_on_cuda_is_bf16_where_supported(tmp_path):
    ctx, _ = _ctx(tmp_path)
    ctx.spec = RunSpec(**{**ctx.spec.to_dict(), "device": "cuda"})
    engine = Engine(ctx, TrainConfig(lr=0.1))
    assert engine.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")


def test_length_grouped_batches_match_the_hf_trainer():
    from transformers.trainer_pt_utils import get_length_grouped_indices

    lengths = [(i * 37) % 50 + 1 for i in range(300)]
    ours = list(LengthGroupedSampler(lengths, 16, seed=5))
    theirs = get_length_grouped_indices(lengths, 16,
                                        generator=torch.Generator().manual_seed(5))
    assert ours == theirs


def test_dynamic_padding_and_token_count():
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert count_tokens({"input_ids": ids, "attention_mask": mask}) == 4
