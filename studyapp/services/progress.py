"""The course as a whole: how far a learner is, and what comes next in course order.

Pure: it is handed the lessons (in course order, with their state) and the exercises (with
their lesson and progress) that the study and exercise services already list, and it
answers two questions for the app: the progress at a glance (lessons done, exercises
passed, cards learned) and the next step after a finished lesson or a passed exercise: the
lesson's exercises not yet passed, then the next lesson not yet done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LessonItem:
    id: str
    title: str
    state: str            # new | in_progress | done | broken


@dataclass(frozen=True)
class ExerciseItem:
    id: str
    title: str
    lesson: str | None    # the lesson id it belongs to
    status: str           # not_started | attempted | passed


@dataclass(frozen=True)
class NextStep:
    kind: str             # lesson | exercise
    id: str
    title: str

    def describe(self) -> str:
        return f"{'exercise' if self.kind == 'exercise' else 'lesson'} “{self.title}”"


@dataclass(frozen=True)
class CourseProgress:
    lessons_done: int
    lessons_total: int
    exercises_passed: int
    exercises_total: int
    cards_learned: int
    cards_total: int

    def line(self) -> str:
        """`2/5 lessons · 1/6 exercises passed · 12/80 cards learned`."""
        return (f"{self.lessons_done}/{self.lessons_total} lessons · "
                f"{self.exercises_passed}/{self.exercises_total} exercises passed · "
                f"{self.cards_learned}/{self.cards_total} cards learned")


def course_progress(lessons: Sequence[LessonItem], exercises: Sequence[ExerciseItem],
                    card_counts: Mapping[str, int]) -> CourseProgress:
    """Counts for home; `card_counts`: live cards by browser state. A card counts as
    learned once it is in review (FSRS state Review)."""
    studied = [entry for entry in lessons if entry.state != "broken"]
    return CourseProgress(
        sum(entry.state == "done" for entry in studied), len(studied),
        sum(e.status == "passed" for e in exercises), len(exercises),
        card_counts.get("review", 0), sum(card_counts.values()))


def next_step(lessons: Sequence[LessonItem], exercises: Sequence[ExerciseItem], *,
              after_lesson: str | None = None, after_exercise: str | None = None
              ) -> NextStep | None:
    """What to do after finishing `after_lesson` or passing `after_exercise`, in course
    order: that lesson's exercises not passed yet, then the first lesson after it that is not
    done (then any earlier one not done); None when the course is complete."""
    order = {entry.id: i for i, entry in enumerate(lessons)}
    if after_exercise is not None:
        current = next((e for e in exercises if e.id == after_exercise), None)
        lesson_id = current.lesson if current is not None else None
    else:
        lesson_id = after_lesson
    ranked = sorted(exercises, key=lambda e: (order.get(e.lesson or "", len(order)), e.id))
    pending = [e for e in ranked if e.status != "passed" and e.id != after_exercise]
    for e in pending:
        if e.lesson == lesson_id:
            return NextStep("exercise", e.id, e.title)
    here = order.get(lesson_id or "", -1)
    later = [entry for entry in lessons[here + 1:] if entry.state not in ("done", "broken")]
    earlier = [entry for entry in lessons[:max(here, 0)]
               if entry.state not in ("done", "broken") and entry.id != lesson_id]
    for entry in (*later, *earlier):
        return NextStep("lesson", entry.id, entry.title)
    if pending:
        return NextStep("exercise", pending[0].id, pending[0].title)
    return None
