"""Markdown lesson -> `Lesson`, with diagnostics.

Invariants:
- Pure: text in, values out. No file system, database, UI or clock.
- Never raises on any input text: every problem becomes a `Diagnostic` with a 1-based line
  number into the original text (front matter included), and the lesson is built from
  whatever could be understood. Only an unusable input (not text at all) gives no lesson.
- Sections are split on `##` headings; the nine standard ones are recognised by their
  English name, with or without a number, in any case and order. Anything else is kept.

The format is documented for instructors in docs/lesson-format.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.front_matter import front_matter_plugin

from studyapp.course.frontmatter import load_front_matter
from studyapp.course.intervals import IntervalError, parse_interval
from studyapp.course.model import (
    DEFAULT_PLAN_DAYS,
    STANDARD_ORDER,
    CodeBlock,
    Concept,
    Diagnostic,
    Example,
    Lesson,
    ParseResult,
    Pitfall,
    Prompt,
    QuizItem,
    ReviewStep,
    Section,
    SectionKind,
    Severity,
    Step,
)

_MD = MarkdownIt("commonmark").enable("table").use(front_matter_plugin)

_SECTION_NAMES: dict[str, SectionKind] = {
    "activate prior knowledge": SectionKind.PRIOR_KNOWLEDGE,
    "prior knowledge": SectionKind.PRIOR_KNOWLEDGE,
    "overview": SectionKind.OVERVIEW,
    "key concepts": SectionKind.KEY_CONCEPTS,
    "concepts": SectionKind.KEY_CONCEPTS,
    "step by step learning path": SectionKind.LEARNING_PATH,
    "learning path": SectionKind.LEARNING_PATH,
    "examples": SectionKind.EXAMPLES,
    "example": SectionKind.EXAMPLES,
    "common pitfalls": SectionKind.PITFALLS,
    "pitfalls": SectionKind.PITFALLS,
    "short retrieval quiz": SectionKind.QUIZ,
    "retrieval quiz": SectionKind.QUIZ,
    "quiz": SectionKind.QUIZ,
    "quick recap": SectionKind.RECAP,
    "recap": SectionKind.RECAP,
    "summary": SectionKind.RECAP,
    "spaced review plan": SectionKind.REVIEW_PLAN,
    "review plan": SectionKind.REVIEW_PLAN,
}

_EXPLICIT_ID = re.compile(r"\s*\{#([\w.:-]+)\}")
_DASH_SEPARATOR = re.compile(r"^\s*(?:[–—:-]|\s-\s)\s*")
_SOLUTION = re.compile(
    r"(?:\*\*|__)?\b(?:solution|fix|решение|rešenje|решење|lösung|loesung|rjesenje|rješenje)"
    r"\s*:\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
_ANSWER = re.compile(
    r"^\s*(?:[-*+>]\s*)?(?:\*\*|__)?(?:answer|a|отговор|odgovor|одговор|ответ|antwort"
    r"|lösung|loesung|solution|решение|rešenje|решење)"
    r"\s*:\s*(?:\*\*|__)?\s*",
    re.IGNORECASE,
)
_STEP_FIELDS = {
    "focus": ("focus", "фокус", "fokus", "schwerpunkt"),
    "task": ("task", "задача", "zadatak", "задатак", "aufgabe", "zadanie", "задание"),
    "questions": ("questions", "question", "въпроси", "pitanja", "питања", "вопросы", "fragen"),
}
_EXERCISE_LINK = re.compile(
    r"^\s*(?:\*\*|__)?(?:exercise|упражнение|vežba|vezba|вежба|übung|uebung)\s*:?\s*(?:\*\*|__)?"
    r"\s*:?\s*`?([\w-]+)`?\s*$",
    re.IGNORECASE,
)


def normalise_heading(text: str) -> str:
    """'## 4. Step-by-step Learning Path:' -> 'step by step learning path'."""
    text = re.sub(r"^\s*\d+\s*[.)]?\s*", "", text)
    text = re.sub(r"[\W_]+", " ", text.casefold(), flags=re.UNICODE)
    return " ".join(text.split())


def section_kind(heading: str) -> SectionKind:
    return _SECTION_NAMES.get(normalise_heading(heading), SectionKind.OTHER)


def plain(markdown: str) -> str:
    """Inline markdown to readable text: emphasis markers and link targets dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])", r"\1", text)
    return " ".join(text.split())


