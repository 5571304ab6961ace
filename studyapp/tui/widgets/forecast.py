"""A 30-day forecast of due reviews as one line of blocks."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual.widgets import Static

from studyapp.tui.format import sparkline


class Forecast(Static):
    """Shows `[(day, count), ...]`: a sparkline, today's and the busiest day's counts."""

    DEFAULT_CSS = """
    Forecast { height: auto; }
    """

    def show(self, days: list[tuple[date, int]]) -> None:
        counts = [n for _, n in days]
        text = Text()
        text.append(sparkline(counts), style="bold")
        text.append("\n")
        if days:
            busiest = max(days, key=lambda d: d[1])
            total = sum(counts)
            text.append(f"{total} in {len(days)} days", style="dim")
            if busiest[1]:
                text.append(f" · peak {busiest[0].day} {busiest[0]:%b}: {busiest[1]}",
                            style="dim")
        self.update(text)
