"""Every file the app writes is replaced atomically: the one helper for it.

A temporary file in the same folder (so the rename cannot cross file systems), written in
full, flushed and fsynced, then renamed over the target, and the folder fsynced so the
rename itself survives a power cut. A write that fails at any point (a full disk, a
read-only folder, a kill) leaves the old file exactly as it was and no temporary file
behind; the error propagates, so nothing is reported as done that was not.

    write_atomic(path, text)                  # str (UTF-8) or bytes
    copy_atomic(source, target)               # a learner's copy, a backup
    with atomic_path(target) as tmp:          # a writer that wants a path of its own:
        save(tmp)                             # sqlite backup, save_pretrained, ...

Temporary names are `.<name>.<random>.tmp` (a directory for `atomic_path(..., folder=True)`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"


def _default_mode() -> int:
    """What `open(..., "w")` would give a new file: 0o666 less the umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


NEW_FILE_MODE = _default_mode()


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_name(target: Path) -> str:
    return f".{target.name}."


def write_atomic(path: str | Path, data: str | bytes, *, mode: int | None = None) -> Path:
    """Replace `path` with `data` atomically (see the module docstring)."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=_tmp_name(target), suffix=TMP_SUFFIX,
                               dir=str(target.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif target.exists():
            shutil.copymode(target, tmp)
        else:
            os.chmod(tmp, NEW_FILE_MODE)     # mkstemp makes 0600
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(target.parent)
    return target


def copy_atomic(source: str | Path, target: str | Path) -> Path:
    """Copy `source` over `target` atomically (its bytes; the permissions of `source`)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        shutil.copymode(source, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    return Path(target)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside `target` for the caller to write; renamed over `target`
    when the block ends without an error, removed when it raises.

    With `folder=True` the temporary path is a fresh directory (for writers such as
    `save_pretrained`); an existing `target` folder is replaced as a whole: moved aside,
    the new one renamed in, the old one deleted.
    """
    target = Path(target)
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_name(target), suffix=TMP_SUFFIX,
                                    dir=str(target.parent)))
    else:
        fd, name = tempfile.mkstemp(prefix=_tmp_name(target), suffix=TMP_SUFFIX,
                                    dir=str(target.parent))
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, NEW_FILE_MODE)
    try:
        yield tmp
        if folder:
            _fsync_tree(tmp)
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=_tmp_name(target), suffix=".old",
                                            dir=str(target.parent)))
                os.rmdir(old)
                os.replace(target, old)
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    fsync_folder(target.parent)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with contextlib.suppress(OSError), open(path, "rb+") as fh:
                os.fsync(fh.fileno())
    fsync_folder(folder)


def stale_temporaries(folder: Path) -> list[Path]:
    """Temporary files this helper left in `folder` (only after a hard kill)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(".") and p.name.endswith((TMP_SUFFIX, ".old")))