@dataclass
class _Ctx:
    """Diagnostics collected while parsing one file."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, line: int, message: str, code: str = "") -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.ERROR, message, code))

    def warning(self, line: int, message: str, code: str = "") -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.WARNING, message, code))


def _line(node: SyntaxTreeNode, default: int = 1) -> int:
    """1-based first line of a node (searching children when the node has no map)."""
    if not node.is_root and node.map:
        return node.map[0] + 1
    for child in node.children:
        if child.type != "text":
            found = _line(child, 0)
            if found:
                return found
    return default


def _inline_text(node: SyntaxTreeNode) -> str:
    """The raw inline markdown of a paragraph/heading/cell node."""
    return "\n".join(c.content for c in node.children if c.type == "inline")


def _item_blocks(item: SyntaxTreeNode) -> tuple[list[str], list[SyntaxTreeNode]]:
    """A list item's own paragraphs (raw inline markdown) and its nested lists."""
    paragraphs, lists = [], []
    for child in item.children:
        if child.type == "paragraph":
            paragraphs.append(_inline_text(child))
        elif child.type in ("bullet_list", "ordered_list"):
            lists.append(child)
        elif child.type == "blockquote":
            paragraphs.extend(_inline_text(p) for p in child.children if p.type == "paragraph")
    return paragraphs, lists


def _list_items(nodes: Iterable[SyntaxTreeNode]) -> Iterator[SyntaxTreeNode]:
    """Top-level list items of a section, across several lists."""
    for node in nodes:
        if node.type in ("bullet_list", "ordered_list"):
            yield from node.children


def _item_text(item: SyntaxTreeNode) -> str:
    paragraphs, lists = _item_blocks(item)
    parts = [plain(p) for p in paragraphs]
    for sub in lists:
        parts.extend(_item_text(child) for child in sub.children)
    return " ".join(p for p in parts if p)


def _split_term(markdown: str) -> tuple[str, str, str | None] | None:
    """'**Term** {#id} – explanation' -> (term, explanation, id); None if no term found."""
    text = markdown.strip()
    match = re.match(r"^(\*\*|__)(.+?)\1", text, re.DOTALL)
    if match:
        term, rest = match.group(2).strip(), text[match.end():]
        explicit = _EXPLICIT_ID.match(rest)
        explicit_id = explicit.group(1) if explicit else None
        if explicit:
            rest = rest[explicit.end():]
        if term.endswith(":"):
            term = term[:-1].strip()
        rest = _DASH_SEPARATOR.sub("", rest, count=1)
        return plain(term), rest.strip(), explicit_id
    match = re.match(r"^(.+?)(\s+[–—-]\s+|:\s+)(.+)$", text, re.DOTALL)
    if match:
        term, rest = match.group(1), match.group(3)
        explicit = _EXPLICIT_ID.search(term)
        explicit_id = explicit.group(1) if explicit else None
        term = _EXPLICIT_ID.sub("", term)
        return plain(term), rest.strip(), explicit_id
    return None


# --- section extractors -------------------------------------------------------------


def _prompts(nodes: list[SyntaxTreeNode]) -> tuple[Prompt, ...]:
    items = [Prompt(_item_text(i), _line(i)) for i in _list_items(nodes)]
    if not items:  # prose prompts, one per paragraph
        items = [Prompt(plain(_inline_text(n)), _line(n)) for n in nodes if n.type == "paragraph"]
    return tuple(p for p in items if p.text)


def _concepts(nodes: list[SyntaxTreeNode], ctx: _Ctx) -> tuple[Concept, ...]:
    concepts = []
    for item in _list_items(nodes):
        paragraphs, lists = _item_blocks(item)
        if not paragraphs:
            continue
        split = _split_term(paragraphs[0])
        if split is None:
            ctx.warning(_line(item), "key concept without a term: write '- **Term** – "
                        f"explanation' (found {plain(paragraphs[0])[:60]!r})", "concept-format")
            term, explanation, explicit = plain(paragraphs[0]), "", None
        else:
            term, explanation, explicit = split
        extra = [plain(p) for p in paragraphs[1:]]
        extra += [_item_text(child) for sub in lists for child in sub.children]
        explanation = " ".join([plain(explanation), *extra]).strip()
        concepts.append(Concept(term, explanation, _line(item), explicit))
    return tuple(concepts)


def _pitfalls(nodes: list[SyntaxTreeNode], ctx: _Ctx) -> tuple[Pitfall, ...]:
    pitfalls = []
    for concept in _concepts(nodes, ctx):
        parts = _SOLUTION.split(concept.explanation, maxsplit=1)
        explanation = parts[0].strip()
        solution = parts[1].strip() if len(parts) > 1 else None
        pitfalls.append(Pitfall(concept.term, explanation, concept.line, solution or None))
    return tuple(pitfalls)


