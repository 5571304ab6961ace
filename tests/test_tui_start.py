"""Starting the app: the CLI entry, a refused database, no torch/transformers at home, and
the quick exit after the app quit."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from studyapp.cli.tui_cmd import open_app
from studyapp.config import Settings

LESSON = "# One\n\n## Overview\nHello.\n\n## Short Retrieval Quiz\n1. Why?\n   Answer: Because.\n"


def test_open_app_refuses_a_newer_database(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "study.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    settings = Settings(db_path=db, lessons_dir=tmp_path, exercises_dir=tmp_path)
    assert open_app(settings) == 2
    err = capsys.readouterr().err
    assert err.startswith("studyapp:") and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 999


def test_home_first_paint_without_torch_or_transformers(tmp_path: Path) -> None:
    """The real entry point (`python -m studyapp`) paints home with neither module imported."""
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "one.md").write_text(LESSON, encoding="utf-8")
    paint = tmp_path / "paint.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYAPP_")}
    env.update(STUDYAPP_TUI_PAINT_FILE=str(paint), STUDYAPP_DATA_DIR=str(tmp_path / "data"),
               STUDYAPP_NOW="2026-11-23T09:00:00+00:00", TERM="xterm-256color")
    # headless keeps the test independent of a terminal (the benchmark uses a real pty)
    code = (
        "import sys; from studyapp.cli import main; "
        "import studyapp.tui.app as a; "
        "sys.argv = ['studyapp', '--db', sys.argv[1], '--lessons', sys.argv[2]]; "
        "orig = a.StudyApp.run; a.StudyApp.run = lambda self, **k: orig(self, headless=True); "
        "main()"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "db.sqlite"), str(lessons)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(paint.read_text().splitlines()[0])
    assert record["screen"] == "HomeScreen"
    assert record["torch"] is False and record["transformers"] is False


def test_the_program_exits_after_the_app_without_losing_threads_or_output(
        tmp_path: Path) -> None:
    """`end_process` (the exit after the app quit) waits for threads that are not daemons,
    runs the atexit handlers and flushes the output before the process ends."""
    marker = tmp_path / "thread-done"
    script = textwrap.dedent(f"""
        import atexit, sys, threading, time
        from pathlib import Path
        from studyapp.cli.tui_cmd import end_process
        def work():
            time.sleep(0.3)
            Path({str(marker)!r}).write_text("recorded")
        threading.Thread(target=work).start()
        atexit.register(lambda: print("atexit ran"))
        sys.stdout.write("unflushed ")
        end_process(3)
        print("never")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 3
    assert done.stdout == "unflushed atexit ran\n"
    assert marker.read_text() == "recorded"


def test_python_m_studyapp_is_the_program(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "studyapp", "--version"], capture_output=True,
                          text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0 and "version" in done.stdout
