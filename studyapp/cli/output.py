"""Everything the plain commands write goes through `safe_text` (studyapp/textsafe.py).

`install()` (called by `studyapp` before any command but the TUI) wraps `sys.stdout` and
`sys.stderr` in a `SafeStream`. What it lets through:
- to a pipe or a file: no control character but newline and tab, ever (tests read this);
- to a terminal: also the styling Rich and click write themselves (SGR colours, erase
  line, cursor left/up/down, cursor show/hide, carriage return for progress bars). OSC
  (window title, clipboard, hyperlinks), DCS, C1 and every other sequence are shown as
  escapes. Lesson text reaches the commands as data and is also passed through
  `safe_text` / `safe_rich_text` where it is formatted, so even those harmless sequences
  never come from a lesson.

JSON stays valid: C0 characters never appear raw in `json.dumps` output, and DEL, C1 and
bidi controls are written as `\\u009b`-style escapes, which are JSON escapes too.
The Textual app does not use these streams (its driver writes to `sys.__stderr__`).
"""

from __future__ import annotations

import io
import re
import sys
from typing import Any, TextIO

from studyapp.textsafe import safe_text

# what Rich and click emit for styling and progress, and nothing else
_STYLING = re.compile(r"\x1b\[[0-9;:]*[mKABCDG]|\x1b\[\?25[hl]|\r(?!\n)")


class SafeStream(io.TextIOBase):
    """A text stream that writes `safe_text` of what it is given to `raw`."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw
        try:
            self._tty = bool(raw.isatty())
        except (AttributeError, ValueError, OSError):
            self._tty = False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.raw, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        return self.raw.fileno()

    def write(self, text: Any) -> int:
        if not isinstance(text, str):
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if self._tty:
            out, pos = [], 0
            for m in _STYLING.finditer(text):
                out.append(safe_text(text[pos:m.start()]))
                out.append(m.group(0))
                pos = m.end()
            out.append(safe_text(text[pos:]))
            cleaned = "".join(out)
        else:
            cleaned = safe_text(text)
        self.raw.write(cleaned)
        return len(text)

    def flush(self) -> None:
        try:
            self.raw.flush()
        except (OSError, ValueError):
            pass


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once) for the rest of this command."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, SafeStream):
            setattr(sys, name, SafeStream(stream))
