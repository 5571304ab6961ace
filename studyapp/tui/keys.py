"""Every key binding of the app, gathered from the classes that declare them.

The help screen and the command palette both read this, so neither can fall out of date
with the BINDINGS lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key

ALIASES = {"pagedown": "pgdn", "pageup": "pgup", "escape": "esc", "space": "space",
           "enter": "enter", "question_mark": "?", "right": "→", "left": "←", "up": "↑",
           "down": "↓", "home": "home", "end": "end"}


def key_label(key: str) -> str:
    """A readable name for one key: `ctrl+r`, `?`, `→`, `R`."""
    *mods, base = key.split("+")
    name = ALIASES.get(base) or (format_key(base) if len(base) > 1 else base)
    return "+".join([*mods, name])


def class_bindings(cls: type) -> list[Binding]:
    """The bindings a class declares (its own BINDINGS and its bases'), one per key."""
    by_key: dict[str, Binding] = {}
    for klass in reversed(cls.__mro__):
        for binding in Binding.make_bindings(klass.__dict__.get("BINDINGS", ())):
            by_key[binding.key] = binding
    return list(by_key.values())


@dataclass(frozen=True)
class KeyRow:
    group: str
    keys: tuple[str, ...]
    description: str
    action: str


def describe(binding: Binding) -> str:
    if binding.description:
        return binding.description
    return binding.action.split(".")[-1].split("(")[0].replace("_", " ").capitalize()


def key_rows(group: str, bindings: Iterable[Binding]) -> list[KeyRow]:
    """Bindings of one group, keys of the same action together, in declaration order."""
    merged: dict[str, tuple[list[str], str]] = {}
    for b in bindings:
        keys, _ = merged.setdefault(b.action, ([], describe(b)))
        keys.append(b.key)
    return [KeyRow(group, tuple(keys), desc, action) for action, (keys, desc) in merged.items()]


def binding_groups(app_cls: type) -> list[tuple[str, type]]:
    """(title, class) for the app, every screen and every widget with its own keys."""
    from textual.screen import Screen

    from studyapp.tui.screens.cards import CardsScreen
    from studyapp.tui.screens.code_review import CodeReviewScreen
    from studyapp.tui.screens.diagnostics import DiagnosticsScreen
    from studyapp.tui.screens.exercise import ExerciseScreen
    from studyapp.tui.screens.exercises import ExercisesScreen
    from studyapp.tui.screens.help import HelpScreen
    from studyapp.tui.screens.home import HomeScreen
    from studyapp.tui.screens.lesson import LessonScreen
    from studyapp.tui.screens.predict import PredictScreen
    from studyapp.tui.screens.review import ReviewScreen
    from studyapp.tui.screens.stats import StatsScreen
    from studyapp.tui.widgets.answer_card import AnswerCard
    from studyapp.tui.widgets.concept_cards import ConceptCards
    from studyapp.tui.widgets.quiz import QuizView

    return [
        ("Everywhere", app_cls),
        ("Every screen", Screen),
        ("Home", HomeScreen),
        ("Lesson", LessonScreen),
        ("Key concept cards", ConceptCards),
        ("Quiz", QuizView),
        ("Answer card (quiz and review)", AnswerCard),
        ("Review", ReviewScreen),
        ("Code card", CodeReviewScreen),
        ("Cards", CardsScreen),
        ("Statistics", StatsScreen),
        ("Exercises list", ExercisesScreen),
        ("Exercise", ExerciseScreen),
        ("Predict, then run", PredictScreen),
        ("Lint messages", DiagnosticsScreen),
        ("Help", HelpScreen),
    ]


def all_key_rows(app_cls: type, command_palette_key: str = "ctrl+p") -> list[KeyRow]:
    rows: list[KeyRow] = []
    for title, cls in binding_groups(app_cls):
        bindings = class_bindings(cls)
        if cls is not app_cls:
            bindings = [b for b in bindings if b.key in _own_keys(cls)]
        rows.extend(key_rows(title, [b for b in bindings if not b.system]))
        if cls is app_cls:
            rows.append(KeyRow(title, (command_palette_key,), "Command palette (every action)",
                               "command_palette"))
    return rows


def _own_keys(cls: type) -> set[str]:
    """Keys declared on cls itself (not inherited from Textual's Screen/Widget bases)."""
    from textual.screen import Screen
    from textual.widget import Widget

    base_keys: set[str] = set()
    if cls is not Screen:
        for base in (Screen, Widget):
            if issubclass(cls, base):
                base_keys |= {b.key for b in class_bindings(base)}
    own = {b.key for b in class_bindings(cls)}
    return own - base_keys if cls is not Screen else own
