"""Hostile lessons through every plain command: no traceback, no raw control byte in any
output, lesson markup shown literally, and nothing written that was not acknowledged.

The course folder holds, side by side: terminal escapes (ESC[2J, OSC 52, OSC 0, OSC 8, C1
CSI U+009B) in text, front matter and a file name; Rich/Textual markup in a quiz answer
(`[/INST]`), a plan prompt (`[/]`) and a balanced `[INST]...[/INST]`; NUL bytes; invalid
UTF-8; CRLF line ends with a BOM; a YAML alias bomb; a 20 MB lesson; a link to a file
outside the folder; duplicate ids.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main

E = "\x1b"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

EVIL = f"""---
id: evil
title: "Evil \\x1b]0;pwned\\x07 lesson"
level: "{E}[2J"
---
# Evil

## 1. Activate Prior Knowledge
- What is {E}[2J a clear?

## 2. Overview
OSC 52 {E}]52;c;aGVsbG8=\x07, OSC 0 {E}]0;title\x07, a link {E}]8;;http://x{E}\\link{E}]8;;{E}\\
and C1 \u009b31m red, NUL a\x00b.

## 3. Key Concepts
- **Chat [INST] template** – the marker [INST]...[/INST] wraps a user turn.
- **Bold [b]markup[/b]** – should stay literal [bold red]x.

