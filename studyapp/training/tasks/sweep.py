"""A small hyperparameter search over LoRA's learning rate and rank (the sweep exercise).

The learner's `search_space(learning_rates, ranks)` gives the grid. Every trial fine-tunes
the same pretrained classifier (by default MiniLM with a new 2-way head, on the spam/ham
messages) with LoRA from the same start, on the same batches, for the same steps, through
the engine, and evaluates on the validation messages every `eval_every` steps. A trial is
pruned at its first evaluation after training began when it is hopeless: its validation
loss is not finite, or more than `prune_factor` times its loss before training (it
diverges), or more than `prune_factor` times the lowest any earlier finished trial had at
that step (it is far behind). Each trial ends with a `Trial` event, and the
parent records it as a run of its own under this run (`exercise runs sweep` groups them;
the exercise screen shows them as a table with their validation curves overlaid).

The learner's `select_best(trials)` then picks one on validation loss. Only then is the
test set used, once for the chosen configuration and once for the untuned default
(`default_lr`, `default_rank`, trained the same way first): the checks ask the chosen one
to beat the default on held-out messages.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from studyapp.training.engine import Engine, Evaluated, TrainConfig
from studyapp.training.events import Trial
from studyapp.training.runtime import RunContext
from studyapp.training.tasks.common import overlay_plot
from studyapp.training.tasks.settings import SweepSettings
from studyapp.training.tasks.textclf import (
    Classifier,
    EvalBatches,
    PhaseContext,
    add_lora,
    evaluate,
    read_splits,
    released,
    train_loader,
)


def _numbers(text: str, kind: type, key: str) -> list[Any]:
    try:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{key} {text!r}: expected comma-separated numbers") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"{key} {text!r}: expected positive numbers")
    return values


def run(ctx: RunContext) -> dict[str, Any]:
    s = SweepSettings.from_dict(ctx.settings)
    lrs = _numbers(s.learning_rates, float, "learning_rates")
    ranks = _numbers(s.ranks, int, "ranks")
    splits = read_splits(ctx, s.max_train_examples, s.max_eval_examples, s.seed)
    steps = math.ceil(len(splits.train) / s.batch_size) * s.epochs
    phases = PhaseContext(ctx, total_steps=0)

    def engine_for(name: str, lr: float) -> Engine:
        return Engine(phases.phase(name), TrainConfig(
            lr=lr, epochs=s.epochs, warmup_ratio=s.warmup_ratio, eval_every=s.eval_every,
            precision=s.precision, seed=s.seed, threads=s.threads))

    default = {"lr": s.default_lr, "rank": s.default_rank, "alpha": 2 * s.default_rank}
    engine: Engine | None = engine_for("default", default["lr"])
    assert engine is not None
    code = engine.learner_code()
    is_main = engine.is_main
    space = _checked_space(code.search_space(lrs, ranks), s.max_trials)
    phases.total_steps = steps * (len(space) + 1)
    engine.log(f"the search: {len(space)} trials ({len(lrs)} learning rates x {len(ranks)} "
               f"ranks), each {steps} steps, and the default "
               f"{_name(default)} to beat")

    base = Classifier.load(ctx, splits, model=s.model, head=s.head, max_length=s.max_length,
                           seed=s.seed, log=engine.log)
    pad = base.cm.pad_token_id
    val = EvalBatches(base.val, 2 * s.batch_size, pad)
    test_rows = base.test if not s.max_test_examples else base.test[:s.max_test_examples]
    test = EvalBatches(test_rows, 2 * s.batch_size, pad)
    order = torch.randperm(len(base.train),
                           generator=torch.Generator().manual_seed(s.seed)).tolist()
    search = _Search(ctx, s, base, val, order)

    # the untuned default, trained the same way (its test score is read once, at the end)
    default_run = search.trial(engine, 0, default, prune=False)
    phases.end_phase(default_run["steps"])
    engine = None
    released()

    trials: list[dict[str, Any]] = []
    for i, config in enumerate(space, start=1):
        engine = engine_for(_name(config), config["lr"])
        trials.append(search.trial(engine, i, config, prune=True))
        phases.end_phase(trials[-1]["steps"])
        engine = None
        released()

    if not is_main:      # several processes: the main one evaluates, chooses and reports
        return engine_for("test", 1e-3).finish({})

    # the learner's choice, on validation loss only (the trials carry no test score)
    shown = [{"name": t["name"], "settings": dict(t["settings"]), "val_loss": t["val_loss"],
              "pruned": t["pruned"]} for t in trials]
    chosen_view = code.select_best(shown)
    index = next((i for i, t in enumerate(shown) if t is chosen_view), None)
    if index is None:
        index = next((i for i, t in enumerate(shown) if t["name"] == chosen_view.get("name")),
                     None) if isinstance(chosen_view, dict) else None
    if index is None:
        raise ValueError("select_best must return one of the trials it was given")
    chosen = trials[index]
    rule = _lowest(trials)

    # the test set, once for each of the two configurations that are compared
    final = engine_for("test", 1e-3)
    default_test = search.test_score(final, default_run, test)
    chosen_test = search.test_score(final, chosen, test)
    measured: dict[str, Any] = {
        "model": base.cm.name, "trials": len(trials),
        "pruned_trials": sum(t["pruned"] for t in trials),
        "steps_per_trial": steps, "train_examples": len(splits.train),
        "val_examples": len(splits.val), "test_examples": len(test_rows),
        "chosen_trial": chosen["trial"], "chosen_name": chosen["name"],
        "chosen_lr": chosen["settings"]["lr"], "chosen_rank": chosen["settings"]["rank"],
        "chosen_alpha": chosen["settings"]["alpha"], "chosen_val_loss": chosen["val_loss"],
        "chosen_test_loss": chosen_test.loss, "chosen_test_accuracy": chosen_test.accuracy,
        "default_name": default_run["name"], "default_val_loss": default_run["val_loss"],
        "default_test_loss": default_test.loss,
        "default_test_accuracy": default_test.accuracy,
        "selection_error": 0 if rule is not None and rule["trial"] == chosen["trial"] else 1,
        "test_loss_gain": default_test.loss - chosen_test.loss,
        "search_time_s": sum(t["time_s"] for t in trials),
        "pruned_time_saved_steps": sum(steps - t["steps"] for t in trials if t["pruned"]),
    }
    measured.update(accuracy=chosen_test.accuracy, test_loss=chosen_test.loss,
                    val_loss=chosen["val_loss"], steps=phases.offset)
    ctx.log(_table([default_run, *trials], chosen["trial"]))
    ctx.log(overlay_plot({f"{t['trial']} {t['name']}": t["val_curve"]
                          for t in [default_run, *trials]},
                         title="validation loss of each trial (0: the default)",
                         ylim=_ylim([default_run, *trials])))
    ctx.log(f"chosen on validation loss: trial {chosen['trial']} {chosen['name']}; on the "
            f"test set (used once): loss {chosen_test.loss:.4f} vs the default's "
            f"{default_test.loss:.4f}, accuracy {chosen_test.accuracy:.3f} vs "
            f"{default_test.accuracy:.3f}")
    return final.finish(measured)          # the checks (the trials' curves are theirs)


def _name(config: dict[str, Any]) -> str:
    return f"lr={config['lr']:g} rank={config['rank']}"


def _checked_space(space: Any, max_trials: int) -> list[dict[str, Any]]:
    if not isinstance(space, list) or not space:
        raise ValueError("search_space must return a non-empty list of trial dicts")
    for t in space:
        if not isinstance(t, dict) or not {"lr", "rank", "alpha"} <= set(t):
            raise ValueError(f"each trial of search_space needs lr, rank and alpha: {t!r}")
    if len(space) > max_trials:
        raise ValueError(f"search_space has {len(space)} trials, more than max_trials = "
                         f"{max_trials} (--set max_trials=N to allow more)")
    return [{"lr": float(t["lr"]), "rank": int(t["rank"]), "alpha": float(t["alpha"])}
            for t in space]


def _lowest(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The rule the learner writes, to compare with their choice."""
    ok = [t for t in trials if not t["pruned"] and t["val_loss"] is not None
          and math.isfinite(t["val_loss"])]
    return min(ok, key=lambda t: t["val_loss"]) if ok else None


