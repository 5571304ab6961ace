"""The home screen's lesson list: one line per lesson (its state mark, title and state); a
click highlights a lesson, a click on the highlighted lesson opens it.

An OptionList of one Text per lesson rather than a DataTable of three cells: the table
measured and rendered every cell through Rich on its own, and was re-laid out once its
rows were measured on idle. In the same run of interleaved starts on the bench course
(50 lessons), home's first paint took 611 ms with the table and 489 ms with a first version of
this list (1.77x and 1.42x the one-label bare Textual app). It imports no DataTable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.widgets import OptionList
from textual.widgets.option_list import Option

GAP = "  "


@dataclass(frozen=True)
class LessonRow:
    """What one line shows: `key` is the lesson id (the option's id)."""

    key: str
    mark: Text
    title: Text
    state: Text


class LessonList(OptionList):
    """The lessons in course order; `title_width` columns for the titles."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[LessonRow] = []
        self.title_width = 40

    # --- the rows -----------------------------------------------------------------------
    def set_rows(self, rows: Sequence[LessonRow], keep: int = 0) -> None:
        """Show these rows, the highlight on row `keep` (kept in range)."""
        self._rows = list(rows)
        self.set_options(Option(self._line(r), id=r.key) for r in self._rows)
        if self._rows:
            self.highlighted = min(max(keep, 0), len(self._rows) - 1)

    def set_title_width(self, width: int) -> None:
        """Titles get `width` columns (cut with an ellipsis); the lines are redrawn only
        when it changes."""
        if width == self.title_width:
            return
        self.title_width = width
        for index, row in enumerate(self._rows):
            self.replace_option_prompt_at_index(index, self._line(row))

    def _line(self, row: LessonRow) -> Text:
        title = row.title.copy()
        title.truncate(self.title_width, overflow="ellipsis", pad=True)
        return Text.assemble(row.mark, GAP, title, GAP, row.state, no_wrap=True,
                             overflow="ellipsis")

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def row_at(self, index: int) -> LessonRow:
        return self._rows[index]

    @property
    def cursor_row(self) -> int:
        """The highlighted row (-1: none)."""
        return -1 if self.highlighted is None else self.highlighted

    def move_cursor(self, row: int) -> None:
        self.highlighted = row

    # --- the mouse ----------------------------------------------------------------------
    async def _on_click(self, event: events.Click) -> None:
        """A click highlights a lesson; a click on the highlighted lesson opens it (the
        OptionList would open whichever lesson was clicked)."""
        event.prevent_default()
        clicked = event.style.meta.get("option")
        if clicked is None:
            return
        if clicked == self.highlighted:
            self.action_select()
        else:
            self.highlighted = clicked