def _steps(nodes: list[SyntaxTreeNode]) -> tuple[Step, ...]:
    steps = []
    for item in _list_items(nodes):
        paragraphs, lists = _item_blocks(item)
        title = plain(paragraphs[0]) if paragraphs else ""
        subitems = [plain(p) for p in paragraphs[1:]]
        subitems += [_item_text(child) for sub in lists for child in sub.children]
        fields: dict[str, str] = {}
        for sub in subitems:
            label, _, value = sub.partition(":")
            for name, words in _STEP_FIELDS.items():
                if value and label.strip().casefold() in words and name not in fields:
                    fields[name] = value.strip()
        if title or subitems:
            steps.append(Step(title, _line(item), tuple(subitems), fields.get("focus"),
                              fields.get("task"), fields.get("questions")))
    return tuple(steps)


@dataclass
class _ExampleDraft:
    title: str
    line: int
    prose: list[str] = field(default_factory=list)
    code: list[CodeBlock] = field(default_factory=list)
    exercise: str | None = None

    def add_prose(self, markdown: str) -> None:
        kept = []
        for raw in markdown.splitlines():
            link = _EXERCISE_LINK.match(raw)
            if link and self.exercise is None:
                self.exercise = link.group(1)
            else:
                kept.append(raw)
        text = "\n".join(kept).strip()
        if text:
            self.prose.append(text)

    def add_blocks(self, nodes: Iterable[SyntaxTreeNode]) -> None:
        for node in nodes:
            if node.type in ("fence", "code_block"):
                language = next(iter((node.info or "").split()), "") if node.type == "fence" else ""
                self.code.append(CodeBlock(language, node.content, _line(node)))
            elif node.type in ("paragraph", "heading"):
                self.add_prose(_inline_text(node))
            elif node.children:
                self.add_blocks(node.children)

    def build(self) -> Example:
        return Example(self.title, self.line, "\n\n".join(self.prose), tuple(self.code),
                       self.exercise)


def _examples(nodes: list[SyntaxTreeNode], heading: str) -> tuple[Example, ...]:
    drafts: list[_ExampleDraft] = []
    by_h3 = any(n.type == "heading" and n.tag == "h3" for n in nodes)
    for node in nodes:
        if by_h3 and node.type == "heading" and node.tag == "h3":
            drafts.append(_ExampleDraft(plain(_inline_text(node)), _line(node)))
            continue
        if not by_h3 and node.type == "paragraph":
            # a paragraph that opens with a bold title line (`**Example 1: ...**`) starts
            # an example of its own, as an h3 or a bold list item would
            first, _, rest = _inline_text(node).partition("\n")
            bold = re.fullmatch(r"\s*(\*\*|__)(.+?)\1\s*[:–—-]?\s*", first)
            if bold:
                draft = _ExampleDraft(plain(bold.group(2)).rstrip(":").strip(), _line(node))
                draft.add_prose(rest)
                drafts.append(draft)
                continue
        if not by_h3 and node.type in ("bullet_list", "ordered_list"):
            for item in node.children:
                paragraphs, _ = _item_blocks(item)
                first = paragraphs[0].strip() if paragraphs else ""
                bold = re.match(r"^(\*\*|__)(.+?)\1[:\s–—-]*", first, re.DOTALL)
                if bold:
                    draft = _ExampleDraft(plain(bold.group(2)).rstrip(":"), _line(item))
                    draft.add_prose(first[bold.end():])
                    rest = [c for c in item.children if c.type != "paragraph" or
                            _inline_text(c) != paragraphs[0]]
                    draft.add_blocks(rest)
                    drafts.append(draft)
                elif drafts:
                    drafts[-1].add_blocks([item])
                else:
                    drafts.append(_ExampleDraft(heading, _line(item)))
                    drafts[-1].add_blocks([item])
            continue
        if not drafts:
            drafts.append(_ExampleDraft(heading, _line(node)))
        drafts[-1].add_blocks([node])
    return tuple(d.build() for d in drafts if d.prose or d.code or d.title != heading)


