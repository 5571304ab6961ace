"""`studyapp lint` and `studyapp show`: what the parser understood, for instructors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from studyapp.config import Settings
from studyapp.course.lint import link_diagnostics
from studyapp.course.loader import lesson_files, load_paths, read_lesson
from studyapp.course.model import Diagnostic, Lesson, ParseResult, SectionKind, Severity


def exercise_ids(folder: Path) -> set[str]:
    """Ids of the exercises that exist: folders under exercises/ holding an exercise.toml."""
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if (p / "exercise.toml").is_file()}


def lint_results(paths: list[Path], exercises_dir: Path) -> list[tuple[str, list[Diagnostic]]]:
    """Diagnostics per file: the parser's, plus links to exercises that do not exist."""
    known = exercise_ids(exercises_dir)
    report = []
    for result in load_paths(paths):
        diagnostics = list(result.diagnostics)
        if result.lesson is not None:
            text = Path(result.path).read_text(encoding="utf-8-sig")
            diagnostics += link_diagnostics(result.lesson, text, known)
        diagnostics.sort(key=lambda d: d.line)
        report.append((result.path, diagnostics))
    return report


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--no-warnings", is_flag=True, help="Print errors only.")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as JSON.")
@click.pass_obj
def lint(settings: Settings, paths: tuple[Path, ...], no_warnings: bool, as_json: bool) -> None:
    """Check lesson files (or folders of them) and print every problem as file:line.

    Exit status 1 when any file has an error.
    """
    missing = [p for p in paths if not p.exists()]
    report = lint_results([p for p in paths if p.exists()], settings.exercises_dir)
    report += [(str(p), [Diagnostic(str(p), 1, Severity.ERROR, "no such file or folder",
                                    "unreadable")]) for p in missing]
    report += _card_reset_warnings(settings, report)
    all_diags = [d for _, diags in report for d in diags]
    errors = sum(d.severity is Severity.ERROR for d in all_diags)
    warnings = len(all_diags) - errors
    if as_json:
        click.echo(json.dumps([{"path": d.path, "line": d.line, "severity": d.severity.value,
                                "message": d.message, "code": d.code} for d in all_diags],
                              ensure_ascii=False, indent=2))
    else:
        for d in all_diags:
            if d.severity is Severity.ERROR or not no_warnings:
                click.echo(str(d))
        files = len({path for path, _ in report})
        click.echo(f"{files} file(s): {errors} error(s), {warnings} warning(s)", err=True)
    sys.exit(1 if errors else 0)


def _card_reset_warnings(settings: Settings,
                         report: list[tuple[str, list[Diagnostic]]]
                         ) -> list[tuple[str, list[Diagnostic]]]:
    """Warn when an edit would make a card with review history start afresh.

    Compares against the learner database when one exists (--db or the default); lint of
    a course nobody has studied yet has nothing to compare and adds nothing.
    """
    if not settings.db_path.exists():
        return []
    try:
        from studyapp.services.study import card_reset_diagnostics
    except ImportError:  # the study service is optional for instructors' lint runs
        return []
    lessons = [r.lesson for r in load_paths([Path(p) for p, _ in report if Path(p).exists()])
               if r.lesson is not None]
    extra = card_reset_diagnostics(settings.db_path, lessons)
    return [(d.path, [d]) for d in extra]


def resolve_lesson(settings: Settings, ref: str) -> ParseResult:
    """A lesson by file path, or by id (or file name) within the lessons folder."""
    path = Path(ref)
    if path.is_file():
        return read_lesson(path)
    for candidate in lesson_files(settings.lessons_dir):
        if candidate.stem == ref or candidate.name == ref:
            return read_lesson(candidate)
    for result in load_paths([settings.lessons_dir]):
        if result.lesson is not None and result.lesson.id == ref:
            return result
    raise click.ClickException(f"no lesson {ref!r}: not a file, and no lesson with that id "
                               f"in {settings.lessons_dir}")


