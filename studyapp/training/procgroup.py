"""A run owns its whole process group: nothing a run starts outlives it or its parent.

No torch, no UI (the runner and the worker both import this). On POSIX the worker is
started in a session of its own (`start_new_session`), so it leads a process group that
every process learner code forks or spawns joins (DataLoader workers, `subprocess`,
`os.fork`, `multiprocessing`, an `accelerate launch` of several ranks).

Three things end that group:
- the parent (runner.py) sends SIGKILL to the group (`kill_group`) when it kills a run and
  once the worker has exited, whatever the worker left running;
- a *lifeline*: the parent keeps the write end of a pipe whose read end the worker
  inherits (`LIFELINE_ENV` names the fd). The parent never writes to it; it reaches EOF
  when the parent closes it or dies in any way, SIGKILL included. A tiny guardian process,
  forked by the worker before anything else starts (`start_guardian`), waits for that EOF
  and then kills the group;
- the guardian also gets a parent-death signal (Linux `prctl(PR_SET_PDEATHSIG)`) when the
  worker itself dies (an out-of-memory kill, a crash), and kills what the worker left.

So a CLI killed with SIGTERM or SIGKILL, or a TUI that quits, takes its run and its run's
children with it within about a second. What escapes: learner code that deliberately
leaves the group (`os.setsid()`, `setpgid`) - that takes intent, and cgroups would be the
tool for it. The lifeline is used rather than a parent-death signal on the worker itself
because PR_SET_PDEATHSIG fires when the parent *thread* that forked it exits, and the TUI
starts runs from a worker thread.
"""

from __future__ import annotations

import os
import signal
import sys

LIFELINE_ENV = "STUDYAPP_RUN_LIFELINE_FD"
PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def kill_group(pgid: int | None, sig: int = getattr(signal, "SIGKILL", 9)) -> bool:
    """Send `sig` to process group `pgid` (POSIX); False when no process was left in it."""
    if pgid is None or os.name != "posix" or pgid <= 1:
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except OSError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process is left in group `pgid` (POSIX)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_lifeline() -> tuple[int, int] | None:
    """(read fd for the child, write fd the parent keeps), or None where unsupported."""
    if os.name != "posix":
        return None
    read_fd, write_fd = os.pipe()           # both non-inheritable (PEP 446)
    return read_fd, write_fd


def set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send `sig` to this process when its parent (thread) dies."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class _WorkerGone(Exception):
    pass


def start_guardian() -> int | None:
    """In the worker, first thing: fork the guardian of this run's process group.

    Returns the guardian's pid (None when there is no lifeline: the worker was not started
    by the runner, or this is not POSIX). Must be called before any thread is started.
    """
    raw = os.environ.pop(LIFELINE_ENV, None)
    if raw is None or os.name != "posix":
        return None
    try:
        fd = int(raw)
        os.fstat(fd)
    except (ValueError, OSError):
        return None
    worker = os.getpid()
    if os.getpgid(0) != worker:
        os.close(fd)                 # not a group leader: killing "the group" would hit
        return None                  # whoever started us
    pid = os.fork()
    if pid:
        os.close(fd)                 # the worker and what it forks need no copy
        return pid
    _guard(fd, worker)               # never returns
    return None                      # pragma: no cover


def _guard(fd: int, worker: int) -> None:
    """The guardian's whole life: wait for the lifeline to break or the worker to die,
    then kill the group (itself included)."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(devnull, std)   # hold none of the worker's pipes open
        if fd > 3:
            os.closerange(3, fd)     # devnull's own fd too
        os.closerange(fd + 1, 65536)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

        def gone(signum: int, frame: object) -> None:
            raise _WorkerGone

        signal.signal(signal.SIGUSR1, gone)
        set_parent_death_signal(signal.SIGUSR1)
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while os.getppid() == worker:
                if poller.poll(POLL_S * 1000) and os.read(fd, 1) == b"":
                    break                # the parent closed its end or died
        except _WorkerGone:
            pass
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        os.killpg(os.getpgid(0), signal.SIGKILL)
    except BaseException:  # noqa: BLE001 - the guardian must never run the worker's code
        code = 1
    os._exit(code)


def run_owned(cmd: list[str], *, timeout: float, **kwargs: object) -> tuple[int, str, str]:
    """`subprocess.run` for learner code: the child leads its own process group (with a
    lifeline: call `start_guardian` first thing in the child), its output goes to
    temporary files (a grandchild holding a pipe cannot keep us waiting), and whatever it
    started is killed when it exits or times out.

    Returns (returncode, stdout, stderr); raises `subprocess.TimeoutExpired`.
    """
    import subprocess
    import tempfile

    extra: dict[str, object] = dict(kwargs)
    lifeline = make_lifeline()
    if lifeline is not None:
        extra["start_new_session"] = True
        env = dict(extra.get("env") or os.environ)  # type: ignore[call-overload]
        env[LIFELINE_ENV] = str(lifeline[0])
        extra["env"] = env
        extra["pass_fds"] = (lifeline[0],)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, **extra)  # type: ignore[call-overload]
        finally:
            if lifeline is not None:
                os.close(lifeline[0])
        try:
            returncode = proc.wait(timeout=timeout)
        except BaseException:
            kill_group(proc.pid) if os.name == "posix" else proc.kill()
            proc.wait()
            raise
        finally:
            if os.name == "posix":
                kill_group(proc.pid)
            if lifeline is not None:
                os.close(lifeline[1])
        out.seek(0)
        err.seek(0)
        return (returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"))
