"""Every key binding is on the help screen, and every action is in the command palette."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

from textual.binding import Binding
from textual.command import CommandPalette

import studyapp.tui.screens
import studyapp.tui.widgets
from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.keys import class_bindings, describe, key_label
from studyapp.tui.screens.help import HelpScreen
from studyapp.tui.screens.home import HomeScreen
from studyapp.tui.screens.review import ReviewScreen

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def our_classes_with_bindings() -> list[type]:
    """The app and every screen or widget class in studyapp.tui that declares BINDINGS."""
    found: list[type] = [StudyApp]
    for package in (studyapp.tui.screens, studyapp.tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                    found.append(cls)
    return found


def make_app(tmp_path: Path) -> StudyApp:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "one.md").write_text("# One\n\n## Overview\nHello.\n", encoding="utf-8")
    settings = Settings(db_path=tmp_path / "db.sqlite", lessons_dir=lessons,
                        exercises_dir=tmp_path / "ex", fixed_now=NOW)
    return StudyApp(StudyService.open(settings), cursor_blink=False)


def own_bindings(cls: type) -> list[Binding]:
    return list(Binding.make_bindings(cls.__dict__["BINDINGS"]))


async def test_every_binding_is_on_the_help_screen(tmp_path: Path) -> None:
    classes = our_classes_with_bindings()
    assert {c.__name__ for c in classes} >= {"StudyApp", "HomeScreen", "LessonScreen",
                                              "ReviewScreen", "HelpScreen", "AnswerCard"}
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 200)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        lines = [strip.text.strip().strip("│").strip()
                 for strip in app.screen._compositor.render_strips()]
        missing = []
        for cls in classes:
            for binding in own_bindings(cls):
                label, desc = key_label(binding.key), describe(binding)
                if not any(label in line.split("  ")[0].split() and desc in line
                           for line in lines if line.strip()):
                    missing.append(f"{cls.__name__}: {binding.key} ({desc})")
        assert not missing, "not on the help screen:\n" + "\n".join(missing)
        # and the command palette key
        assert any("ctrl+p" in line and "Command palette" in line for line in lines)


async def test_every_action_is_in_the_command_palette(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for cls in (StudyApp, HomeScreen):
            for binding in class_bindings(cls):
                if binding.system or binding.action.startswith("app.focus") or \
                        "copy_text" in binding.action:
                    continue
                assert describe(binding) in titles, binding
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


async def test_palette_runs_review_now(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        for ch in "Review now":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ReviewScreen)
