"""`studyapp cards`: find cards, suspend, bury, reset, and see a card's history.

Thin faces over `services.study.StudyService` (cards, suspend, bury, reset,
card_history); `--json` prints `json.dumps(..., ensure_ascii=False)`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from studyapp.cli.study_cmds import RATING_NAMES, _open
from studyapp.config import Settings
from studyapp.store.cards import STATES
from studyapp.textsafe import escape_json, safe_text


def _dump(obj: Any) -> None:
    click.echo(escape_json(json.dumps(obj, ensure_ascii=False, indent=2)))


def _clean(text: str) -> str:
    """Lesson text as one terminal-safe line (control characters shown as escapes)."""
    return safe_text(" ".join(str(text).split()))


@click.group()
def cards() -> None:
    """Find cards, suspend or bury them, reset them, see their history."""


@cards.command("list")
@click.option("--lesson", metavar="LESSON_ID", help="Only this lesson's cards.")
@click.option("--state", type=click.Choice(STATES), help="Only cards in this state.")
@click.option("--search", metavar="TEXT", help="Only cards whose front or back holds TEXT.")
@click.option("--json", "as_json", is_flag=True, help="Print the cards as JSON.")
@click.pass_obj
def list_cmd(settings: Settings, lesson: str | None, state: str | None, search: str | None,
             as_json: bool) -> None:
    """List the live cards in course order (new, learning, review, suspended, buried)."""
    svc = _open(settings)
    try:
        rows = svc.cards(lesson=lesson, state=state, search=search)
        if as_json:
            _dump([r.to_dict() for r in rows])
            return
        if not rows:
            click.echo("No cards match.")
            return
        for r in rows:
            due = r.due_day.isoformat() if r.due_day else "-"
            click.echo(f"{r.state:<9}  {due:<10}  {_clean(r.id)}  {_clean(r.front)[:60]}")
        click.echo(f"{len(rows)} card{'s' if len(rows) != 1 else ''}.")
    finally:
        svc.close()


def _act(settings: Settings, card_id: str, action: str) -> None:
    svc = _open(settings)
    try:
        try:
            if action == "suspend":
                cid = svc.suspend(card_id)
                click.echo(f"Suspended {_clean(cid)}: it stays out of every review until "
                           "`studyapp cards unsuspend`.")
            elif action == "unsuspend":
                cid = svc.suspend(card_id, False)
                click.echo(f"Unsuspended {_clean(cid)}.")
            elif action == "bury":
                until = svc.bury(card_id)
                click.echo(f"Buried {_clean(card_id)} until {until.isoformat()} (the next "
                           "learner day).")
            else:
                cid = svc.reset(card_id)
                click.echo(f"Reset {_clean(cid)}: it is new again (its history is kept).")
        except KeyError as exc:
            raise click.ClickException(f"no card with id {_clean(card_id)!r} (see `studyapp "
                                       "cards list`)") from exc
    finally:
        svc.close()


@cards.command()
@click.argument("card_id")
@click.pass_obj
def suspend(settings: Settings, card_id: str) -> None:
    """Keep CARD_ID out of every review until it is unsuspended."""
    _act(settings, card_id, "suspend")


@cards.command()
@click.argument("card_id")
@click.pass_obj
def unsuspend(settings: Settings, card_id: str) -> None:
    """Let a suspended CARD_ID back into the reviews."""
    _act(settings, card_id, "unsuspend")


@cards.command()
@click.argument("card_id")
@click.pass_obj
def bury(settings: Settings, card_id: str) -> None:
    """Hide CARD_ID until the next learner day."""
    _act(settings, card_id, "bury")


@cards.command()
@click.argument("card_id")
@click.pass_obj
def reset(settings: Settings, card_id: str) -> None:
    """Make CARD_ID new again (its review history is kept)."""
    _act(settings, card_id, "reset")


@cards.command()
@click.argument("card_id")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_obj
def history(settings: Settings, card_id: str, as_json: bool) -> None:
    """Every answer to CARD_ID (and its resets), oldest first."""
    svc = _open(settings)
    try:
        rows = svc.card_history(card_id)
        if as_json:
            _dump(rows)
            return
        if not rows:
            click.echo(f"No answers to {_clean(card_id)} yet.")
            return
        for r in rows:
            after = r["state_after"] or {}
            due = f"  next {after['due_day']}" if after.get("due_day") else ""
            what = "Reset" if r["source"] == "reset" else RATING_NAMES.get(r["rating"], "?")
            secs = f"  {r['seconds']:.0f}s" if r["seconds"] is not None else ""
            click.echo(f"{r['day']}  {what:<5}  {r['source']:<6}{secs}{due}")
    finally:
        svc.close()


COMMANDS = [cards]


def register(main: click.Group) -> None:
    for command in COMMANDS:
        main.add_command(command)