## 7. Short Retrieval Quiz
1. Which marker ends a user turn? {{#marker}}
   Answer: [/INST]
2. What is [/] in Rich?
   Answer: a closing tag {E}[2J

## 8. Quick Recap
- Remember [INST]...[/INST].

## 9. Spaced Review Plan
| After | Review prompt |
|---|---|
| 1 day | Explain [/] |
| 3 days | Explain [INST]hello[/INST] |
"""

BOMB = ("---\nid: bomb\na: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9)
                  + "]\n" for i in range(9))
        + "---\n# Bomb\n\n## 2. Overview\nhi\n")


def build_course(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evil.md").write_text(EVIL, encoding="utf-8")
    (folder / f"name{E}]0;T\x07.md").write_text("# Named\n\n## 2. Overview\nhi\n",
                                              encoding="utf-8")
    (folder / "crlf.md").write_bytes("\ufeff---\r\nid: crlf\r\n---\r\n# CRLF\r\n\r\n"
                                     "## 2. Overview\r\nWindows line ends.\r\n".encode())
    (folder / "latin1.md").write_bytes("# Caf\xe9\n\n## Overview\nna\xefve\n".encode("latin-1"))
    (folder / "nul.md").write_bytes(b"# N\x00UL\n\n## 2. Overview\n\x00\x00\x00\n")
    (folder / "bomb.md").write_text(BOMB, encoding="utf-8")
    (folder / "dup-a.md").write_text("---\nid: dup\n---\n# A\n", encoding="utf-8")
    (folder / "dup-b.md").write_text("---\nid: dup\n---\n# B\n", encoding="utf-8")
    big = folder / "huge.md"
    with big.open("wb") as fh:                 # 20 MB, written sparsely: no time, no disk
        fh.write(b"# Huge\n\n## 2. Overview\n")
        fh.truncate(20_000_000)
    outside = folder.parent / "outside-secret.txt"
    outside.write_text("# secret\n\n## Overview\nroot:x:0:0\n", encoding="utf-8")
    (folder / "leak.md").symlink_to(outside)
    return folder


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return build_course(tmp_path_factory.mktemp("hostile") / "lessons")


@pytest.fixture
def cli(course, tmp_path):
    db = tmp_path / "study.db"

    def run(*args: str, input: str | None = None):
        result = CliRunner().invoke(
            main, ["--db", str(db), "--lessons", str(course), "--now", "2026-11-23T09:00",
                   *args], input=input)
        where = f"studyapp {' '.join(args)}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            where, result.exception)
        out = result.output
        assert "Traceback" not in out, (where, out[-2000:])
        bad = RAW_CONTROL.findall(out)
        assert not bad, (where, bad[:5], out[:2000])
        assert not re.search("[\ud800-\udfff]", out)
        return result

    run.db = db
    return run


def test_lint_names_every_hostile_file_and_line(cli, course):
    out = cli("lint", str(course)).output
    lines = out.splitlines()

    def said(name: str, text: str) -> bool:
        return any(name in line and text in line for line in lines)

    assert said("evil.md:9:", "control character \\x1b")
    assert said("evil.md:12:", "control characters \\x1b, \\x07")
    assert said("evil.md:13:", "\\u009b") and said("evil.md:13:", "\\x00")
    assert said("name\\x1b]0;T\\x07.md", "file name has control characters")
    assert said("bomb.md:4:", "aliases ('*a') are not allowed")
    assert said("huge.md:1:", "is 20.0 MB") and said("huge.md", "not read")
    assert said("leak.md:1:", "outside the lessons folder") and "root:x" not in out
    assert said("latin1.md:1:", "not UTF-8")
    assert said("dup-b.md:1:", "duplicate lesson id 'dup'")
    assert not any("crlf.md" in line and "error" in line for line in lines)


def test_show_prints_markup_and_escapes_literally(cli):
    out = cli("show", "evil").output
    for literal in ("[/INST]", "[INST]...[/INST]", "Explain [/]", "[INST]hello[/INST]",
                    "[b]markup[/b]", "[bold red]x"):
        assert literal in out, literal
    assert "What is \\x1b[2J a clear?" in out
    data = json.loads(cli("show", "evil", "--json").stdout)
    assert data["quiz"][0]["answer"] == "[/INST]"
    assert "\\u009b31m red, NUL a\\x00b" in data["overview"]
    text = json.dumps(data, ensure_ascii=False)
    assert "\x1b" not in text and "\x9b" not in text
    cli("show", "crlf")
    cli("show", "bomb")


def test_review_with_markup_answers_does_not_crash(cli):
    cli("complete", "evil")
    out = cli("--now", "2026-11-24T09:00", "review", input="\n3\n" * 12 + "q\n").output
    assert "Answer: [/INST]" in out
    assert "Explain [/]" in out or "Explain [INST]hello[/INST]" in out
    due = json.loads(cli("due", "--json").stdout)
    assert all("\x1b" not in json.dumps(d, ensure_ascii=False) for d in due)


@pytest.mark.parametrize("args", [
    ("due",), ("due", "--json"), ("stats",), ("stats", "--json"), ("settings",),
    ("complete", "evil"), ("complete", "nope"), ("doctor",), ("exercise", "list"),
    ("lint", "--help"),
])
def test_every_command_output_is_clean(cli, args):
    cli(*args)


def test_the_course_loads_fast_despite_the_20_mb_file(course):
    from studyapp.course.loader import load_lessons

    t0 = time.perf_counter()
    results = load_lessons(course)
    assert time.perf_counter() - t0 < 10
    assert {Path(r.path).name for r in results if r.lesson is None} >= {
        "huge.md", "leak.md", "latin1.md", "dup-b.md"}


def test_three_thousand_lessons_lint_without_a_traceback(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3000):
        (folder / f"l{i:04d}.md").write_text(
            f"---\nid: l{i % 2990}\n---\n# L{i} {E}[2J\n\n## 2. Overview\nText {i}.\n",
            encoding="utf-8")
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "db"), "lint", str(folder)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not RAW_CONTROL.findall(result.output)
    assert result.output.count("duplicate lesson id") == 10
    assert "3000 file(s)" in result.output


def test_a_lesson_link_inside_the_folder_is_followed(tmp_path):
    from studyapp.course.loader import load_lessons

    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "real.md").write_text("---\nid: real\n---\n# Real\n", encoding="utf-8")
    os.symlink("real.md", folder / "alias.md")
    results = {Path(r.path).name: r for r in load_lessons(folder)}
    assert results["alias.md"].lesson is not None           # a link inside: followed
    assert results["alias.md"].lesson.title == "Real"
    assert "duplicate lesson id" in str(results["real.md"].diagnostics[0])
