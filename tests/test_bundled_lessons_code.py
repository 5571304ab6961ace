"""Every ```python block in the bundled lessons runs as-is, offline, on a CPU.

The blocks are found with a plain regular expression over the file text, so this test does
not depend on the lesson parser. Each block runs in its own subprocess in an empty
temporary folder with the Hugging Face hub switched to offline mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"

# An opening fence of three or more backticks (or tildes) tagged python/py, up to a closing
# fence of the same characters at the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?:python3?|py)\b[^\n]*\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def _blocks() -> list:
    params = []
    for path in sorted(LESSONS_DIR.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            indent = match.group("indent")
            body = match.group("body")
            if indent:
                body = "\n".join(ln.removeprefix(indent) for ln in body.split("\n"))
            params.append(pytest.param(body, id=f"{path.name}:{line}"))
    return params


BLOCKS = _blocks()


def test_lessons_have_python_blocks():
    if not list(LESSONS_DIR.glob("*.md")):
        pytest.skip("no bundled lessons")
    assert BLOCKS, "the bundled lessons contain no ```python blocks"


@pytest.mark.parametrize("code", BLOCKS)
def test_python_block_runs(code: str, tmp_path: Path):
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    # The examples use tiny models: one thread each avoids oversubscribing a busy machine.
    env.setdefault("OMP_NUM_THREADS", "1")
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"exit code {result.returncode}\n--- stdout ---\n{result.stdout[-4000:]}"
        f"\n--- stderr ---\n{result.stderr[-4000:]}"
    )
