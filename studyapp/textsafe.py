"""Text that is safe to put on a terminal: the one sanitiser for lesson text, file names,
learner output and anything else that is data, not presentation.

Invariants of `safe_text`:
- no C0 control character except newline and tab, no DEL, no C1 control character
  (U+0080-U+009F, U+009B the 8-bit CSI among them), no bidirectional override or isolate
  (the "trojan source" characters) survives: each is shown as a visible escape (`\\x1b`
  for C0, `\\u009b` for DEL, C1 and the rest, which is also a valid JSON string escape),
  so ESC[2J, OSC 52 (clipboard), OSC 0 (window title) and OSC 8 never reach the terminal
  as sequences, and a reader still sees that something was there;
- a CR of a CRLF line end is dropped (a lone CR is escaped: it could overwrite a line);
- lone surrogates (invalid UTF-8 read with `surrogateescape`) become U+FFFD, so writing
  the text never raises `UnicodeEncodeError`;
- everything else, Cyrillic, CJK, emoji, is kept as it is.

Markup: Rich's console markup and Textual's content markup read `[bold]`, `[/]` or
`[/INST]` as tags. Lesson text must never be read that way: hand widgets and consoles a
`rich.text.Text` built by `safe_rich_text`, or a string passed through `escape_markup`
where a markup string is unavoidable.

`escape_json` makes `json.dumps(..., ensure_ascii=False)` output safe too (JSON escapes
only characters below 0x20; this also writes C1, DEL and bidi controls as `\\uXXXX`).

Pure: imports nothing of the app; Rich is imported only by `safe_rich_text`.
"""

from __future__ import annotations

import re
from typing import Any

# C0 except \t (09) and \n (0a); DEL; C1; bidi embeddings/overrides/isolates; the
# line/paragraph separators some terminals treat as newlines.
_UNSAFE = re.compile(
    "\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
    "|[\ud800-\udfff]")
_NAMED = {"\r": "\\r", "\x1b": "\\x1b"}
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
# the markup tags Rich and Textual read: `[` then a letter, `#`, `/` or `@`
_TAG = re.compile(r"(\\*)(\[[a-zA-Z#/@][^[]*?])")


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch == "\r\n":
        return "\n"
    if "\ud800" <= ch <= "\udfff":
        return "\ufffd"
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def safe_text(value: Any) -> str:
    """`value` as text with every control character shown as a visible escape."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_visible, text)


def has_control(text: str) -> bool:
    """Whether `safe_text` would change anything but CRLF line ends."""
    return any(m.group(0) != "\r\n" for m in _UNSAFE.finditer(text))


def control_chars(text: str) -> list[tuple[int, str]]:
    """(1-based line, visible escape) of each control character in `text` (for lint)."""
    out = []
    for m in _UNSAFE.finditer(text):
        if m.group(0) == "\r\n":
            continue
        out.append((text.count("\n", 0, m.start()) + 1, _visible(m)))
    return out


def escape_markup(value: Any) -> str:
    """`safe_text(value)` with every `[...]` that Rich or Textual would read as a tag
    escaped, so the text shows literally inside a markup string."""
    def escape(match: re.Match[str]) -> str:
        backslashes, tag = match.groups()
        return f"{backslashes}{backslashes}\\{tag}"

    text = _TAG.sub(escape, safe_text(value))
    if text.endswith("\\") and not text.endswith("\\\\"):
        text += "\\"
    return text


def safe_rich_text(value: Any, style: str = "", **kwargs: Any) -> Any:
    """A `rich.text.Text` of `safe_text(value)`: never parsed as markup (Rich and Textual
    widgets take it as it is)."""
    from rich.text import Text

    return Text(safe_text(value), style=style, **kwargs)


def escape_json(dumped: str) -> str:
    """Output of `json.dumps(..., ensure_ascii=False)` with C1, DEL, bidi controls and
    lone surrogates written as `\\uXXXX` escapes (still the same JSON value)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", dumped)
