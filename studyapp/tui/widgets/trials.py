"""The trials of a hyperparameter search (the sweep exercise) as a small table.

One row per trial as it ends: its number, the values it tried, whether it ran to the end
or was pruned, and its validation loss; the chosen one is marked once the search is over.
A plain `Static` rendering a Rich table (no focus, no keys of its own); hidden until the
first trial arrives. Trial names and numbers come from the run, never as markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


@dataclass(frozen=True)
class TrialRow:
    """One trial as the table shows it (from a `trial` event or a recorded trial run)."""

    trial: int
    name: str
    status: str                        # finished | pruned
    val_loss: float | None
    pruned_at: int | None = None
    val: tuple[tuple[int, float], ...] = ()   # its validation curve, from step 0
    default: bool = False                     # the baseline the search must beat

    @classmethod
    def from_event(cls, event: Any) -> TrialRow:
        m = dict(event.metrics or {})
        return cls(int(event.trial), str(m.get("name", event.name)), str(event.status),
                   _number(m.get("val_loss")), _int(m.get("pruned_at_step")),
                   _points((event.losses or {}).get("val", [])), bool(m.get("default")))

    @classmethod
    def from_record(cls, run: Any) -> TrialRow:
        m = dict(run.metrics or {})
        return cls(_int(m.get("trial")) or 0, str(m.get("name", "")), str(run.status),
                   _number(m.get("val_loss")), _int(m.get("pruned_at_step")),
                   _points((run.losses or {}).get("val", [])), bool(m.get("default")))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _points(points: Any) -> tuple[tuple[int, float], ...]:
    out = []
    for p in points or []:
        try:
            out.append((int(p[0]), float(p[1])))
        except (TypeError, ValueError, IndexError):
            continue
    return tuple(out)


def trials_table(rows: list[TrialRow], chosen: int | None = None) -> Table:
    """The Rich table of `rows`; `chosen` (a trial number) is marked."""
    table = Table(box=None, pad_edge=False, expand=False, show_edge=False)
    for name, justify in (("#", "right"), ("trial", "left"), ("status", "left"),
                          ("val loss", "right"), ("", "left")):
        table.add_column(name, justify=justify, no_wrap=True)   # type: ignore[arg-type]
    for r in rows:
        status = f"pruned at {r.pruned_at}" if r.status == "pruned" and r.pruned_at \
            else "the default" if r.default else r.status
        loss = "-" if r.val_loss is None else (
            f"{r.val_loss:.4f}" if math.isfinite(r.val_loss) else str(r.val_loss))
        mark = "<- chosen" if chosen is not None and r.trial == chosen else ""
        table.add_row(*(Text(cell) for cell in (str(r.trial), r.name, status, loss, mark)),
                      style="bold" if mark else None)     # Text: names are never markup
    return table


class TrialsTable(Static):
    """The search's trials; `add` one as it ends, `set_rows` for a recorded search."""

    DEFAULT_CSS = """
    TrialsTable { height: auto; max-height: 10; display: none; }
    TrialsTable.-has-trials { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.rows: list[TrialRow] = []
        self.chosen: int | None = None

    def set_rows(self, rows: list[TrialRow], chosen: int | None = None) -> None:
        self.rows = list(rows)
        self.chosen = chosen
        self._show()

    def add(self, row: TrialRow) -> None:
        self.rows.append(row)
        self._show()

    def choose(self, trial: int | None) -> None:
        self.chosen = trial
        self._show()

    def clear(self) -> None:
        self.set_rows([])

    def _show(self) -> None:
        self.set_class(bool(self.rows), "-has-trials")
        self.update(trials_table(self.rows, self.chosen) if self.rows else "")
