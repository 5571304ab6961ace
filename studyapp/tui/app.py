"""The Textual study app: a thin shell that opens the home screen.

Screens do the work; this class holds the service, the theme and the app-wide keys.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import Reactive
from textual.screen import Screen

from studyapp.tui.keys import class_bindings, describe

if TYPE_CHECKING:
    from studyapp.services.study import StudyService
    from studyapp.services.suggest import GradeSuggester

DARK_THEME = "nord"
LIGHT_THEME = "catppuccin-latte"
PAINT_ENV = "STUDYAPP_TUI_PAINT_FILE"
"""When set, the app writes a JSON line to this file at the home screen's first paint,
another when the course is loaded, and exits (used by the start-up benchmark)."""


class StudyApp(App[int]):
    """Home, lessons, reviews and help over one `StudyService`."""

    CSS_PATH = "app.tcss"
    TITLE = "studyapp"
    theme: Reactive[str] = Reactive(DARK_THEME)
    """The theme the app starts in is the reactive's default: the stylesheet is parsed once
    with its colours. (Setting `self.theme` at start runs the theme watcher, which parses
    and applies the whole stylesheet a second time: 16 ms of re-parse in an instrumented
    start.) The watcher's `-theme-` class is set in `__init__`."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, service: StudyService, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.service = service
        self.cursor_blink = cursor_blink
        self.set_class(True, f"-theme-{DARK_THEME}", update=False)  # as the watcher would
        self.suggester: GradeSuggester | None = None
        """Suggested grades for typed answers, once the review loaded it (kept for the
        next review of this session)."""

    def on_mount(self) -> None:
        from studyapp.tui.screens.home import HomeScreen

        self.push_screen(HomeScreen(self.service))
        self.call_after_refresh(self._after_first_paint)

    def _after_first_paint(self) -> None:
        """Home is on the screen: now read the course (or only take today's backup)."""
        self._report({"screen": type(self.screen).__name__})
        if not self.service.start_work_pending:
            self._report({"loaded": True}, exit_after=True)
            return
        self.service.load_in_background(
            lambda problem: self.call_from_thread(self._course_loaded, problem))

    def _course_loaded(self, problem: str | None) -> None:
        if problem is not None:
            from studyapp.textsafe import safe_text

            self.notify(safe_text(problem), title="Could not load the course",
                        severity="error", timeout=30)
        from studyapp.tui.screens.home import HomeScreen

        if isinstance(self.screen, HomeScreen):
            self.screen.on_course_loaded()
        self._report({"loaded": True}, exit_after=True)

    def _report(self, record: dict[str, object], exit_after: bool = False) -> None:
        """Benchmark hook (PAINT_ENV): one JSON line per moment; exit after the last."""
        if not os.environ.get(PAINT_ENV):
            return
        record = {"t": time.time(), "cpu": time.process_time(), **record,
                  "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}
        with open(os.environ[PAINT_ENV], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if exit_after:
            self.exit(0)

    def on_descendant_focus(self) -> None:
        if not self.cursor_blink:
            from textual.widgets import Input

            for field in self.screen.query(Input):
                field.cursor_blink = False

    def action_help(self) -> None:
        from studyapp.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette offers every action bound on this screen and on the app."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        sources: list[tuple[object, type]] = [(screen, type(screen)), (self, type(self))]
        focused = screen.focused
        node = focused
        while node is not None and node is not screen:
            sources.insert(0, (node, type(node)))
            node = node.parent  # type: ignore[assignment]
        for target, cls in sources:
            for binding in class_bindings(cls):
                if binding.action in seen or binding.system:
                    continue
                if binding.action.startswith("app.focus") or "copy_text" in binding.action:
                    continue
                seen.add(binding.action)
                yield SystemCommand(
                    describe(binding),
                    f"{describe(binding)} (key: {binding.key})",
                    self._runner(target, binding.action),
                )

    def _runner(self, target: object, action: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            await self.run_action(action, target)  # type: ignore[arg-type]

        return run
