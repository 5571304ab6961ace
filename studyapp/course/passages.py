"""The passages of a lesson that answer a question, found from markdown-it tokens (pure).

A section's markdown is parsed with the same markdown-it configuration as the lesson
parser; its top-level blocks (each item of a top-level list, each paragraph, each code
fence, table or block quote, whole) are sliced from the source by the tokens' line maps,
so a passage is the author's markdown unchanged. `relevant_passages` scores each block by
the word stems it shares with the question.
"""

from __future__ import annotations

from studyapp.course.model import Lesson, SectionKind
from studyapp.course.parser import _MD
from studyapp.study.identity import normalise

SKIP_SECTIONS = (SectionKind.QUIZ, SectionKind.REVIEW_PLAN, SectionKind.PRIOR_KNOWLEDGE)


def stems(text: str) -> set[str]:
    """Word prefixes stand in for stems, so inflected forms (loss/losses, загуба/загубата)
    meet; words under four letters are left out."""
    return {w[:5] for w in normalise(text).split() if len(w) >= 4}


def blocks(markdown: str) -> list[str]:
    """Top-level list items and other top-level blocks of `markdown`, in order."""
    lines = markdown.split("\n")
    out: list[str] = []
    for token in _MD.parse(markdown):
        if token.map is None:
            continue
        take = (token.level == 0 and token.nesting != -1 and token.type != "bullet_list_open"
                and token.type != "ordered_list_open") or (
                token.level == 1 and token.type == "list_item_open")
        if not take or token.type == "front_matter":
            continue
        start, end = token.map
        text = "\n".join(lines[start:end]).strip()
        if text:
            out.append(text)
    return out


def relevant_passages(lesson: Lesson, question: str, limit: int = 3) -> str | None:
    """The lesson passages that share the most words with `question`, as markdown,
    each group under its section heading in bold; None when no passage shares a word."""
    words = stems(question)
    if not words:
        return None
    scored: list[tuple[int, int, str, str]] = []  # score, order, heading, block
    order = 0
    for section in lesson.sections:
        if section.kind in SKIP_SECTIONS:
            continue
        for block in blocks(section.markdown):
            order += 1
            score = len(words & stems(block))
            if score:
                scored.append((score, order, section.heading, block))
    if not scored:
        return None
    best = sorted(scored, key=lambda t: (-t[0], t[1]))[:limit]
    out: list[str] = []
    heading = None
    for _score, _order, head, block in sorted(best, key=lambda t: t[1]):
        if head != heading:
            out.append(f"**{head}**")
            heading = head
        out.append(block)
    return "\n\n".join(out)
