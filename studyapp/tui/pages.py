"""The pages a lesson is walked in (home counts them; the lesson screen shows them)."""

from __future__ import annotations

from dataclasses import dataclass

from studyapp.course.model import Lesson, Section, SectionKind


@dataclass(frozen=True)
class Page:
    """One stop of the walk: a section as written, or the closing review plan."""

    kind: SectionKind
    title: str
    section: Section | None


def lesson_pages(lesson: Lesson) -> list[Page]:
    """Sections in the order written; a review-plan page at the end when the lesson has none."""
    pages = [
        Page(s.kind, s.kind.title if s.is_standard else s.heading, s) for s in lesson.sections
    ]
    if not any(p.kind is SectionKind.REVIEW_PLAN for p in pages):
        pages.append(Page(SectionKind.REVIEW_PLAN, SectionKind.REVIEW_PLAN.title, None))
    return pages
