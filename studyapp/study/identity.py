"""Card identity: ids that survive edits of wording, whitespace, punctuation and order.

A card id is `<lesson_id>:<kind>:<key>`:

- `key` is the author's explicit `{#id}` when given;
- otherwise a short hash of the card's text normalised (case folded, punctuation removed,
  whitespace collapsed), so reordering items or fixing case, spacing or punctuation keeps
  the id. Quiz cards are keyed by their question, concept cards by their term.

Fixing a typo changes the normalised text and so the key. `match_edits` pairs such a new
card with an old card of the same lesson and kind that vanished from the lesson when their
texts are similar (difflib ratio >= `MATCH_RATIO` on the normalised front, or on front and
back together); the store then updates the old card in place, keeping its history.
`edits_that_reset` lists the new cards that would find no such partner and start afresh.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from studyapp.course.model import Lesson

MATCH_RATIO = 0.85
KEY_LENGTH = 10  # hex characters of the hash

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case folded, punctuation and symbols removed, whitespace collapsed (NFKC first).

    Dashes and slashes count as spaces (so "test-set" and "test set" agree); any other
    punctuation or symbol is dropped (so "don't" and "dont" agree).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Pd" or ch in "/\\|":
            kept.append(" ")  # dashes and slashes separate words: "test-set" = "test set"
        elif cat[0] in "PS":
            continue  # other punctuation is removed: "don't" = "dont", "e.g." = "eg"
        elif cat[0] == "C" and not ch.isspace():
            continue
        else:
            kept.append(ch)
    return _SPACE.sub(" ", "".join(kept)).strip()


def text_key(text: str) -> str:
    """Short hash of the normalised text."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=8).hexdigest()[
        :KEY_LENGTH
    ]


def card_id(lesson_id: str, kind: str, key: str) -> str:
    return f"{lesson_id}:{kind}:{key}"


@dataclass(frozen=True)
class CardSpec:
    """A card as the lesson defines it now."""

    id: str  # natural id: <lesson>:<kind>:<key>
    lesson_id: str
    kind: str  # quiz | concept
    key: str
    front: str
    back: str | None
    explicit: bool
    position: int  # index among the lesson's cards of this kind
    line: int = 0

    @property
    def norm(self) -> str:
        return normalise(self.front)


def lesson_cards(lesson: Lesson) -> list[CardSpec]:
    """Every card of a lesson: its quiz questions, then its key concepts.

    Two items with the same key in one lesson get `-2`, `-3`, ... suffixes in order.
    """
    specs: list[CardSpec] = []
    seen: set[str] = set()

    def add(kind: str, explicit_id: str | None, front: str, back: str | None, pos: int,
            line: int) -> None:
        key = explicit_id.strip() if explicit_id else text_key(front)
        base, n = key, 1
        while card_id(lesson.id, kind, key) in seen:
            n += 1
            key = f"{base}-{n}"
        cid = card_id(lesson.id, kind, key)
        seen.add(cid)
        specs.append(CardSpec(cid, lesson.id, kind, key, front, back, bool(explicit_id), pos,
                              line))

    for i, q in enumerate(lesson.quiz):
        add("quiz", q.id, q.question, q.answer, i, q.line)
    for i, c in enumerate(lesson.concepts):
        add("concept", c.id, c.term, c.explanation, i, c.line)
    return specs


def quiz_card_natural_id(lesson: Lesson, quiz_index: int) -> str:
    """The natural id of the lesson's quiz question `quiz_index` (0-based)."""
    for spec in lesson_cards(lesson):
        if spec.kind == "quiz" and spec.position == quiz_index:
            return spec.id
    raise IndexError(f"lesson {lesson.id!r} has no quiz question {quiz_index}")


@dataclass(frozen=True)
class OldCard:
    """What matching needs to know of a stored card."""

    id: str
    lesson_id: str
    kind: str
    front: str
    back: str | None
    retired: bool = False


def similarity(a_front: str, a_back: str | None, b_front: str, b_back: str | None) -> float:
    """The better of: ratio of normalised fronts, ratio of normalised front+back."""
    fa, fb = normalise(a_front), normalise(b_front)
    best = difflib.SequenceMatcher(None, fa, fb, autojunk=False).ratio()
    if a_back and b_back:
        ca = fa + " | " + normalise(a_back)
        cb = fb + " | " + normalise(b_back)
        best = max(best, difflib.SequenceMatcher(None, ca, cb, autojunk=False).ratio())
    return best


