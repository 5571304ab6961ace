"""`studyapp preview LESSON.md` (issue 12): the lesson re-read on save, lint at once, the
section kept in view."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.tui.preview import PreviewApp
from studyapp.tui.screens.lesson import LessonScreen

LESSON = """\
# Preview me

## Overview
First words.

## Key Concepts
- **Epoch** – one pass.

## Common Pitfalls
- **Too high a rate** – it diverges. Solution: lower it.
"""


async def test_preview_reloads_on_save_keeps_the_section_and_shows_lint(tmp_path: Path) -> None:
    path = tmp_path / "draft.md"
    path.write_text(LESSON, encoding="utf-8")
    app = PreviewApp(path, exercises_dir=tmp_path / "ex", cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LessonScreen) and screen.lesson.title == "Preview me"
        assert any("lint:" in str(n.title) for n in app._notifications)   # missing sections
        screen.go(2)                                       # Common Pitfalls in view
        await pilot.pause()
        path.write_text(LESSON.replace("it diverges", "the loss explodes") +
                        "\n## Spaced Review Plan\n| After | Prompt |\n|---|---|\n| 3 Tage |\n",
                        encoding="utf-8")
        for _ in range(20):
            await pilot.pause(0.2)
            if app.reloads:
                break
        await pilot.pause(0.3)
        assert app.reloads == 1
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        assert screen.position == 2 and screen.page.title == "Common Pitfalls"
        assert "the loss explodes" in screen.page.section.markdown   # type: ignore[union-attr]
        notes = [f"{n.title} {n.message}" for n in app._notifications]
        assert any("1 error(s)" in n and "has no prompt" in n for n in notes), notes
    assert not list(tmp_path.glob("*.db"))                 # no database beside the lesson


def test_preview_is_a_command() -> None:
    result = CliRunner().invoke(main, ["preview", "--help"])
    assert result.exit_code == 0 and "lint messages" in result.output
