"""`studyapp lint` and `studyapp show` as an instructor runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from studyapp.cli import main

BROKEN = """---
id: broken
title: [unclosed
---
# Broken lesson

## Overview
Some text.

## Common Pitfalls
| pitfall | fix |
| too high lr | lower it |

## Spaced Review Plan
| After | Prompt |
|---|---|
| 1 day | fine |
| 3 fortnights | unknown unit |
| 1 week | fine too |
"""


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_lint_reports_each_problem_with_its_line(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text(BROKEN, encoding="utf-8")
    result = run("--db", str(tmp_path / "none.db"), "lint", str(path))
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if "missing standard section" not in ln]
    assert lines == [
        (f"{path}:3: error: malformed front matter: expected ',' or ']', but got '<stream end>'"
         "; the lesson keeps its id 'broken' (read from its 'id:' line), so its progress "
         "stays with it"),
        (f"{path}:11: warning: malformed table: rows start with '|' but there is no "
         "'|---|---|' delimiter row under the header, so it shows as plain text"),
        (f"{path}:18: error: unknown unit 'fortnights' in interval '3 fortnights': use days, "
         "weeks, months or years (in English, Bulgarian, Serbian, Russian, German) or d/w/mo/y"),
    ]


def test_lint_plan_table_without_rows_is_an_error(tmp_path):
    path = tmp_path / "empty-plan.md"
    path.write_text("# T\n\n## Review Plan\n| After | Prompt |\n|---|---|\n", encoding="utf-8")
    result = run("--db", str(tmp_path / "none.db"), "lint", str(path))
    assert result.exit_code == 1
    assert f"{path}:4: error: review-plan table has no rows (only a header)" in result.output


def test_lint_folder_keeps_going_after_an_unreadable_file(tmp_path, bg_lesson):
    (tmp_path / "a.md").write_bytes(b"\xff\xfe\x00bad bytes")
    (tmp_path / "b.md").write_text(bg_lesson.read_text(encoding="utf-8"), encoding="utf-8")
    result = run("--db", str(tmp_path / "none.db"), "lint", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path / 'a.md'}:1: error: cannot read file: not UTF-8 text" in result.output
    assert f"{tmp_path / 'b.md'}:59: warning: quiz question has no answer" in result.output


def test_lint_unknown_exercise_link(tmp_path):
    (tmp_path / "ex" / "spam").mkdir(parents=True)
    (tmp_path / "ex" / "spam" / "exercise.toml").write_text('title = "x"\n')
    path = tmp_path / "l.md"
    path.write_text("---\nexercises: [spam, nope]\n---\n# T\n\n## Examples\n### E\n"
                    "Exercise: ghost\n", encoding="utf-8")
    result = run("--db", str(tmp_path / "none.db"), "lint", "--no-warnings", str(path),
                 env={"STUDYAPP_EXERCISES": str(tmp_path / "ex")})
    assert result.exit_code == 1
    assert f"{path}:2: error: unknown exercise 'nope' in front matter (known: spam)" in result.output
    assert f"{path}:7: error: example 'E' links unknown exercise 'ghost'" in result.output


def test_bundled_lessons_lint_clean():
    root = Path(__file__).resolve().parent.parent
    result = run("--db", "/nonexistent/none.db", "lint", str(root / "lessons"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ""
    assert "0 error(s), 0 warning(s)" in result.stderr


def test_show_json_has_the_documented_keys(bg_lesson):
    result = run("show", str(bg_lesson), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    for key in ("id", "title", "language", "sections", "prior_knowledge", "concepts", "steps",
                "examples", "pitfalls", "quiz", "recap", "review_plan"):
        assert key in data
    assert data["examples"][0]["code"][0]["language"] == "python"
    assert data["pitfalls"][0]["solution"]
    assert data["quiz"][0] == {"question": "Какво определя скоростта на обучение?",
                               "answer": None, "id": None, "line": 59}
    assert [r["days"] for r in data["review_plan"]] == [1, 3, 7, 30]


def test_show_readable_view_and_by_id(tmp_path):
    (tmp_path / "lesson.md").write_text("---\nid: my-id\n---\n# Мой урок\n\n## Quiz\n1. Q?\n"
                                        "   Answer: A\n", encoding="utf-8")
    result = run("--lessons", str(tmp_path), "show", "my-id")
    assert result.exit_code == 0
    assert "Мой урок" in result.output and "answer: A" in result.output
    missing = CliRunner().invoke(main, ["--lessons", str(tmp_path), "show", "nope"])
    assert missing.exit_code == 1 and "no lesson 'nope'" in missing.output


def test_malformed_plan_table_is_an_error(tmp_path):
    path = tmp_path / "plan.md"
    path.write_text("# T\n\n## Spaced Review Plan\n| After | Prompt |\n| 1 day | x |\n",
                    encoding="utf-8")
    result = run("--db", str(tmp_path / "none.db"), "lint", "--no-warnings", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        (f"{path}:4: error: malformed review-plan table: rows start with '|' but the table "
         "has no '|---|---|' delimiter row under its header")]
