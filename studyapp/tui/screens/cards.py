"""The card browser: every live card, found as you type, filtered by state; suspend,
bury, reset and a card's history, the same actions as `studyapp cards`.

Typing in the search field filters at once; `tab` or `enter` moves to the list, where the
letter keys act on the highlighted card. Card text is data: shown as `Text`, sanitised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from studyapp.store.cards import STATES
from studyapp.textsafe import safe_rich_text, safe_text
from studyapp.tui.format import RATINGS
from studyapp.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from studyapp.services.study import StudyService
    from studyapp.store.cards import CardRow

FILTERS: tuple[str | None, ...] = (None, *STATES)


class CardsScreen(Screen[None]):
    """Browse and manage cards; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search"),
        Binding("f", "filter", "Filter"),
        Binding("s", "suspend", "Suspend"),
        Binding("b", "bury", "Bury"),
        Binding("n", "reset", "Reset"),
        Binding("h", "history", "History"),
        Binding("escape,q", "leave", "Home"),
    ]

    DEFAULT_CSS = """
    CardsScreen #cards-bar { height: auto; }
    CardsScreen #cards-search { width: 1fr; }
    CardsScreen #cards-filter { width: auto; padding: 0 1; }
    CardsScreen #cards-table { height: 1fr; }
    CardsScreen #cards-detail { height: auto; max-height: 10; padding: 0 1; }
    """

    def __init__(self, service: StudyService) -> None:
        super().__init__()
        self.service = service
        self.filter_index = 0
        self.rows: list[CardRow] = []
        self.show_history = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="topbar"), Horizontal(classes="topbar-row"):
            yield Static("Cards", classes="title")
            yield Static("", id="cards-count", classes="progress-label")
        with Horizontal(id="cards-bar"):
            yield Input(placeholder="Search front and back as you type", id="cards-search")
            yield Static("", id="cards-filter")
        yield DataTable(id="cards-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="cards-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#cards-table", DataTable)
        table.add_column("state", key="state", width=9)
        table.add_column("due", key="due", width=10)
        table.add_column("card", key="card")
        self.refill()
        table.focus()

    # --- data -----------------------------------------------------------------------------
    @property
    def state_filter(self) -> str | None:
        return FILTERS[self.filter_index]

    def refill(self) -> None:
        table = self.query_one("#cards-table", DataTable)
        keep = table.cursor_row
        search = self.query_one("#cards-search", Input).value.strip() or None
        self.rows = self.service.cards(state=self.state_filter, search=search)
        table.clear()
        for r in self.rows:
            table.add_row(r.state, r.due_day.isoformat() if r.due_day else "-",
                          safe_rich_text(" ".join(r.front.split()), overflow="ellipsis",
                                         no_wrap=True), key=r.id)
        if self.rows:
            table.move_cursor(row=min(max(keep, 0), len(self.rows) - 1))
        self.query_one("#cards-count", Static).update(
            f"{len(self.rows)} card{'s' if len(self.rows) != 1 else ''}")
        self.query_one("#cards-filter", Static).update(
            f"state: {self.state_filter or 'all'} (f)")
        self.show_detail()

    def current(self) -> CardRow | None:
        table = self.query_one("#cards-table", DataTable)
        if not self.rows or table.cursor_row < 0:
            return None
        return self.rows[min(table.cursor_row, len(self.rows) - 1)]

    def show_detail(self) -> None:
        row = self.current()
        detail = self.query_one("#cards-detail", Static)
        if row is None:
            detail.update(Text("No cards match.", style="dim"))
            return
        text = Text()
        text.append_text(safe_rich_text(row.lesson_title, style="bold"))
        text.append(f" · {row.kind} · {row.state} · {row.reps} reviews, {row.lapses} lapses")
        if row.buried_until:
            text.append(f" · buried until {row.buried_until.isoformat()}")
        text.append("\n")
        text.append_text(safe_rich_text(row.back or "(no reference answer)", style="dim"))
        if self.show_history:
            text.append("\n")
            history = self.service.card_history(row.id)
            if not history:
                text.append("No answers yet.", style="dim")
            for h in history[-6:]:
                what = "Reset" if h["source"] == "reset" else RATINGS.get(h["rating"], "?")
                after = h["state_after"] or {}
                nxt = f" → {after['due_day']}" if after.get("due_day") else ""
                text.append(f"\n{h['day']}  {what:<5} {safe_text(h['source'])}{nxt}")
        detail.update(text)

    @on(Input.Changed, "#cards-search")
    def _search_changed(self) -> None:
        self.refill()

    @on(Input.Submitted, "#cards-search")
    def _search_done(self) -> None:
        self.query_one("#cards-table", DataTable).focus()

    @on(DataTable.RowHighlighted, "#cards-table")
    def _highlighted(self) -> None:
        self.show_detail()

    # --- actions --------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = isinstance(self.focused, Input)
        return not (typing and action in ("filter", "suspend", "bury", "reset", "history"))

    def action_search(self) -> None:
        self.query_one("#cards-search", Input).focus()

    def action_filter(self) -> None:
        """All cards, then each state in turn."""
        self.filter_index = (self.filter_index + 1) % len(FILTERS)
        self.refill()

    def action_suspend(self) -> None:
        """Suspend the card (or unsuspend a suspended one)."""
        row = self.current()
        if row is None:
            return
        back_in = row.state == "suspended"
        self.service.suspend(row.id, not back_in)
        self.notify(f"{'Unsuspended' if back_in else 'Suspended'} {safe_text(row.id)}.",
                    timeout=3, markup=False)
        self.refill()

    def action_bury(self) -> None:
        """Hide the card until the next learner day."""
        row = self.current()
        if row is None:
            return
        until = self.service.bury(row.id)
        self.notify(f"Buried until {until.isoformat()}.", timeout=3)
        self.refill()

    def action_reset(self) -> None:
        """Make the card new again (its history is kept)."""
        row = self.current()
        if row is None:
            return
        self.service.reset(row.id)
        self.notify("Reset: the card is new again (history kept).", timeout=3)
        self.refill()

    def action_history(self) -> None:
        """Show or hide the highlighted card's answers."""
        self.show_history = not self.show_history
        self.show_detail()

    def action_leave(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#cards-table", DataTable).focus()
            return
        self.dismiss(None)
