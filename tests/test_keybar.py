"""The key bar (every screen's footer): the keys are there in the first frame, follow the
screen, a disabled key is dim, and a click on a key presses it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from studyapp.tui.screens.home import HomeScreen
from studyapp.tui.screens.stats import StatsScreen
from studyapp.tui.widgets.keybar import KeyBar
from tests.test_tui_walkthrough import DAY1, footer_line, make_app


class _Keys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "note('a')", "Alpha"), Binding("b", "note('b')", "Beta"),
        Binding("c", "note('c')", "Hidden", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[str] = []
        self.first_frame = ""

    def on_mount(self) -> None:
        self.call_after_refresh(self._grab)

    def _grab(self) -> None:
        self.first_frame = self.screen._compositor.render_strips()[-1].text

    def compose(self) -> ComposeResult:
        yield KeyBar()

    def action_note(self, what: str) -> None:
        self.notes.append(what)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if parameters == ("b",) else True   # b shown, but disabled


async def test_the_bar_has_the_keys_in_the_first_frame_and_no_child_widgets() -> None:
    """Textual's Footer is empty in the first frame (its keys come in a second pass)."""
    app = _Keys()
    async with app.run_test(size=(60, 5)) as pilot:
        bar = app.query_one(KeyBar)
        await pilot.pause()
        assert app.first_frame.startswith(" a Alpha  b Beta ")
        assert not bar.children                     # one widget, not one per key
        line = app.screen._compositor.render_strips()[-1].text
        assert line == app.first_frame
        assert "Hidden" not in line                 # show=False stays out, as in Footer
        rendered = bar.render()
        assert any("dim" in str(span.style) for span in rendered.spans
                   if rendered.plain[span.start:span.end].strip() == "b")


async def test_a_click_on_a_key_presses_it_and_a_disabled_key_does_nothing() -> None:
    app = _Keys()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        line = app.screen._compositor.render_strips()[-1].text
        await pilot.click(KeyBar, offset=(line.index("Alpha"), 0))
        await pilot.click(KeyBar, offset=(line.index("Beta"), 0))
        await pilot.pause()
        assert app.notes == ["a"]


async def test_home_footer_follows_the_screen_and_a_click_opens_stats(tmp_path: Path) -> None:
    app = make_app(tmp_path, DAY1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        line = footer_line(app)
        assert line.startswith("r Review now") and line.endswith("? Help")
        full = app.screen._compositor.render_strips()[-1].text
        await pilot.click(KeyBar, offset=(full.index("Stats"), 0))
        await pilot.pause()
        assert isinstance(app.screen, StatsScreen)
        assert "Home" in footer_line(app) and "Review now" not in footer_line(app)
