"""A notebook's lesson as checks: the numbers its effect rests on, held against the bounds the kit promises.

A notebook computes the numbers with the library, then calls `check_lessons`. The student sees a table (value,
bound, holds or not); the result is written to a small JSON file per notebook (``HEYGEN_RUN_DIR`` when the main job
or the tests set it, else ``artifacts/lessons``); and where ``HEYGEN_LESSONS=strict`` (`make test` sets it) a lost
effect raises `LessonFailed` naming the notebook and the number, so CI fails instead of shipping a lesson that no
longer shows anything. A student who changes a knob gets the table with a cross, not an exception.
"""

from __future__ import annotations

import json
import math
import operator
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from heygen_lib.paths import artifacts_dir

STRICT_ENV = "HEYGEN_LESSONS"
RUN_DIR_ENV = "HEYGEN_RUN_DIR"
_COMPARE = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}


class LessonFailed(AssertionError):
    """A notebook no longer shows the effect it teaches."""


@dataclass(frozen=True)
class Lesson:
    """One number a lesson rests on: `value op bound` must hold (a NaN never holds)."""

    name: str  # what the number is, as a student would say it
    value: float
    op: str  # one of <=, <, >=, >, ==
    bound: float
    why: str = ""  # where the bound comes from (a paper, a target) or what it shows

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"Lesson {self.name!r}: op must be one of {', '.join(_COMPARE)}, not {self.op!r}")

    @property
    def holds(self) -> bool:
        value = float(self.value)
        return not math.isnan(value) and bool(_COMPARE[self.op](value, float(self.bound)))


def lessons_dir() -> Path:
    """Where lesson results are written: the run's folder when one is set, else ``artifacts/lessons``."""
    run = os.environ.get(RUN_DIR_ENV)
    return Path(run) if run else artifacts_dir() / "lessons"


def strict() -> bool:
    """Whether a lost effect raises (tests and CI) rather than only being shown (a student's own run). Never in a
    rehearsal (``HEYGEN_PROFILE=rehearsal``): its models have random weights, so no lesson can show; the checks are
    reported only, while everything else (the clean-output checks included) still holds."""
    from heygen_lib.profile import ENV_VAR, REHEARSAL

    if os.environ.get(ENV_VAR, "").strip().lower() == REHEARSAL:
        return False
    return os.environ.get(STRICT_ENV, "").strip().lower() == "strict"


def lessons_table(lessons: list[Lesson]) -> str:
    """The checks as a Markdown table for the notebook."""
    lines = ["| check | value | must be | holds |", "|---|---|---|---|"]
    for lesson in lessons:
        mark = "yes" if lesson.holds else "**no**"
        lines.append(f"| {lesson.name} | {float(lesson.value):.4g} | {lesson.op} {float(lesson.bound):.4g} | {mark} |")
    return "\n".join(lines)


def read_lessons(path: Path) -> list[dict] | None:
    """The lessons recorded in one results file (name, value, op, bound, why, holds), or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["lessons"]


def check_lessons(notebook: str, lessons: list[Lesson]) -> str:
    """Record `lessons` for `notebook`, return their table, and raise `LessonFailed` in strict mode if any fails.

    A notebook may check its lessons in several sections: each call adds to the notebook's file (a lesson checked
    again under the same name replaces its earlier record)."""
    if not lessons:
        raise ValueError(f"{notebook}: no lessons to check")
    folder = lessons_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.lessons.json"
    recorded = {lesson["name"]: lesson for lesson in read_lessons(path) or []}
    recorded |= {lesson.name: {**asdict(lesson), "value": float(lesson.value), "holds": lesson.holds}
                 for lesson in lessons}
    record = {"notebook": notebook, "lessons": list(recorded.values())}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    failed = [lesson for lesson in lessons if not lesson.holds]
    if failed and strict():
        detail = "; ".join(f"{l.name} = {float(l.value):.4g}, must be {l.op} {float(l.bound):.4g}" for l in failed)
        raise LessonFailed(f"notebook {notebook} no longer shows its lesson: {detail}")
    return lessons_table(lessons)
