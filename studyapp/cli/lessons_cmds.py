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
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path),
              help="The learner database to compare with (as `studyapp --db` before lint).")
@click.pass_obj
def lint(settings: Settings, paths: tuple[Path, ...], no_warnings: bool, as_json: bool,
         db: Path | None) -> None:
    """Check lesson files (or folders of them) and print every problem as file:line.

    Exit status 1 when any file has an error.
    """
    if db is not None:
        from dataclasses import replace

        settings = replace(settings, db_path=db)
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

    Compares against the learner database when one exists (--db or the default), opened
    read-only: lint never migrates, backs up or writes it. A course nobody has studied yet
    has nothing to compare, and adds nothing.
    """
    if not settings.db_path.exists():
        return []
    import sqlite3

    from studyapp.store.sync import stored_cards
    from studyapp.study.identity import edits_that_reset, lesson_cards

    lessons = [r.lesson for r in load_paths([Path(p) for p, _ in report if Path(p).exists()])
               if r.lesson is not None]
    found: list[tuple[str, list[Diagnostic]]] = []
    try:
        conn = sqlite3.connect(f"file:{settings.db_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        for lesson in lessons:
            old, aliases = stored_cards(conn, lesson.id)
            if not old:
                continue
            reviewed = {row[0] for row in conn.execute(
                "SELECT DISTINCT item_id FROM review_log WHERE item_id LIKE ?",
                (f"{lesson.id}:%",))}
            for warning in edits_that_reset(old, lesson_cards(lesson), aliases):
                if warning.old_id not in reviewed:
                    continue  # nothing to lose
                diag = Diagnostic(lesson.source, warning.line or 1, Severity.WARNING,
                                  warning.message(), "card-reset")
                found.append((lesson.source, [diag]))
    except sqlite3.Error:
        return []  # not a studyapp database, or an older one: nothing to compare
    finally:
        conn.close()
    return found


def resolve_lesson(settings: Settings, ref: str) -> ParseResult:
    """A lesson by file path, or by id (or file name) within the lessons folder."""
    path = Path(ref)
    if path.is_file():
        return read_lesson(path)
    for candidate in lesson_files(settings.lessons_dir):
        if candidate.stem == ref or candidate.name == ref:
            return read_lesson(candidate, settings.lessons_dir)
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

    from studyapp.textsafe import safe_text as t  # lesson text is data, never markup

    parts: list = []
    head = Table.grid(padding=(0, 2))
    head.add_row("id", Text(t(lesson.id)))
    head.add_row("language", Text(t(lesson.language or "—")))
    head.add_row("source", Text(t(lesson.source)))
    if lesson.exercises:
        head.add_row("exercises", Text(t(", ".join(lesson.exercises))))
    for key, value in lesson.meta:
        head.add_row(Text(t(key)), Text(t(value)))
    parts.append(Panel(head, title=f"[b]{escape(t(lesson.title))}[/b]", title_align="left"))

    sections = Table("line", "section", "recognised as", box=None, header_style="dim")
    for s in lesson.sections:
        kind = s.kind.title if s.kind is not SectionKind.OTHER else "[dim]other (shown as written)"
        sections.add_row(str(s.line), escape(t(s.heading)), kind)
    parts.append(sections)

    def heading(text: str, count: int | None = None) -> Text:
        label = f"\n{text}" + (f" ({count})" if count is not None else "")
        return Text(label, style="bold underline")

    def item(marker: str, *content, indent: int = 2) -> Table:
        """One list entry whose wrapped lines hang under its first line."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=indent + len(marker), justify="right", no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_row(marker, Text.assemble(*(
            t(c) if isinstance(c, str) else (t(c[0]), c[1]) for c in content)))
        return grid

    parts.append(heading("Prior knowledge", len(lesson.prior_knowledge)))
    parts.extend(item("•", p.text) for p in lesson.prior_knowledge)
    parts.append(heading("Key concepts", len(lesson.concepts)))
    for c in lesson.concepts:
        parts.append(item("•", (c.term, "bold"), f" — {c.explanation}"))
    parts.append(heading("Learning path", len(lesson.steps)))
    for n, step in enumerate(lesson.steps, 1):
        parts.append(item(f"{n}.", (step.title, "bold")))
        parts.extend(item("-", sub, indent=5) for sub in step.items)
    parts.append(heading("Examples", len(lesson.examples)))
    for e in lesson.examples:
        link = f"  [exercise: {e.exercise}]" if e.exercise else ""
        parts.append(item("▸", (e.title, "bold"), (link, "cyan")))
        if e.prose:
            parts.append(item("", (e.prose, "dim"), indent=3))
        for block in e.code:
            parts.append(Syntax(t(block.text.rstrip()), t(block.language or "text"),
                                line_numbers=False, word_wrap=True))
    parts.append(heading("Common pitfalls", len(lesson.pitfalls)))
    for p in lesson.pitfalls:
        parts.append(item("•", (p.title, "bold"), f" — {p.explanation}"))
        if p.solution:
            parts.append(item("", ("solution: ", "green"), p.solution, indent=3))
    parts.append(heading("Quiz", len(lesson.quiz)))
    for n, q in enumerate(lesson.quiz, 1):
        qid = f"  {{#{q.id}}}" if q.id else ""
        parts.append(item(f"{n}.", q.question, (qid, "dim")))
        parts.append(item("", ("answer: ", "green"),
                          q.answer if q.answer else ("— none —", "yellow"), indent=3))
    parts.append(heading("Recap", len(lesson.recap)))
    parts.extend(item("•", point) for point in lesson.recap)
    title = "Review plan" + (" (default)" if lesson.plan_is_default else "")
    parts.append(heading(title, len(lesson.review_plan)))
    plan = Table("after", "days", "prompt", box=None, header_style="dim", padding=(0, 2))
    for r in lesson.review_plan:
        plan.add_row(Text(t(r.interval or "—")), str(r.days), Text(t(r.prompt)))
    parts.append(plan)
    if diagnostics:
        parts.append(heading("Diagnostics", len(diagnostics)))
        for d in diagnostics:
            style = "red" if d.severity is Severity.ERROR else "yellow"
            parts.append(item(f"{d.line}:", (f"{d.severity.value}: {d.message}", style)))
    return Group(*parts)


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def preview(settings: Settings, path: Path) -> None:
    """Show lesson PATH as a learner sees it, with its lint messages, re-read on every save
    (the section in view stays); a private database, no learner's progress is touched."""
    from studyapp.tui.preview import PreviewApp

    PreviewApp(path, exercises_dir=settings.exercises_dir).run()


def register(main: click.Group) -> None:
    main.add_command(lint)
    main.add_command(show)
    main.add_command(preview)
