"""The learner's day: start hour, time zone, daylight saving."""

from datetime import UTC, date, datetime, timedelta

from studyapp.study import srs
from studyapp.study.day import day_end, day_start, learner_day, resolve_timezone
from tests.study_support import SOFIA, local, make_lesson, service


def test_review_at_0330_counts_for_the_previous_day():
    assert learner_day(local(2026, 11, 24, 3, 30), SOFIA, 4) == date(2026, 11, 23)
    assert learner_day(local(2026, 11, 24, 4, 0), SOFIA, 4) == date(2026, 11, 24)
    assert learner_day(local(2026, 11, 24, 23, 59), SOFIA, 4) == date(2026, 11, 24)
    # another start hour
    assert learner_day(local(2026, 11, 24, 5, 30), SOFIA, 6) == date(2026, 11, 23)
    assert learner_day(local(2026, 11, 24, 0, 30), SOFIA, 0) == date(2026, 11, 24)


def test_day_starts_at_0400_local_on_both_sides_of_dst():
    # Sofia: summer time ends 2026-10-25 04:00 -> 03:00, starts 2026-03-29 03:00 -> 04:00
    for day in (date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26),
                date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)):
        start = day_start(day, SOFIA, 4).astimezone(SOFIA)
        assert (start.date(), start.hour, start.minute) == (day, 4, 0)
        assert day_end(day, SOFIA, 4) == day_start(day + timedelta(days=1), SOFIA, 4)
    # the learner day the clocks go back in (04:00 on the 24th to 04:00 on the 25th) has 25
    # hours, the one they go forward in 23
    assert day_end(date(2026, 10, 24), SOFIA) - day_start(date(2026, 10, 24), SOFIA) == \
        timedelta(hours=25)
    assert day_end(date(2026, 3, 28), SOFIA) - day_start(date(2026, 3, 28), SOFIA) == \
        timedelta(hours=23)


def test_plan_due_days_do_not_move_across_dst(tmp_path):
    svc = service(tmp_path, local(2026, 10, 22, 20, 0), make_lesson())
    plan = svc.complete_lesson("epochs")
    assert [p.due for p in plan] == [date(2026, 10, 23), date(2026, 10, 25), date(2026, 10, 29),
                                     date(2026, 11, 21)]
    from tests.study_support import at

    ids = {p.days: p.id for p in plan}
    # the 3-day step: due from 04:00 local on the 25th (the night clocks go back)
    before = at(svc, local(2026, 10, 25, 3, 59))
    assert ids[3] not in {i.id for i in before.due()}
    after = at(svc, local(2026, 10, 25, 4, 0))
    assert ids[3] in {i.id for i in after.due()}


def test_card_due_day_is_whole_days_after_the_review_across_dst(tmp_path):
    lesson = make_lesson()
    # reviewed at 04:30 summer time (01:30 UTC); an interval spanning the change must not
    # fall due the evening before (01:30 UTC is 03:30 winter time: yesterday's learner day)
    now = local(2026, 10, 20, 4, 30)
    svc = service(tmp_path, now, lesson)
    card = svc.quiz_card_id("epochs", 0)
    result = svc.grade(card, 4, source="quiz")
    after = srs.review(card, None, 4, now, svc.day_of, fuzz=False)
    interval = round((after.due - now).total_seconds() / 86400)
    assert result.next_due == date(2026, 10, 20) + timedelta(days=interval)
    assert result.next_due > date(2026, 10, 25)  # the interval spans the change
    from tests.study_support import at

    eve = at(svc, datetime.combine(result.next_due - timedelta(days=1),
                                   datetime.min.time()).replace(hour=23, tzinfo=SOFIA)
             .astimezone(UTC))
    assert card not in {i.id for i in eve.due()}
    morning = at(svc, datetime.combine(result.next_due, datetime.min.time())
                 .replace(hour=4, minute=1, tzinfo=SOFIA).astimezone(UTC))
    assert card in {i.id for i in morning.due()}


def test_resolve_timezone():
    assert resolve_timezone("Europe/Sofia") == SOFIA
    assert resolve_timezone("local") is not None
    import pytest

    with pytest.raises(ValueError):
        resolve_timezone("Mars/Olympus")