def _quiz(nodes: list[SyntaxTreeNode], ctx: _Ctx) -> tuple[QuizItem, ...]:
    items = []
    for item in _list_items(nodes):
        paragraphs, lists = _item_blocks(item)
        lines = [ln for p in paragraphs for ln in p.splitlines()]
        lines += [ln for sub in lists for child in sub.children
                  for p in _item_blocks(child)[0] for ln in p.splitlines()]
        question_lines: list[str] = []
        answer_lines: list[str] = []
        for ln in lines:
            match = _ANSWER.match(ln)
            if answer_lines or match:
                answer_lines.append(ln[match.end():] if match and not answer_lines else ln)
            else:
                question_lines.append(ln)
        question = " ".join(question_lines)
        explicit = None
        found = _EXPLICIT_ID.search(question)
        if found:
            explicit = found.group(1)
            question = _EXPLICIT_ID.sub("", question)
        question = plain(question)
        answer = plain(" ".join(answer_lines)) or None
        if not question:
            ctx.warning(_line(item), "empty quiz question", "quiz-empty")
            continue
        items.append(QuizItem(question, _line(item), answer, explicit))
    return tuple(items)


def _recap(nodes: list[SyntaxTreeNode]) -> tuple[str, ...]:
    points = [_item_text(i) for i in _list_items(nodes)]
    if not points:
        points = [plain(_inline_text(n)) for n in nodes if n.type == "paragraph"]
    return tuple(p for p in points if p)


def _looks_like_table(node: SyntaxTreeNode) -> bool:
    if node.type != "paragraph":
        return False
    lines = _inline_text(node).splitlines()
    return len(lines) >= 2 and all(ln.strip().startswith("|") for ln in lines)


def _cells(row: SyntaxTreeNode) -> list[str]:
    return [plain(_inline_text(cell)) for cell in row.children]


def _review_plan(nodes: list[SyntaxTreeNode], section_line: int,
                 ctx: _Ctx) -> tuple[ReviewStep, ...]:
    steps: list[ReviewStep] = []
    tables = [n for n in nodes if n.type == "table"]
    for node in nodes:
        if _looks_like_table(node):
            ctx.error(_line(node), "malformed review-plan table: rows start with '|' but the "
                      "table has no '|---|---|' delimiter row under its header", "plan-table")
    for table in tables:
        body = [c for c in table.children if c.type == "tbody"]
        rows = [r for b in body for r in b.children if r.type == "tr"]
        if not rows:
            ctx.error(_line(table), "review-plan table has no rows (only a header)",
                      "plan-empty")
        for row in rows:
            line = _line(row)
            cells = _cells(row)
            if len(cells) < 2 or not cells[0]:
                ctx.error(line, "review-plan row needs an interval and a prompt", "plan-row")
                continue
            if not any(c for c in cells[1:]):
                ctx.error(line, f"review-plan row {cells[0]!r} has no prompt (a cell is "
                          "missing: write '| interval | prompt |')", "plan-row")
                continue
            try:
                days = parse_interval(cells[0])
            except IntervalError as exc:
                ctx.error(line, str(exc), "plan-interval")
                continue
            steps.append(ReviewStep(days, " ".join(c for c in cells[1:] if c), line, cells[0]))
    if not tables:
        for item in _list_items(nodes):  # "- 1 day – prompt" lists are accepted too
            split = _split_term(_item_blocks(item)[0][0]) if _item_blocks(item)[0] else None
            if split is None:
                continue
            try:
                steps.append(ReviewStep(parse_interval(split[0]), plain(split[1]), _line(item),
                                        split[0]))
            except IntervalError as exc:
                ctx.error(_line(item), str(exc), "plan-interval")
    if not tables and not steps and not any(_looks_like_table(n) for n in nodes):
        ctx.warning(section_line, "spaced review plan has no table of (interval, prompt) rows; "
                    "the default plan (1 day, 3 days, 1 week, 1 month) is used", "plan-missing")
    return tuple(steps)


def default_plan(title: str, *, concepts: bool = True, recap: bool = True
                 ) -> tuple[ReviewStep, ...]:
    """The plan of a lesson without one; its prompt names only sections the lesson has."""
    recall = "recall its key concepts" if concepts else "recall its main points"
    check = "check the recap" if recap else "skim the lesson again"
    return tuple(
        ReviewStep(days, f"Review “{title}”: {recall}, then {check}.", 0, "")
        for days in DEFAULT_PLAN_DAYS
    )


# --- front matter and sections ------------------------------------------------------


