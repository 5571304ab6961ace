"""The walk-through of issue 12 in a real terminal (tmux, 80x24), as a learner does it.

Day 1: open lesson 1 of the bundled course, walk every section (prior knowledge typed, a
quiz question answered and graded), finish it. Day 2: review with a long typed answer (shown
whole), grade, `u` undoes the grade; then open the spam exercise from the exercise list,
pick its tiny variant, run it, ask for a hint. Every step asserts on the screen's text.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.services.study import StudyService
from tests.test_tui_tmux import SCRIPT, TMUX, capture, send, wait_for

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(not SCRIPT.exists(), reason="the studyapp console script is not installed"),
]
DAY1, DAY2 = "2026-11-23T09:00:00+00:00", "2026-11-24T09:00:00+00:00"
LONG = ("a pretrained model trained further on labelled pairs so that it learns the task "
        "while keeping what it knew, zqx-end")


def start(session: str, tmp: Path, now: str) -> None:
    command = " ".join([
        "env", f"STUDYAPP_NOW={now}", f"STUDYAPP_DATA_DIR={shlex.quote(str(tmp / 'data'))}",
        f"STUDYAPP_CACHE_DIR={shlex.quote(str(tmp / 'cache'))}", "TERM=xterm-256color",
        shlex.quote(str(SCRIPT)), "--db", shlex.quote(str(tmp / "study.db")),
        "--lessons", shlex.quote(str(ROOT / "lessons")),
    ])
    for attempt in range(3):
        # a new session can meet the server of the last one shutting down ("server exited
        # unexpectedly"): tmux's race, not the app's; try again on a fresh server
        made = subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                               command], capture_output=True, text=True, check=False)
        if made.returncode == 0 or attempt == 2:
            break
        time.sleep(0.5)
    assert made.returncode == 0, made.stderr


def stop(session: str) -> None:
    subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True, check=False)


def footer(screen: str) -> str:
    return screen.rstrip("\n").splitlines()[-1]


def words(screen: str) -> str:
    return " ".join(" ".join(line.strip(" │▏▕") for line in screen.splitlines()).split())


def typed(session: str, text: str) -> None:
    subprocess.run([TMUX, "send-keys", "-t", session, "-l", text], check=True)


def test_walk_a_lesson_review_undo_and_run_the_tiny_spam_exercise(tmp_path: Path) -> None:
    day1 = f"studyapp-walk-{uuid.uuid4().hex[:8]}"
    start(day1, tmp_path, DAY1)
    try:
        screen = wait_for(day1, "Lessons")
        assert "r Review now" in footer(screen) and "? Help" in footer(screen)
        send(day1, "Enter")                                   # lesson 1
        screen = wait_for(day1, "1/9 Activate Prior Knowledge")
        typed(day1, "labels")
        send(day1, "Enter")
        for title in ("2/9 Overview", "3/9 Key Concepts", "4/9 Step-by-step Learning Path",
                      "5/9 Examples", "6/9 Common Pitfalls", "7/9 Short Retrieval Quiz"):
            send(day1, "C-n")                                 # works in and out of fields
            screen = wait_for(day1, title)
            assert len(footer(screen)) <= 80 and "Help" in footer(screen)
            assert "▐X▌" not in screen
        wait_for(day1, "Type to answer")                      # the quiz card is there
        typed(day1, "training on labelled examples")          # typing starts the answer
        send(day1, "Enter")
        screen = wait_for(day1, "How well did you know it?")
        assert "training on labelled examples" in words(screen), screen
        send(day1, "3")
        wait_for(day1, "Question 1 graded Good")
        assert "u Undo grade" in footer(wait_for(day1, "u Undo grade"))
        send(day1, "C-n")
        wait_for(day1, "8/9 Quick Recap")
        send(day1, "f")
        wait_for(day1, "9/9 Spaced Review Plan")
        send(day1, "f")
        wait_for(day1, "Lesson finished")
    finally:
        stop(day1)

    settings = Settings(tmp_path / "study.db", ROOT / "lessons", ROOT / "exercises",
                        fixed_now=None)
    day2 = f"studyapp-walk-{uuid.uuid4().hex[:8]}"
    start(day2, tmp_path, DAY2)
    try:
        screen = wait_for(day2, " due · ")
        due = int(re.search(r"(\d+) due · ", screen).group(1))   # type: ignore[union-attr]
        send(day2, "r")
        wait_for(day2, f"1/{due}")
        assert "u Undo" in footer(wait_for(day2, "u Undo"))
        typed(day2, LONG)
        send(day2, "Enter")
        screen = wait_for(day2, "How well did you know it?")
        assert LONG in words(screen), screen                  # the whole typed answer
        assert "Your answer" in screen
        send(day2, "3")
        screen = wait_for(day2, f"2/{due}")
        send(day2, "u")                                       # right after the grade
        screen = wait_for(day2, "Undid Good")
        assert f"1/{due}" in screen
        for _ in range(6):                                    # back home
            send(day2, "Escape")
            time.sleep(0.5)
            if "Review now" in capture(day2):
                break

        # the spam exercise, from the exercise list, in its tiny variant
        with StudyService.open(settings) as service:
            order = {e.id: i for i, e in enumerate(service.lessons())}
        listed = sorted(ExerciseService(settings).exercises(),
                        key=lambda e: (order.get(e.exercise.lesson, len(order)), e.exercise.id))
        send(day2, "x")
        wait_for(day2, "Exercise")
        for _ in range([e.exercise.id for e in listed].index("spam")):
            send(day2, "Down")
            time.sleep(0.2)
        send(day2, "Enter")
        screen = wait_for(day2, "Spam or not")
        for _ in range(5):                  # one `v` at a time: a queued extra one wraps round
            shown = re.search(r"(\S+) · idle", capture(day2))
            if shown and shown.group(1) == "tiny":
                break
            send(day2, "v")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                now = re.search(r"(\S+) · idle", capture(day2))
                if now and (not shown or now.group(1) != shown.group(1)):
                    break
                time.sleep(0.2)
        wait_for(day2, "tiny · idle")
        screen = wait_for(day2, "s Run solution")
        assert "s Run solution" in footer(screen) and "h Hint" in footer(screen)
        send(day2, "s")
        wait_for(day2, "Predict, then run")
        send(day2, "Enter")                                   # no prediction: just run
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            screen = capture(day2)
            if re.search(r"tiny · (passed|finished|failed)", screen):
                break
            time.sleep(1)
        assert re.search(r"tiny · (passed|finished)", screen), screen
        axis = next(line for line in screen.splitlines() if re.search(r"└┬", line))
        ticks = screen.splitlines()[screen.splitlines().index(axis) + 1]
        numbers = re.findall(r"\d+(?:\.\d+)?", ticks.split("│")[-1])
        assert numbers and all("." not in n for n in numbers), ticks   # integer step ticks
        send(day2, "h")
        from studyapp.training.catalog import load_exercises

        exercises, _ = load_exercises(ROOT / "exercises")
        first_hint = next(e for e in exercises if e.id == "spam").hints[0]
        screen = wait_for(day2, "Hint 1:")
        assert words(first_hint)[:30] in words(screen)
    finally:
        stop(day2)
