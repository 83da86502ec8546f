"""Which grading mode an assignment uses.

Default: **nbgrader semantics** (every assignment; scores equal stock nbgrader's). An assignment
opts in to the stricter **answers-as-data** mode (answers carried to a clean interpreter as data,
tests never share a process with student code) in the course's ``nbgrader_config.py``::

    c.IomeGrader.answers_as_data = ["health-economics", ...]

or ``["*"]`` for every assignment.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT, ANSWERS = "nbgrader", "answers-as-data"


def mode(course: Path, assignment: str, config=None) -> str:
    if config is None:
        from .nbrun import course_config
        config = course_config(course)
    listed = config.get("IomeGrader", {}).get("answers_as_data", [])
    if isinstance(listed, str):
        listed = [listed]
    return ANSWERS if assignment in listed or "*" in listed else DEFAULT
