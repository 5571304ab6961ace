"""Training and validation loss over steps, drawn with plotext, throttled.

Every point is kept, but the plot is drawn at most twice a second (and only when points
arrived since the last draw), with at most `MAX_POINTS` points per series: measured in
issue 5, a 10 Hz redraw of 5,000 points cut a CPU training loop to a fifth of its speed.
A past run can be overlaid (its train and val curves in other colours) to compare, and a
search's trials (the sweep exercise) have their validation curves overlaid, each from its
own step 0.

What a learner reads it by: the x axis has integer ticks (steps, or epochs when
`x_axis == "epoch"`), the y axis can be logarithmic (`log_y`), and the training curve can
be smoothed with an exponential moving average (`smoothing`, 0 = raw); validation points
are never smoothed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual_plotext import PlotextPlot

Point = tuple[int, float]


SMOOTHING_STEPS: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
"""The smoothing weights `[` and `]` step through (0: the raw curve)."""


def smooth(points: Sequence[Point], weight: float) -> list[Point]:
    """An exponential moving average of the values (TensorBoard's, debiased at the start)."""
    if weight <= 0 or not points:
        return list(points)
    out: list[Point] = []
    avg, n = 0.0, 0
    for step, value in points:
        if not math.isfinite(value):
            out.append((step, value))
            continue
        n += 1
        avg = weight * avg + (1 - weight) * value
        out.append((step, avg / (1 - weight ** n)))
    return out


def integer_ticks(low: float, high: float, most: int = 6) -> list[int]:
    """At most `most` evenly spaced integer ticks from `low` to `high`, on round steps."""
    low_i, high_i = math.floor(low), math.ceil(high)
    span = max(1, high_i - low_i)
    steps = sorted(c * 10 ** p for c in (1, 2, 5) for p in range(9))
    step = next(s for s in steps if span / s <= most - 1)
    first = math.ceil(low_i / step) * step
    return list(range(first, high_i + 1, step)) or [low_i]


def downsample(points: Sequence[Point], limit: int) -> list[Point]:
    """At most `limit` points picked evenly from `points`, the first and last always kept."""
    n = len(points)
    if n <= limit:
        return list(points)
    if limit <= 1:
        return [points[-1]]
    picks = {round(i * (n - 1) / (limit - 1)) for i in range(limit)}
    return [points[i] for i in sorted(picks)]


def trials_ceiling(trials: Sequence[tuple[str, Sequence[Point]]]) -> float:
    """Where the trials' curves are cut: 1.5 x the highest loss any of them started at, so
    a diverged trial (loss 800) does not squash the others flat; it runs along the top."""
    starts = [points[0][1] for _, points in trials if points and math.isfinite(points[0][1])]
    return 1.5 * max(starts) if starts else math.inf


@dataclass(frozen=True)
class Overlay:
    """A past run's curves drawn under the live ones; `label` names it in the legend."""

    label: str
    train: tuple[Point, ...]
    val: tuple[Point, ...]


class LossPlot(PlotextPlot):
    """Holds (step, loss) points; `add_train`/`add_val` append, a timer draws.

    `flush()` draws at once when something changed (the end of a run calls it).
    """

    DEFAULT_CSS = """
    LossPlot { height: 1fr; min-height: 8; }
    """
    MAX_POINTS: ClassVar[int] = 300
    INTERVAL_S: ClassVar[float] = 0.5
    COLORS: ClassVar[dict[str, str]] = {"train": "cyan", "val": "green",
                                        "overlay train": "orange", "overlay val": "magenta"}
    TRIAL_COLORS: ClassVar[tuple[str, ...]] = ("cyan", "green", "orange", "magenta", "red",
                                               "blue", "yellow", "white")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train: list[Point] = []
        self.val: list[Point] = []
        self.overlay: Overlay | None = None
        self.trials: list[tuple[str, tuple[Point, ...]]] = []   # (label, val curve)
        self.caption = ""                 # what the live curves are, e.g. "latest run"
        self.draws = 0                    # how many times the plot was drawn (tests, bench)
        self.log_y = False                # a logarithmic loss axis
        self.smoothing = 0.0              # EMA weight of the training curve (0: raw)
        self.x_axis = "step"              # "step" or "epoch"
        self.steps_per_epoch: float | None = None   # known from the run's settings
        self.xticks: list[int] = []       # the ticks of the last draw (tests)
        self._dirty = True

    def on_mount(self) -> None:
        self._draw()
        self.set_interval(self.INTERVAL_S, self.flush)

    # --- data -----------------------------------------------------------------------------
    def clear_points(self) -> None:
        """Forget the live curves (the overlay stays, to compare the next run with it)."""
        self.train.clear()
        self.val.clear()
        self.caption = ""
        self._dirty = True

    def set_points(self, train: Sequence[Sequence[float]], val: Sequence[Sequence[float]],
                   caption: str = "") -> None:
        """Replace the live curves with a recorded run's ([[step, loss], ...])."""
        self.train = [(int(s), float(v)) for s, v in train]
        self.val = [(int(s), float(v)) for s, v in val]
        self.caption = caption
        self._dirty = True

    def add_train(self, step: int, loss: float) -> None:
        self.train.append((step, loss))
        self._dirty = True

    def add_val(self, step: int, loss: float) -> None:
        self.val.append((step, loss))
        self._dirty = True

    def set_trials(self, trials: Sequence[tuple[str, Sequence[Point]]]) -> None:
        """The validation curves of a search's trials, overlaid (an empty list clears)."""
        self.trials = [(label, tuple(points)) for label, points in trials]
        self._dirty = True

    def add_trial(self, label: str, points: Sequence[Point]) -> None:
        self.trials.append((label, tuple(points)))
        self._dirty = True

    def set_view(self, *, log_y: bool | None = None, smoothing: float | None = None,
                 x_axis: str | None = None, steps_per_epoch: float | None = None) -> None:
        """Change how the curves are read (drawn at once: it is a key press)."""
        if log_y is not None:
            self.log_y = log_y
        if smoothing is not None:
            self.smoothing = smoothing
        if x_axis is not None:
            self.x_axis = x_axis
        if steps_per_epoch is not None:
            self.steps_per_epoch = steps_per_epoch if steps_per_epoch > 0 else None
        self._dirty = True
        self.flush()

    @property
    def by_epoch(self) -> bool:
        return self.x_axis == "epoch" and self.steps_per_epoch is not None

    def set_overlay(self, overlay: Overlay | None) -> None:
        """Overlay a past run (None clears it); drawn at once, it is a key press."""
        self.overlay = overlay
        self._dirty = True
        self.flush()

    # --- drawing --------------------------------------------------------------------------
    def flush(self) -> None:
        """Draw now if points arrived (or the overlay changed) since the last draw."""
        if self._dirty:
            self._draw()

    def _draw(self) -> None:
        self._dirty = False
        self.draws += 1
        plt = self.plt
        plt.clear_data()
        view = [name for name, on in (("log", self.log_y),
                                      (f"smoothed {self.smoothing:g}", self.smoothing > 0))
                if on]
        title = "loss" + (f" ({', '.join(view)})" if view else "")
        plt.title(f"{title} · {self.caption}" if self.caption else title)
        plt.xlabel("epoch" if self.by_epoch else "step")
        plt.yscale("log" if self.log_y else "linear")
        self._xs: list[float] = []
        if self.overlay is not None:
            self._series(smooth(self.overlay.train, self.smoothing),
                         f"{self.overlay.label} train", "overlay train")
            self._series(self.overlay.val, f"{self.overlay.label} val", "overlay val",
                         marker="dot")
        ceiling = trials_ceiling(self.trials)
        for i, (label, points) in enumerate(self.trials):   # a diverged trial ends in NaN
            shown = [(s, min(v, ceiling)) for s, v in points if math.isfinite(v)]
            self._series(shown, label, self.TRIAL_COLORS[i % len(self.TRIAL_COLORS)],
                         marker="dot")
        if not self.trials:
            self._series(smooth(self.train, self.smoothing), "train", "train")
            self._series(self.val, "val", "val", marker="dot")
        if self._xs:
            self.xticks = integer_ticks(min(self._xs), max(self._xs))
            plt.xticks(self.xticks, [str(t) for t in self.xticks])
        else:
            self.xticks = []
        self.refresh()

    def _series(self, points: Sequence[Point], label: str, color: str,
                marker: str | None = None) -> None:
        if not points:
            return
        shown = downsample(points, self.MAX_POINTS)
        if self.log_y:                      # a log axis has no place for 0 or below
            shown = [(s, v) for s, v in shown if v > 0]
            if not shown:
                return
        per = self.steps_per_epoch if self.by_epoch else None
        xs = [s / per if per else float(s) for s, _ in shown]
        self._xs.extend(xs)
        kwargs = {"marker": marker} if marker else {}
        self.plt.plot(xs, [v for _, v in shown], label=label,
                      color=self.COLORS.get(color, color), **kwargs)
