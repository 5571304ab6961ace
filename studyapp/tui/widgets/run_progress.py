"""A run's progress under its plot: a bar and a line with step, ETA, speed, device, memory.

Like the loss plot it is throttled: `step()` only stores the numbers, a timer shows them at
most twice a second; `finish()` shows the final metrics at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static


def format_duration(seconds: float) -> str:
    """`0.04s`, `4.2s`, `42s`, `3m05s`, `1h02m`."""
    if seconds < 1:
        return f"{max(0.0, seconds):.2f}s"
    if seconds < 10:
        return f"{seconds:.1f}s"
    secs = max(0, round(seconds))
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m{secs % 60:02d}s"
    return f"{secs // 3600}h{secs % 3600 // 60:02d}m"


def format_metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    """The numeric metrics, the usual ones first: `accuracy 0.94 · f1 0.93 · ...`."""
    def show(value: float) -> str:
        return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"

    numbers = {k: v for k, v in metrics.items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    first = [k for k in ("accuracy", "f1", "val_loss", "perplexity", "train_loss")
             if k in numbers]
    keys = first + [k for k in numbers if k not in first]
    return " · ".join(f"{k} {show(numbers[k])}" for k in keys[:limit])


class RunProgress(Vertical):
    """The progress bar (total = the run's steps) and a one-line summary under it."""

    DEFAULT_CSS = """
    RunProgress { height: auto; }
    RunProgress ProgressBar { width: 1fr; }
    RunProgress #run-progress-bar Bar { width: 1fr; }
    RunProgress #run-progress-label { height: auto; color: $text-muted; }
    """
    INTERVAL_S: ClassVar[float] = 0.5

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total: int | None = None
        self.device = ""
        self.steps_done = 0
        self.elapsed = 0.0
        self.memory_mb: float | None = None
        self._dirty = False

    def compose(self) -> ComposeResult:
        bar = ProgressBar(total=1, show_eta=False, id="run-progress-bar")
        bar.display = False
        yield bar
        yield Static("", id="run-progress-label")

    def on_mount(self) -> None:
        self.set_interval(self.INTERVAL_S, self.flush)

    @property
    def bar(self) -> ProgressBar:
        return self.query_one("#run-progress-bar", ProgressBar)

    @property
    def label(self) -> Static:
        return self.query_one("#run-progress-label", Static)

    def reset(self, text: str = "") -> None:
        self.total, self.device, self.steps_done, self.elapsed = None, "", 0, 0.0
        self.memory_mb = None
        self._dirty = False
        self.bar.update(total=1, progress=0)
        self.bar.display = False          # no run: no bar (an empty total animates)
        self.label.update(text)

    def start(self, total_steps: int, device: str) -> None:
        """A run started: `total_steps` steps on `device`."""
        self.total, self.device = max(1, int(total_steps)), device
        self.steps_done, self.elapsed = 0, 0.0
        self.bar.update(total=self.total, progress=0)
        self.bar.display = True
        self.label.update(f"step 0/{self.total} · {device} · starting")

    def step(self, step: int, elapsed: float, memory_mb: float | None = None) -> None:
        """Note a step (shown by the next tick)."""
        self.steps_done, self.elapsed = step, elapsed
        if memory_mb is not None:
            self.memory_mb = memory_mb
        self._dirty = True

    def summary(self) -> str:
        """`step 40/120 · ETA 12s · 6.5 steps/s · cpu · 310 MB`."""
        total = self.total or self.steps_done
        parts = [f"step {self.steps_done}/{total}"]
        if self.steps_done and self.elapsed > 0:
            rate = self.steps_done / self.elapsed
            parts.append(f"ETA {format_duration(max(0, total - self.steps_done) / rate)}")
            parts.append(f"{rate:.3g} steps/s")
        if self.device:
            parts.append(self.device)
        if self.memory_mb is not None:
            parts.append(f"{self.memory_mb:,.0f} MB")
        return " · ".join(parts)

    def flush(self) -> None:
        """Show the latest step now if one arrived since the last tick."""
        if not self._dirty:
            return
        self._dirty = False
        self.bar.update(progress=self.steps_done)
        self.label.update(self.summary())

    def finish(self, status: str, metrics: dict[str, Any] | None = None,
               complete: bool = False) -> None:
        """The end of a run: the bar full when `complete`, the final metrics in the line."""
        self.flush()
        if complete and self.total:
            self.bar.update(progress=self.total)
        parts = [status]
        if self.steps_done:
            parts.append(f"{self.steps_done} steps in {format_duration(self.elapsed)}")
        shown = format_metrics(metrics or {})
        if shown:
            parts.append(shown)
        self.label.update(" · ".join(parts))