def match_edits(
    vanished: Sequence[OldCard], unmatched: Sequence[CardSpec], ratio: float = MATCH_RATIO
) -> list[tuple[CardSpec, OldCard, float]]:
    """Pair new cards that match no stored card with stored cards that left the lesson.

    Only cards of the same lesson and kind pair; best pairs first, each card used once;
    live (not retired) old cards are preferred over retired ones at equal similarity.
    """
    candidates: list[tuple[float, int, int, int]] = []
    for i, new in enumerate(unmatched):
        for j, old in enumerate(vanished):
            if old.lesson_id != new.lesson_id or old.kind != new.kind:
                continue
            r = similarity(old.front, old.back, new.front, new.back)
            if r >= ratio:
                candidates.append((r, 0 if not old.retired else -1, i, j))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    used_new: set[int] = set()
    used_old: set[int] = set()
    pairs = []
    for r, _live, i, j in candidates:
        if i in used_new or j in used_old:
            continue
        used_new.add(i)
        used_old.add(j)
        pairs.append((unmatched[i], vanished[j], r))
    return pairs


@dataclass(frozen=True)
class ResetWarning:
    """A card an edit would make start afresh (its old card is retired, history kept)."""

    lesson_id: str
    kind: str
    old_id: str
    old_front: str
    new_id: str | None  # the card the learner would get instead, if any
    new_front: str | None
    best_ratio: float  # similarity to the closest new card (0 when none)
    line: int = 0

    def message(self) -> str:
        if self.new_front is None:
            return (f"{self.kind} card '{self.old_front}' is gone: it will be retired "
                    "(its history is kept)")
        return (f"{self.kind} card '{self.old_front}' changed too much to be matched to "
                f"'{self.new_front}' ({self.best_ratio:.0%} similar, "
                f"{MATCH_RATIO:.0%} needed): the new card starts afresh; give both an "
                "explicit {#id} to keep its history")


def edits_that_reset(
    old_cards: Iterable[OldCard | CardSpec], new_cards: Iterable[CardSpec],
    aliases: dict[str, str] | None = None,
) -> list[ResetWarning]:
    """Old cards whose history an edit would leave behind.

    `old_cards`: the cards as stored (or as defined by the previous version of the lesson);
    `new_cards`: `lesson_cards(new_lesson)`; `aliases`: known alias -> card id (optional).
    A warning is returned for each old live card that no new card claims, by id, alias or
    similarity. `new_id`/`new_front` name the closest new card of the same kind that starts
    afresh, when there is one.
    """
    aliases = aliases or {}
    olds = [
        o if isinstance(o, OldCard) else OldCard(o.id, o.lesson_id, o.kind, o.front, o.back)
        for o in old_cards
    ]
    olds = [o for o in olds if not o.retired]
    news = list(new_cards)
    by_id = {o.id: o for o in olds}
    claimed: set[str] = set()
    unmatched: list[CardSpec] = []
    for spec in news:
        target = spec.id if spec.id in by_id else aliases.get(spec.id)
        if target in by_id and target not in claimed:
            claimed.add(target)
        else:
            unmatched.append(spec)
    vanished = [o for o in olds if o.id not in claimed]
    pairs = match_edits(vanished, unmatched)
    for _spec, old, _r in pairs:
        claimed.add(old.id)
    paired_new = {spec.id for spec, _o, _r in pairs}
    fresh = [s for s in unmatched if s.id not in paired_new]
    warnings = []
    for old in olds:
        if old.id in claimed:
            continue
        best, best_spec = 0.0, None
        for spec in fresh:
            if spec.kind == old.kind and spec.lesson_id == old.lesson_id:
                r = similarity(old.front, old.back, spec.front, spec.back)
                if r > best:
                    best, best_spec = r, spec
        warnings.append(ResetWarning(
            old.lesson_id, old.kind, old.id, old.front,
            best_spec.id if best_spec else None, best_spec.front if best_spec else None,
            best, best_spec.line if best_spec else 0,
        ))
    return warnings


@dataclass(frozen=True)
class StoredLesson:
    """What matching a lesson to its earlier id needs to know of a stored lesson."""

    id: str
    source_path: str | None
    card_keys: frozenset[str]  # "<kind>:<key>" of its cards


def earlier_lesson_id(lesson: Lesson, stored: Sequence[StoredLesson],
                      taken: set[str], min_share: float = 0.5) -> str | None:
    """The stored id a lesson whose front matter broke was known under, or None.

    First the stored lesson read from the same file; else the one sharing the most card
    keys with it (at least `min_share` of the lesson's cards). Ids in `taken` (lessons of
    the course as parsed now) are never given away.
    """
    candidates = [s for s in stored if s.id != lesson.id and s.id not in taken]
    for s in candidates:
        if s.source_path == lesson.source:
            return s.id
    keys = {f"{c.kind}:{c.key}" for c in lesson_cards(lesson)}
    if not keys:
        return None
    best = max(candidates, key=lambda s: len(keys & s.card_keys), default=None)
    if best is not None and len(keys & best.card_keys) >= min_share * len(keys):
        return best.id
    return None
