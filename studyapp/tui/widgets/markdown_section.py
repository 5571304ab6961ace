"""A section shown as its markdown (overview, pitfalls, free-form sections, examples)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Markdown


class MarkdownSection(VerticalScroll, can_focus=True):
    """Scrollable markdown; optional buttons that ask to open linked exercises."""

    @dataclass
    class OpenExercise(Message):
        exercise: str

    def __init__(self, markdown: str, *, exercises: tuple[str, ...] = (), footer: str = "",
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._markdown = markdown
        self._exercises = exercises
        self._footer = footer

    def compose(self) -> ComposeResult:
        yield Markdown(self._markdown, classes="section-markdown", open_links=False)
        if self._footer:
            yield Markdown(self._footer, classes="section-footer", open_links=False)
        if self._exercises:
            with Horizontal(classes="button-row"):
                for name in self._exercises:
                    yield Button(f"Open exercise {name} (x)", id=f"exercise-{name}",
                                 classes="exercise", compact=True)

    def on_mount(self) -> None:
        self.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.has_class("exercise") and event.button.id:
            event.stop()
            self.post_message(self.OpenExercise(event.button.id.removeprefix("exercise-")))
