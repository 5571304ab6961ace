"""Learner code that forks: a run owns its whole process group.

The learner's loss function forks a sleeping child (os.fork) and starts a `sleep`
(subprocess) on its first real batch, writes their pids to a file, then either loops
forever or returns. Whatever happens to the parent (cancel, SIGKILL, SIGTERM, the TUI
quitting), no process of the run may be left a few seconds later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from tests.test_training_run import SPAM, make_exercise, record

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")


@pytest.fixture
def service(tmp_path) -> ExerciseService:
    settings = Settings(db_path=tmp_path / "study.db", lessons_dir=tmp_path / "lessons",
                        exercises_dir=make_exercise(tmp_path))
    return ExerciseService(settings, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")

FORKER = '''
import os as _os, subprocess as _sp, time as _time
_FORKED = []


def _fork_children():
    pids = []
    child = _os.fork()
    if child == 0:
        try:
            _time.sleep(300)
        finally:
            _os._exit(0)
    pids.append(child)
    pids.append(_sp.Popen(["sleep", "300"]).pid)
    with open(_os.environ["FORK_PIDS"], "a") as fh:
        fh.write(" ".join(str(p) for p in [_os.getpid(), *pids]) + "\\n")
'''


def forking_code(tmp_path: Path, *, loop: bool) -> Path:
    """The reference solution whose loss forks two sleepers once (and then loops)."""
    source = (SPAM / "solution.py").read_text(encoding="utf-8")
    body = ("    if labels.numel() > 4 and not _FORKED:\n"
            "        _FORKED.append(1)\n"
            "        _fork_children()\n")
    if loop:
        body += ("    while labels.numel() > 4:\n"
                 "        sum(range(1000))\n")
    body += "    return F.cross_entropy(logits, labels)"
    assert "    return F.cross_entropy(logits, labels)" in source
    code = tmp_path / "forking_spam.py"
    code.write_text(source.replace("    return F.cross_entropy(logits, labels)", body)
                    + FORKER, encoding="utf-8")
    return code


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead: it only waits for its parent to read its status
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is `pgid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


def read_pids(path: Path, timeout: float = 90.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text()
            if text.endswith("\n"):
                return [int(p) for p in text.split()]
        time.sleep(0.1)
    raise AssertionError(f"the learner code never forked ({path} not written)")


def wait_all_gone(pids: list[int], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_a_finished_run_takes_its_forked_children_with_it(service, tmp_path, monkeypatch):
    monkeypatch.setenv("FORK_PIDS", str(tmp_path / "pids"))
    t0 = time.monotonic()
    result = service.start_run("spam", variant="tiny",
                               code=forking_code(tmp_path, loop=False)).wait()
    took = time.monotonic() - t0
    pids = read_pids(tmp_path / "pids", timeout=1)
    left = wait_all_gone(pids, within=3)
    kill_leftovers(left)
    assert result.status == "finished", result.error
    assert not left, f"still running after the run finished: {left}"
    assert took < 60        # not held up by the sleepers (300 s)


def test_cancel_ends_a_looping_run_and_its_children(service, tmp_path, monkeypatch):
    monkeypatch.setenv("FORK_PIDS", str(tmp_path / "pids"))
    handle = service.start_run("spam", variant="tiny", grace_s=1.0,
                               code=forking_code(tmp_path, loop=True))
    events = handle.events()
    pids = read_pids(tmp_path / "pids")
    t0 = time.monotonic()
    handle.cancel()
    last = list(events)[-1]
    took = time.monotonic() - t0
    left = wait_all_gone(pids, within=3)
    kill_leftovers(left)
    assert last.type == "cancelled" and took < 5
    assert not left
    assert record(service, handle.run_id).status == "cancelled"


def _cli(service, code: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    settings = service.settings
    return subprocess.Popen(
        [sys.executable, "-m", "studyapp", "--db", str(settings.db_path),
         "exercise", "run", "spam", "--variant", "tiny", "--code", str(code), "--json"],
        env={**env, "STUDYAPP_EXERCISES": str(settings.exercises_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_cli_leaves_no_process_of_its_run(service, tmp_path, sig):
    env = {**os.environ, "FORK_PIDS": str(tmp_path / "pids")}
    cli = _cli(service, forking_code(tmp_path, loop=True), env)
    try:
        pids = read_pids(tmp_path / "pids")   # worker, forked child, sleep
    except AssertionError:
        cli.kill()
        _, err = cli.communicate()
        raise AssertionError(err.decode()[-2000:]) from None
    worker = pids[0]
    assert alive(worker)
    cli.send_signal(sig)
    cli.wait(timeout=10)
    left = wait_all_gone(pids, within=3)
    kill_leftovers(left)
    assert not left, f"left after the CLI got {sig.name}: {left}"
    assert not group_members(worker)


TUI_SCRIPT = r'''
import asyncio, os, sys, time
from pathlib import Path
from studyapp.config import Settings
from studyapp.services.exercises import ExerciseService
from studyapp.services.study import StudyService
from studyapp.training.learner import LearnerService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.exercise import ExerciseScreen

tmp, exercises_dir, code = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(db_path=tmp / "study.db", lessons_dir=tmp / "lessons",
                    exercises_dir=exercises_dir)
learner = LearnerService(settings)
learner.code_path("spam").write_text(code.read_text())   # the learner's copy forks


async def main():
    app = StudyApp(StudyService.open(settings), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = ExerciseScreen(app.service, "spam", learner=learner,
                                exercises=ExerciseService(settings))
        await app.push_screen(screen)
        await pilot.pause()
        while screen.variant != "tiny":
            await pilot.press("v")
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")      # the prediction dialog: run without one
        pids = Path(os.environ["FORK_PIDS"])
        for _ in range(900):
            await pilot.pause(0.1)
            if pids.exists() and pids.read_text().endswith("\n"):
                break
        print("RUN", screen.handle.run_id, flush=True)
        print("QUIT", time.time(), flush=True)
        await pilot.press("ctrl+q")


asyncio.run(main())
print("EXITED", time.time(), flush=True)
'''


def test_quitting_the_tui_mid_run_ends_the_run_and_records_it(service, tmp_path):
    (tmp_path / "lessons").mkdir()
    code = forking_code(tmp_path, loop=True)
    env = {**os.environ, "FORK_PIDS": str(tmp_path / "pids")}
    proc = subprocess.Popen(
        [sys.executable, "-c", TUI_SCRIPT, str(tmp_path), str(service.settings.exercises_dir),
         str(code)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"the TUI did not quit: {out} {err[-2000:]}") from None
    quit_at = exited_at = None
    run_id = None
    for line in out.splitlines():
        word, _, value = line.partition(" ")
        if word == "QUIT":
            quit_at = float(value)
        elif word == "EXITED":
            exited_at = float(value)
        elif word == "RUN":
            run_id = value
    assert proc.returncode == 0 and quit_at and exited_at and run_id, (out, err[-2000:])
    pids = read_pids(tmp_path / "pids", timeout=1)
    left = wait_all_gone(pids, within=3)
    kill_leftovers(left)
    assert exited_at - quit_at < 5, f"quitting took {exited_at - quit_at:.1f} s"
    assert not left, f"left after the TUI quit: {left}"
    runs = ExerciseService(Settings(db_path=tmp_path / "study.db",
                                    lessons_dir=tmp_path / "lessons",
                                    exercises_dir=service.settings.exercises_dir)).runs("spam")
    assert [r.status for r in runs if r.id == run_id] == ["cancelled"]
