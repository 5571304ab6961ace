"""Review intervals written in a lesson's language: "1 day", "3 дни", "1 Woche", "1mo".

`parse_interval(text)` returns a number of days or raises `IntervalError`. A month counts
as 30 days and a year as 365, which is what a review ladder means by them.
"""

from __future__ import annotations

import re

DAY, WEEK, MONTH, YEAR = 1, 7, 30, 365

# Unit words by language, all lower-case. Several languages share spellings; that is fine.
_UNITS: dict[int, tuple[str, ...]] = {
    DAY: (
        "d", "day", "days",  # English
        "ден", "дни", "дена", "денонощие",  # Bulgarian
        "dan", "dana", "дан", "дана",  # Serbian (Latin, Cyrillic)
        "день", "дня", "дней", "дн", "д",  # Russian
        "tag", "tage", "tagen", "t",  # German
    ),
    WEEK: (
        "w", "wk", "wks", "week", "weeks",
        "седмица", "седмици", "седм",
        "nedelja", "nedelje", "nedelju", "nedjelja", "nedjelje", "sedmica", "sedmice",
        "недеља", "недеље", "седмице",
        "неделя", "недели", "недель", "нед",
        "woche", "wochen", "wo",
    ),
    MONTH: (
        "mo", "mos", "mon", "month", "months",
        "месец", "месеца", "месеци",
        "mesec", "meseca", "meseci", "mjesec", "mjeseca", "mjeseci", "мјесец", "мјесеца",
        "месяц", "месяца", "месяцев", "мес",
        "monat", "monate", "monaten", "mon.",
    ),
    YEAR: (
        "y", "yr", "yrs", "year", "years",
        "година", "години", "год",
        "godina", "godine", "године",
        "года", "лет",
        "jahr", "jahre", "jahren", "j",
    ),
}
_UNIT_DAYS: dict[str, int] = {word: days for days, words in _UNITS.items() for word in words}

# Words for "one" so "a week" / "една седмица" / "eine Woche" read too.
_ONE = {"a", "an", "one", "един", "една", "едно", "jedan", "jedna", "један", "једна",
        "один", "одна", "ein", "eine", "einen", "einem"}

# Leading words such as "after", "след", "через", "nach", "posle", "in" are ignored.
_PREFIXES = {"after", "in", "след", "през", "posle", "nakon", "za", "после", "након", "за",
             "через", "спустя", "nach", "+"}

class IntervalError(ValueError):
    """The text is not an interval this module can read."""


def parse_interval(text: str) -> int:
    """Return the interval in days; raise IntervalError with the reason otherwise."""
    cleaned = text.strip().strip("*_`").strip().casefold()
    if not cleaned:
        raise IntervalError("empty interval")
    words = cleaned.replace(",", " ").split()
    while words and words[0] in _PREFIXES:
        words = words[1:]
    joined = " ".join(words)
    match = re.fullmatch(r"(\d+)\s*([^\W\d_][\w.]*)", joined)
    last = re.fullmatch(r"([^\W\d_][\w.]*)\s*(\d+)", joined)   # number last: "Day 1", "Week 2"
    if match:
        number, unit = int(match.group(1)), match.group(2)
    elif last and (last.group(1) in _UNIT_DAYS or last.group(1).rstrip(".") in _UNIT_DAYS):
        number, unit = int(last.group(2)), last.group(1)
    elif len(words) == 2 and words[0] in _ONE:
        number, unit = 1, words[1]
    elif len(words) == 1 and words[0] in _UNIT_DAYS and len(words[0]) > 2:
        number, unit = 1, words[0]  # "week", "месец"
    else:
        raise IntervalError(f"cannot read interval {text.strip()!r}: expected a number and "
                            "a unit, like '3 days', '1 седмица' or '1w'")
    days = _UNIT_DAYS.get(unit) or _UNIT_DAYS.get(unit.rstrip("."))
    if days is None:
        raise IntervalError(f"unknown unit {unit!r} in interval {text.strip()!r}: use days, "
                            "weeks, months or years (in English, Bulgarian, Serbian, Russian, "
                            "German) or d/w/mo/y")
    if number <= 0:
        raise IntervalError(f"interval {text.strip()!r} must be at least one day")
    return number * days


def format_days(days: int) -> str:
    """A short English label for a number of days: '1 day', '3 days', '1 week', '1 month'."""
    for size, name in ((YEAR, "year"), (MONTH, "month"), (WEEK, "week")):
        if days % size == 0:
            n = days // size
            return f"{n} {name}{'s' if n != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"
