"""The course's next step and progress for the screens (services/progress.py decides)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studyapp.services.progress import (
    CourseProgress,
    ExerciseItem,
    LessonItem,
    NextStep,
    course_progress,
    next_step,
)

if TYPE_CHECKING:
    from textual.app import App

    from studyapp.services.study import StudyService


def course_items(service: StudyService) -> tuple[list[LessonItem], list[ExerciseItem]]:
    """The lessons in course order and the exercises with their progress."""
    from studyapp.services.exercises import ExerciseService

    lessons = [LessonItem(e.id, e.title, e.state) for e in service.lessons()]
    try:
        entries = ExerciseService(service.settings).exercises()
    except Exception:  # noqa: BLE001 - a broken exercise folder: no exercise steps, still lessons
        entries = []
    exercises = [ExerciseItem(e.id, e.exercise.title, e.exercise.lesson, e.status)
                 for e in entries]
    return lessons, exercises


def step_after(service: StudyService, *, lesson: str | None = None,
               exercise: str | None = None) -> NextStep | None:
    lessons, exercises = course_items(service)
    return next_step(lessons, exercises, after_lesson=lesson, after_exercise=exercise)


def progress(service: StudyService) -> CourseProgress:
    lessons, exercises = course_items(service)
    return course_progress(lessons, exercises, service.card_counts())


def open_step(app: App[object], service: StudyService, step: NextStep) -> None:
    """Replace the current screen by the step's lesson or exercise."""
    if step.kind == "exercise":
        from studyapp.tui.screens.exercise import ExerciseScreen

        app.switch_screen(ExerciseScreen(service, step.id))
        return
    from studyapp.tui.screens.lesson import LessonScreen

    position = next((e.position for e in service.lessons() if e.id == step.id), 0)
    app.switch_screen(LessonScreen(service, step.id, position))
