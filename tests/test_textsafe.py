"""The one sanitiser for terminal output (studyapp/textsafe.py), on a table of inputs."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from rich.text import Text

from studyapp.textsafe import (
    control_chars,
    escape_json,
    escape_markup,
    has_control,
    safe_rich_text,
    safe_text,
)

ATTACKS = {
    "clear screen": ("a\x1b[2Jb", "a\\x1b[2Jb"),
    "OSC 52 clipboard": ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),
    "OSC 0 title": ("\x1b]0;pwned\x07x", "\\x1b]0;pwned\\x07x"),
    "OSC 8 link": ("\x1b]8;;http://x\x1b\\t\x1b]8;;\x1b\\",
                   "\\x1b]8;;http://x\\x1b\\t\\x1b]8;;\\x1b\\"),
    "C1 CSI": ("a\x9b2Jb", "a\\u009b2Jb"),
    "NUL": ("a\x00b", "a\\x00b"),
    "DEL": ("a\x7fb", "a\\u007fb"),
    "lone CR": ("good\rbad", "good\\rbad"),
    "CRLF": ("one\r\ntwo\r\n", "one\ntwo\n"),
    "bidi override": ("abc\u202edcba", "abc\\u202edcba"),
    "lone surrogate": ("bad \udcff byte", "bad \ufffd byte"),
    "backspace": ("ab\x08c", "ab\\x08c"),
}
KEPT = ["plain", "tab\tand\nnewline", "Кирилица и 中文 😀", "[/INST] [bold]x[/] \\[", ""]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_control_character_becomes_visible(name):
    raw, shown = ATTACKS[name]
    assert safe_text(raw) == shown
    assert has_control(raw) is (name != "CRLF")
    out = safe_text(raw)
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    out.encode("utf-8")                    # never raises


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_kept(text):
    assert safe_text(text) == text
    assert not has_control(text)


def test_control_chars_names_the_lines():
    assert control_chars("ok\nbad \x1b[2J\r\nfine\r\nalso \x9b") == [(2, "\\x1b"), (4, "\\u009b")]


@pytest.mark.parametrize("text", ["[/INST]", "[/]", "[INST]hi[/INST]", "[bold red]x",
                                  "end \\", "[@click=quit]q[/]", "a[#ff0000]b"])
def test_markup_shows_literally_in_rich(text):
    console = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    console.print(escape_markup(text) + "[dim] tail[/dim]")   # inside a markup template
    assert console.export_text().rstrip("\n") == text + " tail"
    console = Console(file=io.StringIO(), record=True, width=200, color_system=None)
    console.print(safe_rich_text(text))
    assert console.export_text().rstrip("\n") == text
    assert isinstance(safe_rich_text(text, style="bold"), Text)


def test_markup_shows_literally_in_textual_content():
    from textual.content import Content

    for text in ["[/INST]", "[/]", "[INST]x[/INST]", "[b]bold[/b]"]:
        assert Content.from_markup(escape_markup(text)).plain == text


def test_json_escapes_c1_and_stays_the_same_value():
    value = {"t": "a\x9bb\x1bc\u202e Кир"}
    dumped = escape_json(json.dumps(value, ensure_ascii=False))
    assert "\x9b" not in dumped and "\u202e" not in dumped and "Кир" in dumped
    assert json.loads(dumped) == value
