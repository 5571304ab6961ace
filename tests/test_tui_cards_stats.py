"""The card browser (search as you type, filter, suspend, bury, reset, history) and the
statistics screen's plots, driven with Pilot at 80x24; both footers fit 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from studyapp.config import Settings
from studyapp.services.study import StudyService
from studyapp.tui.app import StudyApp
from studyapp.tui.screens.cards import CardsScreen
from studyapp.tui.screens.stats import StatsScreen

LESSON = """---
id: epochs-101
title: Epochs
---
# Epochs

## Key Concepts
- **Epoch** – one full pass over the training set.

## Short Retrieval Quiz
1. What is an epoch? {#epoch}
   Answer: One full pass over the training set.
2. Какво е „валидация“? {#val}
   Answer: Данни, отделени за решения.
"""
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def make_app(tmp_path: Path) -> StudyApp:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "epochs.md").write_text(LESSON, encoding="utf-8")
    svc = StudyService.open(Settings(db_path=tmp_path / "study.db", lessons_dir=lessons,
                                     exercises_dir=tmp_path / "ex", fixed_now=NOW))
    svc.set_setting("timezone", "UTC")
    svc.complete_lesson("epochs-101")
    svc.grade("epochs-101:quiz:epoch", 3)
    return StudyApp(svc, cursor_blink=False)


def screen_lines(app: StudyApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_card_browser_searches_filters_and_acts(tmp_path):
    app = make_app(tmp_path)
    svc = app.service
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CardsScreen)
        table = screen.query_one("#cards-table", DataTable)
        assert table.row_count == 3
        footer = screen_lines(app)[-1]
        assert "Search" in footer and "Home" in footer and len(footer.rstrip()) <= 80
        # search as you type (Cyrillic, case folded)
        await pilot.press("slash")
        for ch in "ВАЛИД":
            await pilot.press(ch)
        await pilot.pause()
        assert [r.id for r in screen.rows] == ["epochs-101:quiz:val"]
        await pilot.press("enter")  # to the list
        await pilot.press("s")  # suspend
        await pilot.pause()
        assert "epochs-101:quiz:val" not in {i.id for i in svc.due()}
        assert screen.rows[0].state == "suspended"
        await pilot.press("s")  # and back
        await pilot.pause()
        assert "epochs-101:quiz:val" in {i.id for i in svc.due()}
        await pilot.press("b")  # bury until tomorrow
        await pilot.pause()
        assert "epochs-101:quiz:val" not in {i.id for i in svc.due()}
        assert "buried until 2026-11-24" in str(screen.query_one("#cards-detail",
                                                                  Static).render())
        # clear the search, filter learning cards, see the history, reset
        await pilot.press("slash", *["backspace"] * 5, "enter")
        await pilot.pause()
        await pilot.press("f", "f")  # all -> new -> learning
        await pilot.pause()
        assert [r.id for r in screen.rows] == ["epochs-101:quiz:epoch"]
        await pilot.press("h")
        await pilot.pause()
        detail = str(screen.query_one("#cards-detail", Static).render())
        assert "2026-11-23  Good  review" in detail
        await pilot.press("n")
        await pilot.pause()
        assert screen.rows == []  # no longer learning: it is new again
        assert [h["source"] for h in svc.card_history("epochs-101:quiz:epoch")] == [
            "review", "reset"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CardsScreen)


async def test_stats_screen_plots_the_series(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        assert len(screen.query(PlotextPlot)) == 4
        s = screen.series
        assert s is not None and s.reviews_per_day[-1] == (NOW.date(), 1)
        assert dict(s.card_states) == {"new": 2, "learning": 1, "review": 0, "suspended": 0,
                                       "buried": 0}
        text = "\n".join(screen_lines(app))
        assert "reviews per day, last 30 days" in text and "cards by state" in text
        assert "1 review in 30 days · 3 cards" in text
        await pilot.press("t")
        await pilot.pause()
        assert "last 90 days" in "\n".join(screen_lines(app))
        footer = screen_lines(app)[-1]
        assert "30/90 days" in footer and len(footer.rstrip()) <= 80


def test_stats_json_gives_the_same_series(tmp_path):
    import json

    from click.testing import CliRunner

    from studyapp.cli import main

    app = make_app(tmp_path)
    app.service.close()
    env = {"STUDYAPP_DB": str(tmp_path / "study.db"),
           "STUDYAPP_LESSONS": str(tmp_path / "lessons"),
           "STUDYAPP_NOW": (NOW + timedelta(hours=1)).isoformat()}
    r = CliRunner().invoke(main, ["stats", "--json"], env=env, catch_exceptions=False)
    series = json.loads(r.stdout)["series"]
    assert series["reviews_per_day"][-1] == ["2026-11-23", 1] and len(
        series["reviews_per_day"]) == 90
    assert series["card_states"] == {"new": 2, "learning": 1, "review": 0, "suspended": 0,
                                     "buried": 0}
    assert len(series["forecast"]) == 30 and series["retention_per_week"] == []
    text = CliRunner().invoke(main, ["stats"], env=env, catch_exceptions=False).stdout
    assert "Reviews, last 30 days:" in text and "Cards: new 2, learning 1" in text
