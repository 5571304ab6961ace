"""Every hands-on exercise: its lesson, the learner's progress and the latest run.

Enter opens the exercise screen (training, checks, hints). Exercise folders that cannot be
read are listed below the table with their message, never a crash. Nothing here imports
torch: the list reads the exercise metadata and the runs table only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from studyapp.tui.format import short_date
from studyapp.tui.widgets.keybar import KeyBar
from studyapp.tui.widgets.lesson_table import LessonTable

if TYPE_CHECKING:
    from studyapp.services.exercises import ExerciseEntry, ExerciseService
    from studyapp.services.study import StudyService

STATUS = {"not_started": ("○", "not started", ""),
          "attempted": ("◐", "attempted", "yellow"),
          "passed": ("●", "passed", "green")}
PROGRESS_WIDTH = 20                 # "attempted Tue 24 Nov"


class ExercisesScreen(Screen[None]):
    """The exercise list; enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_exercise", "Open exercise", show=False),
        Binding("escape,q", "leave", "Back"),
    ]

    def __init__(self, service: StudyService, *,
                 exercises: ExerciseService | None = None) -> None:
        super().__init__()
        self.service = service
        if exercises is None:
            from studyapp.services.exercises import ExerciseService

            exercises = ExerciseService(service.settings)
        self.exercises = exercises
        self.entries: list[ExerciseEntry] = []
        self.problems: list[Any] = []

    def compose(self) -> ComposeResult:
        with Horizontal(classes="topbar topbar-row"):
            yield Static("Exercises", classes="title")
            yield Static("", id="exercises-count", classes="progress-label")
        yield LessonTable(id="exercise-list", cursor_type="row", zebra_stripes=False)
        yield Static("", id="exercise-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#exercise-list", DataTable)
        table.border_title = "Hands-on exercises (enter opens one)"
        table.add_column(" ", key="mark", width=1)
        table.add_column("Exercise", key="title")
        table.add_column("Lesson", key="lesson")
        table.add_column("Progress", key="status")
        self.refresh_data()
        table.focus()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.refresh_data()

    def on_resize(self) -> None:
        self._size_columns()

    def _size_columns(self) -> None:
        """Title and lesson share what the mark and progress columns leave (80 columns up)."""
        table = self.query_one("#exercise-list", DataTable)
        columns = {key.value: column for key, column in table.columns.items()}
        if "title" not in columns:
            return
        free = max(30, (self.size.width or 80) - 4 - 4 * 2 - 1 - PROGRESS_WIDTH)
        title = max(20, min(free * 3 // 5, 60))
        for key, width in (("title", title), ("lesson", free - title),
                           ("status", PROGRESS_WIDTH)):
            columns[key].auto_width = False
            columns[key].width = width
        table.refresh()

    def refresh_data(self) -> None:
        _, self.problems = self.exercises.load()
        self.entries = self.exercises.exercises()
        lessons = self.service.lessons()
        titles = {e.id: e.title for e in lessons}
        order = {e.id: i for i, e in enumerate(lessons)}       # the course's order
        self.entries.sort(key=lambda e: (order.get(e.exercise.lesson, len(order)), e.id))
        today = self.service.today()
        table = self.query_one("#exercise-list", DataTable)
        keep = table.cursor_row
        table.clear()
        for entry in self.entries:
            mark, label, style = STATUS.get(entry.status, STATUS["not_started"])
            when = entry.passed_at if entry.status == "passed" else entry.last_attempt_at
            if when is not None:
                label += " " + short_date(self.service.day_of(when), today)
            lesson = titles.get(entry.exercise.lesson, entry.exercise.lesson)
            table.add_row(Text(mark, style=style),
                          Text(entry.exercise.title, overflow="ellipsis", no_wrap=True),
                          Text(lesson, overflow="ellipsis", no_wrap=True, style="dim"),
                          Text(label, style=style), key=entry.id)
        if self.entries:
            table.move_cursor(row=min(max(keep, 0), len(self.entries) - 1))
        self._size_columns()
        passed = sum(1 for e in self.entries if e.status == "passed")
        self.query_one("#exercises-count", Static).update(
            f"{passed}/{len(self.entries)} passed")
        self._show_detail()

    def current_entry(self) -> ExerciseEntry | None:
        table = self.query_one("#exercise-list", DataTable)
        if not self.entries or table.cursor_row < 0:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    def _show_detail(self) -> None:
        detail = Text()
        entry = self.current_entry()
        if entry is None:
            detail.append(f"No exercises in {self.exercises.settings.exercises_dir}", style="dim")
        else:
            summary = " ".join(entry.exercise.summary.split())
            detail.append(summary[:240] + ("…" if len(summary) > 240 else ""))
        for problem in self.problems:
            detail.append(f"\n✗ {problem}", style="red")
        self.query_one("#exercise-detail", Static).update(detail)

    @on(DataTable.RowHighlighted, "#exercise-list")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(DataTable.RowSelected, "#exercise-list")
    def _selected(self) -> None:
        self.action_open_exercise()

    def action_open_exercise(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        from studyapp.tui.screens.exercise import ExerciseScreen

        self.app.push_screen(ExerciseScreen(self.service, entry.id, exercises=self.exercises))

    def action_leave(self) -> None:
        self.dismiss(None)
