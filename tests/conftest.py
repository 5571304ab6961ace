"""Shared fixtures: every test runs against temporary data folders, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
SEED_000 = SEEDS / "000_ced0ffda6bbc1efb.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lessons"
BG_LESSON = FIXTURES / "bg_learning_rate.txt"
"""Our own nine-section lesson in Bulgarian (no front matter, a Bulgarian plan table)."""
BG_TITLE = "Learning_rate_and_warmup"
SR_FREEFORM = FIXTURES / "sr_freeform.txt"
"""Our own free-form lesson in Serbian (no recognised sections, code, an include line)."""


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    """No test touches the real home, the real clock override or the network."""
    base = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("STUDYAPP_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("STUDYAPP_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(base / "hf"))
    for name in ("STUDYAPP_DB", "STUDYAPP_NOW", "STUDYAPP_LESSONS", "STUDYAPP_EXERCISES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def seed_000() -> Path:
    if not SEED_000.exists():
        pytest.skip(f"seed lesson not found at {SEED_000}")
    return SEED_000


@pytest.fixture
def bg_lesson() -> Path:
    return BG_LESSON
