"""From adapter to a model you can ship (the export exercise).

1. A LoRA adapter is trained (through the engine) on the pretrained classifier: by default
   MiniLM with a new 2-way head, on the spam/ham messages.
2. It is saved on its own (`save_pretrained` of the peft model: the adapter's weights and
   config only), and its size is measured.
3. It is merged into the base weights twice: with the learner's `merge_lora`
   (W + B·A·alpha/r, transposed for GPT-2's Conv1D) layer by layer, and with peft's
   `merge_and_unload`. The two sets of weights are compared, and the learner's merged
   model answers the held-out test messages like the adapter model did (within float
   rounding: the merge changes the order of the additions, not the function).
4. The learner's merged model is saved with `save_pretrained` (safetensors), its size
   measured, and loaded back with `from_pretrained`, without peft: it must answer the same
   held-out messages identically.
5. Where an ONNX exporter is installed (`onnx`, `onnxscript`, `onnxruntime`), the reloaded
   model is exported with `torch.onnx.export(..., dynamo=True)` and run by ONNX Runtime on
   the same messages; otherwise the run says why it did not.

The learner's module provides:

    merge_lora(weight, lora_A, lora_B, alpha, r, fan_in_fan_out=False) -> merged weight
    output_agreement(logits_a, logits_b) -> (max abs difference, share of equal answers)
"""

from __future__ import annotations

import copy
import importlib.util
import math
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

from studyapp.training.engine import Engine, Evaluated, TrainConfig
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.settings import ExportSettings
from studyapp.training.tasks.textclf import (
    Classifier,
    EvalBatches,
    Scores,
    add_lora,
    evaluate,
    read_splits,
    train_loader,
)

ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


def onnx_unavailable_reason() -> str | None:
    """None when the ONNX export can run here, else why not (one line)."""
    missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        return (f"the ONNX exporter needs {', '.join(missing)} (pip install "
                f"{' '.join(ONNX_PACKAGES)}); the merged safetensors model is what ships")
    return None


