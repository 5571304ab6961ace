"""The lesson quiz: one question at a time on an answer card, graded 1-4."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from studyapp.tui.format import RATINGS, short_date
from studyapp.tui.widgets.answer_card import AnswerCard


@dataclass(frozen=True)
class QuizQuestion:
    question: str
    answer: str | None
    context: str | None = None  # shown when there is no reference answer


class QuizView(Vertical):
    """Walks the questions; posts `Graded(index, ...)` and is told the result back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "next_question", "Next question", show=False),
        Binding("k", "prev_question", "Previous question", show=False),
    ]

    @dataclass
    class Graded(Message):
        index: int
        rating: int
        answer: str
        seconds: float

    def __init__(self, questions: list[QuizQuestion], graded: dict[int, tuple[int, date | None]],
                 today: date, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="section-view")
        self._questions = questions
        self._graded = dict(graded)
        self._today = today
        self.index = next((i for i in range(len(questions)) if i not in graded), 0)

    def compose(self) -> ComposeResult:
        yield Static("", id="quiz-progress", classes="hint")
        yield AnswerCard(id="quiz-card")

    def on_mount(self) -> None:
        self._show()

    @property
    def card(self) -> AnswerCard:
        return self.query_one("#quiz-card", AnswerCard)

    def _show(self, status: str = "") -> None:
        total = len(self._questions)
        self.query_one("#quiz-progress", Static).update(
            f"{len(self._graded)} of {total} graded · esc, then j/k move between questions"
        )
        if not total:
            self.card.show_done("", "This lesson has no quiz questions.")
            return
        q = self._questions[self.index]
        header = f"Question {self.index + 1}/{total}"
        if self.index in self._graded:
            rating, due = self._graded[self.index]
            when = f" · next review {short_date(due, self._today)}" if due else ""
            self.card.show_done(f"{header} · graded {RATINGS[rating]}{when}", q.question,
                                status)
            self.card.focus()
        else:
            self.card.show(q.question, q.answer, None if q.answer else q.context, header=header,
                           status=status)

    def _said(self, index: int, rating: int, due: date | None) -> str:
        when = f", next review {short_date(due, self._today)}" if due else ""
        return f"Question {index + 1} graded {RATINGS[rating]}{when} · u undoes it"

    def mark_graded(self, index: int, rating: int, due: date | None) -> None:
        """Called by the screen once the grade is saved: record it, say so and move on."""
        self._graded[index] = (rating, due)
        said = self._said(index, rating, due)
        pending = [i for i in range(len(self._questions)) if i not in self._graded]
        if pending:
            after = [i for i in pending if i > index]
            self.index = after[0] if after else pending[0]
            self._show(said)
        else:
            self._show(f"{said} · all graded: n for the recap")

    def unmark(self, index: int) -> None:
        """Called by the screen once a grade is undone: that question again, ungraded."""
        rating, _due = self._graded.pop(index, (None, None))
        self.index = index
        what = f"{RATINGS[rating]} on question {index + 1}" if rating else f"question {index + 1}"
        self._show(f"Undid {what}: grade it again")

    @property
    def all_graded(self) -> bool:
        return len(self._graded) == len(self._questions)

    @on(AnswerCard.Graded)
    def _graded_card(self, event: AnswerCard.Graded) -> None:
        event.stop()
        self.post_message(self.Graded(self.index, event.rating, event.answer, event.seconds))

    def action_next_question(self) -> None:
        if self.index + 1 < len(self._questions):
            self.index += 1
            self._show()

    def action_prev_question(self) -> None:
        if self.index > 0:
            self.index -= 1
            self._show()
