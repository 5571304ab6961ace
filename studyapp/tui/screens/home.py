"""Home: what is due today, the lessons and their state, the next 30 days, the streak."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, OptionList, Static

from studyapp.textsafe import safe_rich_text
from studyapp.tui.format import lesson_state_label, plural, short_date
from studyapp.tui.widgets.forecast import Forecast
from studyapp.tui.widgets.keybar import KeyBar
from studyapp.tui.widgets.lesson_list import LessonList, LessonRow

if TYPE_CHECKING:
    from studyapp.course.model import Lesson
    from studyapp.services.study import LessonEntry, StudyService


STATE_MARKS = {"new": "○", "in_progress": "◐", "done": "●", "broken": "✗"}


class HomeScreen(Screen[None]):
    """The learner's day at a glance."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "review", "Review now"),
        Binding("enter", "open_lesson", "Open lesson", show=False),
        Binding("ctrl+r,R", "reload", "Reload"),
        Binding("l", "lint", "Lint"),
        Binding("x", "exercises", "Exercises"),
        Binding("s", "stats", "Stats"),
        Binding("c", "cards", "Cards"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, service: StudyService) -> None:
        super().__init__()
        self.service = service
        self.entries: list[LessonEntry] = []
        self._detail: Text | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="home-top", classes="topbar-row topbar"):
            yield Static("studyapp", id="home-title", classes="title")
            yield Static("", id="home-date", classes="progress-label")
        with Horizontal(id="home-summary"):
            with Vertical(id="due-panel", classes="panel"):
                yield Static("", id="due-count")
                yield Static("", id="due-preview", classes="dim")
                yield Button("Review now (r)", id="review-now", variant="primary", compact=True)
            with Vertical(id="stats-panel", classes="panel"):
                yield Forecast(id="forecast")
                yield Static("", id="streak")
        yield LessonList(id="lessons")
        yield Static("", id="lesson-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#due-panel").border_title = "Due today"
        self.query_one("#stats-panel").border_title = "Next 30 days"
        table = self.query_one("#lessons", LessonList)
        table.border_title = "Lessons"
        table.focus()

    def on_screen_resume(self) -> None:
        """Shown (the first time too: ScreenResume follows the mount): fill it afresh.

        The course's progress is counted once the lessons folder is read; at the first
        start that is after the first paint (`on_course_loaded` counts it then)."""
        if self.is_mounted:
            self.refresh_data()
            if self.service.course_loaded:
                self._show_progress()

    def on_course_loaded(self) -> None:
        """The lessons folder was read and synced after the first paint: show all of it."""
        self.refresh_data()
        self._show_progress()

    def _show_progress(self) -> None:
        """The course at a glance, under the lessons: lessons, exercises, cards (counted
        in a thread: the exercise catalog is read from disk)."""
        self.run_worker(self._count_progress, thread=True, exclusive=True, group="progress",
                        exit_on_error=False)

    def _count_progress(self) -> None:
        from studyapp.tui.next_step import progress

        try:
            line = progress(self.service).line()
        except Exception:  # noqa: BLE001 - a count that fails must not stop home
            return
        self.app.call_from_thread(self._set_progress, line)

    def _set_progress(self, line: str) -> None:
        if self.is_mounted:
            self.query_one("#lessons", LessonList).border_subtitle = line

    def on_resize(self) -> None:
        self._fit_titles()

    # --- data ---------------------------------------------------------------------------
    def refresh_data(self) -> None:
        service = self.service
        today = service.today()
        due = service.due()  # the queue, built once per refresh
        stats = service.stats(due)
        self.entries = list(stats.lessons)

        self.query_one("#home-date", Static).update(f"{today:%A} {today.day} {today:%B %Y}")
        plans = sum(1 for d in due if d.kind == "plan")
        cards = len(due) - plans
        count = Text()
        count.append(str(len(due)), style="bold")
        count.append(" due · ")
        count.append(f"{plural(plans, 'lesson review')} · {plural(cards, 'card')}")
        self.query_one("#due-count", Static).update(count)
        if due:
            preview = safe_rich_text("\n".join(f"· {d.lesson_title}: {d.prompt}" for d in due[:2]))
        else:
            nxt = service.next_review_date(due)
            preview = ("Nothing due. Next review " + short_date(nxt, today)) if nxt else \
                "Nothing due. Start a lesson below."
        warnings = service.identity_warnings()
        if warnings:
            preview = Text(preview) if isinstance(preview, str) else preview
            from studyapp.textsafe import safe_text

            for w in warnings[:2]:
                preview.append(f"\n⚠ {safe_text(w)}", style="bold red")
        self.query_one("#due-preview", Static).update(preview)
        self.query_one("#review-now", Button).disabled = not due

        self.query_one("#forecast", Forecast).show(list(stats.forecast))
        streak = Text()
        if stats.streak:
            streak.append(f"Streak {plural(stats.streak, 'day')}", style="bold")
        else:
            streak.append("No streak yet", style="bold")
        if stats.retention is not None:
            streak.append(f" · retention {stats.retention:.0%}")
        streak.append(f" · {plural(stats.reviews_done, 'review')} done")
        self.query_one("#streak", Static).update(streak)
        self._fill_table()

    def _fill_table(self) -> None:
        table = self.query_one("#lessons", LessonList)
        today = self.service.today()
        rows = []
        for entry in self.entries:
            total = _page_count(entry.lesson) if entry.lesson else 0
            label = lesson_state_label(entry.state, entry.position, total, entry.next_review, today)
            style = {"broken": "bold red", "done": "green", "in_progress": "yellow"}.get(
                entry.state, "")
            rows.append(LessonRow(entry.id, Text(STATE_MARKS.get(entry.state, "○"), style=style),
                                  safe_rich_text(entry.title), Text(label, style=style)))
        self._fit_titles()
        table.set_rows(rows, keep=table.cursor_row)
        self._show_detail()

    def _fit_titles(self) -> None:
        """Titles get the screen's width less the mark and state columns (20 to 60)."""
        width = self.size.width or 80
        self.query_one("#lessons", LessonList).set_title_width(max(20, min(width - 34, 60)))

    # --- the highlighted lesson ---------------------------------------------------------
    def current_entry(self) -> LessonEntry | None:
        table = self.query_one("#lessons", LessonList)
        if not self.entries or table.cursor_row < 0:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    def _show_detail(self) -> None:
        entry = self.current_entry()
        if entry is None:
            self._set_detail(Text(f"No lessons found in {self.service.settings.lessons_dir}",
                               style="dim"))
            return
        errors = []
        if entry.diagnostics:   # lint messages come with the course read (not at first paint)
            from studyapp.course.model import Severity

            errors = [d for d in entry.diagnostics if d.severity is Severity.ERROR]
        if entry.state == "broken" or errors:
            head = "BROKEN" if entry.state == "broken" else "Lint"
            text = safe_rich_text(f"{head}: {plural(len(errors), 'error')} in "
                                  f"{Path(entry.path).name}\n", style="bold red")
            for d in errors[:3]:
                text.append(safe_rich_text(f"line {d.line}: {d.message}\n", style="red"))
            if len(errors) > 3:
                text.append(f"… and {len(errors) - 3} more (l shows them)", style="dim")
            self._set_detail(text)
            return
        text = safe_rich_text(Path(entry.path).name, style="dim")
        warnings = len(entry.diagnostics)
        if warnings:
            text.append(f" · {plural(warnings, 'warning')} (l shows them)", style="dim")
        if entry.next_review:
            text.append(f"\nNext review {short_date(entry.next_review, self.service.today())}")
        self._set_detail(text)

    def _set_detail(self, text: Text) -> None:
        """Show `text` under the lessons, unless it is shown already (the highlight's event
        comes after the first frame: an update would lay home out and draw it again)."""
        if text != self._detail:
            self._detail = text
            self.query_one("#lesson-detail", Static).update(text)

    @on(OptionList.OptionHighlighted, "#lessons")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(OptionList.OptionSelected, "#lessons")
    def _selected(self) -> None:
        self.action_open_lesson()

    # --- actions ------------------------------------------------------------------------
    def action_open_lesson(self) -> None:
        if not self.service.course_loaded:   # pressed while the course is still loading
            self.service.wait_for_course()
            self.refresh_data()
        entry = self.current_entry()
        if entry is None:
            return
        if entry.lesson is None or entry.state == "broken":
            self.action_lint()
            return
        from studyapp.tui.screens.lesson import LessonScreen

        self.app.push_screen(LessonScreen(self.service, entry.id, entry.position))

    def action_lint(self) -> None:
        """Show every lint message of the highlighted lesson."""
        entry = self.current_entry()
        if entry is None:
            return
        from studyapp.tui.screens.diagnostics import DiagnosticsScreen

        self.app.push_screen(DiagnosticsScreen(entry.title, Path(entry.path).name,
                                               entry.diagnostics))

    def action_review(self) -> None:
        from studyapp.tui.screens.review import ReviewScreen

        self.app.push_screen(ReviewScreen(self.service))

    def action_stats(self) -> None:
        """Plots of reviews per day, true retention, cards by state, the forecast."""
        from studyapp.tui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen(self.service))

    def action_cards(self) -> None:
        """The card browser: search, filter, suspend, bury, reset, history."""
        from studyapp.tui.screens.cards import CardsScreen

        self.app.push_screen(CardsScreen(self.service))

    def action_exercises(self) -> None:
        from studyapp.tui.screens.exercises import ExercisesScreen

        self.app.push_screen(ExercisesScreen(self.service))

    def action_reload(self) -> None:
        self.service.reload()
        self.refresh_data()
        broken = sum(1 for e in self.entries if e.state == "broken")
        note = f" · {broken} broken" if broken else ""
        self.notify(f"Reloaded {plural(len(self.entries), 'lesson')}{note}.")

    @on(Button.Pressed, "#review-now")
    def _review_now(self) -> None:
        self.action_review()


def _page_count(lesson: Lesson) -> int:
    """How many pages the lesson walk has (a lesson is only there once the course is read:
    the walk's module is not imported for the first paint)."""
    from studyapp.tui.pages import lesson_pages

    return len(lesson_pages(lesson))