class _Search:
    """The trials' shared start and data; what each trial reached."""

    def __init__(self, ctx: RunContext, s: SweepSettings, base: Classifier, val: EvalBatches,
                 order: list[int]):
        self.ctx, self.s, self.base, self.val, self.order = ctx, s, base, val, order
        self.curves: list[dict[int, float]] = []      # each finished trial's val curve

    def _model(self, config: dict[str, Any]) -> tuple[Classifier, nn.Module]:
        clf = self.base.copy()
        model = add_lora(clf, rank=config["rank"], alpha=config["alpha"],
                         dropout=self.s.dropout, target_modules=self.s.target_modules)
        return clf, model

    def trial(self, engine: Engine, number: int, config: dict[str, Any], *, prune: bool
              ) -> dict[str, Any]:
        s, t0 = self.s, time.perf_counter()
        clf, model = self._model(config)
        loader = train_loader(clf.train, s.batch_size, s.seed, clf.cm.pad_token_id,
                              order=self.order)
        before: list[float] = []
        decided: list[int] = []
        pruned_at: list[int] = []

        def evaluate_val(m: nn.Module) -> Evaluated:
            scores = evaluate(engine, clf, m, self.val)
            return Evaluated(scores.loss, {"val_accuracy": scores.accuracy})

        def on_evaluation(step: int, result: Evaluated) -> bool:
            """True stops the trial: the first evaluation after the start decides."""
            if step == 0:
                before.append(result.loss)
                return False
            if not prune or decided:
                return False
            decided.append(step)
            seen = self._seen(step)
            hopeless = (not math.isfinite(result.loss)
                        or result.loss > s.prune_factor * before[0]          # diverging
                        or (bool(seen) and result.loss > s.prune_factor * min(seen)))
            if hopeless:
                pruned_at.append(step)
            return hopeless

        fit = engine.fit(model, loader, clf.loss, evaluate=evaluate_val,
                         on_evaluation=on_evaluation, model_name=f"{s.model} + LoRA",
                         train_examples=len(clf.train))
        last = fit.last_eval
        name = _name(config)
        out = {"trial": number, "name": name, "settings": config, "pruned": bool(pruned_at),
               "steps": fit.steps, "val_loss": last.loss if last else None,
               "val_accuracy": last.metrics.get("val_accuracy") if last else None,
               "val_loss_first": before[0] if before else None,
               "train_loss": fit.train_losses[-1][1] if fit.train_losses else None,
               "pruned_at_step": pruned_at[0] if pruned_at else None,
               "time_s": time.perf_counter() - t0,
               "val_curve": [list(p) for p in fit.val_losses],
               "state": {k: v.detach().cpu().clone() for k, v in model.named_parameters()
                         if v.requires_grad}}
        if not pruned_at:
            self.curves.append({int(st): float(v) for st, v in fit.val_losses})
        status = "pruned" if pruned_at else "finished"
        metrics = {k: out[k] for k in ("trial", "name", "steps", "val_loss", "val_accuracy",
                                       "val_loss_first", "train_loss", "pruned_at_step",
                                       "time_s")}
        metrics.update(lr=config["lr"], rank=config["rank"], alpha=config["alpha"],
                       default=number == 0)
        self.ctx.emit(Trial(trial=number, name=name + (" (default)" if number == 0 else ""),
                            settings={**self.ctx.settings, **config}, status=status,
                            metrics=metrics,
                            losses={"train": [list(p) for p in fit.train_losses],
                                    "val": out["val_curve"]}))
        engine.log(f"trial {number} {name}: {status}"
                   + (f" at step {pruned_at[0]}" if pruned_at else "")
                   + (f", val loss {out['val_loss']:.4f}" if out["val_loss"] is not None
                      else ""))
        return out

    def _seen(self, step: int) -> list[float]:
        """The validation losses earlier finished trials had at `step`."""
        return [c[step] for c in self.curves if step in c]

    def test_score(self, engine: Engine, trial: dict[str, Any], test: EvalBatches) -> Any:
        """The held-out score of a trial's trained adapter (rebuilt from its weights)."""
        clf, model = self._model(trial["settings"])
        missing = set(trial["state"]) - {k for k, _ in model.named_parameters()}
        if missing:
            raise RuntimeError(f"cannot rebuild trial {trial['trial']}: {sorted(missing)[:3]}")
        with torch.no_grad():
            params = dict(model.named_parameters())
            for k, v in trial["state"].items():
                params[k].copy_(v)
        model.to(engine.device)
        with engine.inference(model):
            return evaluate(engine, clf, model, test)


