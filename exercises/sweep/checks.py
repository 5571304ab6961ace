"""Fast checks of the learner's sweep.py: plain values, well under a second.

Each `check_*` gets the learner's module and raises AssertionError saying what was
expected and what was found.
"""

from __future__ import annotations

import math


def _call(what: str, expected: str, fn, *args):
    """Call the learner's function; a part not written yet fails with what is expected."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"not written yet: expected {what} to be {expected}") from None


def _space(code, lrs, ranks):
    return _call(f"search_space({lrs}, {ranks})",
                 f"the {len(lrs) * len(ranks)} combinations as dicts with lr, rank, alpha",
                 code.search_space, lrs, ranks)


def check_search_space_every_combination(code):
    """search_space gives every (learning rate, rank) pair once"""
    lrs, ranks = [1e-4, 1e-3, 1e-2], [4, 16]
    space = _space(code, lrs, ranks)
    assert isinstance(space, list), f"expected a list of dicts, found {type(space).__name__}"
    assert all(isinstance(t, dict) for t in space), (
        f"expected each trial to be a dict like {{'lr': 0.001, 'rank': 4, 'alpha': 8}}, "
        f"found {space[:2]!r}")
    missing = [k for k in ("lr", "rank", "alpha") if space and k not in space[0]]
    assert not missing, f"expected the keys lr, rank and alpha in each trial, missing {missing}"
    pairs = [(t["lr"], t["rank"]) for t in space]
    want = [(lr, r) for lr in lrs for r in ranks]
    why = ""
    if len(pairs) == min(len(lrs), len(ranks)):
        why = ": that pairs them up one to one (zip); a grid takes every combination"
    assert sorted(pairs) == sorted(want), (
        f"expected the {len(want)} combinations {want}, found {len(pairs)}: {pairs}{why}")
    assert pairs == want, (
        f"expected learning rates in the outer loop and ranks in the inner one: {want}, "
        f"found {pairs}")


def check_search_space_alpha(code):
    """alpha is twice the rank, so alpha / r stays the same across ranks"""
    space = _space(code, [1e-3], [2, 8, 32])
    found = [(t.get("rank"), t.get("alpha")) for t in space]
    assert [a for _, a in found] == [4, 16, 64], (
        f"expected alpha = 2 x rank ((2, 4), (8, 16), (32, 64)), found (rank, alpha) {found}"
        + (": a fixed alpha makes the update smaller as the rank grows"
           if len({a for _, a in found}) == 1 else ""))


def _trials():
    return [
        {"name": "t1", "settings": {"lr": 1e-4, "rank": 4}, "val_loss": 0.41, "pruned": False,
         "train_loss": 0.40, "test_loss": 0.38},
        {"name": "t2", "settings": {"lr": 1e-3, "rank": 4}, "val_loss": 0.22, "pruned": False,
         "train_loss": 0.15, "test_loss": 0.30},
        {"name": "t3", "settings": {"lr": 1e-2, "rank": 4}, "val_loss": 0.35, "pruned": False,
         "train_loss": 0.05, "test_loss": 0.10},
        {"name": "t4", "settings": {"lr": 1e-1, "rank": 4}, "val_loss": 0.12, "pruned": True,
         "train_loss": 0.90, "test_loss": 0.90},
        {"name": "t5", "settings": {"lr": 1.0, "rank": 4}, "val_loss": math.nan,
         "pruned": False, "train_loss": math.nan, "test_loss": math.nan},
        {"name": "t6", "settings": {"lr": 3.0, "rank": 4}, "val_loss": None, "pruned": True},
    ]


def _best(code, trials):
    return _call("select_best(trials)", "the trial with the lowest validation loss",
                 code.select_best, trials)


def check_select_best_on_validation_loss(code):
    """select_best keeps the finished trial with the lowest validation loss"""
    trials = _trials()
    best = _best(code, trials)
    assert isinstance(best, dict), (
        f"expected one of the trial dicts, found {type(best).__name__}: {best!r}")
    name = best.get("name")
    why = {"t1": ": that is the highest validation loss; keep the lowest",
           "t3": ": chosen by training loss or test loss; choose by validation loss",
           "t4": ": that trial was pruned; its loss is from an early evaluation",
           "t5": ": a NaN loss diverged; skip losses that are not finite (min() is fooled "
                 "by NaN)",
           "t6": ": that trial was pruned and has no loss"}.get(str(name), "")
    assert name == "t2", (
        f"expected trial t2 (validation loss 0.22, the lowest of the finished ones), "
        f"found {name}{why}")


def check_select_best_skips_nan_first(code):
    """a diverged trial (NaN) listed first does not hide the others"""
    trials = _trials()
    trials = [trials[4], *trials[:4]]
    best = _best(code, trials)
    assert best.get("name") == "t2", (
        f"expected t2 when the NaN trial comes first, found {best.get('name')}: with NaN "
        "first, min() and < comparisons give NaN back; filter out losses that are not "
        "finite (math.isfinite) before comparing")


def check_select_best_tie_keeps_the_first(code):
    """on a tie the earlier trial wins"""
    trials = [{"name": "a", "settings": {}, "val_loss": 0.3, "pruned": False},
              {"name": "b", "settings": {}, "val_loss": 0.3, "pruned": False}]
    best = _best(code, trials)
    assert best.get("name") == "a", f"expected the earlier trial a on a tie, found {best.get('name')}"


def check_select_best_nothing_to_choose(code):
    """with every trial pruned or diverged, select_best raises ValueError"""
    trials = [t for t in _trials() if t["pruned"] or t["val_loss"] is None
              or not math.isfinite(t["val_loss"])]
    try:
        got = code.select_best(trials)
    except NotImplementedError:
        raise AssertionError("not written yet: expected select_best to raise ValueError "
                             "when no trial can be chosen") from None
    except ValueError:
        return
    raise AssertionError(f"expected ValueError when every trial was pruned or diverged, "
                         f"found {got!r}")
