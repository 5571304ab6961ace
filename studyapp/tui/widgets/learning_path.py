"""The learning path: steps the learner checks off."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Checkbox, Static

from studyapp.textsafe import safe_rich_text


@dataclass(frozen=True)
class StepView:
    title: str
    lines: tuple[str, ...]


class StepBox(Checkbox):
    """A checkbox that reads the same in every terminal: `[ ]` open, `[✓]` done.

    Textual's own box draws an X in both states (dim when unchecked), which a terminal with
    few colours shows as `▐X▌`, checked or not."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble(("[", ""), ("✓" if self.value else " ", style), ("]", ""))


class LearningPath(VerticalScroll):
    """A checkbox per step with its sub-items; posts `StepToggled`."""

    @dataclass
    class StepToggled(Message):
        index: int
        done: bool

    def __init__(self, steps: list[StepView], done: set[int], *, id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._steps = steps
        self._done = done

    def compose(self) -> ComposeResult:
        yield Static("Check each step off when you have done it (space or click).", classes="hint")
        for i, step in enumerate(self._steps):
            yield StepBox(self._label(i, i in self._done), i in self._done, id=f"step-{i}",
                          classes="step")
            if step.lines:
                yield Static(safe_rich_text("\n".join(f"  • {line}" for line in step.lines)),
                             classes="step-items")

    def _label(self, index: int, done: bool) -> Text:
        return safe_rich_text(f"{index + 1}. {self._steps[index].title}"
                              + ("  ✓ done" if done else ""))

    def on_mount(self) -> None:
        boxes = list(self.query(Checkbox))
        if boxes:
            boxes[0].focus()

    @on(Checkbox.Changed, ".step")
    def _changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        assert event.checkbox.id is not None
        index = int(event.checkbox.id.split("-")[1])
        event.checkbox.label = self._label(index, event.value)
        self.post_message(self.StepToggled(index, event.value))
