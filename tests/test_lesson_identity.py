"""A lesson keeps its identity through a broken front matter edit (issue: a colon in the
title hid all progress of a lesson): the `id:` line is still read; without one, the lesson
is matched to its earlier id by its file or its cards; lint, `due` and home say so."""

from __future__ import annotations

import json

from click.testing import CliRunner

from studyapp.cli import main
from studyapp.course.parser import parse_lesson, tolerant_front_matter

GOOD = """---
id: lernrate
title: Die Lernrate beim Feintuning
language: de
---
# Die Lernrate beim Feintuning

## Short Retrieval Quiz
1. Was macht Warm-up?
   Answer: Es erhöht die Lernrate langsam.
2. Warum sinkt die Lernrate am Ende?
   Answer: Damit das Modell ruhig konvergiert.

## Spaced Review Plan
| After | Prompt |
|---|---|
| 1 day | Was macht Warm-up? |
| 3 days | Erkläre Cosine Decay. |
"""
BROKEN = GOOD.replace("title: Die Lernrate beim Feintuning", "title: Die Lernrate: beim Feintuning")


def cli(env, now, *args, code=0):
    r = CliRunner().invoke(main, list(args), env={**env, "STUDYAPP_NOW": now},
                           catch_exceptions=False)
    assert r.exit_code == code, r.output
    return r


def test_tolerant_read_of_the_simple_lines():
    assert tolerant_front_matter("id: x-1\ntitle: 'A: b'\n  id: nested\nfoo: [") == {
        "id": "x-1", "title": "A: b"}
    result = parse_lesson(BROKEN, "lessons/lernrate-datei.md")
    assert result.lesson is not None and result.lesson.id == "lernrate"
    assert result.lesson.title == "Die Lernrate: beim Feintuning"
    [err] = [d for d in result.diagnostics if d.code == "front-matter"]
    assert err.line == 3 and "keeps its id 'lernrate'" in err.message


def _env(tmp_path, name="lernrate-datei.md"):
    lessons = tmp_path / "lessons"
    lessons.mkdir(exist_ok=True)
    (lessons / name).write_text(GOOD, encoding="utf-8")
    env = {"STUDYAPP_DB": str(tmp_path / "study.db"), "STUDYAPP_LESSONS": str(lessons)}
    cli(env, "2026-11-23T10:00:00+00:00", "settings", "timezone", "UTC")
    cli(env, "2026-11-23T10:00:00+00:00", "complete", "lernrate")
    return env, lessons / name


def test_done_when_a_broken_front_matter_keeps_the_due_items_under_the_same_id(tmp_path):
    env, path = _env(tmp_path)
    day1 = "2026-11-24T10:00:00+00:00"
    before = sorted(i["id"] for i in json.loads(cli(env, day1, "due", "--json").stdout))
    assert "lernrate:plan:0" in before and len(before) == 3
    path.write_text(BROKEN, encoding="utf-8")
    r = cli(env, day1, "due", "--json")
    after = json.loads(r.stdout)
    assert sorted(i["id"] for i in after) == before
    assert {i["lesson"] for i in after} == {"lernrate"}
    assert "lernrate-datei.md:3: its front matter has an error" in r.stderr
    assert "progress of 'lernrate'" in r.stderr
    lint = cli(env, day1, "lint", str(path), code=1)
    assert "lernrate-datei.md:3: error: malformed front matter" in lint.stdout
    assert "keeps its id 'lernrate'" in lint.stdout


def test_without_an_id_line_the_lesson_is_matched_by_its_file(tmp_path):
    env, path = _env(tmp_path)
    path.write_text(BROKEN.replace("id: lernrate\n", "id lernrate\n"), encoding="utf-8")
    r = cli(env, "2026-11-24T10:00:00+00:00", "due", "--json")
    assert {i["lesson"] for i in json.loads(r.stdout)} == {"lernrate"}
    assert "progress of 'lernrate'" in r.stderr


def test_without_an_id_line_a_moved_lesson_is_matched_by_its_cards(tmp_path):
    env, path = _env(tmp_path)
    path.unlink()
    (path.parent / "umbenannt.md").write_text(
        BROKEN.replace("id: lernrate\n", "id lernrate\n"), encoding="utf-8")
    r = cli(env, "2026-11-24T10:00:00+00:00", "due", "--json")
    assert {i["lesson"] for i in json.loads(r.stdout)} == {"lernrate"}
