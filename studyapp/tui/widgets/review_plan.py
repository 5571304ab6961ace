"""The lesson's spaced review plan: intervals before finishing, real dates after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from studyapp.textsafe import safe_rich_text


@dataclass(frozen=True)
class PlanRow:
    when: str            # "1 ден" as written, or a date once scheduled
    prompt: str
    due: date | None = None
    done: bool = False


class ReviewPlanView(VerticalScroll, can_focus=True):
    """A table of the reviews; a Finish button until the lesson is completed."""

    @dataclass
    class Finish(Message):
        pass

    def __init__(self, rows: list[PlanRow], finished: bool, today: date, *,
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._rows = rows
        self._finished = finished
        self._today = today

    def compose(self) -> ComposeResult:
        if self._finished:
            yield Static("Lesson finished. Your reviews are scheduled:", classes="hint done-note")
        else:
            yield Static("Finish the lesson to schedule these reviews (f).", classes="hint")
        yield Static(self._table(), id="plan-table")
        if not self._finished:
            yield Button("Finish lesson (f)", id="finish", variant="primary", compact=True)

    def _table(self) -> Table:
        table = Table(expand=True, box=None, padding=(0, 1), show_edge=False)
        table.add_column("When", no_wrap=True, style="bold")
        table.add_column("Review prompt", ratio=1)
        for row in self._rows:
            when = row.when
            if row.due is not None:
                when = f"{row.due:%a} {row.due.isoformat()}"
                if row.done:
                    when += " ✓"
            table.add_row(safe_rich_text(when), safe_rich_text(row.prompt))
        return table

    def on_mount(self) -> None:
        self.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "finish":
            event.stop()
            self.post_message(self.Finish())
