"""A lesson's spaced review plan as a ladder of dated steps.

Completing a lesson on learner day D schedules step i on D + days_i. A step is due from its
day until it is reviewed; an overdue step stays due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from studyapp.course.model import DEFAULT_PLAN_DAYS, Lesson


@dataclass(frozen=True)
class PlanStep:
    step: int  # 0-based position in the plan
    days: int
    prompt: str


def plan_id(lesson_id: str, step: int) -> str:
    return f"{lesson_id}:plan:{step}"


def plan_steps(lesson: Lesson) -> list[PlanStep]:
    """The lesson's plan rows; a lesson without any gets the default 1/3/7/30-day ladder."""
    if lesson.review_plan:
        return [PlanStep(i, r.days, r.prompt) for i, r in enumerate(lesson.review_plan)]
    return [PlanStep(i, d, f"Review the lesson “{lesson.title}”.")
            for i, d in enumerate(DEFAULT_PLAN_DAYS)]


def schedule(completed_day: date, steps: list[PlanStep]) -> list[tuple[PlanStep, date]]:
    """Each step with its due day."""
    return [(s, completed_day + timedelta(days=s.days)) for s in steps]


def is_due(due_day: date, done: bool, today: date) -> bool:
    return not done and due_day <= today