def _table(trials: list[dict[str, Any]], chosen: int) -> str:
    rows = [("#", "trial", "status", "steps", "val loss", "val acc", "")]
    for t in trials:
        status = (f"pruned at {t['pruned_at_step']}" if t["pruned"]
                  else ("default" if t["trial"] == 0 else "finished"))
        loss = "-" if t["val_loss"] is None else f"{t['val_loss']:.4f}"
        acc = "-" if t["val_accuracy"] is None else f"{t['val_accuracy']:.3f}"
        rows.append((str(t["trial"]), t["name"], status, str(t["steps"]), loss, acc,
                     "<- chosen" if t["trial"] == chosen else ""))
    return "\n".join(f"{a:>3} {b:<20} {c:<14} {d:>5} {e:>9} {f:>8} {g}".rstrip()
                     for a, b, c, d, e, f, g in rows)


def _ylim(trials: list[dict[str, Any]]) -> tuple[float, float] | None:
    """The plot's range: from the lowest loss to 1.5 x the highest at the start (a
    diverged trial would squash every other curve flat)."""
    values = [v for t in trials for _, v in t["val_curve"] if math.isfinite(v)]
    starts = [t["val_curve"][0][1] for t in trials
              if t["val_curve"] and math.isfinite(t["val_curve"][0][1])]
    if not values or not starts:
        return None
    return (max(0.0, min(values) * 0.9), max(starts) * 1.5)
