"""Lessons parsed per second over 1,000 lessons, beside a bare markdown-it-py parse."""

from __future__ import annotations

import time

from markdown_it import MarkdownIt

from studyapp.config import PROJECT_ROOT
from studyapp.course.parser import parse_lesson

SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_ced0ffda6bbc1efb.txt"


def corpus(n: int = 1000) -> list[str]:
    """n distinct lessons: the bundled ones and the seed, each varied by a counter."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "lessons").glob("*.md"))]
    if SEED.exists():
        sources.append(SEED.read_text(encoding="utf-8"))
    return [sources[i % len(sources)].replace("\n## ", f"\n<!-- {i} -->\n## ", 1)
            for i in range(n)]


def run() -> list[dict]:
    texts = corpus()
    md = MarkdownIt("commonmark").enable("table")
    best_bare = best_ours = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for text in texts:
            md.parse(text)
        best_bare = min(best_bare, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i, text in enumerate(texts):
            parse_lesson(text, f"lesson-{i}.md")
        best_ours = min(best_ours, time.perf_counter() - t0)
    ours, bare = len(texts) / best_ours, len(texts) / best_bare
    return [{
        "name": "lessons parsed per second (1,000 lessons)",
        "value": ours, "unit": "lessons/s", "baseline": bare, "ratio": ours / bare,
        "note": "baseline: bare markdown-it-py parse of the same text; ratio = ours/bare",
    }]
