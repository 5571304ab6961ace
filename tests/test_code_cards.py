"""Code cards: the functions a learner wrote, practised from memory and graded by their
checks; and runs of the learner's own code feeding the scheduler."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from studyapp.cli import main
from studyapp.config import bundled_exercises_dir
from studyapp.services.code_cards import (
    CodeAttempt,
    add_code_cards,
    after_run,
    card_key,
    code_function,
    exercise_functions,
)
from studyapp.training.catalog import find_exercise
from studyapp.training.codecards import CodeCardError, splice, suggested_rating
from tests.study_support import at, local, service

ROOT = Path(__file__).resolve().parent.parent
DAY0 = local(2026, 11, 23)
DAY1 = local(2026, 11, 24)

GOOD = '''def last_token_logits(logits, attention_mask):
    """mine"""
    positions = torch.arange(attention_mask.shape[1]).expand_as(attention_mask)
    last = (positions * attention_mask).argmax(dim=1)
    return logits[torch.arange(logits.shape[0]), last]
'''
WRONG = '''def last_token_logits(logits, attention_mask):
    return logits[:, -1]
'''


def spam():  # type: ignore[no-untyped-def]
    return find_exercise(bundled_exercises_dir(), "spam")


def test_every_function_the_learner_writes_is_found_with_its_checks() -> None:
    names = {ex: [f.name for f in exercise_functions(find_exercise(bundled_exercises_dir(), ex))]
             for ex in ("spam", "sft", "lora", "pretraining", "overfitting")}
    assert names == {
        "spam": ["last_token_logits", "classification_loss", "accuracy", "freeze_all_but_last"],
        "sft": ["build_example", "response_loss"], "lora": ["lora_delta", "count_parameters"],
        "pretraining": ["mask_tokens", "perplexity"], "overfitting": ["EarlyStopping"]}
    fn = code_function(spam(), "spam.last_token_logits")
    assert fn.checks == ("check_last_token_logits",)
    assert fn.skeleton.startswith("def last_token_logits(") and "YOUR CODE HERE" in fn.skeleton
    assert '"""The class logits at each message' in fn.skeleton  # the docstring comes along
    assert fn.solution and "raise NotImplementedError" not in fn.solution
    # build_example is checked through a helper of the checks file (_example(code))
    sft = code_function(find_exercise(bundled_exercises_dir(), "sft"), "build_example")
    assert "check_prompt_masked" in sft.checks


def test_splice_puts_the_learners_function_in_place_of_the_reference() -> None:
    base = "import torch\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"
    out = splice(base, "a", "def a():\n    return 10\n")
    assert "return 10" in out and "return 1\n" not in out and "def b():" in out
    with pytest.raises(CodeCardError, match="line 1"):
        splice(base, "a", "def a(:\n")
    with pytest.raises(CodeCardError, match="line 3: 'return' outside function"):
        splice(base, "a", 'def a():\n    """doc"""\nreturn 10\n')
    with pytest.raises(CodeCardError, match="write the function 'a'"):
        splice(base, "a", "x = 1\n")


def test_the_checks_suggest_the_grade() -> None:
    assert suggested_rating(1, True, 30) == 4      # first try and fast: Easy
    assert suggested_rating(1, True, 600) == 3     # first try: Good
    assert suggested_rating(3, True, 30) == 2      # after a retry: Hard
    assert suggested_rating(2, False, 30) == 1     # gave up: Again
    assert suggested_rating(0, False, 0) == 1


def test_a_fresh_copy_then_only_that_functions_checks(tmp_path) -> None:
    attempt = CodeAttempt.open(spam(), code_function(spam(), "last_token_logits"),
                               tmp_path / "card")
    assert attempt.path.read_text().startswith("def last_token_logits(")
    report = attempt.check(WRONG)
    assert not attempt.passed and attempt.attempts == 1
    assert any("picked position" in r["message"] for r in report.failed)
    assert [r["name"] for r in report.results] == [
        "last_token_logits picks each message's last real token"]  # only its own check
    attempt.check(GOOD)
    assert attempt.passed and attempt.suggested() == 2  # passed after a retry: Hard
    first = CodeAttempt.open(spam(), code_function(spam(), "last_token_logits"),
                             tmp_path / "again")
    first.check(GOOD)
    assert first.passed and first.suggested() == 4
    broken = CodeAttempt.open(spam(), code_function(spam(), "accuracy"), tmp_path / "b")
    report = broken.check("def accuracy(:\n")
    assert not broken.passed and "line 1" in report.failed[0]["message"]


