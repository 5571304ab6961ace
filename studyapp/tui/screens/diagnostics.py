"""Every lint message of one lesson, for a lesson that is broken or has warnings."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from studyapp.course.model import Diagnostic, Severity
from studyapp.textsafe import escape_markup, safe_rich_text


class DiagnosticsScreen(ModalScreen[None]):
    """A scrollable list of `line N: severity: message`; escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, title: str, path: str, diagnostics: tuple[Diagnostic, ...]) -> None:
        super().__init__()
        self.lesson_title = title
        self.path = path
        self.diagnostics = diagnostics

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diagnostics-body", classes="panel"):
            yield Static(self._text(), id="diagnostics-text")

    def _text(self) -> Text:
        text = Text()
        text.append(safe_rich_text(f"{self.path}\n", style="dim"))
        ordered = sorted(self.diagnostics, key=lambda d: (d.severity is not Severity.ERROR,
                                                          d.line))
        for d in ordered:
            style = "bold red" if d.severity is Severity.ERROR else "yellow"
            text.append(f"line {d.line}: ", style="dim")
            text.append(d.severity.value, style=style)
            text.append(safe_rich_text(f": {d.message}\n"))
        if not ordered:
            text.append("No problems found.")
        text.append("\nFix the file and press ctrl+r on the home screen to reload.", style="dim")
        return text

    def on_mount(self) -> None:
        body = self.query_one("#diagnostics-body")
        body.border_title = escape_markup(self.lesson_title)
        body.border_subtitle = "esc closes"
        body.focus()

    def action_close(self) -> None:
        self.dismiss(None)
