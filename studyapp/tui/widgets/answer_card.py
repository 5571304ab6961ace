"""A question the learner answers: type, reveal the reference, grade 1-4.

Used by the lesson quiz and by the daily review. The card knows nothing about cards,
schedules or the database: it shows what it is given and posts `Graded`.

Keys mean the same on every card. A new card has the focus itself, not its answer field,
and is in answer mode: `u` (undo), space (reveal) and `?` keep their meaning right after a
grade, and any other printable key starts the answer (it goes into the field, which takes
the focus). `esc` leaves answer mode (the screen's letter keys work then: j/k, n/p, q), `a`
or tab goes back to the field. Once the answer is shown the field gives way to the whole
typed answer above the reference, and the focus is on the card, so 1-4 grade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Input, Markdown, Static

from studyapp.textsafe import safe_rich_text
from studyapp.tui.format import RATINGS

RESERVED_KEYS = frozenset({"u", "space", "question_mark"})
"""Keys an unanswered card keeps for itself and its screen (undo, reveal, help) instead of
starting the answer with them; tab first to type an answer that starts with `u`."""


class AnswerCard(Vertical, can_focus=True):
    """Prompt, an answer field, the reference answer once revealed, and four grade buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "grade(1)", "Again", show=True),
        Binding("2", "grade(2)", "Hard", show=True),
        Binding("3", "grade(3)", "Good", show=True),
        Binding("4", "grade(4)", "Easy", show=True),
        Binding("space,enter", "reveal", "Reveal", show=True),
        Binding("a", "answer", "Answer field", show=False),
    ]

    revealed: reactive[bool] = reactive(False, init=False)

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
        self._answer_mode = False

    def compose(self) -> ComposeResult:
        yield Static("", id="card-header", classes="card-header")
        with VerticalScroll(id="card-body"):
            yield Static("", id="card-prompt", classes="card-prompt")
            yield Input(placeholder="Type your answer — Enter reveals", id="card-input",
                        select_on_focus=False)
            yield Static("Your answer", id="card-typed-label", classes="card-label")
            yield Static("", id="card-typed", classes="card-typed")
            yield Static("", id="card-reference-label", classes="card-label")
            yield Markdown("", id="card-reference")
        with Horizontal(id="card-grades", classes="grade-bar"):
            for rating, name in RATINGS.items():
                yield Button(f"{rating} {name}", id=f"grade-{rating}", classes=f"grade grade-{rating}",
                             compact=True)
        yield Static("", id="card-suggestion", classes="card-suggestion")
        yield Static("", id="card-status", classes="card-status")

    def show(self, prompt: str, answer: str | None, context: str | None = None,
             header: str = "", typed: str = "", status: str = "") -> None:
        """Show a new prompt, answer hidden, the field empty; the card itself has the focus."""
        self._card_prompt, self._card_answer, self._card_context = prompt, answer, context
        self.query_one("#card-header", Static).update(safe_rich_text(header))
        self.query_one("#card-prompt", Static).update(safe_rich_text(prompt))
        field = self.query_one("#card-input", Input)
        field.value = typed
        field.disabled = False
        field.display = True
        self._show_typed(None)
        self.query_one("#card-reference-label", Static).update("")
        self.query_one("#card-reference", Markdown).update("")
        self.query_one("#card-status", Static).update(
            safe_rich_text(status or "Type to answer · Enter reveals"))
        self.set_suggestion(None)
        self.revealed = False
        self._card_started = time.monotonic()
        self._answer_mode = True
        self.focus()
        self.refresh_bindings()

    def show_done(self, header: str, text: str, status: str = "") -> None:
        """Show a finished state (graded already), without a field."""
        self.query_one("#card-header", Static).update(safe_rich_text(header))
        self.query_one("#card-prompt", Static).update(safe_rich_text(text))
        field = self.query_one("#card-input", Input)
        field.disabled = True
        field.display = False
        self._show_typed(None)
        self.query_one("#card-reference-label", Static).update("")
        self.query_one("#card-reference", Markdown).update("")
        self.query_one("#card-status", Static).update(safe_rich_text(status))
        self.revealed = False

    def _show_typed(self, typed: str | None) -> None:
        """The learner's whole answer, wrapped, above the reference (None hides it)."""
        self.query_one("#card-typed-label", Static).display = typed is not None
        label = self.query_one("#card-typed", Static)
        label.display = typed is not None
        label.update(safe_rich_text(typed or "(no answer typed)", style="" if typed else "dim italic"))

    def set_intervals(self, labels: dict[int, str] | None) -> None:
        """What each grade would give, on its button (`3 Good · 3d`); None: names only."""
        for rating, name in RATINGS.items():
            extra = f" · {labels[rating]}" if labels and rating in labels else ""
            self.query_one(f"#grade-{rating}", Button).label = f"{rating} {name}{extra}"

    def set_status(self, text: str) -> None:
        self.query_one("#card-status", Static).update(safe_rich_text(text))

    def set_suggestion(self, rating: int | None, closeness: float | None = None) -> None:
        """Show a suggested grade beside the buttons (None: none); the learner still grades."""
        for r in RATINGS:
            self.query_one(f"#grade-{r}", Button).set_class(r == rating, "-suggested")
        label = self.query_one("#card-suggestion", Static)
        label.display = rating is not None
        if rating is None:
            label.update("")
            return
        close = f" · closeness {closeness:.2f}" if closeness is not None else ""
        label.update(f"Suggested: {rating} {RATINGS[rating]}{close} (your grade counts)")

    @property
    def typed(self) -> str:
        return self.query_one("#card-input", Input).value

    def on_mount(self) -> None:
        self.watch_revealed(self.revealed)

    def watch_revealed(self, revealed: bool) -> None:
        self.set_class(revealed, "-revealed")
        if self.is_mounted:
            self.query_one("#card-grades").display = revealed

    @on(Input.Submitted, "#card-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_reveal()

    @property
    def answer_mode(self) -> bool:
        """True while printable keys go to the answer (see the module docstring)."""
        field = self.query_one("#card-input", Input)
        return not self.revealed and not field.disabled and (
            field.has_focus or (self._answer_mode and self.has_focus))

    def check_consume_key(self, key: str, character: str | None) -> bool:
        """In answer mode the screen's letter keys type (the footer then shows ^n, not n)."""
        return (self.answer_mode and character is not None and character.isprintable()
                and (key not in RESERVED_KEYS
                     or bool(self.query_one("#card-input", Input).value)))

    def on_key(self, event: events.Key) -> None:
        """In answer mode a printable key starts the answer and esc leaves the mode."""
        if not self.answer_mode:
            return
        field = self.query_one("#card-input", Input)
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self._answer_mode = False
            self.focus()
            self.refresh_bindings()
            return
        # a printable key the field did not take itself (the field stops those it types) was
        # sent to the card, perhaps just before the focus moved to the field: it types too
        if not event.is_printable or not event.character:
            return
        if event.key in RESERVED_KEYS and not field.value:
            return      # keys arriving before the field has the focus still type, spaces too
        event.stop()
        event.prevent_default()
        field.focus()
        field.insert_text_at_cursor(event.character)

    def action_answer(self) -> None:
        field = self.query_one("#card-input", Input)
        if not field.disabled:
            self._answer_mode = True
            field.focus()

    def action_reveal(self) -> None:
        field = self.query_one("#card-input", Input)
        if self.revealed or field.disabled:
            return
        self.revealed = True
        field.disabled = True
        field.display = False
        self._show_typed(field.value.strip())
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
