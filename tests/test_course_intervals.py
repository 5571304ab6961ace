import pytest

from studyapp.course.intervals import IntervalError, format_days, parse_interval


@pytest.mark.parametrize("text, days", [
    ("1 day", 1), ("3 days", 3), ("1 week", 7), ("1 month", 30), ("2 weeks", 14),
    ("1 year", 365), ("a week", 7),
    ("1 ден", 1), ("3 дни", 3), ("1 седмица", 7), ("1 месец", 30), ("2 месеца", 60),
    ("1 dan", 1), ("3 dana", 3), ("1 nedelja", 7), ("1 mesec", 30), ("1 недеља", 7),
    ("1 мјесец", 30),
    ("1 день", 1), ("3 дня", 3), ("5 дней", 5), ("1 неделя", 7), ("1 месяц", 30),
    ("1 Tag", 1), ("3 Tage", 3), ("1 Woche", 7), ("1 Monat", 30), ("2 Monate", 60),
    ("1d", 1), ("3d", 3), ("1w", 7), ("1mo", 30), ("1y", 365),
    ("after 3 days", 3), ("след 1 седмица", 7), ("nach 1 Woche", 7), ("**1 day**", 1),
    ("  1   DAY ", 1),
])
def test_intervals_in_many_languages(text, days):
    assert parse_interval(text) == days


@pytest.mark.parametrize("text", ["", "soon", "1 fortnight", "0 days", "1 2", "fortnight 2", "week 0", "1", "d"])
def test_unreadable_intervals_raise_with_the_text(text):
    with pytest.raises(IntervalError) as info:
        parse_interval(text)
    assert "interval" in str(info.value)


@pytest.mark.parametrize("days, label", [(1, "1 day"), (3, "3 days"), (7, "1 week"),
                                         (30, "1 month"), (14, "2 weeks"), (10, "10 days")])
def test_format_days(days, label):
    assert format_days(days) == label