def run(ctx: RunContext) -> dict[str, Any]:
    s = ExportSettings.from_dict(ctx.settings)
    engine = Engine(ctx, TrainConfig(
        lr=s.lr, epochs=s.epochs, warmup_ratio=s.warmup_ratio, precision=s.precision,
        seed=s.seed, threads=s.threads))
    code = engine.learner_code()
    splits = read_splits(ctx, s.max_train_examples, s.max_eval_examples, s.seed)
    clf = Classifier.load(ctx, splits, model=s.model, head=s.head, max_length=s.max_length,
                          seed=s.seed, log=engine.log)
    pad = clf.cm.pad_token_id
    val = EvalBatches(clf.val, 2 * s.batch_size, pad)
    test = EvalBatches(clf.test, 2 * s.batch_size, pad)
    peft_model = add_lora(clf, rank=s.rank, alpha=s.alpha, dropout=s.dropout,
                          target_modules=s.target_modules)
    order = torch.randperm(len(clf.train),
                           generator=torch.Generator().manual_seed(s.seed)).tolist()
    loader = train_loader(clf.train, s.batch_size, s.seed, pad, order=order)

    def evaluate_val(m: nn.Module) -> Evaluated:
        scores = evaluate(engine, clf, m, val)
        return Evaluated(scores.loss, {"val_accuracy": scores.accuracy})

    fit = engine.fit(peft_model, loader, clf.loss, evaluate=evaluate_val,
                     model_name=f"{s.model} + LoRA", train_examples=len(clf.train))
    measured: dict[str, Any] = {**engine.summary(), "model": clf.cm.name, "rank": s.rank,
                                "alpha": s.alpha, "target_modules": s.target_modules,
                                "train_examples": len(splits.train),
                                "test_examples": len(splits.test)}
    if not engine.is_main:      # several processes: the main one evaluates and exports
        return engine.finish(measured, fit)
    first, last = fit.evaluations[0][1], fit.evaluations[-1][1]
    measured.update(val_loss_first=first.loss, val_loss=last.loss)

    peft_model = fit.model
    out = Path(ctx.output_dir)
    with engine.inference(peft_model):
        adapter = evaluate(engine, clf, peft_model, test)
    measured.update(adapter_accuracy=adapter.accuracy, adapter_test_loss=adapter.loss)

    # the adapter on its own
    adapter_dir = out / "adapter"
    peft_model.save_pretrained(str(adapter_dir))
    measured["adapter_mb"] = _size_mb(adapter_dir)

    # the merge: the learner's, layer by layer, and peft's
    mine, layers = _learner_merge(code, peft_model)
    peft_merged = copy.deepcopy(peft_model).merge_and_unload()
    reference = dict(peft_merged.named_parameters())
    errors = [float((w - reference[name].detach()).abs().max()) for name, w in mine.items()]
    measured.update(merged_layers=layers, merge_error=max(errors) if errors else math.inf)
    merged = copy.deepcopy(peft_merged)
    with torch.no_grad():
        params = dict(merged.named_parameters())
        for name, w in mine.items():
            params[name].copy_(w)
    with engine.inference(merged):
        yours = evaluate(engine, clf, merged, test)
    with engine.inference(peft_merged):
        theirs = evaluate(engine, clf, peft_merged, test)
    _agree(code, measured, "merged", adapter, yours)
    _agree(code, measured, "peft_merged", adapter, theirs)
    measured["accuracy"] = yours.accuracy
    measured["test_loss"] = yours.loss

    # ship it: save_pretrained (safetensors), reload without peft, same answers
    merged_dir = out / "merged"
    merged.save_pretrained(str(merged_dir), safe_serialization=True)
    if hasattr(clf.cm.tokenizer, "save_pretrained"):
        clf.cm.tokenizer.save_pretrained(str(merged_dir))
    measured["merged_mb"] = _size_mb(merged_dir)
    measured["merged_files"] = ", ".join(sorted(p.name for p in merged_dir.iterdir()))
    measured["safetensors"] = int((merged_dir / "model.safetensors").is_file())
    measured["adapter_share"] = measured["adapter_mb"] / measured["merged_mb"]
    reloaded = _reload(ctx, clf, merged_dir, s, splits.num_labels).to(engine.device)
    with engine.inference(reloaded):
        again = evaluate(engine, clf, reloaded, test)
    _agree(code, measured, "reload", yours, again)
    engine.log(f"adapter {measured['adapter_mb']:.2f} MB; merged model "
               f"{measured['merged_mb']:.1f} MB in {merged_dir} ({measured['merged_files']})")

    # ONNX, where the exporter is installed
    why = onnx_unavailable_reason() if s.onnx else "switched off (onnx = false)"
    if why is None:
        try:
            onnx_scores, onnx_mb, took = _onnx(engine, clf, reloaded, test, out / "onnx")
        except Exception as exc:  # noqa: BLE001 - the exporter's own error, said in one line
            why = f"the ONNX export failed: {type(exc).__name__}: {str(exc)[:300]}"
        else:
            _agree(code, measured, "onnx", again, onnx_scores)
            measured.update(onnx_mb=onnx_mb, onnx_export_s=took, onnx="exported")
            engine.log(f"ONNX: {onnx_mb:.1f} MB in {out / 'onnx'}, exported in {took:.1f} s; "
                       f"ONNX Runtime vs PyTorch: max difference "
                       f"{measured['onnx_output_error']:.2e}")
    if why is not None:
        measured["onnx"] = f"not exported: {why}"
        engine.log(f"ONNX not exported: {why}")
    ctx.log(_table(measured))
    return engine.finish(measured, fit)


