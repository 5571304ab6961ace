"""The key bar at the bottom of every screen: the keys that work here, in one line.

Textual's `Footer` composes one widget per key, and composes them only after the screen
announces its bindings, so a screen's first frame has an empty footer and the keys arrive
in a second layout pass (about 40 ms of the app's first paint on this machine; again on
every focus change). This bar is one widget that renders the same line from
`screen.active_bindings` whenever it paints: the first frame already has the keys, and a
change of bindings only repaints it.

It looks like the Footer (" key description " cells in the footer colours, disabled keys
dim) and acts like it: a click on a key presses that key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    """The shown bindings of the active screen (and of the focused widget), left to right."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"keybar--key", "keybar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        text-wrap: nowrap;
        color: $footer-foreground;
        background: $footer-background;
        .keybar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .keybar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._spans: list[tuple[int, int, str, bool]] = []
        """(start column, end column, key, enabled) of each key as last rendered."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("keybar--key")
        description_style = self.get_component_rich_style("keybar--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, str, bool]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue  # one cell per action, as Textual's Footer shows them
            seen.add(binding.action)
            start = line.cell_len
            dim = Style(dim=not enabled)
            line.append(f" {self.app.get_key_display(binding)} ", key_style + dim)
            line.append(f"{binding.description} ", description_style + dim)
            spans.append((start, line.cell_len, binding.key, enabled))
        self._spans = spans
        return line

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for start, end, key, enabled in self._spans:
            if start <= event.x < end:
                if enabled:
                    self.app.simulate_key(key)
                else:
                    self.app.bell()
                return