def _front_matter(root: SyntaxTreeNode, text: str, ctx: _Ctx) -> dict[str, Any]:
    node = next((c for c in root.children if c.type == "front_matter"), None)
    if node is None:
        if text.lstrip("\ufeff").startswith("---\n") and re.search(r"^\w[\w-]*:", text[4:200],
                                                                     re.MULTILINE):
            ctx.error(1, "front matter starts with '---' but is never closed by a '---' line",
                      "front-matter")
        return {}
    try:
        data = load_front_matter(node.content)     # bounded: no aliases, size, depth
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        recovered = tolerant_front_matter(node.content)
        keeps = (f"; the lesson keeps its id '{recovered['id']}' (read from its 'id:' line), "
                 "so its progress stays with it" if "id" in recovered else
                 "; without a readable 'id:' line the lesson is matched to its earlier id "
                 "by its file and its cards")
        ctx.error(line, f"malformed front matter: {problem}{keeps}", "front-matter")
        return recovered
    if data is None:
        return {}
    if not isinstance(data, dict):
        ctx.error(1, "malformed front matter: expected 'key: value' lines, found "
                  f"{type(data).__name__}", "front-matter")
        return {}
    return {str(k): v for k, v in data.items()}


_SIMPLE_FIELD = re.compile(r"^(id|title|language)[ \t]*:[ \t]*(.*?)[ \t]*$")
_PLAIN_ID = re.compile(r"[\w][\w.\-]*")


def tolerant_front_matter(content: str) -> dict[str, Any]:
    """What can still be read of front matter that YAML rejects: the `id:`, `title:` and
    `language:` lines, each taken as plain text (quotes stripped) when it is at the start
    of a line, not indented; an id or language must be a plain word (letters, digits,
    `_`, `.`, `-`). A lesson whose front matter breaks keeps its identity."""
    out: dict[str, Any] = {}
    for raw in content.split("\n"):
        m = _SIMPLE_FIELD.match(raw)
        if m and m.group(2) and m.group(1) not in out:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if m.group(1) != "title" and not _PLAIN_ID.fullmatch(value):
                continue  # `id: [unclosed` is the error itself, not an id
            out[m.group(1)] = value
    return out


def _field(fm: dict[str, Any], key: str, ctx: _Ctx) -> str | None:
    value = fm.get(key)
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip() or None
    ctx.error(1, f"front matter '{key}' must be text, found {type(value).__name__}",
              "front-matter")
    return None


