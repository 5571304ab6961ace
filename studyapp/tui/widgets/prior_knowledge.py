"""Activate prior knowledge: one short typed answer per prompt."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from studyapp.textsafe import safe_rich_text


class PriorKnowledge(VerticalScroll):
    """Prompts with an answer field each; posts `AnswerSaved` when a field is left or submitted."""

    @dataclass
    class AnswerSaved(Message):
        index: int
        text: str

    def __init__(self, prompts: list[str], answers: dict[int, str], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._prompts = prompts
        self._answers = dict(answers)

    def compose(self) -> ComposeResult:
        yield Static("Before you start, answer in a few words. You will compare at the recap. "
                     "(ctrl+n: next section while typing)",
                     classes="hint")
        for i, prompt in enumerate(self._prompts):
            yield Static(safe_rich_text(f"{i + 1}. {prompt}"), classes="prompt")
            yield Input(self._answers.get(i, ""), placeholder="Your answer — Enter to save",
                        id=f"prior-{i}", classes="prior-answer", select_on_focus=False)

    def on_mount(self) -> None:
        # Focus the first prompt still unanswered; when all are answered, focus none, so
        # the section keys (n, p) move on instead of typing into a saved answer.
        empty = [f for f in self.query(Input) if not f.value.strip()]
        if empty:
            empty[0].focus()

    def _save(self, field: Input) -> None:
        assert field.id is not None
        index = int(field.id.split("-")[1])
        if self._answers.get(index, "") != field.value:
            self._answers[index] = field.value
            self.post_message(self.AnswerSaved(index, field.value))

    @on(Input.Submitted, ".prior-answer")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save(event.input)
        fields = list(self.query(Input))
        index = fields.index(event.input)
        if index + 1 < len(fields):
            fields[index + 1].focus()
        else:
            self.screen.set_focus(None)

    @on(Input.Blurred, ".prior-answer")
    def _blurred(self, event: Input.Blurred) -> None:
        self._save(event.input)

    def save_all(self) -> None:
        for field in self.query(Input):
            self._save(field)