@click.command()
@click.argument("lesson")
@click.option("--json", "as_json", is_flag=True, help="Print the parsed lesson as JSON.")
@click.pass_obj
def show(settings: Settings, lesson: str, as_json: bool) -> None:
    """Show what the parser understood of LESSON (a file, or a lesson id)."""
    result = resolve_lesson(settings, lesson)
    if result.lesson is None:
        for d in result.diagnostics:
            click.echo(str(d), err=True)
        raise click.ClickException(f"{result.path}: could not be read as a lesson")
    if as_json:
        data = result.lesson.to_dict()
        data["diagnostics"] = [str(d) for d in result.diagnostics]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.console import Console

    Console().print(render_lesson(result.lesson, result.diagnostics))


def render_lesson(lesson: Lesson, diagnostics: tuple[Diagnostic, ...]):  # -> rich renderable
    """A readable rich view of a parsed lesson, part by part."""
    from rich.console import Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    parts: list = []
    head = Table.grid(padding=(0, 2))
    head.add_row("id", lesson.id)
    head.add_row("language", lesson.language or "—")
    head.add_row("source", lesson.source)
    if lesson.exercises:
        head.add_row("exercises", ", ".join(lesson.exercises))
    for key, value in lesson.meta:
        head.add_row(key, str(value))
    parts.append(Panel(head, title=f"[b]{escape(lesson.title)}[/b]", title_align="left"))

    sections = Table("line", "section", "recognised as", box=None, header_style="dim")
    for s in lesson.sections:
        kind = s.kind.title if s.kind is not SectionKind.OTHER else "[dim]other (shown as written)"
        sections.add_row(str(s.line), escape(s.heading), kind)
    parts.append(sections)

    def heading(text: str, count: int | None = None) -> Text:
        label = f"\n{text}" + (f" ({count})" if count is not None else "")
        return Text(label, style="bold underline")

    def bullets(items: list[str]) -> None:
        for item in items:
            parts.append(Text.assemble("  • ", item))

    parts.append(heading("Prior knowledge", len(lesson.prior_knowledge)))
    bullets([p.text for p in lesson.prior_knowledge])
    parts.append(heading("Key concepts", len(lesson.concepts)))
    for c in lesson.concepts:
        parts.append(Text.assemble("  • ", (c.term, "bold"), f" — {c.explanation}"))
    parts.append(heading("Learning path", len(lesson.steps)))
    for n, step in enumerate(lesson.steps, 1):
        parts.append(Text.assemble(f"  {n}. ", (step.title, "bold")))
        for item in step.items:
            parts.append(Text(f"     - {item}"))
    parts.append(heading("Examples", len(lesson.examples)))
    for e in lesson.examples:
        link = f"  [exercise: {e.exercise}]" if e.exercise else ""
        parts.append(Text.assemble("  ", (e.title, "bold"), (link, "cyan")))
        if e.prose:
            parts.append(Text(f"  {e.prose}", style="dim"))
        for block in e.code:
            parts.append(Syntax(block.text.rstrip(), block.language or "text",
                                line_numbers=False, word_wrap=True))
    parts.append(heading("Common pitfalls", len(lesson.pitfalls)))
    for p in lesson.pitfalls:
        parts.append(Text.assemble("  • ", (p.title, "bold"), f" — {p.explanation}"))
        if p.solution:
            parts.append(Text.assemble("    ", ("solution: ", "green"), p.solution))
    parts.append(heading("Quiz", len(lesson.quiz)))
    for n, q in enumerate(lesson.quiz, 1):
        qid = f"  {{#{q.id}}}" if q.id else ""
        parts.append(Text.assemble(f"  {n}. ", q.question, (qid, "dim")))
        parts.append(Text.assemble("     ", ("answer: ", "green"),
                                   q.answer if q.answer else ("— none —", "yellow")))
    parts.append(heading("Recap", len(lesson.recap)))
    bullets(list(lesson.recap))
    title = "Review plan" + (" (default)" if lesson.plan_is_default else "")
    parts.append(heading(title, len(lesson.review_plan)))
    for r in lesson.review_plan:
        label = f"{r.days} d" + (f" ({r.interval})" if r.interval else "")
        parts.append(Text.assemble(f"  {label:>16}  ", r.prompt))
    if diagnostics:
        parts.append(heading("Diagnostics", len(diagnostics)))
        for d in diagnostics:
            style = "red" if d.severity is Severity.ERROR else "yellow"
            parts.append(Text(f"  line {d.line}: {d.severity.value}: {d.message}", style=style))
    return Group(*parts)


def register(main: click.Group) -> None:
    main.add_command(lint)
    main.add_command(show)
