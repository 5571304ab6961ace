"""Every key binding, grouped by where it works."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from studyapp.tui.keys import KeyRow, all_key_rows, key_label


class HelpScreen(ModalScreen[None]):
    """A scrollable table of keys; escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close help")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[KeyRow] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", classes="panel"):
            yield Static("", id="help-table")

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "Keys"
        body.border_subtitle = "esc closes · mouse works too"
        self.rows = all_key_rows(type(self.app), self.app.COMMAND_PALETTE_BINDING)
        self.query_one("#help-table", Static).update(self._table())
        body.focus()

    def _table(self) -> Table:
        table = Table(box=None, expand=True, show_header=False, padding=(0, 1))
        table.add_column("keys", no_wrap=True, style="bold", width=18)
        table.add_column("what", ratio=1)
        group = None
        for row in self.rows:
            if row.group != group:
                if group is not None:
                    table.add_row("", "")
                group = row.group
                table.add_row(Text(group, style="underline"), "")
            table.add_row(" ".join(key_label(k) for k in row.keys), row.description)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
