"""The lesson model: immutable values produced by the parser.

Everything here is a frozen dataclass of plain values (str, int, tuples), so a lesson can
be hashed, compared, cached and handed between threads without copies. Line numbers are
1-based and refer to the lesson's source file, front matter included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class SectionKind(str, Enum):
    """The nine standard sections, in the order a lesson walks them; OTHER is anything else."""

    PRIOR_KNOWLEDGE = "prior_knowledge"
    OVERVIEW = "overview"
    KEY_CONCEPTS = "key_concepts"
    LEARNING_PATH = "learning_path"
    EXAMPLES = "examples"
    PITFALLS = "pitfalls"
    QUIZ = "quiz"
    RECAP = "recap"
    REVIEW_PLAN = "review_plan"
    OTHER = "other"

    @property
    def title(self) -> str:
        return STANDARD_TITLES.get(self, "Other")


STANDARD_TITLES: dict[SectionKind, str] = {
    SectionKind.PRIOR_KNOWLEDGE: "Activate Prior Knowledge",
    SectionKind.OVERVIEW: "Overview",
    SectionKind.KEY_CONCEPTS: "Key Concepts",
    SectionKind.LEARNING_PATH: "Step-by-step Learning Path",
    SectionKind.EXAMPLES: "Examples",
    SectionKind.PITFALLS: "Common Pitfalls",
    SectionKind.QUIZ: "Short Retrieval Quiz",
    SectionKind.RECAP: "Quick Recap",
    SectionKind.REVIEW_PLAN: "Spaced Review Plan",
}

STANDARD_ORDER: tuple[SectionKind, ...] = tuple(STANDARD_TITLES)


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a lesson: `file:line: severity: message`."""

    path: str
    line: int
    severity: Severity
    message: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity.value}: {self.message}"


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str
    line: int


@dataclass(frozen=True)
class Section:
    """A `##` section as written: its heading, what it was recognised as, and its markdown."""

    kind: SectionKind
    heading: str
    line: int
    end_line: int
    markdown: str

    @property
    def is_standard(self) -> bool:
        return self.kind is not SectionKind.OTHER


@dataclass(frozen=True)
class Prompt:
    text: str
    line: int


@dataclass(frozen=True)
class Concept:
    term: str
    explanation: str
    line: int
    id: str | None = None  # explicit id given by the author, if any


@dataclass(frozen=True)
class Step:
    title: str
    line: int
    items: tuple[str, ...] = ()  # sub-items as written ("Focus: ...", "Task: ...")
    focus: str | None = None
    task: str | None = None
    questions: str | None = None


@dataclass(frozen=True)
class Example:
    title: str
    line: int
    prose: str = ""
    code: tuple[CodeBlock, ...] = ()
    exercise: str | None = None  # id of an exercise this example links to, if any


@dataclass(frozen=True)
class Pitfall:
    title: str
    explanation: str
    line: int
    solution: str | None = None


@dataclass(frozen=True)
class QuizItem:
    question: str
    line: int
    answer: str | None = None
    id: str | None = None  # explicit id given by the author, if any


@dataclass(frozen=True)
class ReviewStep:
    days: int
    prompt: str
    line: int
    interval: str = ""  # the interval as written ("1 ден")


DEFAULT_PLAN_DAYS: tuple[int, ...] = (1, 3, 7, 30)


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    language: str | None
    source: str
    sections: tuple[Section, ...] = ()
    prior_knowledge: tuple[Prompt, ...] = ()
    overview: str = ""
    concepts: tuple[Concept, ...] = ()
    steps: tuple[Step, ...] = ()
    examples: tuple[Example, ...] = ()
    pitfalls: tuple[Pitfall, ...] = ()
    quiz: tuple[QuizItem, ...] = ()
    recap: tuple[str, ...] = ()
    review_plan: tuple[ReviewStep, ...] = ()
    plan_is_default: bool = False
    exercises: tuple[str, ...] = ()
    meta: tuple[tuple[str, Any], ...] = field(default=())  # extra front-matter keys

    def section(self, kind: SectionKind) -> Section | None:
        return next((s for s in self.sections if s.kind is kind), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape printed by `studyapp show --json`."""
        return {
            "id": self.id,
            "title": self.title,
            "language": self.language,
            "source": self.source,
            "sections": [s.heading for s in self.sections],
            "section_kinds": [s.kind.value for s in self.sections],
            "prior_knowledge": [p.text for p in self.prior_knowledge],
            "overview": self.overview,
            "concepts": [
                {"term": c.term, "explanation": c.explanation, "id": c.id, "line": c.line}
                for c in self.concepts
            ],
            "steps": [
                {
                    "title": s.title,
                    "items": list(s.items),
                    "focus": s.focus,
                    "task": s.task,
                    "questions": s.questions,
                    "line": s.line,
                }
                for s in self.steps
            ],
            "examples": [
                {
                    "title": e.title,
                    "prose": e.prose,
                    "code": [{"language": c.language, "text": c.text} for c in e.code],
                    "exercise": e.exercise,
                    "line": e.line,
                }
                for e in self.examples
            ],
            "pitfalls": [
                {
                    "title": p.title,
                    "explanation": p.explanation,
                    "solution": p.solution,
                    "line": p.line,
                }
                for p in self.pitfalls
            ],
            "quiz": [
                {"question": q.question, "answer": q.answer, "id": q.id, "line": q.line}
                for q in self.quiz
            ],
            "recap": list(self.recap),
            "review_plan": [
                {"days": r.days, "prompt": r.prompt, "interval": r.interval}
                for r in self.review_plan
            ],
            "plan_is_default": self.plan_is_default,
            "exercises": list(self.exercises),
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class ParseResult:
    """What parsing one file gave: a lesson (None when it could not be read) and diagnostics."""

    path: str
    lesson: Lesson | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return self.lesson is not None and not self.errors