def _learner_merge(code: ModuleType, model: nn.Module) -> tuple[dict[str, torch.Tensor], int]:
    """Every LoRA layer's weight merged by the learner's `merge_lora`, named as in the
    merged (peft-free) model."""
    from peft.tuners.lora import LoraLayer

    merged: dict[str, torch.Tensor] = {}
    for name, layer in model.named_modules():
        if not isinstance(layer, LoraLayer):
            continue
        adapter = layer.active_adapters[0]
        if adapter not in layer.lora_A:
            continue
        base = layer.get_base_layer()
        with torch.no_grad():
            w = code.merge_lora(base.weight.detach().clone(),
                                layer.lora_A[adapter].weight.detach(),
                                layer.lora_B[adapter].weight.detach(),
                                float(layer.lora_alpha[adapter]), int(layer.r[adapter]),
                                bool(getattr(layer, "fan_in_fan_out", False)))
        if not isinstance(w, torch.Tensor) or tuple(w.shape) != tuple(base.weight.shape):
            raise ValueError(f"merge_lora returned {getattr(w, 'shape', type(w).__name__)} "
                             f"for the weight of {name}, of shape {tuple(base.weight.shape)}")
        merged[name.removeprefix("base_model.model.") + ".weight"] = w
    return merged, len(merged)


def _agree(code: ModuleType, measured: dict[str, Any], prefix: str, a: Scores,
           b: Scores) -> None:
    """The learner's `output_agreement` of two models' test logits."""
    diff, same = code.output_agreement(a.logits, b.logits)
    measured[f"{prefix}_output_error"] = float(diff)
    measured[f"{prefix}_prediction_agreement"] = float(same)


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _reload(ctx: RunContext, clf: Classifier, folder: Path, s: ExportSettings,
            num_labels: int) -> nn.Module:
    """The merged model from its folder, without peft. A sequence classifier loads with
    `from_pretrained`; the tiny GPT-2, whose output head was replaced by a 2-way one that
    its config cannot describe, is rebuilt and given the saved weights."""
    if clf.cm.head_kind == "sequence":
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    from safetensors.torch import load_file

    from studyapp.training.models import load_classifier

    fresh = load_classifier(s.model, s.head, num_labels, cache_dir=ctx.cache_dir,
                            max_length=s.max_length, log=lambda m: None).model
    fresh.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    return fresh.eval()


def _onnx(engine: Engine, clf: Classifier, model: nn.Module, test: EvalBatches, folder: Path
          ) -> tuple[Scores, float, float]:
    """Export `model` to ONNX (dynamic batch and length) and score it with ONNX Runtime."""
    import warnings

    import onnxruntime as ort

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    cpu = copy.deepcopy(model).cpu().eval()
    _, ids, mask, _ = test.batches[0]

    class Logits(nn.Module):                    # inputs and outputs as plain tensors
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                    ) -> torch.Tensor:
            return clf.logits(self.inner, input_ids, attention_mask)

    t0 = time.perf_counter()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
        torch.onnx.export(Logits(cpu), (ids, mask), str(path), dynamo=True,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], verbose=False,
                          dynamic_shapes={"input_ids": {0: batch, 1: seq},
                                          "attention_mask": {0: batch, 1: seq}})
    took = time.perf_counter() - t0
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = session.run(None, {"input_ids": input_ids.numpy(),
                                 "attention_mask": attention_mask.numpy()})[0]
        return torch.from_numpy(out)

    scores = evaluate(engine, clf, cpu, test, forward=forward)
    return scores, _size_mb(folder), took


def _table(m: dict[str, Any]) -> str:
    def num(key: str, fmt: str) -> str:
        value = m.get(key)
        return format(value, fmt) if isinstance(value, int | float) else "-"

    rows = [("", "size (MB)", "max logit diff", "same answers", "test accuracy"),
            ("adapter model (peft)", num("adapter_mb", ".2f") + " adapter", "-", "-",
             num("adapter_accuracy", ".3f")),
            ("your merge", "-", num("merged_output_error", ".2e"),
             num("merged_prediction_agreement", ".3f"), num("accuracy", ".3f")),
            ("peft merge_and_unload", "-", num("peft_merged_output_error", ".2e"),
             num("peft_merged_prediction_agreement", ".3f"), "-"),
            ("saved + reloaded", num("merged_mb", ".1f"), num("reload_output_error", ".2e"),
             num("reload_prediction_agreement", ".3f"), "-"),
            ("ONNX Runtime", num("onnx_mb", ".1f"), num("onnx_output_error", ".2e"),
             num("onnx_prediction_agreement", ".3f"), "-")]
    return "\n".join(f"{a:<22}{b:>16}{c:>16}{d:>14}{e:>15}" for a, b, c, d, e in rows)