def _learner(tmp_path: Path):  # type: ignore[no-untyped-def]
    return service(tmp_path, DAY0, lessons_dir=ROOT / "lessons")


def test_only_a_pass_with_the_learners_own_code_makes_code_cards(tmp_path) -> None:
    svc = _learner(tmp_path)
    ex = spam()
    assert after_run(svc, ex, "solution", "finished", True)["code_cards"] == []
    assert after_run(svc, ex, "learner", "finished", True)["code_cards"] == []
    made = after_run(svc, ex, "mine", "finished", True)["code_cards"]
    assert made == [f"gpt-classification:code:spam.{n}" for n in (
        "last_token_logits", "classification_loss", "accuracy", "freeze_all_but_last")]
    assert add_code_cards(svc, ex) == []  # once
    assert card_key(made[0]) == ("spam", "last_token_logits")
    assert not {i.id for i in svc.due()} & set(made)  # not today ...
    svc.reload()  # ... and the lesson sync leaves them alone
    out = CliRunner().invoke(main, ["--db", str(svc.settings.db_path), "--lessons",
                                    str(ROOT / "lessons"), "--now", DAY1.isoformat(),
                                    "due", "--json"])
    due = {i["id"]: i for i in json.loads(out.output)}
    assert set(made) <= set(due)  # ... but the next day
    assert {due[c]["card_kind"] for c in made} == {"code"}
    cards = CliRunner().invoke(main, ["--db", str(svc.settings.db_path), "--lessons",
                                      str(ROOT / "lessons"), "cards", "list", "--json"])
    listed = {c["id"]: c for c in json.loads(cards.output)}
    assert listed[made[0]]["kind"] == "code"


def _review(tmp_path: Path, editor_source: str, keys: str):  # type: ignore[no-untyped-def]
    svc = _learner(tmp_path)
    made = add_code_cards(svc, spam())
    for other in made[1:]:
        svc.suspend(other)
    written = tmp_path / "written.py"
    written.write_text(editor_source)
    editor = f"{sys.executable} -c \"import shutil,sys; shutil.copy({str(written)!r}, sys.argv[1])\""
    out = CliRunner().invoke(
        main, ["--db", str(svc.settings.db_path), "--lessons", str(ROOT / "lessons"),
               "--now", DAY1.isoformat(), "review"], input=keys,
        env={"EDITOR": editor, "VISUAL": ""})
    tomorrow = at(svc, DAY1)
    row = tomorrow.conn.execute("SELECT rating, answer FROM review_log WHERE item_id=?",
                                (made[0],)).fetchone()
    due = tomorrow.conn.execute("SELECT due_day FROM card_state WHERE card_id=?",
                                (made[0],)).fetchone()[0]
    return " ".join(out.output.split()), out.exit_code, row, due


def test_review_a_code_card_with_a_correct_function(tmp_path) -> None:
    out, code, row, due = _review(tmp_path, GOOD, "\n")
    assert code == 0, out
    assert "PASS" in out and "Enter: the checks' grade, 4 Easy" in out
    assert row[0] == 4 and "positions * attention_mask" in row[1]
    assert due > DAY1.date().isoformat()  # next due later


def test_review_a_code_card_with_a_wrong_function_then_give_up(tmp_path) -> None:
    out, code, row, _due = _review(tmp_path, WRONG, "g\n\n")
    assert code == 0, out
    assert "FAIL" in out and "your function picked position" in out
    assert "Solution:" in out and "Enter: the checks' grade, 1 Again" in out
    assert row[0] == 1


def test_the_learner_may_override_the_checks_grade(tmp_path) -> None:
    _out, _code, row, _due = _review(tmp_path, GOOD, "3\n")
    assert row[0] == 3


# -- exercises feed the scheduler -------------------------------------------------------------


