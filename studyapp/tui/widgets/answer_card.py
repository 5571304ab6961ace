"""A question the learner answers: type, reveal the reference, grade 1-4.

Used by the lesson quiz and by the daily review. The card knows nothing about cards,
schedules or the database: it shows what it is given and posts `Graded`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Input, Markdown, Static

from studyapp.tui.format import RATINGS


class AnswerCard(Vertical, can_focus=True):
    """Prompt, an answer field, the reference answer once revealed, and four grade buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "grade(1)", "Again", show=True),
        Binding("2", "grade(2)", "Hard", show=True),
        Binding("3", "grade(3)", "Good", show=True),
        Binding("4", "grade(4)", "Easy", show=True),
        Binding("space", "reveal", "Reveal", show=True),
        Binding("a", "answer", "Type answer", show=False),
    ]

    revealed: reactive[bool] = reactive(False)

    @dataclass
    class Graded(Message):
        """The learner graded the current prompt."""

        card: AnswerCard
        rating: int
        answer: str
        seconds: float

        @property
        def control(self) -> AnswerCard:
            return self.card

    @dataclass
    class Revealed(Message):
        card: AnswerCard

        @property
        def control(self) -> AnswerCard:
            return self.card

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._card_prompt = ""
        self._card_answer: str | None = None
        self._card_context: str | None = None
        self._card_started = time.monotonic()

    def compose(self) -> ComposeResult:
        yield Static("", id="card-header", classes="card-header")
        with VerticalScroll(id="card-body"):
            yield Static("", id="card-prompt", classes="card-prompt")
            yield Input(placeholder="Your answer — Enter to reveal", id="card-input")
            yield Static("", id="card-reference-label", classes="card-label")
            yield Markdown("", id="card-reference")
        with Horizontal(id="card-grades", classes="grade-bar"):
            for rating, name in RATINGS.items():
                yield Button(f"{rating} {name}", id=f"grade-{rating}", classes=f"grade grade-{rating}",
                             compact=True)
        yield Static("", id="card-status", classes="card-status")

    def show(self, prompt: str, answer: str | None, context: str | None = None,
             header: str = "", typed: str = "") -> None:
        """Show a new prompt, answer hidden, the field empty and focused."""
        self._card_prompt, self._card_answer, self._card_context = prompt, answer, context
        self.query_one("#card-header", Static).update(header)
        self.query_one("#card-prompt", Static).update(prompt)
        field = self.query_one("#card-input", Input)
        field.value = typed
        field.disabled = False
        self.query_one("#card-reference-label", Static).update("")
        self.query_one("#card-reference", Markdown).update("")
        self.query_one("#card-status", Static).update("Type an answer (optional) · Enter to reveal")
        self.revealed = False
        self._card_started = time.monotonic()
        field.focus()

    def show_done(self, header: str, text: str) -> None:
        """Show a finished state (graded already), without a field."""
        self.query_one("#card-header", Static).update(header)
        self.query_one("#card-prompt", Static).update(text)
        self.query_one("#card-input", Input).disabled = True
        self.query_one("#card-reference-label", Static).update("")
        self.query_one("#card-reference", Markdown).update("")
        self.query_one("#card-status", Static).update("")
        self.revealed = False

    def set_status(self, text: str) -> None:
        self.query_one("#card-status", Static).update(text)

    @property
    def typed(self) -> str:
        return self.query_one("#card-input", Input).value

    def watch_revealed(self, revealed: bool) -> None:
        self.set_class(revealed, "-revealed")
        self.query_one("#card-grades").display = revealed

    @on(Input.Submitted, "#card-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_reveal()

    def action_answer(self) -> None:
        field = self.query_one("#card-input", Input)
        if not field.disabled:
            field.focus()

    def action_reveal(self) -> None:
        field = self.query_one("#card-input", Input)
        if self.revealed or field.disabled:
            return
        self.revealed = True
        field.disabled = True
        if self._card_answer:
            self.query_one("#card-reference-label", Static).update("Reference answer")
            body = self._card_answer
        else:
            label = "Compare with the lesson" if self._card_context else "No reference answer"
            self.query_one("#card-reference-label", Static).update(label)
            body = ""
        if self._card_context:
            body = f"{body}\n\n---\n\n{self._card_context}" if body else self._card_context
        self.query_one("#card-reference", Markdown).update(body)
        self.query_one("#card-status", Static).update("How well did you know it?  1 Again · 2 Hard · "
                                                      "3 Good · 4 Easy")
        self.focus()
        self.post_message(self.Revealed(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "grade":
            return bool(self.revealed)
        if action == "reveal":
            return not self.revealed
        return True

    def action_grade(self, rating: int) -> None:
        if not self.revealed:
            return
        self.revealed = False
        seconds = round(time.monotonic() - self._card_started, 1)
        self.post_message(self.Graded(self, rating, self.typed, seconds))

    @on(Button.Pressed, ".grade")
    def _grade_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        assert event.button.id is not None
        self.action_grade(int(event.button.id.rsplit("-", 1)[1]))