def _exercises(fm: dict[str, Any], ctx: _Ctx) -> tuple[str, ...]:
    value = fm.get("exercises")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v) for v in value)
    ctx.error(1, "front matter 'exercises' must be a list of exercise ids", "front-matter")
    return ()


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((str(k), _hashable(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def parse_lesson(text: str, path: str = "<text>") -> ParseResult:
    """Parse one lesson's markdown. `path` names the file in diagnostics and gives the id."""
    ctx = _Ctx(path)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    root = SyntaxTreeNode(_MD.parse(text))
    fm = _front_matter(root, text, ctx)

    blocks = [c for c in root.children if c.type != "front_matter"]
    h1 = next((b for b in blocks if b.type == "heading" and b.tag == "h1"), None)
    stem = PurePath(path).stem if path != "<text>" else "lesson"
    lesson_id = _field(fm, "id", ctx) or stem
    title = _field(fm, "title", ctx) or (plain(_inline_text(h1)) if h1 else "") or lesson_id
    language = _field(fm, "language", ctx)

    # Split into (heading node or None, body nodes). Content before the first `##` other
    # than the title heading becomes an untitled introduction.
    groups: list[tuple[SyntaxTreeNode | None, list[SyntaxTreeNode]]] = [(None, [])]
    for block in blocks:
        if block.type == "heading" and block.tag == "h2":
            groups.append((block, []))
        elif block is not h1:
            groups[-1][1].append(block)

    fields: dict[str, Any] = {}
    sections: list[Section] = []
    seen: dict[SectionKind, int] = {}
    for index, (heading, body) in enumerate(groups):
        if heading is None and not body:
            continue
        start = _line(heading) if heading else _line(body[0])
        next_heading = groups[index + 1][0] if index + 1 < len(groups) else None
        end = _line(next_heading) - 1 if next_heading else len(lines)
        heading_text = plain(_inline_text(heading)) if heading else "Introduction"
        kind = section_kind(heading_text) if heading else SectionKind.OTHER
        body_start = start if heading is None else start + 1
        markdown = "\n".join(lines[body_start - 1:end]).strip("\n")
        sections.append(Section(kind, heading_text, start, end, markdown))
        if heading is not None and not markdown.strip():
            ctx.warning(start, f"section '{heading_text}' is empty", "empty-section")
        if kind is not SectionKind.REVIEW_PLAN:  # the plan reports its own, as errors
            for node in body:
                if _looks_like_table(node):
                    ctx.warning(_line(node), "malformed table: rows start with '|' but there "
                                "is no '|---|---|' delimiter row under the header, so it shows "
                                "as plain text", "malformed-table")
        if kind is SectionKind.OTHER:
            continue
        if kind in seen:
            ctx.warning(start, f"second '{kind.title}' section (first at line {seen[kind]}); "
                        "its items are added to the first", "duplicate-section")
        seen.setdefault(kind, start)
        _extract(kind, body, heading_text, start, fields, ctx)

    for kind in STANDARD_ORDER:
        if kind not in seen:
            ctx.warning(1, f"missing standard section '{kind.title}'", "missing-section")

    quiz: tuple[QuizItem, ...] = fields.get("quiz", ())
    for q in quiz:
        if q.answer is None:
            ctx.warning(q.line, f"quiz question has no answer (write an indented 'Answer: ...' "
                        f"line under it): {q.question[:60]!r}", "quiz-no-answer")
    _check_duplicate_ids(quiz, fields.get("concepts", ()), ctx)

    plan: tuple[ReviewStep, ...] = fields.get("review_plan", ())
    lesson = Lesson(
        id=lesson_id,
        title=title,
        language=language,
        source=path,
        sections=tuple(sections),
        prior_knowledge=fields.get("prior_knowledge", ()),
        overview=fields.get("overview", ""),
        concepts=fields.get("concepts", ()),
        steps=fields.get("steps", ()),
        examples=fields.get("examples", ()),
        pitfalls=fields.get("pitfalls", ()),
        quiz=quiz,
        recap=fields.get("recap", ()),
        review_plan=plan or default_plan(title, concepts=bool(fields.get("concepts")),
                                         recap=bool(fields.get("recap"))),
        plan_is_default=not plan,
        exercises=_exercises(fm, ctx),
        meta=tuple((k, _hashable(v)) for k, v in fm.items()
                   if k not in ("id", "title", "language", "exercises")),
    )
    ordered = sorted(ctx.diagnostics, key=lambda d: (d.line, d.severity != Severity.ERROR))
    return ParseResult(path, lesson, tuple(ordered))


def _extract(kind: SectionKind, body: list[SyntaxTreeNode], heading: str, line: int,
             fields: dict[str, Any], ctx: _Ctx) -> None:
    """Fill `fields` with what a standard section holds (appending on repeated sections)."""
    def add(name: str, values: tuple[Any, ...]) -> None:
        fields[name] = fields.get(name, ()) + values

    if kind is SectionKind.PRIOR_KNOWLEDGE:
        add("prior_knowledge", _prompts(body))
    elif kind is SectionKind.OVERVIEW:
        text = "\n\n".join(plain(_inline_text(n)) for n in body if n.type == "paragraph")
        fields["overview"] = "\n\n".join(p for p in (fields.get("overview", ""), text) if p)
    elif kind is SectionKind.KEY_CONCEPTS:
        add("concepts", _concepts(body, ctx))
    elif kind is SectionKind.LEARNING_PATH:
        add("steps", _steps(body))
    elif kind is SectionKind.EXAMPLES:
        add("examples", _examples(body, heading))
    elif kind is SectionKind.PITFALLS:
        add("pitfalls", _pitfalls(body, ctx))
    elif kind is SectionKind.QUIZ:
        add("quiz", _quiz(body, ctx))
    elif kind is SectionKind.RECAP:
        add("recap", _recap(body))
    elif kind is SectionKind.REVIEW_PLAN:
        add("review_plan", _review_plan(body, line, ctx))


def _check_duplicate_ids(quiz: tuple[QuizItem, ...], concepts: tuple[Concept, ...],
                         ctx: _Ctx) -> None:
    seen: dict[str, int] = {}
    for kind, items in (("quiz", quiz), ("concept", concepts)):
        for item in items:
            text = item.question if isinstance(item, QuizItem) else item.term
            key = f"{kind}:{item.id}" if item.id else f"{kind}-text:{normalise_heading(text)}"
            if key in seen:
                what = f"id '{item.id}'" if item.id else f"{kind} {text[:50]!r}"
                ctx.warning(item.line, f"duplicate {what} (first at line {seen[key]}); "
                            "their review progress would be merged", "duplicate-id")
            else:
                seen[key] = item.line
