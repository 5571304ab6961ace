"""Study commands: review, complete, due, grade, stats, export, import, doctor, settings.

Thin faces over `services.study.StudyService`; `--json` output is `json.dumps` with
`ensure_ascii=False`. `studyapp review` reads its input line by line from stdin, so it
works in a terminal and through a pipe alike.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from studyapp.config import Settings
from studyapp.textsafe import escape_markup, safe_rich_text, safe_text

RATING_WORDS = {"again": 1, "hard": 2, "good": 3, "easy": 4}
RATING_NAMES = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


def _dump(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def _open(settings: Settings):  # -> StudyService
    from studyapp.services.study import StudyService
    from studyapp.store.db import StoreError

    try:
        return StudyService.open(settings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _open_db(settings: Settings):
    from studyapp.store.db import StoreError, open_database

    try:
        return open_database(settings.db_path)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _parse_rating(value: str) -> int:
    v = value.strip().lower()
    if v in RATING_WORDS:
        return RATING_WORDS[v]
    if v in ("1", "2", "3", "4"):
        return int(v)
    raise click.BadParameter(f"{value!r}: use 1-4 or again/hard/good/easy", param_hint="RATING")


# -- review -----------------------------------------------------------------------------------


class _Session:
    """The plain-terminal review loop; input is read line by line."""

    def __init__(self, service, console, stdin) -> None:
        self.svc = service
        self.console = console
        self.stdin = stdin
        self.graded: list[str] = []  # ids graded in this session, in order
        self.given: list[int] = []  # their ratings
        self.ratings: Counter[int] = Counter()
        self.undone = 0

    def say(self, *args: Any, **kw: Any) -> None:
        self.console.print(*args, **kw)
        self.console.file.flush()

    def ask(self, prompt: str) -> str | None:
        """One input line without its newline; None at end of input."""
        self.console.print(prompt, end="", markup=True, highlight=False)
        self.console.file.flush()
        line = self.stdin.readline()
        if not line:
            self.say()
            return None
        return line.rstrip("\r\n")

    def undo(self) -> bool:
        undone = self.svc.undo_last()
        if undone is None:
            self.say("Nothing to undo.")
            return False
        self.undone += 1
        if undone in self.graded:
            idx = len(self.graded) - 1 - self.graded[::-1].index(undone)
            del self.graded[idx]
            self.ratings[self.given.pop(idx)] -= 1
        self.say(f"[yellow]Undid the last grade[/yellow] ({undone}).", highlight=False)
        return True

    def next_item(self):
        items = self.svc.due()
        if not items:
            return None, 0
        seen = set(self.graded)
        fresh = [i for i in items if i.id not in seen]
        return (fresh or items)[0], len(items)

    def run(self) -> None:
        from rich.markdown import Markdown
        from rich.rule import Rule
        from rich.text import Text

        count = 0
        while True:
            item, left = self.next_item()
            if item is None:
                break
            count += 1
            kind = "review prompt" if item.kind == "plan" else f"{item.card_kind} card"
            self.say(Rule(f"{left} due · {escape_markup(item.lesson_title)} · {kind}",
                          style="dim"))
            self.say(safe_rich_text(item.prompt, "bold"), highlight=False)
            started = time.monotonic()
            suggested = None
            if item.card_kind == "code":
                tried = self.code_card(item)
                if tried is None:
                    break
                answer, suggested = tried
            else:
                answer = self.ask("[dim]Your answer (Enter to skip, u undo, q stop):[/dim] ")
            if answer is None or answer.strip().lower() == "q":
                break
            if answer.strip().lower() == "u":
                self.undo()
                continue
            seconds = round(time.monotonic() - started, 1)
            if item.card_kind == "code":
                pass  # the checks' messages (and the solution after giving up) were shown
            elif item.answer:
                self.say(Text.assemble(("Answer:", "green"), " ", safe_text(item.answer)),
                         highlight=False)
            elif item.context:
                self.say("[green]From the lesson:[/green]")
                self.say(Markdown(safe_text(item.context)))
            else:
                self.say("[dim](no reference answer: compare with the lesson)[/dim]")
            if item.kind == "plan":
                after = {1: "again later", 2: "done", 3: "done", 4: "done"}
            else:
                from studyapp.tui.format import interval_label

                after = {r: interval_label(d) for r, d in (self.svc.intervals(item.id)
                                                           or {}).items()}
            choices = " · ".join(f"[bold]{r}[/bold] {RATING_NAMES[r]}"
                                 + (f" ({after[r]})" if r in after else "") for r in RATING_NAMES)
            hint = (f"Enter: the checks' grade, {suggested} {RATING_NAMES[suggested]}; "
                    if suggested else "")
            while True:
                raw = self.ask(f"Grade {choices} ({hint}u undo, q stop): ")
                if raw is None or raw.strip().lower() == "q":
                    return
                raw = raw.strip().lower()
                if not raw and suggested:
                    raw = str(suggested)
                if raw == "u":
                    if self.undo():
                        break  # the undone item is due again; show the queue afresh
                    continue
                try:
                    rating = RATING_WORDS.get(raw) or int(raw)
                    if rating not in RATING_NAMES:
                        raise ValueError
                except ValueError:
                    self.say("Type 1, 2, 3 or 4 (or u, q).")
                    continue
                result = self.svc.grade(item.id, rating, seconds, answer or None)
                self.graded.append(result.item_id)
                self.given.append(rating)
                self.ratings[rating] += 1
                nxt = f" · next: {result.next_due.isoformat()}" if result.next_due else ""
                self.say(f"[dim]{RATING_NAMES[rating]}{nxt}[/dim]", highlight=False)
                break

    def code_card(self, item: Any) -> tuple[str, int] | None:
        """Write the card's function again: a fresh copy of it in $VISUAL/$EDITOR (or the
        path to edit, when neither is set), its checks run in a child process, retried
        until they pass or the learner gives up. (the code, the checks' grade); None: stop."""
        import os
        import shlex
        import subprocess

        from studyapp.services.code_cards import CodeAttempt, card_key, code_function
        from studyapp.services.exercises import ExerciseService

        try:
            ex_id, name = card_key(item.id)
            ex = ExerciseService(self.svc.settings).exercise(ex_id)
            attempt = CodeAttempt.open(ex, code_function(ex, name))
        except Exception as exc:  # noqa: BLE001 - one line, then the learner grades it
            self.say(f"[red]cannot open this code card:[/red] {escape_markup(exc)}",
                     highlight=False)
            return "", 1
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        while True:
            if editor:
                self.say(f"[dim]Opening {escape_markup(attempt.path)} in {escape_markup(editor)}…[/dim]",
                         highlight=False)
                subprocess.call([*shlex.split(editor), str(attempt.path)])
            else:
                raw = self.ask(f"Write it in {escape_markup(attempt.path)} (no $EDITOR is set), "
                               "then press Enter (q stop): ")
                if raw is None or raw.strip().lower() == "q":
                    return None
            report = attempt.check()
            for line in report.lines():
                style = "green" if line.startswith("PASS") else "red" if line.startswith(
                    ("FAIL", "ERROR")) else ""
                self.say(safe_text(line), style=style or None, highlight=False, markup=False)
            if attempt.passed:
                break
            raw = self.ask("[dim]r: try again, g: give up and see the solution, q stop:[/dim] ")
            if raw is None or raw.strip().lower() == "q":
                return None
            if raw.strip().lower() == "g":
                if item.answer:
                    self.say("[green]Solution:[/green]")
                    self.say(safe_text(item.answer), highlight=False, markup=False)
                break
        return attempt.path.read_text(encoding="utf-8"), attempt.suggested()

    def summary(self) -> str:
        total = sum(self.ratings.values())
        parts = ", ".join(f"{RATING_NAMES[r]} {n}" for r, n in sorted(self.ratings.items()) if n)
        text = f"Reviewed {total} item{'s' if total != 1 else ''}"
        if parts:
            text += f" ({parts})"
        if self.undone:
            text += f"; {self.undone} undone"
        queue = self.svc.due()
        nxt = self.svc.next_review_date(queue)
        if nxt is None:
            text += ". Nothing else is scheduled."
        elif nxt <= self.svc.today():
            text += f". Still due today: {len(queue)}."
        else:
            text += f". Next review: {nxt.isoformat()}."
        return text


@click.command()
@click.pass_obj
def review(settings: Settings) -> None:
    """Review what is due today in the terminal: answer, see the reference, grade 1-4.

    Each grade is saved before the next item shows. `u` undoes the last grade; `q`,
    Ctrl-C or the end of input stops with a summary.
    """
    from rich.console import Console

    svc = _open(settings)
    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    session = _Session(svc, console, sys.stdin)
    try:
        queue = svc.due()
        if not queue:
            nxt = svc.next_review_date(queue)
            when = f" Next review: {nxt.isoformat()}." if nxt else " Nothing is scheduled yet."
            session.say(f"Nothing due today ({svc.today().isoformat()}).{when}")
            return
        try:
            session.run()
        except KeyboardInterrupt:
            session.say()
        session.say(session.summary())
    finally:
        svc.close()


# -- one-shot commands ------------------------------------------------------------------------------


@click.command()
@click.argument("lesson_id")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.pass_obj
def complete(settings: Settings, lesson_id: str, as_json: bool) -> None:
    """Mark LESSON_ID completed today and schedule its spaced review plan."""
    svc = _open(settings)
    try:
        try:
            plan = svc.complete_lesson(lesson_id)
        except KeyError as exc:
            known = ", ".join(e.id for e in svc.lessons() if e.lesson) or "none"
            raise click.ClickException(f"no lesson {lesson_id!r} (lessons: {known})") from exc
        if as_json:
            _dump([{"id": p.id, "lesson": p.lesson_id, "step": p.step, "days": p.days,
                    "due": p.due.isoformat(), "prompt": p.prompt, "done": p.done} for p in plan])
            return
        click.echo(f"Completed {lesson_id} on {svc.today().isoformat()}. Review plan:")
        for p in plan:
            mark = "done" if p.done else "due"
            click.echo(f"  {p.due.isoformat()}  (+{p.days}d, {mark})  {p.prompt}")
    finally:
        svc.close()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the queue as JSON.")
@click.pass_obj
def due(settings: Settings, as_json: bool) -> None:
    """List what is due now (plan prompts and cards, today's limits applied)."""
    svc = _open(settings)
    try:
        from studyapp.textsafe import safe_text

        for warning in svc.identity_warnings():
            click.echo(f"warning: {safe_text(warning)}", err=True)
        items = svc.due()
        if as_json:
            _dump([i.to_dict() for i in items])
            return
        if not items:
            nxt = svc.next_review_date(items)
            when = f" Next review: {nxt.isoformat()}." if nxt else " Nothing is scheduled."
            click.echo(f"Nothing due today ({svc.today().isoformat()}).{when}")
            return
        click.echo(f"{len(items)} due on {svc.today().isoformat()}:")
        for i in items:
            kind = "plan" if i.kind == "plan" else i.card_kind
            click.echo(f"  {i.due.isoformat()}  {kind:<7}  {i.id}  {i.prompt}")
    finally:
        svc.close()


def _seconds(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    import math

    if value is not None and not (math.isfinite(value) and 0 <= value <= 86_400):
        raise click.BadParameter(f"{value} is not a number of seconds from 0 to 86400")
    return value


# "-1" is a (bad) rating or value to say so about, not an unknown option
_NEGATIVE_OK = {"ignore_unknown_options": True}


@click.command(context_settings=_NEGATIVE_OK)
@click.argument("item_id")
@click.argument("rating")
@click.option("--seconds", type=float, default=None, callback=_seconds,
              help="Seconds the answer took (0-86400).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def grade(settings: Settings, item_id: str, rating: str, seconds: float | None,
          as_json: bool) -> None:
    """Grade ITEM_ID with RATING (1-4 or again/hard/good/easy) without a session."""
    value = _parse_rating(rating)
    svc = _open(settings)
    try:
        try:
            result = svc.grade(item_id, value, seconds, source="cli")
        except KeyError as exc:
            raise click.ClickException(f"no plan prompt or card with id {item_id!r}") from exc
        if as_json:
            _dump({"id": result.item_id, "rating": result.rating,
                   "next_due": result.next_due.isoformat() if result.next_due else None})
            return
        nxt = f"; next review {result.next_due.isoformat()}" if result.next_due else ""
        click.echo(f"Graded {result.item_id}: {RATING_NAMES[value]}{nxt}.")
    finally:
        svc.close()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.pass_obj
def stats(settings: Settings, as_json: bool) -> None:
    """Due today, a 30-day forecast, reviews done, true retention, streak, lessons."""
    svc = _open(settings)
    try:
        queue = svc.due()
        s = svc.stats(queue)
        series = svc.stats_series(queue)
        if as_json:
            _dump({**s.to_dict(), "series": series.to_dict()})
            return
        from rich.console import Console
        from rich.table import Table

        console = Console(file=sys.stdout, highlight=False)
        ret = f"{s.retention:.0%}" if s.retention is not None else "–"
        console.print(f"Due today: {s.due_today}   Reviews done: {s.reviews_done}   "
                      f"True retention: {ret}   Streak: {s.streak} day"
                      f"{'s' if s.streak != 1 else ''}")
        week = "  ".join(f"{d.strftime('%a %d')}: {n}" for d, n in s.forecast[:7])
        console.print(f"Next 7 days: {week}")
        console.print(f"Next 30 days: {sum(n for _d, n in s.forecast)} reviews")
        from studyapp.tui.format import sparkline

        last30 = [n for _d, n in series.reviews_per_day[-30:]]
        console.print(f"Reviews, last 30 days: {sparkline(last30)}  ({sum(last30)})")
        if series.retention_per_week:
            weeks = "  ".join(f"{d.strftime('%d %b')}: {r:.0%}"
                              for d, r, _n in series.retention_per_week[-4:])
            console.print(f"True retention by week: {weeks}")
        console.print("Cards: " + ", ".join(f"{k} {n}" for k, n in series.card_states))
        console.print("Cards by kind: " + ", ".join(f"{k} {n}" for k, n in series.card_kinds))
        table = Table("lesson", "state", "next review", box=None)
        for e in s.lessons:
            table.add_row(safe_rich_text(f"{e.title} ({e.id})"), safe_rich_text(e.state),
                          e.next_review.isoformat() if e.next_review else "")
        console.print(table)
    finally:
        svc.close()


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_obj
def export_cmd(settings: Settings, file: str) -> None:
    """Write the whole progress as JSON to FILE (`-` for standard output)."""
    from studyapp.store.transfer import export_progress

    db = _open_db(settings)
    try:
        doc = export_progress(db.conn)
    finally:
        db.close()
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if file == "-":
        click.echo(text)
        return
    from studyapp.atomic import write_atomic
    from studyapp.store.faults import describe

    try:
        # atomic: a full disk or a kill leaves an earlier export at FILE as it was
        write_atomic(file, text + "\n")
    except OSError as exc:
        raise click.ClickException(describe(exc, file)) from exc
    n = len(doc["tables"]["review_log"])
    click.echo(f"Exported progress ({n} answers) to {file}.")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.option("--replace", is_flag=True, help="Overwrite the progress this database holds.")
@click.option("--allow-empty", is_flag=True,
              help="With --replace: accept a document without any progress (wipes it all).")
@click.pass_obj
def import_cmd(settings: Settings, file: str, replace: bool, allow_empty: bool) -> None:
    """Load progress exported with `studyapp export` (into an empty database)."""
    from studyapp.store.db import StoreError
    from studyapp.store.transfer import import_progress

    raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        hint = (" (it is a SQLite database: open it with --db, or export it first)"
                if raw.startswith(b"SQLite format 3") else "")
        raise click.ClickException(f"{file} is not a studyapp export: not UTF-8 text"
                                   f"{hint}") from None
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise click.ClickException(f"{file} is not JSON: {exc}") from exc
    db = _open_db(settings)
    try:
        counts = import_progress(db.conn, doc, replace=replace, allow_empty=allow_empty)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.close()
    click.echo(f"Imported {counts.get('review_log', 0)} answers, "
               f"{counts.get('card_state', 0)} card schedules, "
               f"{counts.get('plan_reviews', 0)} plan reviews into {settings.db_path}.")


def _doctor_damaged(settings: Settings, problem: str, restore: bool, as_json: bool) -> None:
    """The database fails its integrity check: say what SQLite found, list the backups
    with their own checks, and restore the newest good one when asked (--restore, or yes
    at the prompt in a terminal)."""
    from studyapp.store import backups

    path = Path(settings.db_path)
    checked = backups.good_backups(path)
    good = next((b for b, bad in checked if bad is None), None)
    report = {"path": str(path), "ok": False, "integrity": [problem], "restored": None,
              "backups": [{"path": str(b.path), "kind": b.kind, "good": bad is None,
                           "problem": bad} for b, bad in checked],
              "partials": [str(p) for p in backups.partials(backups.backups_dir(path))]}
    if not as_json:
        click.echo(f"Database: {path}")
        click.echo(f"Integrity check: FAILED: {problem}")
        click.echo("Backups (newest first):")
        for b, bad in checked:
            when = b.taken_at.strftime("%Y-%m-%d %H:%M UTC") if b.taken_at else "?"
            click.echo(f"  {when}  {'good' if bad is None else 'DAMAGED: ' + bad[:60]}  "
                       f"{b.path.name}")
        if not checked:
            click.echo("  (none)")
    if good is None:
        if not as_json:
            click.echo("No good backup to restore: the damaged file is left as it is.")
        else:
            _dump(report)
        sys.exit(1)
    if not restore and not as_json and sys.stdin.isatty():
        restore = click.confirm(f"Restore the newest good backup ({good.path.name})?",
                                default=False)
    if not restore:
        if as_json:
            _dump(report)
        else:
            click.echo(f"Run `studyapp doctor --restore` to put {good.path.name} back "
                       "(the damaged file is kept beside it).")
        sys.exit(1)
    aside = backups.restore_backup(path, good.path)
    report["restored"] = {"from": str(good.path), "damaged_kept_as": str(aside)}
    if as_json:
        _dump(report)
    else:
        click.echo(f"Restored {good.path.name} to {path}; the damaged file is kept as "
                   f"{aside.name}. Answers given after that backup are not in it.")


@click.command()
@click.option("--no-repair", is_flag=True, help="Only check; change nothing.")
@click.option("--restore", is_flag=True,
              help="If the database is damaged, put the newest good backup back.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def doctor(settings: Settings, no_repair: bool, restore: bool, as_json: bool) -> None:
    """Check the database, repair what is safe, and list the backups."""
    from studyapp.store import backups
    from studyapp.store.doctor import run_doctor

    path = Path(settings.db_path)
    if path.exists():
        problem = backups.check_file(path, quick=False)
        if problem is not None:
            backups.mark_damaged(path, f"integrity check: {problem}")
            _doctor_damaged(settings, problem, restore, as_json)
            return
        backups.clear_damaged(path)     # it passes now: writes are allowed again
    db = _open_db(settings)
    try:
        report = run_doctor(db.conn, Path(settings.db_path), repair=not no_repair)
    finally:
        db.close()
    if as_json:
        _dump(report.to_dict())
    else:
        click.echo(f"Database: {report.path} (schema version {report.schema_version} of "
                   f"{report.latest_version})")
        click.echo(f"Integrity check: {'; '.join(report.integrity[:5])}")
        if report.found:
            click.echo("Found:")
            for f in report.found:
                click.echo(f"  - {f}")
        else:
            click.echo("Found: no problems")
        if report.repaired:
            click.echo("Repaired:")
            for r in report.repaired:
                click.echo(f"  - {r}")
        click.echo(f"Backups in {Path(settings.db_path).parent / 'backups'}:")
        for b in report.backups:
            when = b.taken_at.strftime("%Y-%m-%d %H:%M UTC") if b.taken_at else "?"
            click.echo(f"  {when}  {b.kind:<10} {b.size // 1024:>6} KiB  {b.path.name}")
        if not report.backups:
            click.echo("  (none yet)")
    if not report.ok:
        sys.exit(1)


@click.command("settings", context_settings=_NEGATIVE_OK)
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_obj
def settings_cmd(settings: Settings, key: str | None, value: str | None, as_json: bool) -> None:
    """Show the study settings, or set KEY to VALUE (e.g. `settings timezone Europe/Sofia`)."""
    from studyapp.store.fsrs_params import current_fit
    from studyapp.store.settings import DESCRIPTIONS, raw_settings, set_setting
    from studyapp.study.srs import DEFAULT_WEIGHTS

    db = _open_db(settings)
    try:
        if key is not None and value is not None:
            try:
                stored = set_setting(db.conn, key, value)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="KEY VALUE") from exc
            click.echo(f"{key} = {stored}")
            return
        raw = raw_settings(db.conn)
        fit = current_fit(db.conn)
    finally:
        db.close()
    params = ((fit.parameters, f"fitted {fit.applied_at[:10]} on {fit.reviews} answers")
              if fit else (DEFAULT_WEIGHTS, "default"))
    if key is not None:
        if key not in raw:
            raise click.BadParameter(f"unknown setting {key!r}", param_hint="KEY")
        raw = {key: raw[key]}
    if as_json:
        _dump({**raw, "fsrs_parameters": {"parameters": list(params[0]), "source": params[1]}}
              if key is None else raw)
        return
    for k, v in raw.items():
        click.echo(f"{k} = {v}    # {DESCRIPTIONS.get(k, '')}")
    if key is None:
        weights, source = params
        click.echo(f"fsrs_parameters = {', '.join(f'{w:.4f}' for w in weights)}    # {source}"
                   " (studyapp optimize fits them to your reviews)")


@click.command()
@click.option("--apply", "apply_fit", is_flag=True,
              help="Use the fitted parameters when they predict the log better.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def optimize(settings: Settings, apply_fit: bool, as_json: bool) -> None:
    """Fit FSRS to your own review log and compare with the default parameters."""
    svc = _open(settings)
    try:
        report = svc.optimize(apply=apply_fit)
    finally:
        svc.close()
    if as_json:
        _dump(report.to_dict())
        return

    def line(name: str, e: Any) -> str:
        if e is None or e.log_loss is None:
            return f"  {name:<8} -"
        return f"  {name:<8} log loss {e.log_loss:.4f}   RMSE {e.rmse:.4f}"

    click.echo(f"Answers to learn from: {report.reviews} (the optimizer needs "
               f"{report.needed}).")
    click.echo(line("default", report.default))
    if report.current is not None:
        click.echo(line("in use", report.current))
    if report.fitted is not None:
        click.echo(line("fitted", report.fitted))
    click.echo(report.note[:1].upper() + report.note[1:] + ".")


COMMANDS = [review, complete, due, grade, stats, export_cmd, import_cmd, doctor, settings_cmd,
            optimize]


def register(main: click.Group) -> None:
    for command in COMMANDS:
        main.add_command(command)
