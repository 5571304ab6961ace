"""The real `studyapp` console script in a real terminal (tmux): lessons and due count shown."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studyapp.config import Settings
from studyapp.services.study import StudyService
from tests.conftest import BG_LESSON, BG_TITLE

LESSON = """\
---
id: epochs-101
title: Epochs and early stopping
---
# Epochs and early stopping

## Key Concepts
- **Epoch** – one full pass over the training set.

## Short Retrieval Quiz
1. What is an epoch?
   Answer: One full pass over the training set.
"""

TMUX = shutil.which("tmux")
SCRIPT = Path(sys.executable).parent / "studyapp"
pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed"),
    pytest.mark.skipif(not SCRIPT.exists(), reason="the studyapp console script is not installed"),
]


def capture(session: str) -> str:
    return subprocess.run([TMUX, "capture-pane", "-p", "-t", session], capture_output=True,
                          text=True, check=False).stdout


def wait_for(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear; the screen shows:\n{screen}")


def send(session: str, *keys: str) -> None:
    subprocess.run([TMUX, "send-keys", "-t", session, *keys], check=True)


def test_real_app_in_tmux_shows_lessons_and_due_count(tmp_path: Path) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "a-epochs.md").write_text(LESSON, encoding="utf-8")
    shutil.copy(BG_LESSON, lessons / "b-learning-rate.txt")
    db = tmp_path / "study.db"
    day1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with StudyService.open(Settings(db, lessons, tmp_path / "ex", fixed_now=day1)) as service:
        service.complete_lesson("epochs-101")
    now = "2026-11-24T09:00:00+00:00"
    with StudyService.open(Settings(db, lessons, tmp_path / "ex",
                                    fixed_now=datetime.fromisoformat(now))) as service:
        due = len(service.due())
    assert due > 0

    session = f"studyapp-test-{uuid.uuid4().hex[:8]}"
    command = " ".join([
        "env", f"STUDYAPP_NOW={now}", f"STUDYAPP_DATA_DIR={shlex.quote(str(tmp_path / 'data'))}",
        "TERM=xterm-256color",
        shlex.quote(str(SCRIPT)), "--db", shlex.quote(str(db)),
        "--lessons", shlex.quote(str(lessons)),
    ])
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command],
                   check=True)
    try:
        wait_for(session, "Lessons")
        screen = wait_for(session, f"{due} due")  # the first paint may still be arriving
        assert "Epochs and early stopping" in screen
        assert BG_TITLE in screen
        assert f"{due} due" in screen
        assert "done · review today" in screen

        send(session, "r")
        screen = wait_for(session, f"1/{due}")
        assert "Epochs and early stopping" in screen
        send(session, "Enter")  # reveal
        wait_for(session, "How well did you know it?")
        send(session, "3")
        wait_for(session, f"2/{due}")

        # escape leaves the answer field, then the review; a terminal may merge two quick
        # escapes into one key, so send them one at a time until home is back
        for _ in range(6):
            send(session, "Escape")
            time.sleep(0.5)
            if "Review now" in capture(session):
                break
        wait_for(session, "Review now")
        send(session, "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run([TMUX, "has-session", "-t", session], capture_output=True,
                                   check=False).returncode == 0
            if not alive or "Lessons" not in capture(session):
                break
            time.sleep(0.2)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True, check=False)

    with StudyService.open(Settings(db, lessons, tmp_path / "ex",
                                    fixed_now=datetime.fromisoformat(now))) as service:
        assert len(service.due()) == due - 1  # the grade was saved
