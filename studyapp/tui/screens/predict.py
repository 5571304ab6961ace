"""Predict, then run: a small dialog that asks for the run's headline outcome first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from studyapp.textsafe import safe_rich_text

if TYPE_CHECKING:
    from studyapp.training.prediction import PredictionSpec


@dataclass(frozen=True)
class Predicted:
    """The dialog's answer: the value, or None when the learner runs without predicting."""

    value: float | None


class PredictScreen(ModalScreen[Predicted | None]):
    """Enter: run with this prediction (empty: without one); escape: do not run."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Don't run")]

    def __init__(self, spec: PredictionSpec) -> None:
        super().__init__()
        self.spec = spec

    def compose(self) -> ComposeResult:
        with Vertical(id="predict-box", classes="panel"):
            yield Static(Text("Predict, then run", style="bold"))
            yield Static(safe_rich_text(self.spec.question), id="predict-question")
            yield Input(placeholder=self.spec.hint(), id="predict-input")
            yield Static(Text("Enter runs (empty: without a prediction) · esc: don't run",
                              style="dim"), id="predict-error")

    def on_mount(self) -> None:
        self.query_one("#predict-box").border_title = "Your prediction"
        self.query_one("#predict-input", Input).focus()

    @on(Input.Submitted, "#predict-input")
    def _submitted(self, event: Input.Submitted) -> None:
        from studyapp.training.prediction import PredictionError

        event.stop()
        text = event.value.strip()
        if not text:
            self.dismiss(Predicted(None))
            return
        try:
            value = self.spec.parse(text)
        except PredictionError as exc:
            self.query_one("#predict-error", Static).update(
                safe_rich_text(str(exc), style="bold red"))
            return
        self.dismiss(Predicted(value))

    def action_back(self) -> None:
        self.dismiss(None)