def test_a_failing_own_run_brings_cards_forward_and_passing_later_reviews_them(tmp_path):
    svc = _learner(tmp_path)
    svc.complete_lesson("gpt-classification")
    for item in svc.due():
        if item.kind == "card" and item.lesson_id == "gpt-classification":
            svc.grade(item.id, 4)
    tomorrow = (svc.today() + timedelta(days=1)).isoformat()
    lesson_cards = [r[0] for r in svc.conn.execute(
        "SELECT c.id FROM cards c JOIN card_state s ON s.card_id=c.id WHERE c.lesson_id=? "
        "AND c.kind IN ('concept', 'quiz')", ("gpt-classification",))]
    assert lesson_cards
    # a solution run that fails means nothing; the learner's own run failing a check does
    assert after_run(svc, spam(), "solution", "finished", False)["brought_forward"] == []
    fed = after_run(svc, spam(), "mine", "failed", None, "2 of 4 code checks failed:\n...")
    assert set(fed["brought_forward"]) == set(lesson_cards)
    days = dict(svc.conn.execute("SELECT card_id, due_day FROM card_state"))
    assert {days[c] for c in lesson_cards} == {tomorrow}
    assert after_run(svc, spam(), "mine", "failed", None, "CUDA out of memory") == {
        "code_cards": [], "brought_forward": [], "reviewed": []}  # a crash: no verdict
    logged = svc.conn.execute("SELECT count(*) FROM review_log").fetchone()[0]
    fed = after_run(svc, spam(), "mine", "finished", True)
    assert set(fed["reviewed"]) == set(lesson_cards) and len(fed["code_cards"]) == 4
    rows = svc.conn.execute("SELECT rating, source FROM review_log WHERE id > ?",
                            (logged,)).fetchall()
    assert {tuple(r) for r in rows} == {(3, "exercise")}
    assert after_run(svc, spam(), "mine", "finished", True)["reviewed"] == []  # once


# -- the TUI: the same review in a TextArea --------------------------------------------------


