"""`studyapp preview LESSON.md`: the lesson as a learner sees it, re-read on every save.

For instructors: the file is copied into a private lessons folder (a temporary database
beside it, so no learner's progress is touched) and shown on the lesson screen. A timer
looks at the file's modification time and size twice a second; on a change the lesson is
parsed again, its lint messages are shown at once (a note that stays until the next save),
and the lesson screen is rebuilt on the section that was in view.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events

from studyapp.textsafe import safe_text
from studyapp.tui.app import StudyApp

if TYPE_CHECKING:
    from studyapp.services.study import LessonEntry


class PreviewApp(StudyApp):
    """The study app over one lesson file, reloaded when the file changes."""

    POLL_S: ClassVar[float] = 0.5

    def __init__(self, source: Path, *, exercises_dir: Path | None = None,
                 cursor_blink: bool = True) -> None:
        from studyapp.config import Settings, bundled_exercises_dir
        from studyapp.services.study import StudyService

        self.source = source.resolve()
        self._workdir = Path(tempfile.mkdtemp(prefix="studyapp-preview-"))
        self._folder = self._workdir / "lessons"
        self._folder.mkdir()
        self._stamp = self._copy()
        settings = Settings(db_path=self._workdir / "preview.db", lessons_dir=self._folder,
                            exercises_dir=exercises_dir or bundled_exercises_dir())
        super().__init__(StudyService.open(settings), cursor_blink=cursor_blink)
        self.reloads = 0
        self.TITLE = f"preview · {self.source.name}"

    def _copy(self) -> tuple[int, int] | None:
        try:
            st = self.source.stat()
            shutil.copyfile(self.source, self._folder / self.source.name)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def on_mount(self, event: events.Mount) -> None:
        event.prevent_default()   # no home screen (StudyApp.on_mount): the lesson instead
        self._show(position=0)
        self.set_interval(self.POLL_S, self._poll)

    def _entry(self) -> LessonEntry | None:
        return next(iter(self.service.lessons()), None)

    def _show(self, position: int) -> None:
        from studyapp.course.model import Severity
        from studyapp.tui.screens.diagnostics import DiagnosticsScreen
        from studyapp.tui.screens.lesson import LessonScreen

        entry = self._entry()
        self.clear_notifications()
        if entry is None or entry.lesson is None or entry.state == "broken":
            screen = DiagnosticsScreen(self.source.name, self.source.name,
                                       entry.diagnostics if entry else ())
        else:
            screen = LessonScreen(self.service, entry.id, position)
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        problems = entry.diagnostics if entry else ()
        errors = [d for d in problems if d.severity is Severity.ERROR]
        if problems:
            lines = "\n".join(f"line {d.line}: {d.severity.value}: {d.message}"
                              for d in problems[:6])
            more = f"\n… {len(problems) - 6} more" if len(problems) > 6 else ""
            self.notify(safe_text(lines + more), title=f"lint: {len(errors)} error(s), "
                        f"{len(problems) - len(errors)} warning(s)", markup=False,
                        severity="error" if errors else "warning", timeout=3600)
        else:
            self.notify("lint: no problems", timeout=3)

    def _poll(self) -> None:
        try:
            st = self.source.stat()
        except OSError:
            return
        if (st.st_mtime_ns, st.st_size) == self._stamp:
            return
        self._stamp = self._copy()
        from studyapp.tui.screens.lesson import LessonScreen

        current = self.screen
        position = current.position if isinstance(current, LessonScreen) else 0
        self.service.reload()
        self.reloads += 1
        self._show(position)

    def on_unmount(self) -> None:
        self.service.close()
        shutil.rmtree(self._workdir, ignore_errors=True)
