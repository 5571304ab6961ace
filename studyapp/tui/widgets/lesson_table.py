"""The exercise list's table (home's lesson list was one; see `lesson_list`): a click
highlights a row, a click on the highlighted row opens it, whichever column was clicked."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.coordinate import Coordinate
from textual.widgets import DataTable


class LessonTable(DataTable[Text | str]):
    """DataTable with `cursor_type="row"` where any cell of the highlighted row selects it.

    DataTable selects only when the exact cell under the cursor is clicked, and a row
    cursor sits in column 0, so a click on a title would never open the lesson. This
    handler runs before DataTable's own (Textual calls both): it moves the cursor to the
    clicked column of the highlighted row, so DataTable sees a click on its cursor.
    """

    def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if self.cursor_type == "row" and isinstance(row, int) and isinstance(column, int) \
                and row == self.cursor_row and row >= 0 and column >= 0:
            self.cursor_coordinate = Coordinate(row, column)