async def _tui_review(tmp_path: Path, code: str, keys: list[str]):  # type: ignore[no-untyped-def]
    from textual.widgets import Static, TextArea

    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.code_review import CodeReviewScreen
    from studyapp.tui.screens.review import ReviewScreen

    svc = _learner(tmp_path)
    (tmp_path / "exercises").symlink_to(bundled_exercises_dir())  # the app's exercises
    made = add_code_cards(svc, spam())
    for other in made[1:]:
        svc.suspend(other)
    tomorrow = at(svc, DAY1)
    app = StudyApp(tomorrow, cursor_blink=False)
    seen: dict[str, object] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        tomorrow.set_setting("suggest_grades", "0")
        review = ReviewScreen(tomorrow)
        app.push_screen(review)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CodeReviewScreen), (
            [i.id for i in review.queue], str(review.card.query_one("#card-status").render()))
        editor = screen.query_one("#code-editor", TextArea)
        assert editor.text.startswith("def last_token_logits(")  # a fresh copy
        seen["language"] = editor.language
        editor.text = code
        await pilot.press("ctrl+r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["report"] = str(screen.query_one("#code-report", Static).render())
        for key in keys:
            if app.screen is screen:
                seen["report_after"] = str(screen.query_one("#code-report", Static).render())
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
        seen["back"] = app.screen is review
    row = tomorrow.conn.execute("SELECT rating, answer FROM review_log WHERE item_id=?",
                                (made[0],)).fetchone()
    return seen, row


async def test_tui_reviews_a_code_card_with_a_correct_function(tmp_path) -> None:
    seen, row = await _tui_review(tmp_path, GOOD, ["enter"])
    assert seen["language"] == "python"  # highlighted
    assert "PASS" in str(seen["report"])
    assert seen["back"] is True and row[0] == 4 and "positions * attention_mask" in row[1]


async def test_tui_reviews_a_code_card_with_a_wrong_function(tmp_path) -> None:
    seen, row = await _tui_review(tmp_path, WRONG, ["ctrl+g", "enter"])
    assert "your function picked position" in str(seen["report"])
    assert "You gave up: the solution" in str(seen["report_after"])
    assert seen["back"] is True and row[0] == 1


async def test_the_exercise_screen_makes_code_cards_when_your_own_code_passes(tmp_path):
    from types import SimpleNamespace

    from textual.widgets import RichLog

    from studyapp.training.events import Finished, Started
    from studyapp.tui.app import StudyApp
    from studyapp.tui.screens.exercise import ExerciseScreen

    class Handle:
        spec = SimpleNamespace(code="mine")

        def events(self):  # type: ignore[no-untyped-def]
            yield Started(run_id="r-mine", exercise="spam", variant="tiny", device="cpu",
                          settings={}, total_steps=1, train_examples=8)
            yield Finished(metrics={"accuracy": 0.95},
                           checks=[{"name": "test accuracy", "passed": True, "message": "ok"}])

        def cancel(self, grace_s: float | None = None) -> None:
            pass

    class Exercises:
        def exercise(self, exercise_id: str):  # type: ignore[no-untyped-def]
            return dataclasses.replace(spam(), extra={})  # no prediction asked

        def runs(self, exercise_id: str | None = None, *, limit: int | None = 50) -> list:
            return []

        def trials(self, run_id: str) -> list:
            return []

        def start_run(self, exercise_id: str, **kw: object) -> Handle:
            return Handle()

    svc = _learner(tmp_path)
    learner = SimpleNamespace(hints=lambda _id: [], code_path=lambda _id: tmp_path / "x.py")
    app = StudyApp(svc, cursor_blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ExerciseScreen(svc, "spam", exercises=Exercises(),  # type: ignore[arg-type]
                                learner=learner)  # type: ignore[arg-type]
        app.push_screen(screen)
        await pilot.pause()
        await pilot.press("m")
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = "".join(line.text for line in screen.query_one("#run-log", RichLog).lines)
    assert "4 code cards made" in log
    kinds = svc.conn.execute("SELECT count(*) FROM cards WHERE kind='code'").fetchone()[0]
    assert kinds == 4


def test_exercise_run_with_your_own_code_feeds_the_scheduler(tmp_path):
    from tests.test_training_run import make_exercise

    exercises = make_exercise(tmp_path)
    env = {"STUDYAPP_EXERCISES": str(exercises)}
    db = str(tmp_path / "study.db")
    base = ["--db", db, "--lessons", str(ROOT / "lessons"), "--now", DAY0.isoformat()]
    runner = CliRunner()
    edit = runner.invoke(main, [*base, "exercise", "edit", "spam"], env=env)
    copy = Path(edit.output.strip().splitlines()[-1].split()[-1])
    assert copy.is_file(), edit.output
    copy.write_text((exercises / "spam" / "solution.py").read_text())  # the learner's own
    out = runner.invoke(main, [*base, "exercise", "run", "spam", "-v", "tiny", "--code",
                               "mine", "--json"], env=env)
    result = json.loads(out.output)
    assert result["code"] == "mine" and result["status"] == "finished"
    due = json.loads(runner.invoke(main, ["--db", db, "--lessons", str(ROOT / "lessons"),
                                          "--now", DAY1.isoformat(), "due", "--json"],
                                   env=env).output)
    code_cards = [i for i in due if i["card_kind"] == "code"]
    if result["passed"]:
        assert len(result["cards"]["code_cards"]) == 4 and len(code_cards) == 4
    else:  # the tiny model learns little: its checks may fail, and that is a failed run
        assert code_cards == [] and "code_cards" not in result.get("cards", {})


def test_stats_count_code_cards_by_kind(tmp_path) -> None:
    svc = _learner(tmp_path)
    add_code_cards(svc, spam())
    out = CliRunner().invoke(main, ["--db", str(svc.settings.db_path), "--lessons",
                                    str(ROOT / "lessons"), "--now", DAY1.isoformat(),
                                    "stats", "--json"])
    kinds = json.loads(out.output)["series"]["card_kinds"]
    assert kinds["code"] == 4 and kinds["quiz"] > 0 and kinds["concept"] > 0
    plain = CliRunner().invoke(main, ["--db", str(svc.settings.db_path), "--lessons",
                                      str(ROOT / "lessons"), "--now", DAY1.isoformat(),
                                      "stats"])
    assert "code 4" in plain.output


def test_a_correct_function_written_slowly_is_graded_good(tmp_path, monkeypatch) -> None:
    from studyapp.services import code_cards

    real = code_cards.suggested_rating
    monkeypatch.setattr(code_cards, "suggested_rating",
                        lambda attempts, passed, seconds: real(attempts, passed, seconds, 0.0))
    out, code, row, due_day = _review(tmp_path, GOOD, "\n")
    assert code == 0, out
    assert "Enter: the checks' grade, 3 Good" in out and row[0] == 3
    # a first answer Good: FSRS's next learning step, later the same day (Easy: days later)
    assert "Good · next:" in out and due_day >= DAY1.date().isoformat()
