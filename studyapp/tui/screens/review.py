"""The daily review: today's queue, one prompt at a time, graded 1-4, with undo.

Each grade button shows the interval it would give (`3 Good · 3d`). A card graded into a
learning step that falls due again today comes back by itself once its step is due (it
goes next as soon as its time has come); when only such cards remain, a short wait
screen counts down to the first of them (`r` takes it at once). A plan prompt graded
Again comes back at the end of the session. An overdue item says how overdue it is.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, ProgressBar, Static
from textual.worker import get_current_worker

from studyapp.tui.faults import reports_storage_faults
from studyapp.tui.format import RATINGS, countdown, interval_label, overdue, plural, short_date
from studyapp.tui.widgets.answer_card import AnswerCard
from studyapp.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from studyapp.services.study import DueItem, GradeResult, StudyService
    from studyapp.services.suggest import GradeSuggester
    from studyapp.study.suggest import GradedAnswer, Suggestion


def _new_suggester() -> GradeSuggester:
    from studyapp.services.suggest import GradeSuggester

    return GradeSuggester()


class ReviewScreen(Screen[None]):
    """Reviews `service.due()`; `u` undoes the last grade; a summary at the end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("r", "more", "Review more"),
        Binding("escape,q", "leave", "Home"),
        # the card's grade keys, whatever has the focus once the answer is shown
        *(Binding(str(n), f"grade({n})", RATINGS[n], show=False) for n in RATINGS),
    ]

    suggester_factory = staticmethod(_new_suggester)
    """Makes the grade suggester (tests put a fake one here)."""

    def __init__(self, service: StudyService) -> None:
        super().__init__()
        self.service = service
        self.suggester: GradeSuggester | None = None
        self.queue: list[DueItem] = service.due()
        self.index = 0
        self.results: list[GradeResult] = []
        self.more: list[DueItem] = []
        self.waiting: list[tuple[datetime, DueItem]] = []  # learning steps due later today

    def compose(self) -> ComposeResult:
        with Vertical(classes="topbar"):
            with Horizontal(classes="topbar-row"):
                yield Static("Review", classes="title")
                yield Static("", id="review-progress", classes="progress-label")
            yield ProgressBar(total=max(1, len(self.queue)), show_eta=False,
                              show_percentage=False, id="review-bar")
        yield AnswerCard(id="review-card")
        with Vertical(id="review-wait", classes="panel"):
            yield Static("", id="wait-text")
        with Vertical(id="review-summary", classes="panel"):
            yield Static("", id="summary-text")
            with Horizontal(classes="button-row"):
                yield Button("Home (escape)", id="summary-home", variant="primary", compact=True)
                yield Button("Undo last (u)", id="summary-undo", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#review-summary").border_title = "Done for today"
        self.query_one("#review-wait").border_title = "Learning steps"
        self.set_interval(1.0, self._tick)
        self.show_current()
        if self.service.study_settings.suggest_grades:
            self.call_after_refresh(self._start_suggester)

    # -- suggested grades: the encoder loads in a thread after the first paint ----------------

    def _start_suggester(self) -> None:
        ready = getattr(self.app, "suggester", None)
        if ready is not None and ready.ready:
            self.suggester = ready
            return
        self._load_suggester(self.service.graded_typed_answers())

    @work(thread=True, exclusive=True, group="suggest-load", exit_on_error=False)
    def _load_suggester(self, graded: list[GradedAnswer]) -> None:
        suggester = self.suggester_factory()
        if not suggester.load():
            return  # no model, no suggestion: the review goes on as before
        suggester.calibrate(graded)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._suggester_loaded, suggester)

    def _suggester_loaded(self, suggester: GradeSuggester) -> None:
        self.suggester = suggester
        if hasattr(self.app, "suggester"):
            self.app.suggester = suggester  # type: ignore[attr-defined]
        self._suggest_current()

    @on(AnswerCard.Revealed, "#review-card")
    def _revealed(self) -> None:
        self._suggest_current()

    def _suggest_current(self) -> None:
        if self.suggester is None or self.index >= len(self.queue) or not self.card.revealed:
            return
        item = self.queue[self.index]
        typed = self.card.typed.strip()
        if typed and item.answer:
            self._suggest(self.index, item.prompt, item.answer, typed)

    @work(thread=True, group="suggest", exit_on_error=False)
    def _suggest(self, index: int, question: str, reference: str, typed: str) -> None:
        assert self.suggester is not None
        found = self.suggester.suggest(reference, typed, question)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_suggestion, index, found)

    def _show_suggestion(self, index: int, found: Suggestion) -> None:
        if index == self.index and self.card.revealed:
            self.card.set_suggestion(found.rating, found.closeness)

    @property
    def card(self) -> AnswerCard:
        return self.query_one("#review-card", AnswerCard)

    def _take_due_learning(self) -> None:
        """Learning cards whose step has come go next."""
        now = self.service.now()
        ready = [item for at, item in sorted(self.waiting, key=lambda w: w[0]) if at <= now]
        if ready:
            self.waiting = [w for w in self.waiting if w[1] not in ready]
            self.queue[self.index:self.index] = ready

    def _tick(self) -> None:
        """Once a second: the wait screen's countdown, and a step that has come."""
        if not self.waiting or self.index < len(self.queue):
            return
        self.show_current()

    def show_current(self) -> None:
        self._take_due_learning()
        total = len(self.queue)
        self.query_one("#review-bar", ProgressBar).update(total=max(1, total), progress=self.index)
        finished = self.index >= total
        waiting = finished and bool(self.waiting)
        self.card.display = not finished
        self.query_one("#review-wait").display = waiting
        self.query_one("#review-summary").display = finished and not waiting
        if waiting:
            self._show_wait()
            return
        if finished:
            self.query_one("#review-progress", Static).update(f"{total}/{total}")
            self._show_summary()
            self.query_one("#summary-home", Button).focus()
            return
        item = self.queue[self.index]
        self.query_one("#review-progress", Static).update(f"{self.index + 1}/{total}")
        kind = {"plan": "Lesson review", "card": "Card"}.get(item.kind, item.kind)
        if item.card_kind:
            kind = f"{item.card_kind.capitalize()} card"
        header = f"{kind} · {item.lesson_title}"
        late = overdue(item.due, self.service.today())
        if late:
            header += f" · {late}"
        self.card.show(item.prompt, item.answer, item.context, header=header)
        self.card.set_intervals(self._labels(item))
        self.refresh_bindings()
        if item.card_kind == "code":
            self._open_code_card(item, header)

    def _open_code_card(self, item: DueItem, header: str) -> None:
        """A code card is written and checked on its own screen, then graded here."""
        from studyapp.services.code_cards import CodeAttempt, card_key, code_function
        from studyapp.services.exercises import ExerciseService
        from studyapp.tui.screens.code_review import CodeGrade, CodeReviewScreen

        try:
            exercise_id, name = card_key(item.id)
            exercise = ExerciseService(self.service.settings).exercise(exercise_id)
            attempt = CodeAttempt.open(exercise, code_function(exercise, name))
        except Exception as exc:  # noqa: BLE001 - said, and the card can still be graded
            self.card.set_status(f"This code card cannot be opened: {exc}")
            return
        index = self.index

        def graded(grade: CodeGrade | None) -> None:
            if grade is None:
                self.dismiss(None)
            elif index == self.index:
                self._record(grade.rating, grade.seconds, grade.code)

        self.app.push_screen(CodeReviewScreen(attempt, header, item.prompt,
                                              self._labels(item)), graded)

    def _labels(self, item: DueItem) -> dict[int, str]:
        if item.kind == "plan":
            return {1: "again later", 2: "done", 3: "done", 4: "done"}
        intervals = self.service.intervals(item.id) or {}
        return {r: interval_label(d) for r, d in intervals.items()}

    def _show_wait(self) -> None:
        at, _item = min(self.waiting, key=lambda w: w[0])
        left = at - self.service.now()
        text = Text()
        text.append(f"{plural(len(self.waiting), 'card')} in learning steps come back today.\n",
                    style="bold")
        text.append(f"The next one in {countdown(left)}. ")
        text.append("Press r to take it now, escape to go home.", style="dim")
        self.query_one("#wait-text", Static).update(text)
        self.query_one("#review-progress", Static).update(
            f"{len(self.queue)}/{len(self.queue)} · waiting")
        self.refresh_bindings()

    def _show_summary(self) -> None:
        today = self.service.today()
        text = Text()
        if not self.queue:
            text.append("Nothing is due today.\n", style="bold")
        else:
            counts = Counter(r.rating for r in self.results)
            text.append(f"You reviewed {plural(len(self.results), 'item')}.\n", style="bold")
            text.append("  ".join(f"{RATINGS[r]} {counts.get(r, 0)}" for r in RATINGS) + "\n")
        self.more = self.service.due() if self.queue else []
        nxt = self.service.next_review_date(self.more if self.queue else None)
        if self.more:
            text.append(f"{plural(len(self.more), 'item')} fell due again today (short "
                        "learning steps): press r to go on.", style="bold")
        elif nxt is not None:
            text.append(f"Next review: {short_date(nxt, today)} ({nxt.isoformat()})")
        else:
            text.append("No reviews scheduled yet: finish a lesson to schedule some.")
        self.query_one("#summary-text", Static).update(text)
        self.query_one("#summary-undo", Button).disabled = not self.results
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "more":
            return bool(self.index >= len(self.queue) and (self.more or self.waiting))
        if action == "grade":
            return self.index < len(self.queue) and self.card.revealed
        return True

    def action_grade(self, rating: int) -> None:
        if self.index < len(self.queue):
            self.card.action_grade(rating)

    def action_more(self) -> None:
        """The next learning card now (on the wait screen), or another round with what fell
        due again during this session."""
        if self.index >= len(self.queue) and self.waiting:
            first = min(self.waiting, key=lambda w: w[0])
            self.waiting.remove(first)
            self.queue.append(first[1])
            self.show_current()
            return
        if self.index >= len(self.queue) and self.more:
            self.queue, self.index, self.more = self.more, 0, []
            self.show_current()

    @on(AnswerCard.Graded, "#review-card")
    def _graded(self, event: AnswerCard.Graded) -> None:
        self._record(event.rating, event.seconds, event.answer)

    @reports_storage_faults
    def _record(self, rating: int, seconds: float, answer: str) -> None:
        item = self.queue[self.index]
        result = self.service.grade(item.id, rating, seconds=seconds, answer=answer or None)
        self.results.append(result)
        self.index += 1
        if item.kind == "plan" and result.next_due is not None:
            self.queue.append(item)  # Again: asked again at the end of the session
        elif (item.kind == "card" and result.due_at is not None
              and result.next_due is not None and result.next_due <= self.service.today()):
            self.waiting.append((result.due_at, item))
        self.show_current()

    @reports_storage_faults
    def action_undo(self) -> None:
        undone = self.service.undo_last()
        if undone is None:
            self.notify("Nothing to undo.")
            return
        # Step back to the undone item; if it came from elsewhere, put it in front.
        what = "the last grade"
        if self.results and self.results[-1].item_id == undone:
            what = f"{RATINGS[self.results.pop().rating]} (the last grade)"
        self.waiting = [w for w in self.waiting if w[1].id != undone]
        back = next((i for i in range(self.index - 1, -1, -1) if self.queue[i].id == undone), None)
        if back is not None:  # the copy a plan Again put at the end goes too
            self.queue = self.queue[:back + 1] + [
                q for q in self.queue[back + 1:] if q.id != undone]
        if back is None:
            self.notify("Undid a grade from an earlier session.")
            self.queue = self.service.due()
            self.index = 0
            self.results.clear()
        else:
            self.index = back
        self.notify(f"Undid {what}: grade it again.", timeout=4)
        self.show_current()

    def action_leave(self) -> None:
        if isinstance(self.focused, Input):
            self.set_focus(self.card)
            return
        self.dismiss(None)

    @on(Button.Pressed, "#summary-home")
    def _home(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#summary-undo")
    def _undo(self) -> None:
        self.action_undo()
