"""Reviewing a code card: write the function again in a TextArea, its checks grade it.

Opened by the daily review for a card of kind `code`. The editor starts with a fresh copy
of just that function (signature and docstring); `ctrl+r` runs that function's fast checks
in a child process (a thread worker waits for it, the UI stays live) and shows their
messages; `ctrl+g` gives up and shows the solution. Once the checks pass (or the learner
gave up) the grade they suggest is marked and `enter` takes it, or `1`-`4` overrides it.
The screen returns a `CodeGrade`, or None when the learner leaves with `escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Static, TextArea

from studyapp.textsafe import safe_rich_text, safe_text
from studyapp.tui.format import RATINGS
from studyapp.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from studyapp.services.code_cards import CodeAttempt


@dataclass(frozen=True)
class CodeGrade:
    rating: int
    code: str
    seconds: float


def _python_editor(text: str) -> TextArea:
    """A code editor with Python highlighting where tree-sitter is installed (plain else)."""
    from textual._tree_sitter import get_language

    language = "python" if get_language("python") is not None else None
    return TextArea.code_editor(text, language=language, id="code-editor", soft_wrap=False)


class CodeReviewScreen(Screen[CodeGrade | None]):
    """One code card: write, check, grade (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "check", "Run checks"),
        Binding("ctrl+g", "give_up", "Give up"),
        Binding("enter", "accept", "Take grade", show=False),
        *(Binding(str(n), f"grade({n})", RATINGS[n], show=False) for n in RATINGS),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, attempt: CodeAttempt, header: str, prompt: str,
                 intervals: dict[int, str] | None = None) -> None:
        super().__init__()
        self.attempt = attempt
        self.header = header
        self.prompt = prompt
        self.intervals = intervals or {}
        self.done = False          # passed, or gave up: time to grade
        self.checking = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="topbar"):
            yield Static(safe_rich_text(self.header), classes="title")
        yield Static(safe_rich_text(self.prompt, "bold"), id="code-prompt")
        yield _python_editor(self.attempt.path.read_text(encoding="utf-8"))
        with VerticalScroll(id="code-results"):
            yield Static(Text("ctrl+r runs this function's checks · ctrl+g gives up",
                              style="dim"), id="code-report")
        with Horizontal(id="code-grades", classes="grade-bar"):
            for rating, name in RATINGS.items():
                extra = f" · {self.intervals[rating]}" if rating in self.intervals else ""
                yield Button(f"{rating} {name}{extra}", id=f"code-grade-{rating}",
                             classes=f"grade grade-{rating}", compact=True)
        yield Static("", id="code-status", classes="card-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#code-grades").display = False
        self.query_one("#code-editor", TextArea).focus()

    @property
    def editor(self) -> TextArea:
        return self.query_one("#code-editor", TextArea)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("check", "give_up"):
            return not self.done and not self.checking
        if action in ("accept", "grade"):
            return self.done
        return True

    def action_check(self) -> None:
        if self.done or self.checking:
            return
        self.checking = True
        self.query_one("#code-report", Static).update(Text("running the checks…", style="dim"))
        self.refresh_bindings()
        self._check(self.editor.text)

    @work(thread=True, exclusive=True, group="code-check", exit_on_error=False)
    def _check(self, text: str) -> None:
        try:
            report = self.attempt.check(text)
            error = None
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            report, error = None, f"{type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._checked, report, error)

    def _checked(self, report: Any, error: str | None) -> None:
        self.checking = False
        out = Text()
        if error is not None:
            out.append(safe_text(f"could not run the checks: {error}"), style="bold red")
        else:
            for line in report.lines():
                style = "green" if line.startswith("PASS") else "red" if line.startswith(
                    ("FAIL", "ERROR")) else ""
                out.append(safe_text(line) + "\n", style=style)
        if self.attempt.passed:
            self._finish(out)
        else:
            out.append("Fix it and ctrl+r again, or ctrl+g to give up.", style="dim")
            self.query_one("#code-report", Static).update(out)
        self.refresh_bindings()

    def action_give_up(self) -> None:
        if self.done or self.checking:
            return
        out = Text("You gave up: the solution\n", style="bold yellow")
        out.append(safe_text(self.attempt.function.solution or "(no solution file)"))
        self._finish(out)

    def _finish(self, report: Text) -> None:
        self.done = True
        self.editor.read_only = True
        suggested = self.attempt.suggested()
        self.query_one("#code-report", Static).update(report)
        self.query_one("#code-grades").display = True
        for r in RATINGS:
            self.query_one(f"#code-grade-{r}", Button).set_class(r == suggested, "-suggested")
        tries = f"{self.attempt.attempts} tr{'y' if self.attempt.attempts == 1 else 'ies'}"
        self.query_one("#code-status", Static).update(Text(
            f"The checks suggest {suggested} {RATINGS[suggested]} ({tries}, "
            f"{self.attempt.seconds:.0f} s) · enter takes it, 1-4 override"))
        self.set_focus(None)   # the grade keys now reach the screen
        self.refresh_bindings()

    def action_accept(self) -> None:
        if self.done:
            self.action_grade(self.attempt.suggested())

    def action_grade(self, rating: int) -> None:
        if self.done:
            self.dismiss(CodeGrade(rating, self.editor.text, round(self.attempt.seconds, 1)))

    @on(Button.Pressed, ".grade")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        assert event.button.id is not None
        self.action_grade(int(event.button.id.rsplit("-", 1)[1]))

    def action_leave(self) -> None:
        self.dismiss(None)
