"""Property-based: whatever text comes in, the parser and lint give diagnostics, never raise."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyapp.course.intervals import IntervalError, parse_interval
from studyapp.course.lint import link_diagnostics
from studyapp.course.parser import parse_lesson
from tests.conftest import BG_LESSON

SEED_LINES = BG_LESSON.read_text(encoding="utf-8").splitlines()
"""Our Bulgarian nine-section lesson, the text the mutations start from."""

markdownish = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["---", "## Quiz", "## 9. Spaced Review Plan", "| a | b |", "|---|---|",
                         "| 1 ден | x |", "1. Q? {#id}", "   Answer: a", "- **T** – e", "```",
                         "```python", "### Ex", "Exercise: spam", "id: [", "> quote", "  - x",
                         "Solution:", "\t", "## ", "# "]),
    ),
    max_size=40,
).map("\n".join)


def _check(text: str) -> None:
    result = parse_lesson(text, "fuzz.md")
    assert result.lesson is not None
    for d in result.diagnostics:
        assert d.line >= 1
        assert d.path == "fuzz.md"
    link_diagnostics(result.lesson, text, {"spam"})
    result.lesson.to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_arbitrary_markdownish_text_never_raises(text):
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_unicode_never_raises(text):
    _check(text)


@st.composite
def mutated_seed(draw):
    lines = list(SEED_LINES)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "truncate", "indent"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            break
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=30)))
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = "    " + lines[i]
    return "\n".join(lines)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_seed())
def test_mutations_of_the_seed_lesson_never_raise(text):
    _check(text)


@given(st.text(max_size=30))
def test_interval_parser_only_raises_interval_error(text):
    try:
        days = parse_interval(text)
    except IntervalError:
        return
    assert days >= 1
