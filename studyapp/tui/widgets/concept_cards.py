"""Key concepts as flip cards: the term first, the explanation on flip."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Static

from studyapp.textsafe import safe_rich_text


class ConceptCards(Vertical, can_focus=True):
    """Flip through (term, explanation) pairs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,enter", "flip", "Flip"),
        Binding("j,down", "next_card", "Next card", show=False),
        Binding("k,up", "prev_card", "Previous card", show=False),
    ]

    index: reactive[int] = reactive(0)
    flipped: reactive[bool] = reactive(False)

    def __init__(self, concepts: list[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._concepts = concepts

    def compose(self) -> ComposeResult:
        yield Static("", id="concept-count", classes="hint")
        with Vertical(id="concept-card", classes="flip-card"):
            yield Static("", id="concept-term", classes="term")
            yield Static("", id="concept-explanation", classes="explanation")
        with Horizontal(classes="button-row"):
            yield Button("◀ Card (k)", id="concept-prev", compact=True)
            yield Button("Flip (space)", id="concept-flip", compact=True)
            yield Button("Card (j) ▶", id="concept-next", compact=True)

    def on_mount(self) -> None:
        self._render_card()
        self.focus()

    def _render_card(self) -> None:
        if not self._concepts:
            self.query_one("#concept-term", Static).update("This lesson lists no key concepts.")
            return
        term, explanation = self._concepts[self.index]
        self.query_one("#concept-count", Static).update(
            f"Card {self.index + 1} of {len(self._concepts)} · space flips · j/k move"
        )
        self.query_one("#concept-term", Static).update(safe_rich_text(term))
        self.query_one("#concept-explanation", Static).update(
            safe_rich_text(explanation if self.flipped else ""))
        self.query_one("#concept-card").set_class(self.flipped, "-flipped")

    def watch_index(self) -> None:
        if self.is_mounted:
            self._render_card()

    def watch_flipped(self) -> None:
        if self.is_mounted:
            self._render_card()

    def action_flip(self) -> None:
        self.flipped = not self.flipped

    def action_next_card(self) -> None:
        if self.index + 1 < len(self._concepts):
            self.flipped = False
            self.index += 1

    def action_prev_card(self) -> None:
        if self.index > 0:
            self.flipped = False
            self.index -= 1

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {"concept-prev": self.action_prev_card, "concept-next": self.action_next_card,
                   "concept-flip": self.action_flip}
        actions[event.button.id or ""]()
