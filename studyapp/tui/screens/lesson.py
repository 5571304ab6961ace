"""One lesson, walked section by section with free movement back and forth.

The screen turns the parsed lesson into pages, shows one page at a time, and is the only
place that talks to the study service: widgets post messages, the screen saves.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, ProgressBar, Static

from studyapp.course.model import SectionKind
from studyapp.services.progress import NextStep
from studyapp.textsafe import safe_rich_text, safe_text
from studyapp.tui.faults import reports_storage_faults
from studyapp.tui.format import RATINGS, short_date
from studyapp.tui.pages import Page, lesson_pages
from studyapp.tui.widgets.concept_cards import ConceptCards
from studyapp.tui.widgets.keybar import KeyBar
from studyapp.tui.widgets.learning_path import LearningPath, StepView
from studyapp.tui.widgets.markdown_section import MarkdownSection
from studyapp.tui.widgets.prior_knowledge import PriorKnowledge
from studyapp.tui.widgets.quiz import QuizQuestion, QuizView
from studyapp.tui.widgets.review_plan import PlanRow, ReviewPlanView

if TYPE_CHECKING:
    from studyapp.services.study import StudyService

class LessonScreen(Screen[None]):
    """Walks a lesson's sections; remembers the position when the learner leaves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n,ctrl+n", "next_section", "Next"),  # ctrl+n/ctrl+b work while typing
        Binding("p,ctrl+b", "prev_section", "Prev"),
        Binding("g", "first_section", "First section", show=False),
        Binding("G", "last_section", "Last section", show=False),
        Binding("f", "finish", "Finish"),
        Binding("x", "open_exercise", "Exercise"),
        Binding("u", "undo_quiz", "Undo grade"),
        Binding("N", "next_step", "Next step"),
        Binding("escape,q", "leave", "Home"),
        # the quiz card's grade keys, whatever has the focus once the answer is shown
        *(Binding(str(n), f"grade_quiz({n})", RATINGS[n], show=False) for n in RATINGS),
    ]

    def __init__(self, service: StudyService, lesson_id: str, position: int = 0) -> None:
        super().__init__()
        self.service = service
        self.lesson = service.lesson(lesson_id)
        self.pages = lesson_pages(self.lesson)
        self.position = max(0, min(position, len(self.pages) - 1))
        self._quiz_grades = self._earlier_quiz_grades()
        self._quiz_undo: list[tuple[int, str]] = []  # (question index, card id), this visit
        self._page_generation = 0
        self._next: NextStep | None = None         # offered once the lesson is finished

    def _earlier_quiz_grades(self) -> dict[int, tuple[int, date | None]]:
        """Quiz questions already graded inside this lesson (their first grade), by index."""
        graded: dict[int, tuple[int, date | None]] = {}
        for index in range(len(self.lesson.quiz)):
            card_id = self.service.quiz_card_id(self.lesson.id, index)
            rows = [r for r in self.service.card_history(card_id) if r.get("source") == "quiz"]
            if rows:
                graded[index] = (int(rows[-1]["rating"]), None)
        return graded

    # --- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="lesson-top", classes="topbar"):
            with Horizontal(classes="topbar-row"):
                yield Static(safe_rich_text(self.lesson.title), id="lesson-title", classes="title")
                yield Static("", id="lesson-progress", classes="progress-label")
            yield ProgressBar(total=len(self.pages), show_eta=False, show_percentage=False,
                              id="lesson-bar")
        yield Vertical(id="section-body")
        with Horizontal(id="lesson-nav", classes="nav-row"):
            yield Button("◀ Prev (p)", id="prev", compact=True)
            yield Static("", id="nav-hint", classes="nav-hint")
            yield Button("Next (n) ▶", id="next", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_page()

    @property
    def page(self) -> Page:
        return self.pages[self.position]

    def show_page(self) -> None:
        page = self.page
        total = len(self.pages)
        self.query_one("#lesson-progress", Static).update(
            f"{self.position + 1}/{total} {page.title}"
        )
        self.query_one("#lesson-bar", ProgressBar).update(progress=self.position + 1)
        self.query_one("#prev", Button).disabled = self.position == 0
        self.query_one("#next", Button).disabled = self.position == total - 1
        self.query_one("#nav-hint", Static).update(self._hint(page))
        self._swap_body(self._page_widget(page))
        self._save_position()

    @reports_storage_faults
    def _save_position(self) -> None:
        self.service.save_position(self.lesson.id, self.position)

    def _swap_body(self, widget: Widget) -> None:
        """Show `widget` as the page, the old page staying on screen until it is built.

        Removing the old page first left the body blank while the new one (markdown above
        all) was being built; now the new page is mounted hidden, in front of the old, and
        shown in the same refresh that removes the old one."""
        body = self.query_one("#section-body")
        self._page_generation += 1
        generation = self._page_generation
        if not body.children:
            body.mount(widget)
            return
        widget.display = False
        mounting = body.mount(widget, before=0)

        async def reveal() -> None:
            await mounting
            if generation != self._page_generation or not widget.is_attached:
                return  # a newer page is on its way: it removes this one
            with self.app.batch_update():
                widget.display = True
                for child in list(body.children):
                    if child is not widget:
                        child.remove()
            if self.focused is None or not self.focused.is_attached:
                self._focus_page(widget)

        self.call_later(reveal)

    @staticmethod
    def _focus_page(widget: Widget) -> None:
        target = widget if widget.focusable else next(
            (w for w in widget.query("*") if w.focusable), None)
        if target is not None:
            target.focus()

    def _hint(self, page: Page) -> str:
        kind = page.kind
        if kind is SectionKind.PRIOR_KNOWLEDGE and self.lesson.prior_knowledge:
            return "Enter saves · esc leaves the field"
        if kind is SectionKind.KEY_CONCEPTS and self.lesson.concepts:
            return "space flips · j/k cards"
        if kind is SectionKind.LEARNING_PATH and self.lesson.steps:
            return "space checks · tab next step"
        if kind is SectionKind.QUIZ and self.lesson.quiz:
            return "Enter reveals · 1-4 grade"
        if kind is SectionKind.EXAMPLES and self.linked_exercises():
            return "x opens the exercise"
        if kind is SectionKind.REVIEW_PLAN:
            return "f finishes the lesson"
        return "↑↓ scroll"

    def _markdown(self, page: Page, **kwargs: object) -> MarkdownSection:
        text = page.section.markdown if page.section else ""
        return MarkdownSection(text or "*(empty section)*", **kwargs)  # type: ignore[arg-type]

    def _page_widget(self, page: Page) -> Widget:
        lesson = self.lesson
        kind = page.kind
        if kind is SectionKind.PRIOR_KNOWLEDGE and lesson.prior_knowledge:
            return PriorKnowledge([p.text for p in lesson.prior_knowledge],
                                  self.service.prior_answers(lesson.id))
        if kind is SectionKind.KEY_CONCEPTS and lesson.concepts:
            return ConceptCards([(c.term, c.explanation) for c in lesson.concepts])
        if kind is SectionKind.LEARNING_PATH and lesson.steps:
            steps = [StepView(s.title, s.items) for s in lesson.steps]
            return LearningPath(steps, self.service.steps_done(lesson.id))
        if kind is SectionKind.EXAMPLES:
            linked = self.linked_exercises()
            return self._markdown(page, exercises=linked)
        if kind is SectionKind.QUIZ and lesson.quiz:
            questions = [QuizQuestion(q.question, q.answer,
                                      None if q.answer else self._quiz_context(q.question))
                         for q in lesson.quiz]
            return QuizView(questions, self._quiz_grades, self.service.today())
        if kind is SectionKind.RECAP:
            return self._markdown(page, footer=self._prior_answers_markdown())
        if kind is SectionKind.REVIEW_PLAN:
            return self._plan_view()
        return self._markdown(page)

    def _quiz_context(self, question: str) -> str | None:
        """What a question without an answer is compared with: the lesson's passages that
        answer it (as the daily review shows them), else the recap or the overview."""
        from studyapp.course.passages import relevant_passages

        found = relevant_passages(self.lesson, question)
        if found:
            return found
        for kind in (SectionKind.RECAP, SectionKind.OVERVIEW):
            section = self.lesson.section(kind)
            if section is not None and section.markdown.strip():
                return section.markdown
        return None

    def _prior_answers_markdown(self) -> str:
        if not self.lesson.prior_knowledge:
            return ""
        answers = self.service.prior_answers(self.lesson.id)
        lines = ["### Your answers before the lesson", ""]
        for i, prompt in enumerate(self.lesson.prior_knowledge):
            answer = answers.get(i, "").strip() or "*(no answer)*"
            lines.append(f"- **{prompt.text}**  \n  {answer}")
        return "\n".join(lines)

    def _plan_view(self) -> ReviewPlanView:
        scheduled = self.service.plan_reviews(self.lesson.id)
        today = self.service.today()
        if scheduled:
            rows = [PlanRow(r.prompt, r.prompt, r.due, r.done) for r in scheduled]
            return ReviewPlanView(rows, True, today)
        rows = [PlanRow(s.interval or f"{s.days} d", s.prompt) for s in self.lesson.review_plan]
        return ReviewPlanView(rows, False, today)

    # --- moving -------------------------------------------------------------------------
    def _leave_page(self) -> None:
        for view in self.query(PriorKnowledge):
            view.save_all()

    def go(self, position: int) -> None:
        position = max(0, min(position, len(self.pages) - 1))
        if position != self.position:
            self._leave_page()
            self.position = position
            self.show_page()

    def action_next_section(self) -> None:
        self.go(self.position + 1)

    def action_prev_section(self) -> None:
        self.go(self.position - 1)

    def action_first_section(self) -> None:
        self.go(0)

    def action_last_section(self) -> None:
        self.go(len(self.pages) - 1)

    def action_leave(self) -> None:
        if isinstance(self.focused, Input):
            # escape first leaves the answer field, to the card or section around it
            holder = next((w for w in self.focused.ancestors if isinstance(w, Widget)
                           and w.focusable), None)
            self.set_focus(holder)
            return
        self._leave_page()
        self._save_position()
        self.dismiss(None)

    def action_finish(self) -> None:
        """Go to the review plan; there, finish the lesson (schedules the reviews)."""
        plan = next(i for i, p in enumerate(self.pages) if p.kind is SectionKind.REVIEW_PLAN)
        if self.position != plan:
            self.go(plan)
        elif not self.service.plan_reviews(self.lesson.id):
            self.finish()

    def linked_exercises(self) -> tuple[str, ...]:
        """Exercises linked from the examples, then those named in the front matter."""
        named = [e.exercise for e in self.lesson.examples if e.exercise]
        return tuple(dict.fromkeys([*named, *self.lesson.exercises]))

    def action_open_exercise(self) -> None:
        linked = self.linked_exercises()
        if linked:
            self.open_exercise(linked[0])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_exercise":
            has = self.page.kind is SectionKind.EXAMPLES and bool(self.linked_exercises())
            return has
        if action == "grade_quiz":
            quiz = self.query(QuizView)
            return self.page.kind is SectionKind.QUIZ and bool(quiz) and quiz.first().card.revealed
        if action == "next_step":
            return self._next is not None
        if action == "undo_quiz":
            return self.page.kind is SectionKind.QUIZ and bool(self._quiz_undo)
        return True

    def action_next_step(self) -> None:
        if self._next is not None:
            from studyapp.tui.next_step import open_step

            open_step(self.app, self.service, self._next)

    def action_grade_quiz(self, rating: int) -> None:
        for quiz in self.query(QuizView):
            quiz.card.action_grade(rating)

    @reports_storage_faults
    def action_undo_quiz(self) -> None:
        """Undo the latest quiz grade given on this visit; the question is asked again."""
        if not self._quiz_undo or self.page.kind is not SectionKind.QUIZ:
            return
        index, card_id = self._quiz_undo[-1]
        if self.service.undo_last(only=card_id) is None:
            self._quiz_undo.clear()
            self.notify("The latest grade is no longer this quiz's: nothing undone.")
            self.refresh_bindings()
            return
        self._quiz_undo.pop()
        self._quiz_grades.pop(index, None)
        self.query_one(QuizView).unmark(index)
        self.refresh_bindings()

    def open_exercise(self, exercise: str) -> None:
        from studyapp.tui.screens.exercise import ExerciseScreen

        self.app.push_screen(ExerciseScreen(self.service, exercise))

    @reports_storage_faults
    def finish(self) -> None:
        self._leave_page()
        reviews = self.service.complete_lesson(self.lesson.id)
        today = self.service.today()
        from studyapp.tui.next_step import step_after

        self._next = step_after(self.service, lesson=self.lesson.id)
        then = (f" Next in the course: {self._next.describe()}, press N." if self._next
                else " That was the course's last step.")
        if reviews:
            first = min(r.due for r in reviews)
            self.notify(safe_text(f"Lesson finished. First review {short_date(first, today)}."
                                  f"{then}"), title="Well done", markup=False, timeout=12)
        if self._next is not None:
            self.query_one("#nav-hint", Static).update(
                safe_rich_text(f"N: {self._next.describe()}"))
        self.refresh_bindings()
        self._swap_body(self._plan_view())

    # --- messages from the section widgets -----------------------------------------------
    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        self.action_next_section()

    @on(Button.Pressed, "#prev")
    def _prev(self) -> None:
        self.action_prev_section()

    @on(PriorKnowledge.AnswerSaved)
    @reports_storage_faults
    def _answer_saved(self, event: PriorKnowledge.AnswerSaved) -> None:
        self.service.save_prior_answer(self.lesson.id, event.index, event.text)

    @on(LearningPath.StepToggled)
    @reports_storage_faults
    def _step_toggled(self, event: LearningPath.StepToggled) -> None:
        self.service.set_step_done(self.lesson.id, event.index, event.done)

    @on(QuizView.Graded)
    @reports_storage_faults
    def _quiz_graded(self, event: QuizView.Graded) -> None:
        card_id = self.service.quiz_card_id(self.lesson.id, event.index)
        result = self.service.grade(card_id, event.rating, seconds=event.seconds,
                                    answer=event.answer or None, source="quiz")
        self._quiz_grades[event.index] = (event.rating, result.next_due)
        self._quiz_undo.append((event.index, result.item_id))
        self.query_one(QuizView).mark_graded(event.index, event.rating, result.next_due)
        self.refresh_bindings()

    @on(ReviewPlanView.Finish)
    def _finish(self) -> None:
        self.finish()

    @on(MarkdownSection.OpenExercise)
    def _open_exercise(self, event: MarkdownSection.OpenExercise) -> None:
        self.open_exercise(event.exercise)
