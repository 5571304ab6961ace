"""The one helper for writing files (studyapp/atomic.py): all or nothing, nothing left."""

from __future__ import annotations

import os

import pytest

from studyapp.atomic import atomic_path, copy_atomic, stale_temporaries, write_atomic


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path):
    target = tmp_path / "settings.json"
    write_atomic(target, "one")
    assert target.read_text() == "one"
    os.chmod(target, 0o640)
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two" and (target.stat().st_mode & 0o777) == 0o640
    assert stale_temporaries(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "export.json"
    write_atomic(target, "old")

    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new" * 1000)
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_copy_and_folders(tmp_path):
    src = tmp_path / "spam.py"
    src.write_text("code")
    copy_atomic(src, tmp_path / "copy.py")
    assert (tmp_path / "copy.py").read_text() == "code"
    model = tmp_path / "model"
    model.mkdir()
    (model / "old.bin").write_text("old")
    with atomic_path(model, folder=True) as tmp:
        (tmp / "config.json").write_text("{}")
    assert sorted(p.name for p in model.iterdir()) == ["config.json"]
    with pytest.raises(RuntimeError), atomic_path(model, folder=True) as tmp:
        (tmp / "half.bin").write_text("x")
        raise RuntimeError("killed half way")
    assert sorted(p.name for p in model.iterdir()) == ["config.json"]
    assert stale_temporaries(tmp_path) == []
