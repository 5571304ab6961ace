"""Statistics as plots (textual-plotext): reviews per day over the last 30 or 90 days,
true retention per week, cards by state, and the 30-day forecast.

The series come from `StudyService.stats_series` (the same as `studyapp stats --json`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from studyapp.tui.format import plural
from studyapp.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from studyapp.services.study import StudyService
    from studyapp.study.stats import Series


class StatsScreen(Screen[None]):
    """Four plots of the learner's reviews; `t` switches reviews/day between 30 and 90 days."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "toggle_days", "30/90 days"),
        Binding("escape,q", "app.pop_screen", "Home"),
    ]

    DEFAULT_CSS = """
    StatsScreen #stats-grid { grid-size: 2 2; grid-gutter: 0 1; height: 1fr; }
    StatsScreen PlotextPlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, service: StudyService) -> None:
        super().__init__()
        self.service = service
        self.days = 30
        self.series: Series | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="topbar"), Horizontal(classes="topbar-row"):
            yield Static("Statistics", classes="title")
            yield Static("", id="stats-summary", classes="progress-label")
        with Grid(id="stats-grid"):
            yield PlotextPlot(id="plot-reviews")
            yield PlotextPlot(id="plot-retention")
            yield PlotextPlot(id="plot-states")
            yield PlotextPlot(id="plot-forecast")
        yield KeyBar()

    def on_mount(self) -> None:
        self.series = self.service.stats_series()
        self.draw()

    def action_toggle_days(self) -> None:
        self.days = 90 if self.days == 30 else 30
        self.draw()

    def draw(self) -> None:
        s = self.series
        if s is None:
            return
        reviews = s.reviews_per_day[-self.days:]
        total = sum(n for _d, n in reviews)
        cards = sum(n for _k, n in s.card_states)
        kinds = ", ".join(f"{n} {k}" for k, n in s.card_kinds if n)
        self.query_one("#stats-summary", Static).update(
            f"{plural(total, 'review')} in {self.days} days · {plural(cards, 'card')}"
            + (f" ({kinds})" if kinds else ""))

        plt = self.query_one("#plot-reviews", PlotextPlot).plt
        plt.clear_data()
        plt.title(f"reviews per day, last {self.days} days")
        plt.bar(list(range(-len(reviews) + 1, 1)), [n for _d, n in reviews], marker="hd")
        plt.ylim(0, max([1, *(n for _d, n in reviews)]))
        plt.xlabel("days ago")

        plt = self.query_one("#plot-retention", PlotextPlot).plt
        plt.clear_data()
        plt.title("true retention per week (%)")
        weeks = s.retention_per_week
        if weeks:
            plt.plot(list(range(-len(weeks) + 1, 1)), [round(r * 100, 1) for _d, r, _n in weeks],
                     marker="braille")
            plt.ylim(0, 100)
            plt.xlabel("weeks ago")
        else:
            plt.text("no answers to review cards yet", 0, 0)

        plt = self.query_one("#plot-states", PlotextPlot).plt
        plt.clear_data()
        plt.title("cards by state")
        plt.bar([k for k, _n in s.card_states], [n for _k, n in s.card_states],
                orientation="horizontal", marker="hd")

        plt = self.query_one("#plot-forecast", PlotextPlot).plt
        plt.clear_data()
        plt.title("due in the next 30 days")
        plt.bar(list(range(len(s.forecast))), [n for _d, n in s.forecast], marker="hd")
        plt.ylim(0, max([1, *(n for _d, n in s.forecast)]))
        plt.xlabel("days from today")
        for plot in self.query(PlotextPlot):
            plot.refresh()
